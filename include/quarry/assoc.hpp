// SPDX-License-Identifier: MIT
// Associations (declared with QUARRY_ASSOCIATIONS in schema.hpp): queries through them, joins on
// them, and preloading that never runs one query per row.
//
//   repo.preload(users, &User::posts);                                  // 1 query
//   repo.preload(users, preload(&User::posts, from<Post>() | order_by(desc(col(&Post::inserted_at))))
//                           .limit(3)                                   // the latest 3 per user
//                           .then(&Post::comments));                    // + 1 query for all their comments
//   auto mine = repo.all(assoc(user, &User::posts) | where(...));       // a query value, refinable
//   auto q = from<User>() | join_assoc(&User::posts) | where(col(&Post::published) == true);
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "quarry/functions.hpp"
#include "quarry/repo.hpp"

namespace quarry {

namespace detail {

template <class Owner, class MP>
constexpr std::size_t associations_with_field_type() {
    return std::apply([](const auto&... a) { return (std::size_t{0} + ... + std::is_same_v<decltype(a.field), MP>); },
                      assoc_traits<Owner>::associations);
}

// Calls fn(association) for the association of Owner held in `field`; returns what it returns.
template <class Owner, class F, class Fn>
auto with_association(F Owner::*field, Fn&& fn) {
    static_assert(associations_with_field_type<Owner, F Owner::*>() > 0,
                  "quarry: no association is declared on this member (QUARRY_ASSOCIATIONS)");
    using Result = decltype(fn(std::get<0>(std::apply(
        [](const auto&... a) { return std::tuple_cat(std::conditional_t<std::is_same_v<decltype(a.field), F Owner::*>,
                                                                          std::tuple<std::remove_cvref_t<decltype(a)>>,
                                                                          std::tuple<>>{}...); },
        assoc_traits<Owner>::associations))));
    std::optional<std::conditional_t<std::is_void_v<Result>, bool, Result>> out;
    std::apply([&](const auto&... a) {
        ([&] {
            if constexpr (std::is_same_v<decltype(a.field), F Owner::*>) {
                if (!out && a.field == field) {
                    if constexpr (std::is_void_v<Result>) fn(a), out = true;
                    else out.emplace(fn(a));
                }
            }
        }(), ...);
    }, assoc_traits<Owner>::associations);
    if (!out) throw std::logic_error("quarry: no association is declared on this member (QUARRY_ASSOCIATIONS)");
    if constexpr (!std::is_void_v<Result>) return std::move(*out);
}

template <class T>
constexpr auto primary_key_of() {
    return table_traits<T>::primary_key;
}

// The values of members `ms` of `row`, as a tuple (a key, single or composite).
template <class T, class... M>
auto key_of(const T& row, const std::tuple<M T::*...>& ms) {
    return std::apply([&](auto... m) { return std::make_tuple(row.*m...); }, ms);
}

// "members `ms` of Target are one of `keys`", as a filter on a query of Target.
template <class Target, class... M, class Key>
auto key_filter(const std::tuple<M Target::*...>& ms, const std::vector<Key>& keys) {
    static_assert(sizeof...(M) == std::tuple_size_v<Key>,
                  "quarry: an association's keys must list as many members as the key they name");
    if constexpr (sizeof...(M) == 1) {
        using V = std::tuple_element_t<0, Key>;
        std::vector<V> single;
        single.reserve(keys.size());
        for (const auto& k : keys) single.push_back(std::get<0>(k));
        return in(col(std::get<0>(ms)), std::move(single));
    } else {
        return std::apply([&](auto... m) { return in(tuple(col(m)...), keys); }, ms);
    }
}

// Equalities joining members `a` of A to members `b` of B, AND-ed.
template <class A, class B, class... MA, class... MB>
auto keys_equal(const std::tuple<MA A::*...>& a, const std::tuple<MB B::*...>& b) {
    static_assert(sizeof...(MA) == sizeof...(MB), "quarry: an association's keys must list as many members as the key they name");
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return (... && (col(std::get<I>(a)) == col(std::get<I>(b))));
    }(std::make_index_sequence<sizeof...(MA)>{});
}

template <class F, class T>
void hold(F& field, T value) {
    if constexpr (assoc_target<F>::many) field.push_back(std::move(value));
    else if constexpr (is_optional<F>::value) field = std::move(value);
    else field = std::make_shared<T>(std::move(value));
}
template <class F>
void clear_field(F& field) {
    if constexpr (assoc_target<F>::many) field.clear();
    else field.reset();
}
// Pointers to the rows a field holds (for the next level of a preload); F may be const.
template <class F, class P>
void rows_held(F& field, std::vector<P>& out) {
    if constexpr (assoc_target<std::remove_const_t<F>>::many) {
        for (auto& r : field) out.push_back(&r);
    } else {
        if (field) out.push_back(&*field);
    }
}

// Keys may be nullable on one side (an optional foreign key) and not on the other.
template <class V>
bool is_null_key(const V& v) {
    if constexpr (is_optional<V>::value) return !v;
    else return false;
}
template <class V>
auto unwrap_key(const V& v) {
    if constexpr (is_optional<V>::value) return *v;
    else return v;
}
template <class Key>
auto plain_keys(const std::vector<Key>& keys) {
    using Plain = decltype(std::apply([](const auto&... v) { return std::make_tuple(unwrap_key(v)...); }, std::declval<const Key&>()));
    std::vector<Plain> out;
    out.reserve(keys.size());
    for (const auto& k : keys) out.push_back(std::apply([](const auto&... v) { return std::make_tuple(unwrap_key(v)...); }, k));
    return out;
}
// `t` as a Key (nullopt when one of its parts is NULL).
template <class Key, class T>
std::optional<Key> as_key(const T& t) {
    bool null = false;
    std::apply([&](const auto&... v) { ((null = null || is_null_key(v)), ...); }, t);
    if (null) return std::nullopt;
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return Key{std::tuple_element_t<I, Key>(unwrap_key(std::get<I>(t)))...};
    }(std::make_index_sequence<std::tuple_size_v<Key>>{});
}

}  // namespace detail

