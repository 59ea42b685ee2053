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
#include <boost/hana/adapt_struct.hpp>
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

// The struct's members as a plain pack, read off the type of Hana's accessors: a fold over it
// instantiates far less than hana::for_each (this is the compile-time cost of every schema).
template <class Pair>
struct accessor_info;
template <class Name, class MP, MP Ptr>
struct accessor_info<boost::hana::pair<Name, boost::hana::struct_detail::member_ptr<MP, Ptr>>> {
    static constexpr MP pointer = Ptr;
    static const char* name() { return Name::c_str(); }
};
template <class Accessors>
struct members_of_tuple;
template <class... Pairs>
struct members_of_tuple<boost::hana::tuple<Pairs...>> {
    static constexpr std::size_t size = sizeof...(Pairs);
    template <class F>
    static void each(F&& f) {
        (f(accessor_info<Pairs>::pointer, accessor_info<Pairs>::name()), ...);
    }
};
// Calls f(member pointer, member name) for each member of T, in declaration order.
template <class T, class F>
void for_each_member(F&& f) {
    members_of_tuple<decltype(boost::hana::accessors<T>())>::each(std::forward<F>(f));
}

template <class T>
struct schema_table : core::SchemaTable {
    schema_table() {
        // Plain data about each member; the compiled core builds the table from it (strings,
        // vectors and quoting stay out of every user translation unit).
        core::MemberDesc members[members_of_tuple<decltype(boost::hana::accessors<T>())>::size];
        std::size_t n = 0;
        for_each_member<T>([&](auto mp, const char* member_name) {
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*mp)>;
            static_assert(sql_value<M> || !std::is_enum_v<M>,
                          "quarry: a schema member is an enum with no SQL mapping (declare it with QUARRY_ENUM_TEXT or "
                          "QUARRY_ENUM_INT)");
            static_assert(sql_value<M> || std::is_enum_v<M>,
                          "quarry: a schema member has a type with no quarry::value_traits");
            members[n++] = {member_name, member_offset(mp), value_traits<M>::sql_type, is_optional<M>::value,
                            std::is_integral_v<M> && !std::is_same_v<M, bool>};
        });
        constexpr std::size_t n_pk = std::tuple_size_v<decltype(table_traits<T>::primary_key)>;
        std::ptrdiff_t keys[n_pk + 1] = {};
        std::apply([&](auto... pk) { std::size_t k = 0; ((keys[k++] = member_offset(pk)), ...); }, table_traits<T>::primary_key);
        constexpr std::size_t n_opt = std::tuple_size_v<decltype(column_traits<T>::options)>;
        core::MemberOption options[n_opt + 1] = {};
        std::apply([&](const auto&... o) { std::size_t k = 0; ((options[k++] = {member_offset(o.member), o.db_name, o.generated_}), ...); },
                   column_traits<T>::options);
        core::init_schema_table(*this, table_traits<T>::name, members, n, keys, n_pk, options, n_opt, sizeof(T));
    }
};

// Never destroyed: query values held in statics, or built in static destructors, may use the
// table during program exit.
template <class T>
const schema_table<T>& table_of() {
    static const schema_table<T>* const t = new schema_table<T>();
    return *t;
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
