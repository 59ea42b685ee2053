// SPDX-License-Identifier: MIT
// SQL functions: aggregates (with FILTER), window functions (OVER, frames, named windows),
// CASE, CAST, COALESCE, tuples, and raw fragments whose values go only through `?`.
#pragma once
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "quarry/expr.hpp"
#include "quarry/query.hpp"

namespace quarry {

namespace detail {
template <class V, class... E>
auto func(core::Func f, std::uint8_t flags, E... es) {
    return make_op_a<V>(core::OpKind::func, flags, static_cast<std::uint32_t>(f), std::move(es)...);
}
template <class E>
using plain_t = typename unwrap_optional<typename E::value_type>::type;
}  // namespace detail

// An aggregate call; .filter(pred) adds FILTER (WHERE pred).
template <class V, class... E>
struct aggregate_expr : expr_base<aggregate_expr<V, E...>> {
    using value_type = V;
    using tables = concat_t<typename E::tables...>;
    core::Func f;
    std::uint8_t flags;
    detail::pack<E...> args;
    void lower(auto& l) const {
        l.op(core::OpKind::func, flags, sizeof...(E), static_cast<std::uint32_t>(f));
        args.lower_each(l);
    }
    template <class P>
    auto filter(P pred) const {
        auto p = as_expr(std::move(pred));
        static_assert(predicate<decltype(p)>, "quarry: FILTER needs a boolean expression");
        return filtered<decltype(p)>{{}, *this, std::move(p)};
    }
    template <class P>
    struct filtered : expr_base<filtered<P>> {
        using value_type = V;
        using tables = concat_t<typename aggregate_expr::tables, typename P::tables>;
        aggregate_expr agg;
        P pred;
        void lower(auto& l) const {
            l.op(core::OpKind::func, agg.flags | core::FuncFlags::filter, sizeof...(E) + 1, static_cast<std::uint32_t>(agg.f));
            agg.args.lower_each(l);
            pred.lower(l);
        }
    };
};

inline aggregate_expr<std::int64_t> count() { return {{}, core::Func::count, core::FuncFlags::star, {}}; }
template <class E>
auto count(E e) { return aggregate_expr<std::int64_t, expr_t<E>>{{}, core::Func::count, 0, {as_expr(std::move(e))}}; }
template <class E>
auto count_distinct(E e) {
    return aggregate_expr<std::int64_t, expr_t<E>>{{}, core::Func::count, core::FuncFlags::distinct, {as_expr(std::move(e))}};
}
template <class E>
auto sum(E e) {
    using X = expr_t<E>;
    check_numeric<X>();
    using V = std::conditional_t<std::is_floating_point_v<detail::plain_t<X>>, double, std::int64_t>;
    return aggregate_expr<std::optional<V>, X>{{}, core::Func::sum, 0, {as_expr(std::move(e))}};
}
template <class E>
auto avg(E e) {
    check_numeric<expr_t<E>>();
    return aggregate_expr<std::optional<double>, expr_t<E>>{{}, core::Func::avg, 0, {as_expr(std::move(e))}};
}
template <class E>
auto min(E e) {
    using X = expr_t<E>;
    return aggregate_expr<std::optional<detail::plain_t<X>>, X>{{}, core::Func::min, 0, {as_expr(std::move(e))}};
}
template <class E>
auto max(E e) {
    using X = expr_t<E>;
    return aggregate_expr<std::optional<detail::plain_t<X>>, X>{{}, core::Func::max, 0, {as_expr(std::move(e))}};
}

// ---- window functions ---------------------------------------------------------------------

struct frame_bound {
    core::FrameBound kind;
    std::uint32_t offset = 0;
};
namespace detail {
// The offset is written into the SQL as a literal: one that does not fit is refused, never cut.
inline std::uint32_t frame_offset(std::int64_t n) {
    if (n < 0) throw QueryError("window frame offset " + std::to_string(n) + " must not be negative");
    if (n > std::int64_t{0xffffffff})
        throw QueryError("window frame offset " + std::to_string(n) + " is too large (at most 4294967295)");
    return static_cast<std::uint32_t>(n);
}
}  // namespace detail
inline frame_bound unbounded_preceding() { return {core::FrameBound::unbounded_preceding}; }
inline frame_bound preceding(std::int64_t n) { return {core::FrameBound::preceding, detail::frame_offset(n)}; }
inline frame_bound current_row() { return {core::FrameBound::current_row}; }
inline frame_bound following(std::int64_t n) { return {core::FrameBound::following, detail::frame_offset(n)}; }
inline frame_bound unbounded_following() { return {core::FrameBound::unbounded_following}; }

struct frame_spec {
    core::FrameMode mode;
    frame_bound start, end;
};
inline frame_spec rows_between(frame_bound s, frame_bound e) { return {core::FrameMode::rows, s, e}; }
inline frame_spec range_between(frame_bound s, frame_bound e) { return {core::FrameMode::range, s, e}; }
inline frame_spec groups_between(frame_bound s, frame_bound e) { return {core::FrameMode::groups, s, e}; }

template <class... E>
struct partition_by_t { detail::pack<E...> es; };
template <class... E>
auto partition_by(E... es) { return partition_by_t<expr_t<E>...>{{as_expr(std::move(es))...}}; }
template <class... E>
struct window_order_t { detail::pack<E...> es; };
template <class... E>
auto window_order(E... es) {
    return window_order_t<decltype(order_item(std::move(es)))...>{{order_item(std::move(es))...}};
}

// PARTITION BY ... ORDER BY ... [frame]: inline in OVER (...) or named in a WINDOW clause.
template <class P, class O>
struct window_spec {
    P partition;
    O order;
    std::optional<frame_spec> frame;
    using tables = concat_t<type_list<>>;
    window_spec with_frame(frame_spec f) const { return {partition, order, f}; }
    void lower(auto& l) const {
        auto np = decltype(partition.es)::size;
        auto no = decltype(order.es)::size;
        l.op(core::OpKind::window_spec, 0, static_cast<std::uint16_t>(np + no + (frame ? 1 : 0)),
             static_cast<std::uint32_t>(np), static_cast<std::uint32_t>(no), frame ? 1 : 0);
        partition.es.lower_each(l);
        order.es.lower_each(l);
        if (frame)
            l.op(core::OpKind::frame, static_cast<std::uint8_t>(frame->mode), 0, frame->start.offset, frame->end.offset,
                 static_cast<std::uint32_t>(frame->start.kind) | (static_cast<std::uint32_t>(frame->end.kind) << 8));
    }
};
template <class... P, class... O>
auto window(partition_by_t<P...> p, window_order_t<O...> o = {}) {
    return window_spec<partition_by_t<P...>, window_order_t<O...>>{std::move(p), std::move(o), std::nullopt};
}
template <class... O>
auto window(window_order_t<O...> o) {
    return window_spec<partition_by_t<>, window_order_t<O...>>{{}, std::move(o), std::nullopt};
}

template <class F, class W>
struct over_expr : expr_base<over_expr<F, W>> {
    using value_type = typename F::value_type;
    using tables = typename F::tables;
    F fn;
    W spec;
    std::string name;  // OVER "name" when set
    void lower(auto& l) const {
        if (!name.empty()) {
            std::uint32_t at = l.op(core::OpKind::window, 0, 1);
            l.patch(at, l.identifier(name) + 1, 0);
            fn.lower(l);
        } else {
            l.op(core::OpKind::window, 0, 2);
            fn.lower(l);
            spec.lower(l);
        }
    }
};

template <class F, class W>
    requires requires(const W& w, core::Lowerer& l) { w.lower(l); }
auto over(F fn, W spec) { return over_expr<F, W>{{}, std::move(fn), std::move(spec), {}}; }
template <class F>
auto over(F fn, std::string window_name) {
    return over_expr<F, window_spec<partition_by_t<>, window_order_t<>>>{{}, std::move(fn), {}, std::move(window_name)};
}

inline auto row_number() { return detail::func<std::int64_t>(core::Func::row_number, 0); }
inline auto rank() { return detail::func<std::int64_t>(core::Func::rank, 0); }
inline auto dense_rank() { return detail::func<std::int64_t>(core::Func::dense_rank, 0); }
inline auto percent_rank() { return detail::func<double>(core::Func::percent_rank, 0); }
inline auto cume_dist() { return detail::func<double>(core::Func::cume_dist, 0); }
inline auto ntile(std::int64_t n) { return detail::func<std::int64_t>(core::Func::ntile, 0, int_literal{{}, n}); }
template <class E>
auto lag(E e, std::int64_t offset = 1) {
    using X = expr_t<E>;
    return detail::func<std::optional<detail::plain_t<X>>>(core::Func::lag, 0, as_expr(std::move(e)), int_literal{{}, offset});
}
template <class E>
auto lead(E e, std::int64_t offset = 1) {
    using X = expr_t<E>;
    return detail::func<std::optional<detail::plain_t<X>>>(core::Func::lead, 0, as_expr(std::move(e)), int_literal{{}, offset});
}
template <class E>
auto first_value(E e) { return detail::func<typename expr_t<E>::value_type>(core::Func::first_value, 0, as_expr(std::move(e))); }
template <class E>
auto last_value(E e) { return detail::func<typename expr_t<E>::value_type>(core::Func::last_value, 0, as_expr(std::move(e))); }
template <class E>
auto nth_value(E e, std::int64_t n) {
    using X = expr_t<E>;
    return detail::func<std::optional<detail::plain_t<X>>>(core::Func::nth_value, 0, as_expr(std::move(e)), int_literal{{}, n});
}

// WINDOW "name" AS (spec), for over(fn, "name").
template <class W>
struct window_def_clause {
    std::string name;
    W spec;
    template <class R, class S>
    Query<R, S> apply(Query<R, S> q) const {
        core::Lowerer l;
        std::uint32_t n = l.identifier(name);
        spec.lower(l);
        l.end_expr();
        return Query<R, S>(l.finish(core::Clause::window_def, std::move(q).take(), 0, 0, nullptr, n + 1));
    }
};
template <class W>
window_def_clause<W> define_window(std::string name, W spec) { return {std::move(name), std::move(spec)}; }

// ---- scalar functions ---------------------------------------------------------------------

template <class E, class... Rest>
auto coalesce(E e, Rest... rest) {
    auto first = as_expr(std::move(e));
    using V = detail::plain_t<decltype(first)>;
    return detail::func<V>(core::Func::coalesce, 0, std::move(first), as_expr(std::move(rest))...);
}
template <class A, class B>
auto nullif(A a, B b) {
    auto x = as_expr(std::move(a));
    return detail::func<std::optional<detail::plain_t<decltype(x)>>>(core::Func::nullif, 0, std::move(x), as_expr(std::move(b)));
}
template <class E>
auto lower(E e) { return detail::func<std::string>(core::Func::lower, 0, as_expr(std::move(e))); }
template <class E>
auto upper(E e) { return detail::func<std::string>(core::Func::upper, 0, as_expr(std::move(e))); }
template <class E>
auto length(E e) { return detail::func<std::int64_t>(core::Func::length, 0, as_expr(std::move(e))); }
template <class E>
auto abs(E e) { return detail::func<typename expr_t<E>::value_type>(core::Func::abs, 0, as_expr(std::move(e))); }
// SQLite spells these MAX/MIN, which with one argument are the aggregates: a different query.
template <class E, class... Rest>
auto greatest(E e, Rest... rest) {
    static_assert(sizeof...(Rest) > 0, "quarry: greatest() needs at least two arguments (for the largest value of a "
                                       "column over rows, use the aggregate max())");
    return detail::func<typename expr_t<E>::value_type>(core::Func::greatest, 0, as_expr(std::move(e)), as_expr(std::move(rest))...);
}
template <class E, class... Rest>
auto least(E e, Rest... rest) {
    static_assert(sizeof...(Rest) > 0, "quarry: least() needs at least two arguments (for the smallest value of a "
                                       "column over rows, use the aggregate min())");
    return detail::func<typename expr_t<E>::value_type>(core::Func::least, 0, as_expr(std::move(e)), as_expr(std::move(rest))...);
}
template <class A, class B>
auto concat(A a, B b) {
    return make_op<std::string>(core::OpKind::binary, static_cast<std::uint8_t>(core::BinaryOp::concat), as_expr(std::move(a)),
                                as_expr(std::move(b)));
}

// CAST(e AS <type of T>), typed as T.
template <class T, class E>
auto cast(E e) {
    static_assert(sql_value<T>, "quarry: cast<T> needs a type with quarry::value_traits");
    return make_op_a<T>(core::OpKind::cast, 0, static_cast<std::uint32_t>(value_traits<T>::sql_type), as_expr(std::move(e)));
}

// CASE WHEN c1 THEN v1 ... [ELSE e] END:  case_when(c1, v1).when(c2, v2).else_(e)
template <class V, class... E>
struct case_expr : expr_base<case_expr<V, E...>> {
    using value_type = V;
    using tables = concat_t<typename E::tables...>;
    std::tuple<E...> parts;
    bool has_else = false;
    template <class C, class X>
    auto when(C c, X x) const {
        auto cond = as_expr(std::move(c));
        static_assert(predicate<decltype(cond)>, "quarry: a WHEN condition must be boolean");
        auto val = as_expr(std::move(x));
        return case_expr<V, E..., decltype(cond), decltype(val)>{
            {}, std::tuple_cat(parts, std::make_tuple(std::move(cond), std::move(val))), false};
    }
    template <class X>
    auto else_(X x) const {
        auto val = as_expr(std::move(x));
        return case_expr<V, E..., decltype(val)>{{}, std::tuple_cat(parts, std::make_tuple(std::move(val))), true};
    }
    void lower(auto& l) const {
        l.op(core::OpKind::case_when, has_else, sizeof...(E));
        std::apply([&](const auto&... p) { (p.lower(l), ...); }, parts);
    }
};
template <class C, class X>
auto case_when(C c, X x) {
    auto cond = as_expr(std::move(c));
    static_assert(predicate<decltype(cond)>, "quarry: a WHEN condition must be boolean");
    auto val = as_expr(std::move(x));
    return case_expr<typename decltype(val)::value_type, decltype(cond), decltype(val)>{{}, {std::move(cond), std::move(val)}, false};
}

// ---- tuples -------------------------------------------------------------------------------

template <class... E>
auto tuple(E... es) {
    return make_op<std::tuple<typename expr_t<E>::value_type...>>(core::OpKind::tuple, 0, as_expr(std::move(es))...);
}

template <class L, class... V>
struct tuple_in_expr : expr_base<tuple_in_expr<L, V...>> {
    using value_type = bool;
    using tables = typename L::tables;
    L lhs;
    std::vector<std::tuple<V...>> rows;
    bool negated = false;
    void lower(auto& l) const {
        if (rows.size() >= 0xffff) throw QueryError("tuple IN list has too many rows (at most 65534)");
        l.op(core::OpKind::in_tuples, negated, static_cast<std::uint16_t>(1 + rows.size()));
        lhs.lower(l);
        for (const auto& r : rows) {
            l.op(core::OpKind::tuple, 0, sizeof...(V));
            std::apply([&](const auto&... v) { (detail::bind_param<V>(l, v), ...); }, r);
        }
    }
};

// (a, b) IN (VALUES ($1, $2), ($3, $4))
namespace detail {
template <class T>
struct tuple_width : std::integral_constant<std::size_t, 0> {};
template <class... T>
struct tuple_width<std::tuple<T...>> : std::integral_constant<std::size_t, sizeof...(T)> {};
}  // namespace detail

template <class L, class... V>
    requires(detail::tuple_width<typename L::value_type>::value == sizeof...(V) && sizeof...(V) > 0)
auto in(L lhs, std::vector<std::tuple<V...>> rows) {
    return tuple_in_expr<L, stored_t<V>...>{{}, std::move(lhs), {rows.begin(), rows.end()}, false};
}

// ---- raw SQL fragments --------------------------------------------------------------------

template <class V, class... E>
struct raw_expr : expr_base<raw_expr<V, E...>> {
    using value_type = V;
    using tables = concat_t<typename E::tables...>;
    const char* sql;
    detail::pack<E...> args;
    void lower(auto& l) const {
        std::uint32_t at = l.op(core::OpKind::raw, 0, sizeof...(E));
        l.patch(at, l.string(sql), 0);
        args.lower_each(l);
    }
};

std::size_t count_raw_placeholders(std::string_view sql);

// raw<V>("lower(?) = ?", col(&User::name), "bob"): SQL text only from a string literal; every
// value goes through a `?` placeholder (`??` is a literal question mark).
template <class V, std::size_t N, class... A>
auto raw(const char (&sql)[N], A... args) {
    if (count_raw_placeholders(sql) != sizeof...(A))
        throw QueryError("raw fragment \"" + std::string(sql) + "\" has " + std::to_string(count_raw_placeholders(sql)) +
                         " ? marks but " + std::to_string(sizeof...(A)) + " arguments");
    return raw_expr<V, expr_t<A>...>{{}, sql, {as_expr(std::move(args))...}};
}

}  // namespace quarry