// A query of the rows associated with `row` through `field`: refine it like any query.
template <class Owner, class F>
auto assoc(const Owner& row, F Owner::*field) {
    return detail::with_association(field, [&](const auto& a) {
        using A = std::remove_cvref_t<decltype(a)>;
        using Target = typename A::target;
        constexpr auto owner_key = table_traits<Owner>::primary_key;
        constexpr auto target_key = table_traits<Target>::primary_key;
        if constexpr (A::kind == assoc_kind::belongs_to) {
            auto k = detail::key_of(row, a.keys);
            bool null = false;
            std::apply([&](const auto&... v) { ((null = null || detail::is_null_key(v)), ...); }, k);
            // A NULL foreign key names no row: the query matches nothing.
            std::vector<decltype(k)> keys;
            if (!null) keys.push_back(k);
            return from<Target>() | where(detail::key_filter(target_key, detail::plain_keys(keys)));
        } else if constexpr (A::kind != assoc_kind::many_to_many) {
            auto k = detail::key_of(row, owner_key);
            return from<Target>() | where(detail::key_filter(a.keys, std::vector<decltype(k)>{k}));
        } else {
            using J = typename A::join_schema;
            auto k = detail::key_of(row, owner_key);
            return from<Target>() | join<J>(detail::keys_equal(std::get<1>(a.keys), target_key)) |
                   where(detail::key_filter(std::get<0>(a.keys), std::vector<decltype(k)>{k}));
        }
    });
}

