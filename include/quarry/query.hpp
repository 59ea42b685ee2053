// SPDX-License-Identifier: MIT
// Query<Row>: an immutable query value. Each pipe returns a new value that shares its base.
#pragma once
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "quarry/core/ast.hpp"
#include "quarry/core/lowerer.hpp"
#include "quarry/expr.hpp"

namespace quarry {

// The tables a query can read, and whether it has an explicit select.
template <bool Selected, class... T>
struct scope_t {
    using tables = type_list<T...>;
    static constexpr bool selected = Selected;
    using first = std::tuple_element_t<0, std::tuple<T...>>;
};
template <class... T>
using scope = scope_t<false, T...>;

template <class Row, class Scope = scope<Row>>
class Query {
public:
    using row_type = Row;
    using scope_type = Scope;
    using tables = typename Scope::tables;

    explicit Query(core::NodePtr node) noexcept : node_(std::move(node)) {}
    const core::NodePtr& node() const noexcept { return node_; }
    core::NodePtr take() && noexcept { return std::move(node_); }
    // Equal for two values of the same shape, whatever their parameter values.
    std::uint64_t shape() const noexcept { return node_->shape; }

private:
    core::NodePtr node_;
};

template <class Q>
concept query_value = requires(const Q& q) {
    typename Q::row_type;
    typename Q::scope_type;
    { q.node() } -> std::same_as<const core::NodePtr&>;
};

template <class R, class S, class C>
    requires requires(const C& c, const Query<R, S>& q) { c.apply(q); }
auto operator|(Query<R, S> q, const C& clause) {
    return clause.apply(std::move(q));  // a temporary's node moves into the new node's parent
}

namespace detail {

template <class... E>
core::NodePtr pipe(core::Clause kind, core::NodePtr parent, const E&... es) {
    return core::build_node(kind, std::move(parent), [&](auto& l) { ((es.lower(l), l.end_expr()), ...); });
}

template <class E, class Scope>
constexpr void check_scope() {
    static_assert(all_in_v<typename E::tables, typename Scope::tables>,
                  "quarry: this expression uses a column of a table that is not in the query "
                  "(join the table first, or wrap a correlated reference in outer())");
}

template <class Scope, class T>
struct add_table;
template <bool Sel, class... T, class U>
struct add_table<scope_t<Sel, T...>, U> { using type = scope_t<Sel, T..., U>; };

template <class Scope, bool Sel>
struct with_selected;
template <bool Old, class... T, bool Sel>
struct with_selected<scope_t<Old, T...>, Sel> { using type = scope_t<Sel, T...>; };

template <class... E>
struct row_of { using type = std::tuple<typename E::value_type...>; };
template <class E>
struct row_of<E> { using type = typename E::value_type; };

}  // namespace detail

template <schema T>
Query<T> from() {
    // One root node per schema, shared by every query that starts from it.
    static const core::NodePtr root = [] {
        core::Lowerer l;
        auto n = l.finish(core::Clause::from_table, {}, 0, 0, &table_info<T>());
        const_cast<core::Node*>(n.get())->make_immortal();
        return n;
    }();
    return Query<T>(root);
}

// FROM "users" AS "u": columns are then written u(&User::id).
template <schema T>
Query<T> from(const source_alias<T>& a) {
    core::Lowerer l;
    std::uint32_t name = l.identifier(a.name);
    return Query<T>(l.finish(core::Clause::from_table, {}, 0, 0, &table_info<T>(), name + 1));
}

// FROM (subquery) AS "<S's table name>": S is a schema describing the subquery's columns.
template <schema S, class R, class Sc>
Query<S> from_query(const Query<R, Sc>& q) {
    core::Lowerer l;
    l.subquery(q.node());
    return Query<S>(l.finish(core::Clause::from_query, {}, 0, 0, &table_info<S>()));
}

// ---- where / having -----------------------------------------------------------------------

// A predicate built at run time, e.g. from the optional fields of a search form. Empty: no-op.
template <class... T>
class filter {
public:
    using value_type = bool;
    using tables = type_list<T...>;

