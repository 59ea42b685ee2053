// SPDX-License-Identifier: MIT
// What the Repo writes beside a row's own values: timestamps, and the tags that name its own
// statement shapes. Part of quarry/repo.hpp.
#pragma once
#include <chrono>
#include <cstdint>

#include "quarry/schema.hpp"

namespace quarry::detail {

// Timestamps (QUARRY_COLUMNS: .inserted_at(), .updated_at()), in microseconds like every
// timestamp quarry stores.
inline std::chrono::sys_time<std::chrono::microseconds> now() {
    return std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
}
template <class T>
inline constexpr bool stamps_inserts = has_role<T, core::ColumnRole::inserted_at> || has_role<T, core::ColumnRole::updated_at>;
template <class T>
inline constexpr bool stamps_updates = has_role<T, core::ColumnRole::updated_at>;
template <class T>
inline constexpr bool soft_deletes = has_role<T, core::ColumnRole::deleted_at>;
template <class M>
void set_time(M& field, std::chrono::sys_time<std::chrono::microseconds> t, bool only_if_unset) {
    if constexpr (is_optional<M>::value) {
        if (!only_if_unset || !field) field = std::chrono::floor<typename M::value_type::duration>(t);
    } else {
        if (!only_if_unset || field == M{}) field = std::chrono::floor<typename M::duration>(t);
    }
}
// An inserted row gets both timestamps, unless they were set (not the epoch, not nullopt).
template <class T>
void stamp_insert(T& row, std::chrono::sys_time<std::chrono::microseconds> t) {
    if constexpr (has_role<T, core::ColumnRole::inserted_at>) set_time(row.*role_member<T, core::ColumnRole::inserted_at>(), t, true);
    if constexpr (has_role<T, core::ColumnRole::updated_at>) set_time(row.*role_member<T, core::ColumnRole::updated_at>(), t, true);
}
template <class T>
void stamp_update(T& row, std::chrono::sys_time<std::chrono::microseconds> t) {
    if constexpr (has_role<T, core::ColumnRole::updated_at>) set_time(row.*role_member<T, core::ColumnRole::updated_at>(), t, false);
}

// Names of the Repo's own statement shapes: the address of fixed_tag_id<Tag> is a key no query
// value's shape can take (Session::run_fixed mixes it with the parameters' kinds).
template <class T> struct insert_tag;
template <class T> struct update_tag;
template <class T> struct remove_tag;
template <class T> struct upsert_tag;
template <class T, class... K> struct get_tag;
template <class Tag>
inline constexpr char fixed_tag_id = 0;
template <class Tag>
std::uint64_t fixed_tag() noexcept {
    return reinterpret_cast<std::uintptr_t>(&fixed_tag_id<Tag>);
}

}  // namespace quarry::detail