// JOIN the table an association leads to (through its join table for many_to_many).
template <class Owner, class F>
struct join_assoc_clause {
    F Owner::*field;
    core::JoinKind kind;
    template <class R, class S>
    auto apply(Query<R, S> q) const {
        return detail::with_association(field, [&](const auto& a) {
            using A = std::remove_cvref_t<decltype(a)>;
            using Target = typename A::target;
            constexpr auto owner_key = table_traits<Owner>::primary_key;
            constexpr auto target_key = table_traits<Target>::primary_key;
            if constexpr (A::kind == assoc_kind::belongs_to) {
                return std::move(q) | join_clause<Target, decltype(detail::keys_equal(target_key, a.keys))>{
                                          kind, {}, detail::keys_equal(target_key, a.keys), {}};
            } else if constexpr (A::kind != assoc_kind::many_to_many) {
                return std::move(q) | join_clause<Target, decltype(detail::keys_equal(a.keys, owner_key))>{
                                          kind, {}, detail::keys_equal(a.keys, owner_key), {}};
            } else {
                using J = typename A::join_schema;
                auto through = detail::keys_equal(std::get<0>(a.keys), owner_key);
                auto to = detail::keys_equal(target_key, std::get<1>(a.keys));
                return std::move(q) | join_clause<J, decltype(through)>{kind, {}, through, {}} |
                       join_clause<Target, decltype(to)>{kind, {}, to, {}};
            }
        });
    }
};
template <class Owner, class F>
join_assoc_clause<Owner, F> join_assoc(F Owner::*field, core::JoinKind kind = core::JoinKind::inner) {
    return {field, kind};
}
template <class Owner, class F>
join_assoc_clause<Owner, F> left_join_assoc(F Owner::*field) {
    return {field, core::JoinKind::left};
}

// ---- preloading ---------------------------------------------------------------------------

// What to preload: an association, optionally a query of its rows (filter, order, joins), a
// number of rows per owner (the first N in the query's order), and nested preloads.
template <class Owner, class F, class... Nested>
struct preload_spec {
    using target = typename assoc_target<F>::type;
    F Owner::*field;
    core::NodePtr query;  // a query of `target`, or null: every row
    std::int64_t per_owner = -1;
    std::tuple<Nested...> nested;

    // The first n associated rows of each owner, in the query's order.
    preload_spec limit(std::int64_t n) const {
        if (n < 0) throw QueryError("preload limit must not be negative");
        auto s = *this;
        s.per_owner = n;
        return s;
    }
    // Preloads of the loaded rows' own associations: member pointers or preload(...) specs.
    template <class... More>
    auto then(More... more) const {
        return preload_spec<Owner, F, Nested..., More...>{field, query, per_owner, std::tuple_cat(nested, std::make_tuple(more...))};
    }
};
template <class Owner, class F>
preload_spec<Owner, F> preload(F Owner::*field) {
    return {field, {}, -1, {}};
}
template <class Owner, class F, class R, class S>
preload_spec<Owner, F> preload(F Owner::*field, const Query<R, S>& query) {
    static_assert(std::is_same_v<typename S::first, typename assoc_target<F>::type>,
                  "quarry: a preload's query must select from the association's table");
    static_assert(!S::selected, "quarry: a preload's query loads whole rows: no select()");
    return {field, query.node(), -1, {}};
}

namespace detail {

template <class Owner, class F>
auto as_spec(F Owner::*field) {
    return preload(field);
}
template <class Owner, class F, class... N>
const preload_spec<Owner, F, N...>& as_spec(const preload_spec<Owner, F, N...>& s) {
    return s;
}

// The keys in chunks small enough for the dialect's parameter limit (SQLite expands IN lists)
// beside the `used` parameters of the query itself. Composite keys go 1,000 rows at a time:
// PostgreSQL expands a row IN list into nested comparisons, whose depth its stack limits.
template <class Key, class Fn>
void for_key_chunks(const Dialect& d, std::size_t used, const std::vector<Key>& keys, Fn&& fn) {
    const std::size_t width = std::tuple_size_v<Key>;
    if (used >= d.max_params()) throw QueryError("a preload's query binds as many parameters as the database allows");
    std::size_t per = std::max<std::size_t>(1, (d.max_params() - used) / width);
    if (width > 1) per = std::min<std::size_t>(per, 1000);
    for (std::size_t at = 0; at < keys.size(); at += per) {
        std::vector<Key> chunk(keys.begin() + static_cast<std::ptrdiff_t>(at),
                               keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), at + per)));
        fn(chunk);
    }
}