    template <predicate E>
    filter& operator&=(const E& e) { return add(e, core::BinaryOp::and_); }
    template <predicate E>
    filter& operator|=(const E& e) { return add(e, core::BinaryOp::or_); }
    bool empty() const noexcept { return parts_.empty(); }
    // A left-deep chain: ((p0 op1 p1) op2 p2) ...; in prefix order all operators come first.
    void lower(auto& l) const {
        if (parts_.empty()) throw QueryError("an empty filter cannot be used inside an expression");
        for (std::size_t k = parts_.size(); k-- > 1;) l.op(core::OpKind::binary, static_cast<std::uint8_t>(parts_[k].op), 2);
        for (const auto& p : parts_) l.embed(*p.node);
    }

private:
    template <class E>
    filter& add(const E& e, core::BinaryOp op) {
        static_assert(all_in_v<typename E::tables, tables>, "quarry: the filter's tables do not include this column's table");
        core::Lowerer l;
        e.lower(l);
        l.end_expr();
        parts_.push_back({op, l.finish(core::Clause::where, {})});  // each term lowered once: O(1) per term
        return *this;
    }
    struct part {
        core::BinaryOp op;
        core::NodePtr node;
    };
    std::vector<part> parts_;
};

template <class E>
struct is_filter : std::false_type {};
template <class... T>
struct is_filter<filter<T...>> : std::true_type {};

namespace detail {
// A where/having of a constant. TRUE renders nothing by itself, but it is recorded: a later
// or_where must see that the predicate so far already matches every row (render/fold.cpp).
inline core::NodePtr constant_predicate(core::Clause kind, core::NodePtr parent, bool value) {
    return core::build_node(kind, std::move(parent), [value](auto& l) {
        l.op(core::OpKind::constant, static_cast<std::uint8_t>(value ? core::Constant::true_ : core::Constant::false_));
        l.end_expr();
    });
}
}  // namespace detail

template <class E>
struct predicate_clause {
    E e;
    core::Clause kind;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        static_assert(predicate<E>, "quarry: where()/having() need a boolean expression");
        detail::check_scope<E, S>();
        if constexpr (is_filter<E>::value) {
            // An empty filter adds no condition: AND TRUE for where/having, OR FALSE (nothing)
            // for or_where/or_having.
            if (e.empty()) {
                if (kind == core::Clause::or_where || kind == core::Clause::or_having) return q;
                return Query<R, S>(detail::constant_predicate(kind, std::move(q).take(), true));
            }
        }
        return Query<R, S>(detail::pipe(kind, std::move(q).take(), e));
    }
};

struct constant_predicate_clause {
    bool value;
    core::Clause kind;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        return Query<R, S>(detail::constant_predicate(kind, std::move(q).take(), value));
    }
};

template <class E>
auto where(E e) { return predicate_clause<expr_t<E>>{as_expr(std::move(e)), core::Clause::where}; }
inline auto where(bool b) { return constant_predicate_clause{b, core::Clause::where}; }
// OR-ed against the whole predicate so far: where(a) | where(b) | or_where(c) is (a AND b) OR c.
template <class E>
auto or_where(E e) { return predicate_clause<expr_t<E>>{as_expr(std::move(e)), core::Clause::or_where}; }
template <class E>
auto having(E e) { return predicate_clause<expr_t<E>>{as_expr(std::move(e)), core::Clause::having}; }
template <class E>
auto or_having(E e) { return predicate_clause<expr_t<E>>{as_expr(std::move(e)), core::Clause::or_having}; }

// ---- select -------------------------------------------------------------------------------

template <class Row, class... E>
struct select_clause {
    detail::pack<E...> es;
    template <class R, class S>
    auto apply(Query<R, S> q) const {
        static_assert(!S::selected,
                      "quarry: this query already has a select; drop it first with exclude<clause::select>()");
        (detail::check_scope<E, S>(), ...);
        using NewRow = std::conditional_t<std::is_void_v<Row>, typename detail::row_of<E...>::type, Row>;
        using NewScope = typename detail::with_selected<S, true>::type;
        return Query<NewRow, NewScope>(
            es.apply([&](const auto&... e) { return detail::pipe(core::Clause::select, std::move(q).take(), e...); }));
    }
};

