// SPDX-License-Identifier: MIT
// INSERT / UPDATE / DELETE / upsert as values: built, piped and rendered like queries.
#pragma once
#include <tuple>
#include <vector>

#include "quarry/query.hpp"

namespace quarry {

// A write statement on table T; Ret is the row type of its RETURNING list (void: none).
template <schema T, class Ret = void>
class Statement {
public:
    using table_type = T;
    using row_type = Ret;
    explicit Statement(core::NodePtr node) noexcept : node_(std::move(node)) {}
    const core::NodePtr& node() const noexcept { return node_; }
    core::NodePtr take() && noexcept { return std::move(node_); }
    std::uint64_t shape() const noexcept { return node_->shape; }

private:
    core::NodePtr node_;
};

template <schema T, class R, class C>
    requires requires(const C& c, const Statement<T, R>& s) { c.apply(s); }
auto operator|(Statement<T, R> s, const C& clause) {
    return clause.apply(std::move(s));
}

// ---- assignments --------------------------------------------------------------------------

template <class T, class V, class E>
struct assign_expr {
    using value_type = void;
    using tables = typename E::tables;
    using table = T;
    column_expr<T, V> target;
    E value;
    void lower(auto& l) const {
        l.op(core::OpKind::assign, 0, 2);
        target.lower(l);
        value.lower(l);
    }
};

// SET "m" = value (a value or an expression of a compatible type).
template <schema T, class M, class X>
auto set(M T::*member, X&& value) {
    auto v = as_expr(std::forward<X>(value));
    check_comparable<column_expr<T, M>, decltype(v)>();
    return assign_expr<T, M, decltype(v)>{col(member), std::move(v)};
}
// SET "m" = "m" + n
template <schema T, class M, class N>
auto inc(M T::*member, N n) {
    auto e = col(member) + std::move(n);
    return assign_expr<T, M, decltype(e)>{col(member), std::move(e)};
}

// EXCLUDED."m": the row an upsert tried to insert.
template <schema T, class M>
struct excluded_expr : expr_base<excluded_expr<T, M>> {
    using value_type = M;
    using tables = type_list<>;
    const core::ColumnInfo* info;
    void lower(auto& l) const { l.excluded(info); }
};
template <schema T, class M>
excluded_expr<T, M> excluded(M T::*member) { return {{}, &column_info(member)}; }

// ---- insert -------------------------------------------------------------------------------

template <class T, class... M>
struct field_list {
    detail::pack<M T::*...> members;
};
template <class T, class... M>
field_list<T, M...> fields(M T::*... members) { return {{members...}}; }

namespace detail {

// Calls f(member pointer) for each column of T that an insert writes.
template <class T, class F>
void for_insert_columns(F&& f) {
    for_each_column_info<T>([&](auto mp, const core::ColumnInfo& c) {
        if (!c.generated && !c.read_only) f(mp);
    });
}

template <class T, class Rows, class Columns, class Values>
Statement<T> build_insert(const Rows& rows, const Columns& columns, const Values& values) {
    auto lower = [&](auto& l) {
        columns(l);
        l.mark_part();
        for (const auto& row : rows) {
            std::uint32_t at = l.op(core::OpKind::tuple, 0, 0);
            l.set_arity(at, values(l, row));
            l.end_expr();
        }
    };
    return Statement<T>(core::build_node(core::Clause::insert, {}, lower, 0, 0, &table_info<T>()));
}

template <class T, class Rows>
Statement<T> insert_rows(const Rows& rows) {
    return build_insert<T>(
        rows, [](auto& l) { for_insert_columns<T>([&](auto mp) { l.column(&column_info(mp)); l.end_expr(); }); },
        [](auto& l, const T& row) {
            std::uint16_t n = 0;
            for_insert_columns<T>([&](auto mp) {
                using M = std::remove_cvref_t<decltype(row.*mp)>;
                bind_param<M>(l, row.*mp);
                ++n;
            });
            return n;
        });
}

template <class T, class Rows, class... M>
Statement<T> insert_rows(const Rows& rows, const field_list<T, M...>& f) {
    return build_insert<T>(
        rows,
        [&](auto& l) {
            f.members.apply([&](auto... mp) { ((l.column(&column_info(mp)), l.end_expr()), ...); });
        },
        [&](auto& l, const T& row) {
            f.members.apply([&](auto... mp) { (bind_param<M>(l, row.*mp), ...); });
            return static_cast<std::uint16_t>(sizeof...(M));
        });
}

}  // namespace detail

// INSERT of every column except the generated ones (by default a single integer primary key).
template <schema T>
Statement<T> insert(const T& row) { return detail::insert_rows<T>(std::vector<std::reference_wrapper<const T>>{row}); }
template <schema T, class... M>
Statement<T> insert(const T& row, const field_list<T, M...>& f) {
    return detail::insert_rows<T>(std::vector<std::reference_wrapper<const T>>{row}, f);
}
// Many rows in one statement (the Repo chunks them under the driver's parameter limit).
template <schema T>
Statement<T> insert_all(const std::vector<T>& rows) {
    if (rows.empty()) throw QueryError("insert_all needs at least one row");
    return detail::insert_rows<T>(rows);
}
template <schema T, class... M>
Statement<T> insert_all(const std::vector<T>& rows, const field_list<T, M...>& f) {
    if (rows.empty()) throw QueryError("insert_all needs at least one row");
    return detail::insert_rows<T>(rows, f);
}
// INSERT INTO t (fields) SELECT ...
template <schema T, class... M, class R, class S>
Statement<T> insert_from(const field_list<T, M...>& f, const Query<R, S>& q) {
    static_assert(S::selected, "quarry: insert_from needs a query with a select() of the inserted columns");
    core::Lowerer l;
    f.members.apply([&](auto... mp) { ((l.column(&column_info(mp)), l.end_expr()), ...); });
    l.mark_part();
    l.subquery(q.node());
    return Statement<T>(l.finish(core::Clause::insert, {}, 0, core::InsertFlags::from_select, &table_info<T>()));
}

// ---- upsert -------------------------------------------------------------------------------

template <class T, class... M>
struct conflict_target {
    detail::pack<M T::*...> members;
};

template <class T, class Target, class Where, class... A>
struct on_conflict_clause {
    Target target;
    core::ConflictAction action;
    detail::pack<A...> assigns;
    std::optional<Where> where;
    template <class R>
    Statement<T, R> apply(Statement<T, R> s) const {
        auto lower = [&](auto& l) {
            target.members.apply([&](auto... mp) { ((l.column(&column_info(mp)), l.end_expr()), ...); });
            l.mark_part();
            assigns.apply([&](const auto&... a) { ((a.lower(l), l.end_expr()), ...); });
            if (where) {
                where->lower(l);
                l.end_expr();
            }
        };
        return Statement<T, R>(core::build_node(core::Clause::on_conflict, std::move(s).take(), lower,
                                                static_cast<std::uint8_t>(action), where ? 1 : 0));
    }
    // ON CONFLICT ... DO UPDATE SET ... WHERE pred
    template <class P>
    auto when(P pred) const {
        auto p = as_expr(std::move(pred));
        return on_conflict_clause<T, Target, decltype(p), A...>{target, action, assigns, std::move(p)};
    }
};

// ON CONFLICT [(target)] DO NOTHING
template <schema T, class... M>
auto on_conflict_do_nothing(M T::*... target) {
    return on_conflict_clause<T, conflict_target<T, M...>, no_condition>{{{target...}}, core::ConflictAction::nothing, {}, {}};
}
template <schema T>
struct on_conflict_do_nothing_any {
    template <class R>
    Statement<T, R> apply(Statement<T, R> s) const {
        core::Lowerer l;
        l.mark_part();
        return Statement<T, R>(l.finish(core::Clause::on_conflict, std::move(s).take(), static_cast<std::uint8_t>(core::ConflictAction::nothing)));
    }
};

template <class T, class... M>
struct conflict_builder {
    conflict_target<T, M...> target;
    template <class... A>
    auto do_update(A... assigns) const {
        static_assert(sizeof...(A) > 0, "quarry: do_update needs at least one set(...)");
        return on_conflict_clause<T, conflict_target<T, M...>, no_condition, A...>{target, core::ConflictAction::update,
                                                                                  {std::move(assigns)...}, {}};
    }
    // DO UPDATE SET m = EXCLUDED.m for each named member.
    template <class... N>
    auto replace(N T::*... members) const {
        return do_update(set(members, excluded(members))...);
    }
    auto do_nothing() const {
        return on_conflict_clause<T, conflict_target<T, M...>, no_condition>{target, core::ConflictAction::nothing, {}, {}};
    }
};
namespace detail {
// Whether a conflict target (a pack of member pointers) includes column `c`. The pack's type is not
// spelled in these signatures: g++ 12 cannot mangle pack<M T::*...> ("mangling offset_type").
template <class Members>
bool names_column(const Members& target, const core::ColumnInfo& c) {
    return target.apply([&](auto... t) { return ((&column_info(t) == &c) || ...); });
}
}  // namespace detail

// ON CONFLICT (target) DO UPDATE SET c = EXCLUDED.c for every inserted column outside the
// target: "insert, or replace what is there" (Repo::upsert).
template <class T, class... M>
struct on_conflict_replace_all_clause {
    conflict_target<T, M...> target;
    template <class R>
    Statement<T, R> apply(Statement<T, R> s) const {
        core::Lowerer l;
        target.members.apply([&](auto... mp) { ((l.column(&column_info(mp)), l.end_expr()), ...); });
        l.mark_part();
        bool any = false;
        detail::for_insert_columns<T>([&](auto mp) {
            if (detail::names_column(target.members, column_info(mp))) return;
            // The stored row keeps its insertion time, its soft-delete state and its lock version
            // (incremented below, as any update does).
            using core::ColumnRole;
            if (detail::is_role<T, ColumnRole::inserted_at>(mp) || detail::is_role<T, ColumnRole::deleted_at>(mp) ||
                detail::is_role<T, ColumnRole::lock_version>(mp))
                return;
            set(mp, excluded(mp)).lower(l);
            l.end_expr();
            any = true;
        });
        if constexpr (detail::has_role<T, core::ColumnRole::lock_version>) {
            inc(detail::role_member<T, core::ColumnRole::lock_version>(), int_literal{{}, 1}).lower(l);  // a literal: binds nothing
            l.end_expr();
            any = true;
        }
        if (!any) {  // every column is in the target: a no-op update, so that RETURNING still sees the row
            const auto first = target.members.template get<0>();
            set(first, excluded(first)).lower(l);
            l.end_expr();
        }
        return Statement<T, R>(l.finish(core::Clause::on_conflict, std::move(s).take(), static_cast<std::uint8_t>(core::ConflictAction::update)));
    }
};
template <schema T, class... M>
on_conflict_replace_all_clause<T, M...> on_conflict_replace_all(M T::*... target) {
    static_assert(sizeof...(M) > 0, "quarry: on_conflict_replace_all(...) needs the conflict target's columns");
    return {{{target...}}};
}

template <schema T, class... M>
conflict_builder<T, M...> on_conflict(M T::*... target) {
    static_assert(sizeof...(M) > 0, "quarry: on_conflict(...) needs the conflict target's columns");
    return {{{target...}}};
}

// ---- RETURNING ----------------------------------------------------------------------------

template <class Row, class... E>
struct returning_clause {
    detail::pack<E...> es;
    template <class T, class R>
    auto apply(Statement<T, R> s) const {
        using NewRow = std::conditional_t<std::is_void_v<Row>, typename detail::row_of<E...>::type, Row>;
        return Statement<T, NewRow>(
            es.apply([&](const auto&... e) { return detail::pipe(core::Clause::returning, std::move(s).take(), e...); }));
    }
};
template <class... E>
auto returning(E... es) { return returning_clause<void, expr_t<E>...>{{as_expr(std::move(es))...}}; }

// RETURNING every column of the statement's table: the rows come back as the table's struct.
struct returning_all_clause {
    template <class T, class R>
    Statement<T, T> apply(Statement<T, R> s) const {
        return Statement<T, T>(core::build_node(core::Clause::returning, std::move(s).take(), [](auto& l) {
            detail::for_each_column<T>([&](auto mp, const char*) {
                l.column(&column_info(mp));
                l.end_expr();
            });
        }));
    }
};
inline returning_all_clause returning_all() { return {}; }

namespace detail {
// The columns an upsert on `target` writes: the inserted ones, and the target's even when the
// database would generate them (an upsert by an id must send the id).
template <class T, class Members, class F>
void for_upsert_columns(const Members& target, F&& f) {
    for_each_column_info<T>([&](auto mp, const core::ColumnInfo& c) {
        if ((!c.generated && !c.read_only) || names_column(target, c)) f(mp);
    });
}
}  // namespace detail

// INSERT the row, or UPDATE the stored row it conflicts with on `target` (its primary key or a
// unique constraint's columns) to the row's other values; RETURNING the row as stored.
template <schema T, class... M>
Statement<T, T> upsert(const T& row, M T::*... target) {
    static_assert(sizeof...(M) > 0, "quarry: upsert(row, &T::member...) needs the conflict target's columns");
    const detail::pack<M T::*...> t{target...};
    auto insert = detail::build_insert<T>(
        std::vector<std::reference_wrapper<const T>>{row},
        [&](auto& l) { detail::for_upsert_columns<T>(t, [&](auto mp) { l.column(&column_info(mp)); l.end_expr(); }); },
        [&](auto& l, const T& r) {
            std::uint16_t n = 0;
            detail::for_upsert_columns<T>(t, [&](auto mp) {
                detail::bind_param<stored_t<decltype(r.*mp)>>(l, r.*mp);
                ++n;
            });
            return n;
        });
    return std::move(insert) | on_conflict_replace_all(target...) | returning_all();
}

// ---- update / delete ----------------------------------------------------------------------

// UPDATE ... SET ... for every row `q` selects (joins become UPDATE ... FROM; limits and
// ordering go through the primary key).
template <class R, class S, class... A>
auto update_all(const Query<R, S>& q, A... assigns) {
    using T = typename S::first;
    static_assert(sizeof...(A) > 0, "quarry: update_all needs at least one set(...)");
    static_assert((std::is_same_v<typename A::table, T> && ...), "quarry: set() names a column of another table");
    (detail::check_scope<A, S>(), ...);
    return Statement<T>(core::build_node(core::Clause::update, {}, [&](auto& l) {
        l.subquery(q.node());
        ((assigns.lower(l), l.end_expr()), ...);
    }));
}

template <class... A>
struct set_clause {
    detail::pack<A...> assigns;
    template <class T, class R>
    Statement<T, R> apply(Statement<T, R> s) const {
        static_assert((std::is_same_v<typename A::table, T> && ...), "quarry: set() names a column of another table");
        return Statement<T, R>(assigns.apply([&](const auto&... a) { return detail::pipe(core::Clause::set, std::move(s).take(), a...); }));
    }
};
template <class... A>
auto also_set(A... assigns) { return set_clause<A...>{{std::move(assigns)...}}; }

template <class R, class S>
auto delete_all(const Query<R, S>& q) {
    return Statement<typename S::first>(core::build_node(core::Clause::delete_, {}, [&](auto& l) { l.subquery(q.node()); }));
}

namespace detail {
template <class T>
inline constexpr bool locked = has_role<T, core::ColumnRole::lock_version>;

template <class T>
auto by_primary_key_only(const T& row) {
    static_assert(std::tuple_size_v<decltype(table_traits<T>::primary_key)> > 0,
                  "quarry: this operation needs a primary key (QUARRY_TABLE(Type, \"name\", &Type::id))");
    if constexpr (std::tuple_size_v<decltype(table_traits<T>::primary_key)> == 1) {
        const auto pk = std::get<0>(table_traits<T>::primary_key);
        return from<T>() | where(col(pk) == row.*pk);  // the common case, without a run-time filter
    } else {
        filter<T> f;
        std::apply([&](auto... pk) { ((f &= col(pk) == row.*pk), ...); }, table_traits<T>::primary_key);
        return from<T>() | where(f);
    }
}
// The row as it was read: its primary key and, with optimistic locking, its lock version.
template <class T>
auto by_primary_key(const T& row) {
    if constexpr (locked<T>) {
        constexpr auto lock = role_member<T, core::ColumnRole::lock_version>();
        return by_primary_key_only(row) | where(col(lock) == row.*lock);
    } else {
        return by_primary_key_only(row);
    }
}
}  // namespace detail

namespace detail {
// UPDATE the row whose primary key `key_row` has: SET each column whose member `pick(member,
// column)` accepts to its value in `row`.
// With optimistic locking, the lock version is set last, to the version read plus one.
// `scope`: which rows of a soft-deleted table the key may match.
template <class T, class Pick>
Statement<T> update_columns(const T& key_row, const T& row, Pick&& pick, core::DeletedScope scope = core::DeletedScope::live) {
    core::Lowerer l;
    if (scope == core::DeletedScope::live) l.subquery(by_primary_key(key_row).node());
    else l.subquery((by_primary_key(key_row) | marker_clause{core::Clause::deleted, static_cast<std::uint8_t>(scope)}).node());
    for_each_column<T>([&](auto mp, const char*) {
        if (is_role<T, core::ColumnRole::lock_version>(mp)) return;
        if (!pick(mp, column_info(mp))) return;
        set(mp, row.*mp).lower(l);
        l.end_expr();
    });
    if constexpr (locked<T>) {
        constexpr auto lock = role_member<T, core::ColumnRole::lock_version>();
        set(lock, key_row.*lock + 1).lower(l);
        l.end_expr();
    }
    return Statement<T>(l.finish(core::Clause::update, {}));
}
// The columns an update of a whole row writes.
inline bool updatable(const core::ColumnInfo& c) noexcept { return !c.primary_key && !c.read_only; }
}  // namespace detail

// UPDATE every non-key column of `row`, by primary key.
template <schema T>
Statement<T> update(const T& row) {
    return detail::update_columns(row, row, [](auto, const core::ColumnInfo& c) { return detail::updatable(c); });
}

// DELETE one row by primary key.
template <schema T>
Statement<T> remove(const T& row) { return delete_all(detail::by_primary_key(row)); }

}  // namespace quarry