template <class Target>
Query<Target> base_query(const core::NodePtr& query) {
    if (!query) return from<Target>();
    // A limit would apply to each chunk of owners, not to each owner: say what to use instead.
    for (const core::Node* n = query.get(); n; n = n->parent)
        if (n->kind == core::Clause::limit || n->kind == core::Clause::offset || n->kind == core::Clause::first ||
            n->kind == core::Clause::last || n->kind == core::Clause::limit_per)
            throw QueryError("a preload's query cannot limit its rows: preload(...).limit(n) takes the first n of each owner");
    return Query<Target>(query);
}
// Parameters the preload's query binds by itself.
inline std::size_t params_of(const core::NodePtr& query, const Dialect& d) {
    return query ? core::render(query, d).params.size() : 0;
}

template <class Owner, class F, class... N>
void preload_level(Repo& repo, std::vector<Owner*>& owners, const preload_spec<Owner, F, N...>& spec);

template <class T, class... Specs>
void preload_all(Repo& repo, std::vector<T*>& rows, const Specs&... specs) {
    if (rows.empty()) return;
    (preload_level(repo, rows, as_spec(specs)), ...);
}

template <class Owner, class F, class... N>
void preload_level(Repo& repo, std::vector<Owner*>& owners, const preload_spec<Owner, F, N...>& spec) {
    using Target = typename assoc_target<F>::type;
    for (Owner* o : owners) clear_field(o->*spec.field);
    with_association(spec.field, [&](const auto& a) {
        using A = std::remove_cvref_t<decltype(a)>;
        constexpr auto owner_key = table_traits<Owner>::primary_key;
        constexpr auto target_key = table_traits<Target>::primary_key;
        const Dialect& d = repo.dialect();
        if constexpr (A::kind == assoc_kind::many_to_many) {
            // many_to_many: the target's rows with the owner's key in front, one query.
            using J = typename A::join_schema;
            using Key = decltype(key_of(*owners[0], owner_key));
            std::map<Key, std::vector<Owner*>> by_key;
            for (Owner* o : owners) by_key[key_of(*o, owner_key)].push_back(o);
            std::vector<Key> keys;
            for (const auto& [k, _] : by_key) keys.push_back(k);
            if (spec.per_owner >= 0) throw QueryError("preload limit is not supported on many_to_many associations");
            for_key_chunks(d, params_of(spec.query, d), keys, [&](const std::vector<Key>& chunk) {
                const auto& to_owner = std::get<0>(a.keys);
                auto q = base_query<Target>(spec.query) | join<J>(keys_equal(std::get<1>(a.keys), target_key)) |
                         where(key_filter(to_owner, chunk));
                // SELECT the join row's owner key, then the target's columns.
                core::Lowerer l;
                std::apply([&](auto... m) { ((l.column(&column_info(m)), l.end_expr()), ...); }, to_owner);
                for_each_column<Target>([&](auto mp, const char*) {
                    l.column(&column_info(mp));
                    l.end_expr();
                });
                core::NodePtr with_key = l.finish(core::Clause::select, q.node());
                auto s = repo.use();
                core::StatementRun run(*s, *with_key);
                constexpr std::uint32_t width = std::tuple_size_v<std::remove_cvref_t<decltype(to_owner)>>;
                while (run.step()) {
                    const auto k = [&]<std::size_t... I>(std::index_sequence<I...>) {
                        return Key{std::tuple_element_t<I, Key>(
                            value_traits<std::remove_cvref_t<decltype(std::declval<J&>().*std::get<I>(to_owner))>>::read(run.row(), I))...};
                    }(std::make_index_sequence<width>{});
                    Target t = decode_struct<Target>(run.row(), width);
                    auto it = by_key.find(k);
                    if (it == by_key.end()) continue;
                    for (Owner* o : it->second) hold(o->*spec.field, t);
                }
            });
        } else if constexpr (A::kind == assoc_kind::belongs_to) {
            if (spec.per_owner >= 0) throw QueryError("preload limit is for has_many associations (a belongs_to names one row)");
            using Key = decltype(key_of(*owners[0], a.keys));
            std::map<Key, std::vector<Owner*>> by_key;
            for (Owner* o : owners) {
                Key k = key_of(*o, a.keys);
                bool null = false;
                std::apply([&](const auto&... v) { ((null = null || is_null_key(v)), ...); }, k);
                if (!null) by_key[k].push_back(o);
            }
            std::vector<Key> keys;
            for (const auto& [k, _] : by_key) keys.push_back(k);
            for_key_chunks(d, params_of(spec.query, d), keys, [&](const std::vector<Key>& chunk) {
                for (Target& t : repo.all(base_query<Target>(spec.query) | where(key_filter(target_key, plain_keys(chunk))))) {
                    auto k = as_key<Key>(key_of(t, target_key));
                    auto it = k ? by_key.find(*k) : by_key.end();
                    if (it == by_key.end()) continue;
                    for (Owner* o : it->second) hold(o->*spec.field, t);
                }
            });
        } else {
            // has_one / has_many: the target rows whose foreign key names an owner.
            using Key = decltype(key_of(*owners[0], owner_key));
            std::map<Key, std::vector<Owner*>> by_key;
            for (Owner* o : owners) by_key[key_of(*o, owner_key)].push_back(o);
            std::vector<Key> keys;
            for (const auto& [k, _] : by_key) keys.push_back(k);
            // has_one keeps the first row per owner: only that one is fetched.
            const std::int64_t per = assoc_target<F>::many ? spec.per_owner : 1;
            // limit_per binds its n beside the query's own parameters and the keys.
            for_key_chunks(d, params_of(spec.query, d) + (per >= 0 ? 1 : 0), keys, [&](const std::vector<Key>& chunk) {
                auto q = base_query<Target>(spec.query) | where(key_filter(a.keys, chunk));
                auto rows = per >= 0 ? repo.all(std::apply([&](auto... fk) { return q | limit_per(per, col(fk)...); }, a.keys))
                                     : repo.all(q);
                for (Target& t : rows) {
                    auto k = as_key<Key>(key_of(t, a.keys));
                    auto it = k ? by_key.find(*k) : by_key.end();
                    if (it == by_key.end()) continue;
                    for (Owner* o : it->second) {
                        if constexpr (assoc_target<F>::many) hold(o->*spec.field, t);
                        else if (!(o->*spec.field)) hold(o->*spec.field, t);  // has_one: the first in the query's order
                    }
                }
            });
        }
    });
    if constexpr (sizeof...(N) > 0) {
        std::vector<Target*> loaded;
        for (Owner* o : owners) rows_held(o->*spec.field, loaded);
        std::apply([&](const auto&... n) { preload_all(repo, loaded, n...); }, spec.nested);
    }
}

}  // namespace detail