// select(a) makes Row a's type; select(a, b) makes it std::tuple<A, B>.
template <class... E>
auto select(E... es) {
    static_assert(sizeof...(E) > 0, "quarry: select() needs at least one expression");
    return select_clause<void, expr_t<E>...>{{as_expr(std::move(es))...}};
}
// Rows become `Struct`, built from the expressions in order.
template <class Struct, class... E>
auto select_as(E... es) {
    return select_clause<Struct, expr_t<E>...>{{as_expr(std::move(es))...}};
}

// ---- joins --------------------------------------------------------------------------------

template <schema T, class E>
struct join_clause {
    core::JoinKind kind;
    std::string alias;
    std::optional<E> on;
    core::NodePtr sub;  // a subquery source
    bool lateral = false;
    template <class R, class S>
    auto apply(Query<R, S> q) const {
        using NewScope = typename detail::add_table<S, T>::type;
        static_assert(predicate<E>, "quarry: a join condition must be a boolean expression");
        detail::check_scope<E, NewScope>();
        std::uint16_t flags = static_cast<std::uint16_t>((lateral ? core::JoinFlags::lateral : 0) |
                                                         (sub ? core::JoinFlags::subquery_source : 0));
        auto lower = [&](auto& l) {
            if (sub) l.subquery(sub);  // first: a subquery source is subs()[0], before any in the ON condition
            if (on) {
                on->lower(l);
                l.end_expr();
            }
            if (!alias.empty()) l.node_alias(l.identifier(alias) + 1);
        };
        return Query<R, NewScope>(core::build_node(core::Clause::join, std::move(q).take(), lower,
                                                   static_cast<std::uint8_t>(kind), flags, &table_info<T>()));
    }
};

struct no_condition {
    using value_type = bool;
    using tables = type_list<>;
    void lower(auto&) const {}
};

template <schema T, class E>
auto join(E on) { return join_clause<T, expr_t<E>>{core::JoinKind::inner, {}, as_expr(std::move(on)), {}}; }
template <schema T, class E>
auto left_join(E on) { return join_clause<T, expr_t<E>>{core::JoinKind::left, {}, as_expr(std::move(on)), {}}; }
template <schema T, class E>
auto right_join(E on) { return join_clause<T, expr_t<E>>{core::JoinKind::right, {}, as_expr(std::move(on)), {}}; }
template <schema T, class E>
auto full_join(E on) { return join_clause<T, expr_t<E>>{core::JoinKind::full, {}, as_expr(std::move(on)), {}}; }
template <schema T>
auto cross_join() { return join_clause<T, no_condition>{core::JoinKind::cross, {}, std::nullopt, {}}; }

// The same table under another name: join(alias<User>("m"), col(&User::manager_id) == m(&User::id)).
template <schema T, class E>
auto join(const source_alias<T>& a, E on, core::JoinKind kind = core::JoinKind::inner) {
    return join_clause<T, expr_t<E>>{kind, a.name, as_expr(std::move(on)), {}};
}
template <schema T, class E>
auto left_join(const source_alias<T>& a, E on) { return join(a, std::move(on), core::JoinKind::left); }

// JOIN (subquery) AS "<S's table name>" ON ...; lateral: the subquery may read earlier sources
// (PostgreSQL only).
template <schema S, class R, class Sc, class E>
auto join_query(const Query<R, Sc>& sub, E on, core::JoinKind kind = core::JoinKind::inner) {
    return join_clause<S, expr_t<E>>{kind, {}, as_expr(std::move(on)), sub.node()};
}
template <schema S, class R, class Sc, class E>
auto join_lateral(const Query<R, Sc>& sub, E on, core::JoinKind kind = core::JoinKind::inner) {
    auto c = join_clause<S, expr_t<E>>{kind, {}, as_expr(std::move(on)), sub.node()};
    c.lateral = true;
    return c;
}

// ---- grouping, ordering, paging -----------------------------------------------------------

template <class... E>
struct list_clause {
    core::Clause kind;
    detail::pack<E...> es;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        (detail::check_scope<E, S>(), ...);
        return Query<R, S>(es.apply([&](const auto&... e) { return detail::pipe(kind, std::move(q).take(), e...); }));
    }
};

