// SPDX-License-Identifier: MIT
// Typed expressions: small value trees on the stack that know their SQL value type and the
// tables they read. A clause lowers a whole tree into its node in one pass (one allocation).
#pragma once
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "quarry/core/lowerer.hpp"
#include "quarry/core/pack.hpp"
#include "quarry/schema.hpp"
#include "quarry/value_traits.hpp"

namespace quarry {

template <class... T>
struct type_list {};

namespace detail {
template <class... Ls>
struct concat;
template <>
struct concat<> { using type = type_list<>; };
template <class... A>
struct concat<type_list<A...>> { using type = type_list<A...>; };
template <class... A, class... B, class... Rest>
struct concat<type_list<A...>, type_list<B...>, Rest...> : concat<type_list<A..., B...>, Rest...> {};

template <class T, class List>
struct contains;
template <class T, class... U>
struct contains<T, type_list<U...>> : std::bool_constant<(std::is_same_v<T, U> || ...)> {};

template <class Sub, class Super>
struct all_in;
template <class... S, class Super>
struct all_in<type_list<S...>, Super> : std::bool_constant<(contains<S, Super>::value && ...)> {};

template <class T>
struct unwrap_optional { using type = T; };
template <class T>
struct unwrap_optional<std::optional<T>> { using type = T; };
}  // namespace detail

template <class... Ls>
using concat_t = typename detail::concat<Ls...>::type;
template <class Sub, class Super>
inline constexpr bool all_in_v = detail::all_in<Sub, Super>::value;

// An expression: knows its value type and its tables, and lowers itself into a Lowerer.
template <class E>
concept expression = requires(const E& e, core::Lowerer& l) {
    typename E::value_type;
    typename E::tables;
    e.lower(l);
};

template <class E>
concept predicate = expression<E> && std::is_same_v<typename E::value_type, bool>;

template <class D>
struct expr_base;

// ---- leaves -------------------------------------------------------------------------------

template <class T, class V>
struct column_expr : expr_base<column_expr<T, V>> {
    using value_type = V;
    using tables = type_list<T>;
    const core::ColumnInfo* info;
    std::string_view source;  // alias of the source, empty for the table itself
    void lower(auto& l) const { l.column(info, source); }
};

// `col(&User::age)`: a column of a schema, typed by its member.
template <schema T, class M>
column_expr<T, M> col(M T::*member) {
    return {{}, &column_info(member), {}};
}

// A column looked up by name at run time (sort keys from a request, say). Unknown names throw
// QueryError; the value type is checked by the database, not the compiler.
template <schema T>
column_expr<T, dynamic_value> column(std::string_view name) {
    const core::ColumnInfo* c = table_info<T>().find(name);
    if (!c) throw QueryError("no column \"" + std::string(name) + "\" in table " + table_info<T>().name);
    return {{}, c, {}};
}

namespace detail {
template <class V>
struct stored { using type = V; };
template <>
struct stored<const char*> { using type = std::string; };
template <>
struct stored<std::string_view> { using type = std::string; };
template <std::size_t N>
struct stored<char[N]> { using type = std::string; };
}  // namespace detail

template <class V>
struct param_expr : expr_base<param_expr<V>> {
    using value_type = V;
    using tables = type_list<>;
    V value;
    void lower(auto& l) const { detail::bind_param<V>(l, value); }
};

template <class X>
using stored_t = typename detail::stored<std::remove_cvref_t<std::decay_t<X>>>::type;

// Lifts a plain C++ value into a bound parameter; expressions pass through.
template <class X>
auto as_expr(X&& x) {
    if constexpr (expression<std::remove_cvref_t<X>>) {
        return std::remove_cvref_t<X>(std::forward<X>(x));
    } else {
        using V = stored_t<X>;
        static_assert(sql_value<V> || !std::is_enum_v<V>, "quarry: this enum has no SQL mapping "
                                                          "(declare it with QUARRY_ENUM_TEXT or QUARRY_ENUM_INT)");
        static_assert(sql_value<V> || std::is_enum_v<V>, "quarry: this C++ type cannot be bound as a SQL parameter "
                                                         "(specialise quarry::value_traits for it)");
        return param_expr<V>{{}, V(std::forward<X>(x))};
    }
}

template <class X>
using expr_t = decltype(as_expr(std::declval<X>()));

template <class X>
using value_of = typename expr_t<X>::value_type;

// ---- interior nodes -----------------------------------------------------------------------

template <class V, class Tables, class... Kids>
struct op_expr : expr_base<op_expr<V, Tables, Kids...>> {
    using value_type = V;
    using tables = Tables;
    core::OpKind kind;
    std::uint8_t sub;
    std::uint32_t a, b, c;
    detail::pack<Kids...> kids;
    void lower(auto& l) const {
        l.op(kind, sub, sizeof...(Kids), a, b, c);
        kids.lower_each(l);
    }
};

template <class V, class... Kids>
auto make_op(core::OpKind kind, std::uint8_t sub, Kids... kids) {
    return op_expr<V, concat_t<typename Kids::tables...>, Kids...>{
        {}, kind, sub, 0, 0, 0, detail::pack<Kids...>(std::move(kids)...)};
}
template <class V, class... Kids>
auto make_op_a(core::OpKind kind, std::uint8_t sub, std::uint32_t a, Kids... kids) {
    auto e = make_op<V>(kind, sub, std::move(kids)...);
    e.a = a;
    return e;
}

// An expression whose value type is V, whatever the wrapped one says (casts, aliases).
template <class V, class E>
struct retyped : expr_base<retyped<V, E>> {
    using value_type = V;
    using tables = typename E::tables;
    E inner;
    void lower(auto& l) const { inner.lower(l); }
};

template <class E>
struct aliased : expr_base<aliased<E>> {
    using value_type = typename E::value_type;
    using tables = typename E::tables;
    E inner;
    std::string name;
    void lower(auto& l) const {
        std::uint32_t at = l.op(core::OpKind::alias, 0, 1);
        l.patch(at, l.identifier(name), 0);
        inner.lower(l);
    }
};

template <class E>
struct order_expr {
    using value_type = typename E::value_type;
    using tables = typename E::tables;
    E inner;
    std::uint8_t flags;
    order_expr nulls_first() const { return {inner, static_cast<std::uint8_t>((flags & core::OrderFlags::desc) | core::OrderFlags::nulls_first)}; }
    order_expr nulls_last() const { return {inner, static_cast<std::uint8_t>((flags & core::OrderFlags::desc) | core::OrderFlags::nulls_last)}; }
    void lower(auto& l) const {
        l.op(core::OpKind::order_item, flags, 1);
        inner.lower(l);
    }
};

template <class L, class V>
struct in_list_expr : expr_base<in_list_expr<L, V>> {
    using value_type = bool;
    using tables = typename L::tables;
    L lhs;
    std::vector<V> values;
    bool negated;
    void lower(auto& l) const {
        std::uint32_t at = l.op(core::OpKind::in_list, negated, 1, 0, 0, static_cast<std::uint32_t>(value_traits<V>::kind));
        lhs.lower(l);
        std::uint32_t first = l.begin_list();
        for (const auto& v : values) detail::bind_param<V>(l, v);
        l.patch(at, first, l.end_list());
    }
};

// ---- type checks with messages people can act on ------------------------------------------

namespace detail {
// One family; values of family `other` (enums, uuid, json) only with their own type.
template <class A, class B>
inline constexpr bool same_family_v =
    family_of<A> == family_of<B> &&
    (family_of<A> != family::other || std::is_same_v<std::remove_cvref_t<A>, std::remove_cvref_t<B>>);
}  // namespace detail

template <class A, class B>
inline constexpr bool comparable_v = detail::same_family_v<typename detail::unwrap_optional<A>::type,
                                                           typename detail::unwrap_optional<B>::type> ||
                                     family_of<A> == family::dynamic || family_of<B> == family::dynamic;

template <class X>
inline constexpr bool null_like_v = std::is_same_v<std::remove_cvref_t<X>, std::nullptr_t> ||
                                    std::is_same_v<std::remove_cvref_t<X>, std::nullopt_t>;
template <class...>
inline constexpr bool always_false_v = false;

template <class L, class R>
constexpr void check_comparable() {
    static_assert(comparable_v<value_of<L>, value_of<R>>,
                  "quarry: the two sides of this comparison have incompatible SQL types "
                  "(e.g. an integer column compared with a string)");
}

namespace detail {
// An empty std::optional binds NULL, and "x = NULL" is never true: the filter would silently
// match nothing. nullptr and std::nullopt are refused at compile time; an optional's emptiness
// is known only here.
[[noreturn]] void empty_optional_compared();
template <class X>
void refuse_empty_optional(const X& x) {
    if constexpr (is_optional<std::remove_cvref_t<X>>::value)
        if (!x.has_value()) empty_optional_compared();
}
}  // namespace detail

template <class L, class R>
concept one_is_expression = expression<std::remove_cvref_t<L>> || expression<std::remove_cvref_t<R>>;

namespace detail {
template <class A, class B>
struct arith {
    using type = std::common_type_t<typename unwrap_optional<A>::type, typename unwrap_optional<B>::type>;
};
template <class B>
struct arith<dynamic_value, B> { using type = dynamic_value; };
template <class A>
struct arith<A, dynamic_value> { using type = dynamic_value; };
template <>
struct arith<dynamic_value, dynamic_value> { using type = dynamic_value; };
template <class A, class B>
using arith_t = typename arith<A, B>::type;
}  // namespace detail

template <class E>
constexpr void check_numeric() {
    static_assert(family_of<typename detail::unwrap_optional<value_of<E>>::type> == family::numeric ||
                      family_of<value_of<E>> == family::dynamic,
                  "quarry: arithmetic needs numeric operands");
}

// ---- operators ----------------------------------------------------------------------------

#define QUARRY_COMPARISON(OP, KIND)                                                                  \
    template <class L, class R>                                                                      \
        requires one_is_expression<L, R>                                                             \
    auto operator OP(L&& l, R&& r) {                                                                 \
        if constexpr (null_like_v<L> || null_like_v<R>) {                                            \
            static_assert(always_false_v<L, R>,                                                      \
                          "quarry: comparing with null is never true in SQL; use is_null(x) or "     \
                          "is_not_null(x)");                                                         \
            return false;                                                                            \
        } else {                                                                                     \
            check_comparable<L, R>();                                                                \
            detail::refuse_empty_optional(l);                                                        \
            detail::refuse_empty_optional(r);                                                        \
            return make_op<bool>(core::OpKind::binary, static_cast<std::uint8_t>(core::BinaryOp::KIND), \
                                 as_expr(std::forward<L>(l)), as_expr(std::forward<R>(r)));          \
        }                                                                                            \
    }
QUARRY_COMPARISON(==, eq)
QUARRY_COMPARISON(!=, ne)
QUARRY_COMPARISON(<, lt)
QUARRY_COMPARISON(<=, le)
QUARRY_COMPARISON(>, gt)
QUARRY_COMPARISON(>=, ge)
#undef QUARRY_COMPARISON

template <predicate L, predicate R>
auto operator&&(L l, R r) {
    return make_op<bool>(core::OpKind::binary, static_cast<std::uint8_t>(core::BinaryOp::and_), std::move(l), std::move(r));
}
template <predicate L, predicate R>
auto operator||(L l, R r) {
    return make_op<bool>(core::OpKind::binary, static_cast<std::uint8_t>(core::BinaryOp::or_), std::move(l), std::move(r));
}
template <predicate E>
auto operator!(E e) {
    return make_op<bool>(core::OpKind::unary, static_cast<std::uint8_t>(core::UnaryOp::not_), std::move(e));
}

#define QUARRY_ARITHMETIC(OP, KIND)                                                                   \
    template <class L, class R>                                                                       \
        requires one_is_expression<L, R>                                                              \
    auto operator OP(L&& l, R&& r) {                                                                  \
        check_numeric<L>();                                                                           \
        check_numeric<R>();                                                                           \
        using V = detail::arith_t<value_of<L>, value_of<R>>;                                          \
        return make_op<V>(core::OpKind::binary, static_cast<std::uint8_t>(core::BinaryOp::KIND),      \
                          as_expr(std::forward<L>(l)), as_expr(std::forward<R>(r)));                  \
    }
QUARRY_ARITHMETIC(+, add)
QUARRY_ARITHMETIC(-, sub)
QUARRY_ARITHMETIC(*, mul)
QUARRY_ARITHMETIC(/, div)
QUARRY_ARITHMETIC(%, mod)
#undef QUARRY_ARITHMETIC

template <class E>
    requires expression<E>
auto operator-(E e) {
    check_numeric<E>();
    return make_op<typename E::value_type>(core::OpKind::unary, static_cast<std::uint8_t>(core::UnaryOp::negate), std::move(e));
}

// ---- named operations ---------------------------------------------------------------------

template <class E>
auto is_null(E e) {
    return make_op<bool>(core::OpKind::unary, static_cast<std::uint8_t>(core::UnaryOp::is_null), as_expr(std::move(e)));
}
template <class E>
auto is_not_null(E e) {
    return make_op<bool>(core::OpKind::unary, static_cast<std::uint8_t>(core::UnaryOp::is_not_null), as_expr(std::move(e)));
}

// Escapes LIKE's wildcards so `s` matches literally (quarry always renders ESCAPE '\').
std::string escape_like(std::string_view s);

namespace detail {
template <class E, class P>
auto like_op(core::LikeOp op, E e, P&& pattern) {
    static_assert(family_of<typename unwrap_optional<typename E::value_type>::type> == family::text ||
                      family_of<typename E::value_type> == family::dynamic,
                  "quarry: LIKE needs a text operand");
    return make_op<bool>(core::OpKind::like, static_cast<std::uint8_t>(op), std::move(e), as_expr(std::forward<P>(pattern)));
}
}  // namespace detail

template <class E, class P>
auto like(E e, P&& p) { return detail::like_op(core::LikeOp::like, as_expr(std::move(e)), std::forward<P>(p)); }
template <class E, class P>
auto not_like(E e, P&& p) { return detail::like_op(core::LikeOp::not_like, as_expr(std::move(e)), std::forward<P>(p)); }
// PostgreSQL only: SQLite renders an UnsupportedFeature error.
template <class E, class P>
auto ilike(E e, P&& p) { return detail::like_op(core::LikeOp::ilike, as_expr(std::move(e)), std::forward<P>(p)); }
template <class E, class P>
auto not_ilike(E e, P&& p) { return detail::like_op(core::LikeOp::not_ilike, as_expr(std::move(e)), std::forward<P>(p)); }

// `x IN (list)`: SQLite expands the list, PostgreSQL binds one array (`= ANY($1)`).
template <class E, class V>
auto in(E e, std::vector<V> values) {
    auto lhs = as_expr(std::move(e));
    check_comparable<decltype(lhs), V>();
    using S = stored_t<V>;
    return in_list_expr<decltype(lhs), S>{{}, std::move(lhs), std::vector<S>(values.begin(), values.end()), false};
}
template <class E, class V>
auto in(E e, std::initializer_list<V> values) {
    return in(std::move(e), std::vector<V>(values));
}
template <class E, class V>
auto not_in(E e, std::vector<V> values) {
    auto r = in(std::move(e), std::move(values));
    r.negated = true;
    return r;
}
template <class E, class V>
auto not_in(E e, std::initializer_list<V> values) {
    return not_in(std::move(e), std::vector<V>(values));
}

template <class E, class Lo, class Hi>
auto between(E e, Lo&& lo, Hi&& hi) {
    check_comparable<E, Lo>();
    check_comparable<E, Hi>();
    detail::refuse_empty_optional(lo);
    detail::refuse_empty_optional(hi);
    return make_op<bool>(core::OpKind::between, 0, as_expr(std::move(e)), as_expr(std::forward<Lo>(lo)),
                         as_expr(std::forward<Hi>(hi)));
}
template <class E, class Lo, class Hi>
auto not_between(E e, Lo&& lo, Hi&& hi) {
    auto r = between(std::move(e), std::forward<Lo>(lo), std::forward<Hi>(hi));
    r.sub = 1;
    return r;
}

template <class E>
order_expr<expr_t<E>> asc(E e) { return {as_expr(std::move(e)), 0}; }
template <class E>
order_expr<expr_t<E>> desc(E e) { return {as_expr(std::move(e)), core::OrderFlags::desc}; }

template <class E>
aliased<expr_t<E>> as(E e, std::string name) { return {{}, as_expr(std::move(e)), std::move(name)}; }

// The chained spellings: col(&User::name).like("a%"), .in({1, 2}), .desc(), .as("n") ...
template <class D>
struct expr_base {
    const D& self() const { return static_cast<const D&>(*this); }
    template <class P> auto like(P&& p) const { return quarry::like(self(), std::forward<P>(p)); }
    template <class P> auto not_like(P&& p) const { return quarry::not_like(self(), std::forward<P>(p)); }
    template <class P> auto ilike(P&& p) const { return quarry::ilike(self(), std::forward<P>(p)); }
    template <class V> auto in(std::vector<V> v) const { return quarry::in(self(), std::move(v)); }
    template <class V> auto in(std::initializer_list<V> v) const { return quarry::in(self(), std::vector<V>(v)); }
    template <class V> auto not_in(std::vector<V> v) const { return quarry::not_in(self(), std::move(v)); }
    template <class V> auto not_in(std::initializer_list<V> v) const { return quarry::not_in(self(), std::vector<V>(v)); }
    template <class Lo, class Hi> auto between(Lo&& lo, Hi&& hi) const {
        return quarry::between(self(), std::forward<Lo>(lo), std::forward<Hi>(hi));
    }
    auto is_null() const { return quarry::is_null(self()); }
    auto is_not_null() const { return quarry::is_not_null(self()); }
    auto asc() const { return quarry::asc(self()); }
    auto desc() const { return quarry::desc(self()); }
    auto as(std::string name) const { return quarry::as(self(), std::move(name)); }
};

// A developer's integer constant rendered as SQL text (frame offsets, LAG's offset): never a
// user value, and the database needs it as a literal of its own type.
struct int_literal : expr_base<int_literal> {
    using value_type = std::int64_t;
    using tables = type_list<>;
    std::int64_t v;
    void lower(auto& l) const { l.integer(v); }
};

// ---- aliased sources: a table joined twice ------------------------------------------------

template <schema T>
struct source_alias {
    std::string name;
    template <class M>
    column_expr<T, M> operator()(M T::*member) const {
        return {{}, &column_info(member), name};
    }
};

// `auto m = alias<User>("m");` then `m(&User::id)`; join it with `join(m, ...)`.
template <schema T>
source_alias<T> alias(std::string name) {
    return {std::move(name)};
}

}  // namespace quarry
