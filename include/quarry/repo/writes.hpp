// SPDX-License-Identifier: MIT
// The Repo's writes of rows (insert, upsert, insert_or_get, insert_all, update, remove, soft
// delete) and of queries (update_all, delete_all): the definitions of what quarry/repo.hpp
// declares, included at its end.
#pragma once
#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "quarry/repo.hpp"

namespace quarry {

template <schema T>
T Repo::insert(const T& row) {
    return hooked<detail::hook_point::insert>(row, [&](const T& r) {
        if constexpr (detail::stamps_inserts<T>) {
            T stamped = r;
            detail::stamp_insert(stamped, detail::now());
            return insert_row(stamped);
        } else {
            return insert_row(r);
        }
    });
}

template <schema T, class... M>
T Repo::upsert(const T& row, M T::*... target) {
    if constexpr (detail::stamps_inserts<T>) {
        T stamped = row;
        const auto t = detail::now();  // one instant: a new row's inserted_at and updated_at agree
        detail::stamp_insert(stamped, t);
        detail::stamp_update(stamped, t);
        return upsert_row(stamped, target...);
    } else {
        return upsert_row(row, target...);
    }
}

template <schema T, class... M>
T Repo::insert_or_get(const T& input, M T::*... target) {
    static_assert(sizeof...(M) > 0, "quarry: insert_or_get(row, &T::member...) needs the conflict target's columns");
    T row = input;
    if constexpr (detail::stamps_inserts<T>) detail::stamp_insert(row, detail::now());
    filter<T> same;
    ((same &= col(target) == row.*target), ...);
    // The existing row may be deleted between the two statements: try again, a few times.
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (auto inserted = one_or_none(quarry::insert(row) | on_conflict_do_nothing(target...) | returning_all())) return std::move(*inserted);
        if (auto existing = one_or_none(from<T>() | with_deleted() | where(same))) return std::move(*existing);
    }
    throw StaleEntry("insert_or_get: the row it conflicts with is not visible (deleted meanwhile, or committed after this "
                     "transaction's snapshot)");
}

template <detail::hook_point P, class T, class Write>
T Repo::hooked(const T& row, Write&& write) {
    if constexpr (!detail::has_hooks<P, T>()) {
        return write(row);
    } else {
        return transaction([&](Repo& r) {
            T copy = row;
            detail::hook_before<P>(r, copy);
            T stored = write(std::as_const(copy));
            detail::hook_after<P>(r, std::as_const(stored));
            return stored;
        });
    }
}

template <schema T>
T Repo::insert_row(const T& row) {
    core::ParamList values;
    detail::for_insert_columns<T>([&](auto mp) { bind_member(values, row.*mp); });
    std::optional<T> out;
    on(detail::Access::write, [&](core::Session& s) {
        core::StatementRun run(s, fixed(s, detail::fixed_tag<detail::insert_tag<T>>(), values, [&] { return (quarry::insert(row) | returning_all()).node(); }));
        if (!run.step()) throw NoResults("insert: the database returned no row");
        out = finish_one<T>(run);
    });
    return std::move(*out);
}

template <schema T, class... M>
T Repo::upsert_row(const T& row, M T::*... target) {
    static_assert(sizeof...(M) > 0, "quarry: upsert(row, &T::member...) needs the conflict target's columns");
    core::ParamList values;
    detail::for_upsert_columns<T>(detail::pack<M T::*...>{target...}, [&](auto mp) { bind_member(values, row.*mp); });
    std::uint64_t tag = detail::fixed_tag<detail::upsert_tag<T>>();
    ((tag = core::mix(tag, reinterpret_cast<std::uintptr_t>(&column_info(target)))), ...);
    std::optional<T> out;
    on(detail::Access::write, [&](core::Session& s) {
        core::StatementRun run(s, fixed(s, tag, values, [&] { return quarry::upsert(row, target...).node(); }));
        if (!run.step()) throw NoResults("upsert: the database returned no row");
        out = finish_one<T>(run);
    });
    return std::move(*out);
}

template <schema T>
const std::vector<T>& Repo::stamped_rows(const std::vector<T>& rows, std::vector<T>& copy) {
    if constexpr (!detail::stamps_inserts<T>) {
        return rows;
    } else {
        copy = rows;
        const auto t = detail::now();
        for (auto& r : copy) detail::stamp_insert(r, t);
        return copy;
    }
}

template <schema T>
std::int64_t Repo::insert_all(const std::vector<T>& input) {
    std::vector<T> copy;
    const std::vector<T>& rows = stamped_rows(input, copy);
    std::int64_t n = 0;
    for_each_chunk(rows, [&](const std::vector<T>& chunk) { n += execute(quarry::insert_all(chunk)); });
    return n;
}

template <schema T>
std::vector<T> Repo::insert_all_returning(const std::vector<T>& input) {
    std::vector<T> copy;
    const std::vector<T>& rows = stamped_rows(input, copy);
    std::vector<T> out;
    out.reserve(rows.size());
    for_each_chunk(rows, [&](const std::vector<T>& chunk) {
        for (auto& r : all(quarry::insert_all(chunk) | returning_all())) out.push_back(std::move(r));
    });
    return out;
}

template <schema T>
T Repo::update(const T& row) {
    if constexpr (!detail::has_hooks<detail::hook_point::update, T>()) {
        T written;
        update_row<T>(row, &written);
        return written;
    } else {
        return hooked<detail::hook_point::update>(row, [&](const T& r) {
            T written;
            update_row(r, &written);
            return written;
        });
    }
}

template <schema T>
T Repo::remove(const T& row) {
    if constexpr (!detail::has_hooks<detail::hook_point::remove, T>()) {
        T written = row;
        remove_row<T>(row, &written);
        return written;
    } else {
        return hooked<detail::hook_point::remove>(row, [&](const T& r) {
            T written = r;
            remove_row(r, &written);
            return written;
        });
    }
}