template <class E>
struct order_arg { using type = expr_t<E>; };
template <class E>
struct order_arg<order_expr<E>> { using type = order_expr<E>; };

template <class... E>
auto group_by(E... es) { return list_clause<expr_t<E>...>{core::Clause::group_by, {as_expr(std::move(es))...}}; }

template <class E>
auto order_item(E e) {
    if constexpr (requires { e.nulls_first(); }) return e;
    else return asc(std::move(e));
}
template <class... E>
auto order_by(E... es) {
    return list_clause<decltype(order_item(std::move(es)))...>{core::Clause::order_by, {order_item(std::move(es))...}};
}
template <class... E>
auto prepend_order_by(E... es) {
    return list_clause<decltype(order_item(std::move(es)))...>{core::Clause::prepend_order_by,
                                                               {order_item(std::move(es))...}};
}
template <class... E>
auto distinct_on(E... es) { return list_clause<expr_t<E>...>{core::Clause::distinct_on, {as_expr(std::move(es))...}}; }

// An ordering built at run time (a sort parameter from a request). Empty: no-op.
template <class... T>
class ordering {
public:
    template <class E>
    ordering& then(E item) {
        auto o = order_item(std::move(item));
        static_assert(all_in_v<typename decltype(o)::tables, type_list<T...>>, "quarry: ordering by a column of another table");
        core::Lowerer l;
        if (node_) {
            l.embed(*node_);
            for (std::uint32_t k = 0; k < node_->top_count(); ++k) l.end_expr();
        }
        o.lower(l);
        l.end_expr();
        node_ = l.finish(core::Clause::order_by, {});
        return *this;
    }
    bool empty() const noexcept { return !node_; }
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        static_assert(all_in_v<type_list<T...>, typename S::tables>, "quarry: ordering by a table not in the query");
        if (!node_) return q;
        core::Lowerer l;
        l.embed(*node_);
        for (std::uint32_t k = 0; k < node_->top_count(); ++k) l.end_expr();
        return Query<R, S>(l.finish(core::Clause::order_by, std::move(q).take()));
    }

private:
    core::NodePtr node_;
};

struct scalar_clause {
    core::Clause kind;
    std::int64_t n;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        if (n < 0) throw QueryError(kind == core::Clause::limit ? "limit must not be negative" : "offset must not be negative");
        return Query<R, S>(core::build_node(kind, std::move(q).take(), [&](auto& l) {
            l.param(core::Value::integer(n));
            l.end_expr();
        }));
    }
};
inline scalar_clause limit(std::int64_t n) { return {core::Clause::limit, n}; }

// The first n rows of each partition, in the query's order: the latest 3 posts of each user is
// from<Post>() | order_by(desc(col(&Post::inserted_at))) | limit_per(3, col(&Post::user_id)).
// Whole rows of the query's table (a window function over a derived table); not with select,
// limit, offset or set operations. A later limit() replaces it.
template <class... E>
struct limit_per_clause {
    std::int64_t n;
    detail::pack<E...> partition;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        (detail::check_scope<E, S>(), ...);
        if (n < 0) throw QueryError("limit_per must not be negative");
        core::Lowerer l;
        partition.apply([&](const auto&... e) { ((e.lower(l), l.end_expr()), ...); });
        l.param(core::Value::integer(n));
        l.end_expr();
        return Query<R, S>(l.finish(core::Clause::limit_per, std::move(q).take()));
    }
};
template <class... E>
auto limit_per(std::int64_t n, E... partition) {
    static_assert(sizeof...(E) > 0, "quarry: limit_per(n, expressions...) needs what to partition by");
    return limit_per_clause<expr_t<E>...>{n, {as_expr(std::move(partition))...}};
}
inline scalar_clause offset(std::int64_t n) { return {core::Clause::offset, n}; }

