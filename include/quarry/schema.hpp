// SPDX-License-Identifier: MIT
// Schemas: a plain struct adapted with Boost.Hana, plus one QUARRY_TABLE line.
//
//   struct User { std::int64_t id; std::string name; std::optional<int> age; };
//   BOOST_HANA_ADAPT_STRUCT(User, id, name, age);
//   QUARRY_TABLE(User, "users", &User::id);        // table name, primary key member(s)
//
// Hana walks each struct once, into a runtime core::TableInfo with identifiers quoted once;
// everything else uses that table (DESIGN §7: compile cost is per struct instantiation).
#pragma once
#include <bit>
#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <boost/hana/string.hpp>
#include <cstddef>
#include <tuple>
#include <vector>

#include "quarry/core/ast.hpp"
#include "quarry/errors.hpp"
#include "quarry/value_traits.hpp"

namespace quarry {

// Specialised by QUARRY_TABLE: `name` and `primary_key` (a tuple of member pointers).
template <class T>
struct table_traits;

// Per-column options, declared with QUARRY_COLUMNS:
//   QUARRY_COLUMNS(User, quarry::field(&User::email).named("email_address"),
//                        quarry::field(&User::inserted_at).generated());
template <class T, class M>
struct field_option {
    M T::*member;
    std::string_view db_name{};  // the column's name in the database, when it differs
    signed char generated_ = -1;  // -1: default (a single integer primary key is generated)
    constexpr field_option named(std::string_view n) const { return {member, n, generated_}; }
    // Filled by the database (DEFAULT, identity, trigger): inserts leave it out.
    constexpr field_option generated() const { return {member, db_name, 1}; }
    // An integer primary key the application supplies itself.
    constexpr field_option supplied() const { return {member, db_name, 0}; }
};
template <class T, class M>
constexpr field_option<T, M> field(M T::*member) { return {member}; }

template <class T>
struct column_traits {
    static constexpr auto options = std::tuple<>{};
};

template <class T>
concept schema = requires {
    table_traits<T>::name;
    table_traits<T>::primary_key;
};

namespace detail {

template <class T, class M>
std::ptrdiff_t member_offset(M T::*mp) noexcept {
    // Itanium C++ ABI (g++, clang on Linux): a data member pointer is the member's byte offset.
    static_assert(sizeof(mp) == sizeof(std::ptrdiff_t));
    return std::bit_cast<std::ptrdiff_t>(mp);
}

template <class MP, MP Ptr>
constexpr MP hana_member_pointer(boost::hana::struct_detail::member_ptr<MP, Ptr>) {
    return Ptr;
}

template <class T, class M>
void apply_option(core::ColumnInfo& c, std::ptrdiff_t offset, const field_option<T, M>& o) {
    if (member_offset(o.member) != offset) return;
    if (!o.db_name.empty()) c.name = o.db_name;
    if (o.generated_ >= 0) c.generated = o.generated_ == 1;
}

template <class T>
struct schema_table {
    core::TableInfo info;
    std::vector<std::int16_t> index_by_offset;  // byte offset -> column index, -1 elsewhere

    schema_table(const schema_table&) = delete;

    schema_table() {
        std::vector<core::ColumnInfo> cols;
        std::vector<std::ptrdiff_t> offsets;
        boost::hana::for_each(boost::hana::accessors<T>(), [&](auto pair) {
            auto mp = hana_member_pointer(boost::hana::second(pair));
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*mp)>;
            static_assert(sql_value<M>, "quarry: a schema member has a type with no quarry::value_traits");
            core::ColumnInfo c;
            c.name = boost::hana::to<const char*>(boost::hana::first(pair));
            c.type = value_traits<M>::sql_type;
            c.nullable = is_optional<M>::value;
            std::apply([&](auto... pk) { c.primary_key = ((member_offset(pk) == member_offset(mp)) || ...); },
                       table_traits<T>::primary_key);
            constexpr bool single_key = std::tuple_size_v<decltype(table_traits<T>::primary_key)> == 1;
            c.generated = single_key && c.primary_key && std::is_integral_v<M> && !std::is_same_v<M, bool>;
            std::apply([&](const auto&... opt) { (apply_option(c, member_offset(mp), opt), ...); },
                       column_traits<T>::options);
            offsets.push_back(member_offset(mp));
            cols.push_back(std::move(c));
        });
        core::init_table_info(info, table_traits<T>::name, std::move(cols));
        index_by_offset.assign(sizeof(T), -1);
        for (std::size_t i = 0; i < offsets.size(); ++i)
            index_by_offset[static_cast<std::size_t>(offsets[i])] = static_cast<std::int16_t>(i);
    }
};

template <class T>
const schema_table<T>& table_of() {
    static const schema_table<T> t;
    return t;
}

}  // namespace detail

template <schema T>
const core::TableInfo& table_info() {
    return detail::table_of<T>().info;
}

template <schema T, class M>
const core::ColumnInfo& column_info(M T::*mp) {
    const auto& t = detail::table_of<T>();
    auto idx = t.index_by_offset[static_cast<std::size_t>(detail::member_offset(mp))];
    // Only members listed in BOOST_HANA_ADAPT_STRUCT are columns.
    if (idx < 0) throw QueryError("member is not a column of " + t.info.name + " (missing from BOOST_HANA_ADAPT_STRUCT?)");
    return t.info.columns[static_cast<std::size_t>(idx)];
}

}  // namespace quarry

#define QUARRY_TABLE(Type, Name, ...)                                            \
    template <>                                                                  \
    struct quarry::table_traits<Type> {                                          \
        static constexpr std::string_view name = Name;                          \
        static constexpr auto primary_key = std::make_tuple(__VA_ARGS__);        \
    }

// Column options for a schema; must appear before the schema's first use.
#define QUARRY_COLUMNS(Type, ...)                                                \
    template <>                                                                  \
    struct quarry::column_traits<Type> {                                         \
        static constexpr auto options = std::make_tuple(__VA_ARGS__);            \
    }