namespace detail {
template <class T, class F>
std::vector<F> take_fields(const std::vector<T*>& rows, F T::*field) {
    std::vector<F> out;
    out.reserve(rows.size());
    for (T* r : rows) out.push_back(std::move(r->*field));
    return out;
}
template <class T, class F>
void put_fields(const std::vector<T*>& rows, F T::*field, std::vector<F>& saved) {
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k]->*field = std::move(saved[k]);
}
// Every spec loaded, or, when a query fails, each row's fields as they were before the call: a
// failure in the second chunk or the second spec must not leave rows half loaded.
template <class T, class... Specs>
void preload_or_keep(Repo& repo, std::vector<T*>& rows, const Specs&... specs) {
    auto before = std::make_tuple(take_fields(rows, as_spec(specs).field)...);
    try {
        preload_all(repo, rows, specs...);
    } catch (...) {
        std::apply([&](auto&... saved) { (put_fields(rows, as_spec(specs).field, saved), ...); }, before);
        throw;
    }
}
}  // namespace detail

template <class T, class... Specs>
void Repo::preload(std::vector<T>& rows, const Specs&... specs) {
    std::vector<T*> ptrs;
    ptrs.reserve(rows.size());
    for (auto& r : rows) ptrs.push_back(&r);
    detail::preload_or_keep(*this, ptrs, specs...);
}
template <class T, class... Specs>
void Repo::preload(T& row, const Specs&... specs) {
    std::vector<T*> ptrs{&row};
    detail::preload_or_keep(*this, ptrs, specs...);
}

}  // namespace quarry