struct marker_clause {
    core::Clause kind;
    std::uint8_t sub = 0;
    std::uint16_t flags = 0;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        return Query<R, S>(core::build_node(kind, std::move(q).take(), [](auto&) {}, sub, flags));
    }
};
inline marker_clause distinct() { return {core::Clause::distinct}; }
// first(): ordered by the primary key unless ordered already, LIMIT 1. last(): the reverse.
inline marker_clause first() { return {core::Clause::first}; }
inline marker_clause last() { return {core::Clause::last}; }
inline marker_clause reverse_order() { return {core::Clause::reverse_order}; }
// Soft delete (QUARRY_COLUMNS: .soft_delete()): a query sees only rows not deleted, unless it
// says with_deleted() (every row of its FROM and joined tables) or only_deleted() (the deleted
// rows of its FROM table; joined tables still show live rows). The last of them wins. A
// subquery, CTE or set-operation member is a query value of its own, with its own scope.
inline marker_clause with_deleted() { return {core::Clause::deleted, static_cast<std::uint8_t>(core::DeletedScope::all)}; }
inline marker_clause only_deleted() {
    return {core::Clause::deleted, static_cast<std::uint8_t>(core::DeletedScope::only_deleted)};
}

using core::LockWait;
inline marker_clause for_update(LockWait w = LockWait::wait) {
    return {core::Clause::lock, static_cast<std::uint8_t>(core::LockStrength::update), static_cast<std::uint16_t>(w)};
}
inline marker_clause for_no_key_update(LockWait w = LockWait::wait) {
    return {core::Clause::lock, static_cast<std::uint8_t>(core::LockStrength::no_key_update), static_cast<std::uint16_t>(w)};
}
inline marker_clause for_share(LockWait w = LockWait::wait) {
    return {core::Clause::lock, static_cast<std::uint8_t>(core::LockStrength::share), static_cast<std::uint16_t>(w)};
}
inline marker_clause for_key_share(LockWait w = LockWait::wait) {
    return {core::Clause::lock, static_cast<std::uint8_t>(core::LockStrength::key_share), static_cast<std::uint16_t>(w)};
}

// ---- exclude<clause::X>() -----------------------------------------------------------------

namespace clause {
struct where { static constexpr auto kind = core::Clause::where; };
struct having { static constexpr auto kind = core::Clause::having; };
struct select { static constexpr auto kind = core::Clause::select; };
struct join { static constexpr auto kind = core::Clause::join; };
struct group_by { static constexpr auto kind = core::Clause::group_by; };
struct order_by { static constexpr auto kind = core::Clause::order_by; };
struct limit { static constexpr auto kind = core::Clause::limit; };
struct offset { static constexpr auto kind = core::Clause::offset; };
struct distinct { static constexpr auto kind = core::Clause::distinct; };
struct lock { static constexpr auto kind = core::Clause::lock; };
struct with { static constexpr auto kind = core::Clause::with; };
struct set_ops { static constexpr auto kind = core::Clause::set_op; };
struct windows { static constexpr auto kind = core::Clause::window_def; };
}  // namespace clause

template <class C>
struct exclude_clause {
    template <class R, class S>
    auto apply(Query<R, S> q) const {
        static_assert(!std::is_same_v<C, clause::join>,
                      "quarry: joins cannot be excluded (the query's columns may depend on them); build the query without them");
        core::Lowerer l;
        auto node = l.finish(core::Clause::exclude, std::move(q).take(), static_cast<std::uint8_t>(C::kind));
        if constexpr (std::is_same_v<C, clause::select>) {
            using S2 = typename detail::with_selected<S, false>::type;
            return Query<typename S::first, S2>(std::move(node));
        } else {
            return Query<R, S>(std::move(node));
        }
    }
};
template <class C>
exclude_clause<C> exclude() { return {}; }

// ---- CTEs and set operations --------------------------------------------------------------

enum class materialization { automatic, materialized, not_materialized };

struct cte_clause {
    std::string name;
    const core::TableInfo* columns;  // from a schema: WITH "name" ("a", "b") AS (...)
    core::NodePtr body;
    std::uint16_t flags;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        core::Lowerer l;
        std::uint32_t n = l.identifier(name);
        l.subquery(body);
        return Query<R, S>(l.finish(core::Clause::with, std::move(q).take(), 0, flags, columns, n + 1));
    }
};

inline std::uint16_t cte_flags(bool recursive, materialization m) {
    return static_cast<std::uint16_t>((recursive ? core::CteFlags::recursive : 0) |
                                      (m == materialization::materialized ? core::CteFlags::materialized : 0) |
                                      (m == materialization::not_materialized ? core::CteFlags::not_materialized : 0));
}