template <schema T>
void Repo::update_row(const T& input, T* written) {
    if constexpr (detail::stamps_updates<T>) {
        T stamped = input;
        detail::stamp_update(stamped, detail::now());
        update_exact(stamped);
        if (written) *written = std::move(stamped);
    } else {
        update_exact(input);
        if (written) *written = input;
    }
    if constexpr (detail::locked<T>)
        if (written) ++(written->*lock_member<T>());
}

template <schema T>
void Repo::update_exact(const T& row) {
    core::ParamList values;  // SET values, then the key: the order the statement renders them
    detail::for_each_column_info<T>([&](auto mp, const core::ColumnInfo& c) {
        if (detail::is_role<T, core::ColumnRole::lock_version>(mp)) return;
        if (detail::updatable(c)) bind_member(values, row.*mp);
    });
    if constexpr (detail::locked<T>) bind_member(values, row.*lock_member<T>() + 1);
    bind_key(values, row);
    std::int64_t n = 0;
    on(detail::Access::write, [&](core::Session& s) {
        n = run_write(s, fixed(s, detail::fixed_tag<detail::update_tag<T>>(), values, [&] { return quarry::update(row).node(); }));
    });
    if (n == 0) missing_row<T>("update");
}

template <schema T>
void Repo::remove_row(const T& row, T* written) {
    if constexpr (detail::soft_deletes<T>) {
        T changed = soft_deleted(row, true);
        if (execute(soft_delete_statement(row, changed, core::DeletedScope::live)) == 0) missing_row<T>("remove");
        if (written) {
            *written = std::move(changed);
            if constexpr (detail::locked<T>) ++(written->*lock_member<T>());
        }
        return;
    }
    core::ParamList values;
    bind_key(values, row);
    std::int64_t n = 0;
    on(detail::Access::write, [&](core::Session& s) {
        n = run_write(s, fixed(s, detail::fixed_tag<detail::remove_tag<T>>(), values, [&] { return quarry::remove(row).node(); }));
    });
    if (n == 0) missing_row<T>("remove");
}

template <schema T>
void Repo::hard_delete(const T& row) {
    if (execute(quarry::delete_all(detail::by_primary_key(row) | with_deleted())) == 0) missing_row<T>("hard_delete");
}

template <schema T>
void Repo::restore(const T& row) {
    static_assert(detail::soft_deletes<T>, "quarry: restore needs a soft-delete column (QUARRY_COLUMNS: .soft_delete())");
    if (execute(soft_delete_statement(row, soft_deleted(row, false), core::DeletedScope::only_deleted)) == 0) missing_row<T>("restore");
}

template <class R, class S, class... A>
std::int64_t Repo::update_all(const Query<R, S>& q, A... assigns) {
    using T = typename S::first;
    if constexpr (detail::stamps_updates<T>) {
        constexpr auto stamp = detail::role_member<T, core::ColumnRole::updated_at>();
        const core::ColumnInfo* stamped = &column_info(stamp);
        if (!((assigns.target.info == stamped) || ...)) {
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*stamp)>;
            M t{};
            detail::set_time(t, detail::now(), false);
            return execute(quarry::update_all(q, std::move(assigns)..., set(stamp, t)));
        }
    }
    return execute(quarry::update_all(q, std::move(assigns)...));
}

template <class R, class S>
std::int64_t Repo::delete_all(const Query<R, S>& q) {
    using T = typename S::first;
    if constexpr (detail::soft_deletes<T>) {
        constexpr auto deleted = detail::role_member<T, core::ColumnRole::deleted_at>();
        using M = std::remove_cvref_t<decltype(std::declval<T&>().*deleted)>;
        M t;
        detail::set_time(t, detail::now(), false);
        return update_all(q, set(deleted, t));
    }
    return execute(quarry::delete_all(q));
}

template <class R, class S>
std::int64_t Repo::hard_delete_all(const Query<R, S>& q) {
    for (const core::Node* n = q.node().get(); n; n = n->parent)
        if (n->kind == core::Clause::deleted) return execute(quarry::delete_all(q));
    return execute(quarry::delete_all(q | with_deleted()));
}

template <class T>
T Repo::soft_deleted(const T& row, bool deleting) {
    constexpr auto deleted = detail::role_member<T, core::ColumnRole::deleted_at>();
    T changed = row;
    const auto t = detail::now();  // one instant: deleted_at and updated_at agree
    if (deleting) detail::set_time(changed.*deleted, t, false);
    else (changed.*deleted).reset();
    detail::stamp_update(changed, t);
    return changed;
}

template <class T>
Statement<T> Repo::soft_delete_statement(const T& row, const T& changed, core::DeletedScope scope) {
    return detail::update_columns(row, changed, [](auto mp, const core::ColumnInfo&) {
        return detail::is_role<T, core::ColumnRole::updated_at>(mp) || detail::is_role<T, core::ColumnRole::deleted_at>(mp);
    }, scope);
}

template <class T, class F>
void Repo::for_each_chunk(const std::vector<T>& rows, F&& f) {
    if (rows.empty()) return;
    std::size_t width = 0;
    detail::for_insert_columns<T>([&](auto) { ++width; });
    const std::size_t per = std::max<std::size_t>(1, dialect().max_params() / std::max<std::size_t>(width, 1));
    if (rows.size() <= per) return f(rows);
    transaction([&](Repo&) {
        for (std::size_t at = 0; at < rows.size(); at += per) {
            std::vector<T> chunk(rows.begin() + static_cast<std::ptrdiff_t>(at),
                                 rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), at + per)));
            f(chunk);
        }
    });
}

}  // namespace quarry