// WITH "<S's table name>" (S's columns) AS (body): the query can then join or select from<S>().
template <schema S, class Q>
cte_clause with_cte(const Q& body, materialization m = materialization::automatic) {
    return {table_info<S>().name, &table_info<S>(), body.node(), cte_flags(false, m)};
}
template <schema S, class Q>
cte_clause with_recursive(const Q& body) {
    return {table_info<S>().name, &table_info<S>(), body.node(), cte_flags(true, materialization::automatic)};
}
template <class Q>
cte_clause with_cte(std::string name, const Q& body, materialization m = materialization::automatic) {
    return {std::move(name), nullptr, body.node(), cte_flags(false, m)};
}

template <class Row>
struct set_op_clause {
    core::SetOpKind kind;
    core::NodePtr other;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        static_assert(std::is_same_v<R, Row>, "quarry: both sides of a set operation must select the same row type");
        core::Lowerer l;
        l.subquery(other);
        return Query<R, S>(l.finish(core::Clause::set_op, std::move(q).take(), static_cast<std::uint8_t>(kind)));
    }
};
template <class R, class S>
set_op_clause<R> union_(const Query<R, S>& o) { return {core::SetOpKind::union_, o.node()}; }
template <class R, class S>
set_op_clause<R> union_all(const Query<R, S>& o) { return {core::SetOpKind::union_all, o.node()}; }
template <class R, class S>
set_op_clause<R> intersect(const Query<R, S>& o) { return {core::SetOpKind::intersect, o.node()}; }
template <class R, class S>
set_op_clause<R> intersect_all(const Query<R, S>& o) { return {core::SetOpKind::intersect_all, o.node()}; }
template <class R, class S>
set_op_clause<R> except_(const Query<R, S>& o) { return {core::SetOpKind::except, o.node()}; }
template <class R, class S>
set_op_clause<R> except_all(const Query<R, S>& o) { return {core::SetOpKind::except_all, o.node()}; }

// ---- subqueries as expressions ------------------------------------------------------------

template <class V>
struct subquery_expr : expr_base<subquery_expr<V>> {
    using value_type = V;
    using tables = type_list<>;  // a subquery checks its own scope
    core::NodePtr q;
    void lower(auto& l) const { l.op(core::OpKind::subquery, 0, 0, l.subquery(q)); }
};

// A scalar subquery: its select must produce one column.
template <class R, class S>
subquery_expr<R> subquery(const Query<R, S>& q) {
    static_assert(S::selected, "quarry: a scalar subquery needs a select() of one column");
    return {{}, q.node()};
}
template <class R, class S>
auto exists(const Query<R, S>& q) {
    return make_op<bool>(core::OpKind::unary, static_cast<std::uint8_t>(core::UnaryOp::exists), subquery_expr<R>{{}, q.node()});
}
template <class R, class S>
auto not_exists(const Query<R, S>& q) {
    return make_op<bool>(core::OpKind::unary, static_cast<std::uint8_t>(core::UnaryOp::not_exists), subquery_expr<R>{{}, q.node()});
}
template <class E, class R, class S>
auto in(E e, const Query<R, S>& q) {
    static_assert(S::selected, "quarry: IN (subquery) needs a select() of one column");
    auto lhs = as_expr(std::move(e));
    check_comparable<decltype(lhs), R>();
    return make_op<bool>(core::OpKind::in_query, 0, std::move(lhs), subquery_expr<R>{{}, q.node()});
}
template <class E, class R, class S>
auto not_in(E e, const Query<R, S>& q) {
    auto r = in(std::move(e), q);
    r.sub = 1;
    return r;
}

// A column of an enclosing query, read inside a correlated subquery.
template <class E>
struct outer_expr : expr_base<outer_expr<E>> {
    using value_type = typename E::value_type;
    using tables = type_list<>;  // resolved against the enclosing query's sources at render time
    E inner;
    void lower(auto& l) const {
        l.enter_outer();
        inner.lower(l);
        l.leave_outer();
    }
};
template <class E>
outer_expr<expr_t<E>> outer(E e) {
    return {{}, as_expr(std::move(e))};
}

}  // namespace quarry
