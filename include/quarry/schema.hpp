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
#include <chrono>
#include <optional>
#include <boost/hana/accessors.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <cstddef>
#include <memory>
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
//                        quarry::field(&User::inserted_at).inserted_at(),
//                        quarry::field(&User::password).virtual_field());
template <class T, class M>
struct field_option {
    M T::*member;
    std::string_view db_name{};  // the column's name in the database, when it differs
    signed char generated_ = -1;  // -1: default (a single integer primary key is generated)
    core::ColumnRole role = core::ColumnRole::none;
    bool virtual_ = false;
    bool read_only_ = false;

    constexpr field_option named(std::string_view n) const { auto o = *this; o.db_name = n; return o; }
    // Filled by the database (DEFAULT, identity, trigger): inserts leave it out.
    constexpr field_option generated() const { auto o = *this; o.generated_ = 1; return o; }
    // An integer primary key the application supplies itself.
    constexpr field_option supplied() const { auto o = *this; o.generated_ = 0; return o; }
    // Read from the database, never written by insert or update (a computed or trigger-kept column).
    constexpr field_option read_only() const { auto o = *this; o.read_only_ = true; return o; }
    // Not a column: a field of the struct that changesets cast and validate (a password, a
    // confirmation), never read or written. Its type needs no SQL mapping.
    constexpr field_option virtual_field() const { auto o = *this; o.virtual_ = true; return o; }

    // Behaviours. Timestamps: set by the Repo when a row is inserted (inserted_at, and
    // updated_at) and updated (updated_at), by insert_all and update_all too.
    constexpr field_option inserted_at() const { return with_role(core::ColumnRole::inserted_at, is_time); }
    constexpr field_option updated_at() const { return with_role(core::ColumnRole::updated_at, is_time); }
    // Soft delete (a nullable timestamp): queries see only rows where it IS NULL unless they say
    // with_deleted() / only_deleted(); Repo::remove sets it, Repo::restore clears it, and only
    // Repo::hard_delete deletes.
    constexpr field_option soft_delete() const { return with_role(core::ColumnRole::deleted_at, is_nullable_time); }
    // Optimistic locking (an integer): each update and delete requires the row to still have the
    // version it was read with, and an update increments it; a lost race is StaleEntry.
    constexpr field_option lock_version() const { return with_role(core::ColumnRole::lock_version, std::is_integral_v<M> && !std::is_same_v<M, bool>); }

private:
    template <class X> struct time_type : std::false_type {};
    template <class D> struct time_type<std::chrono::sys_time<D>> : std::true_type {};
    template <class X> struct time_type<std::optional<X>> : time_type<X> {};
    template <class X> struct nullable_time : std::false_type {};
    template <class X> struct nullable_time<std::optional<X>> : time_type<X> {};
    static constexpr bool is_time = time_type<M>::value;
    static constexpr bool is_nullable_time = nullable_time<M>::value;
    constexpr field_option with_role(core::ColumnRole r, bool fits) const {
        // Not a static_assert: it would fire for every option type, not just the misused one.
        if (!fits) throw "quarry: inserted_at/updated_at need a timestamp member, soft_delete an optional timestamp, lock_version an integer";
        auto o = *this;
        o.role = r;
        return o;
    }
};
template <class T, class M>
constexpr field_option<T, M> field(M T::*member) { return {member}; }

template <class T>
struct column_traits {
    static constexpr auto options = std::tuple<>{};
};

// ---- associations (declared with QUARRY_ASSOCIATIONS; loaded by quarry/assoc.hpp) ----------

enum class assoc_kind : std::uint8_t { belongs_to, has_one, has_many, many_to_many };

// The row type a field holds: std::vector<T> (many), std::optional<T> or std::shared_ptr<T> (one;
// shared_ptr where two types refer to each other).
template <class F>
struct assoc_target;
template <class T>
struct assoc_target<std::vector<T>> { using type = T; static constexpr bool many = true; };
template <class T>
struct assoc_target<std::optional<T>> { using type = T; static constexpr bool many = false; };
template <class T>
struct assoc_target<std::shared_ptr<T>> { using type = T; static constexpr bool many = false; };

// One association of Owner, held in `field`. `keys`: belongs_to, the owner's foreign key
// members (naming the target's primary key); has_one / has_many, the target's foreign key
// members (naming the owner's primary key); many_to_many, the join schema's two members (to the
// owner's key, to the target's key). Composite keys list one member per key column, in the
// order of the primary key they name.
template <assoc_kind Kind, class Owner, class Field, class Keys, class Join = void>
struct association {
    static constexpr assoc_kind kind = Kind;
    using owner = Owner;
    using field_type = Field;
    using target = typename assoc_target<Field>::type;
    using join_schema = Join;
    Field Owner::*field;
    Keys keys;
};

template <class O, class F, class... K>
constexpr auto belongs_to(F O::*field, K O::*... foreign_key) {
    static_assert(!assoc_target<F>::many, "quarry: belongs_to holds one row (std::optional<T> or std::shared_ptr<T>)");
    static_assert(sizeof...(K) > 0, "quarry: belongs_to(&T::field, &T::foreign_key...) needs the foreign key");
    return association<assoc_kind::belongs_to, O, F, std::tuple<K O::*...>>{field, {foreign_key...}};
}
template <class O, class F, class C, class... K>
constexpr auto has_many(F O::*field, K C::*... foreign_key) {
    static_assert(assoc_target<F>::many, "quarry: has_many holds a std::vector<T>");
    static_assert((std::is_same_v<C, typename assoc_target<F>::type>), "quarry: has_many's foreign key must be a member of the held type");
    return association<assoc_kind::has_many, O, F, std::tuple<K C::*...>>{field, {foreign_key...}};
}
template <class O, class F, class C, class... K>
constexpr auto has_one(F O::*field, K C::*... foreign_key) {
    static_assert(!assoc_target<F>::many, "quarry: has_one holds one row (std::optional<T> or std::shared_ptr<T>)");
    static_assert((std::is_same_v<C, typename assoc_target<F>::type>), "quarry: has_one's foreign key must be a member of the held type");
    return association<assoc_kind::has_one, O, F, std::tuple<K C::*...>>{field, {foreign_key...}};
}
// Through a join schema J: rows of J pair the owner's key (`to_owner`) with the target's
// (`to_target`). Each is a member of J, or for a composite key a tuple of J's members, one per
// key column in the key's order: many_to_many(&T::f, &J::t, std::tuple{&J::u1, &J::u2}).
template <class X>
struct join_key_members;
template <class J, class M>
struct join_key_members<M J::*> {
    using join = J;
    static constexpr std::tuple<M J::*> of(M J::*m) { return {m}; }
};
template <class J, class... M>
struct join_key_members<std::tuple<M J::*...>> {
    using join = J;
    static constexpr std::tuple<M J::*...> of(std::tuple<M J::*...> t) { return t; }
};
template <class O, class F, class X, class Y>
constexpr auto many_to_many(F O::*field, X to_owner, Y to_target) {
    static_assert(assoc_target<F>::many, "quarry: many_to_many holds a std::vector<T>");
    using J = typename join_key_members<X>::join;
    static_assert(std::is_same_v<J, typename join_key_members<Y>::join>, "quarry: many_to_many's keys are members of one join schema");
    constexpr auto keys = [](X a, Y b) { return std::make_tuple(join_key_members<X>::of(a), join_key_members<Y>::of(b)); };
    return association<assoc_kind::many_to_many, O, F, decltype(keys(to_owner, to_target)), J>{field, keys(to_owner, to_target)};
}

template <class T>
struct assoc_traits {
    static constexpr auto associations = std::tuple<>{};
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

template <class A, class B>
constexpr bool same_member(A a, B b) noexcept {
    if constexpr (std::is_same_v<A, B>) return a == b;
    else return false;
}
// The QUARRY_COLUMNS option of member `mp` says...
// Virtual: declared so, or holding an association.
template <class T, class MP>
constexpr bool is_virtual_member(MP mp) {
    return std::apply([&](const auto&... o) { return ((same_member(o.member, mp) && o.virtual_) || ...); }, column_traits<T>::options) ||
           std::apply([&](const auto&... a) { return (same_member(a.field, mp) || ...); }, assoc_traits<T>::associations);
}
// The index in QUARRY_COLUMNS of the member with this role, or -1.
template <class T, core::ColumnRole R>
constexpr int role_index() {
    int found = -1, i = 0;
    std::apply([&](const auto&... o) { ((found = found < 0 && o.role == R ? i : found, ++i), ...); }, column_traits<T>::options);
    return found;
}
template <class T, core::ColumnRole R>
inline constexpr bool has_role = role_index<T, R>() >= 0;
// The member with role R (only when has_role<T, R>).
template <class T, core::ColumnRole R>
constexpr auto role_member() {
    return std::get<role_index<T, R>()>(column_traits<T>::options).member;
}
// Whether member `mp` of T holds role R (false when T declares no such role).
template <class T, core::ColumnRole R, class MP>
constexpr bool is_role(MP mp) {
    if constexpr (has_role<T, R>) return same_member(mp, role_member<T, R>());
    else return false;
}

template <class T, class Accessors = decltype(boost::hana::accessors<T>())>
struct columns_of;
template <class T, class... Pairs>
struct columns_of<T, boost::hana::tuple<Pairs...>> {
    static constexpr std::size_t size = (std::size_t{0} + ... + !is_virtual_member<T>(accessor_info<Pairs>::pointer));
    template <class F>
    static void each(F&& f) {
        ([&] {
            if constexpr (!is_virtual_member<T>(accessor_info<Pairs>::pointer))
                f(accessor_info<Pairs>::pointer, accessor_info<Pairs>::name());
        }(), ...);
    }
};
// As for_each_member, skipping virtual fields: the struct's columns, in declaration order.
template <class T, class F>
void for_each_column(F&& f) {
    columns_of<T>::each(std::forward<F>(f));
}

template <class T>
struct schema_table;
template <class T>
const schema_table<T>& table_of();
// As for_each_column, with each column's ColumnInfo (the k-th column is the k-th non-virtual
// member): no member-to-column lookup per column, for the Repo's per-row writes.
template <class T, class F>
void for_each_column_info(F&& f) {
    const core::ColumnInfo* c = table_of<T>().info.columns.data();
    for_each_column<T>([&](auto mp, const char*) { f(mp, *c++); });
}

template <class T>
struct schema_table : core::SchemaTable {
    schema_table() {
        // Plain data about each member; the compiled core builds the table from it (strings,
        // vectors and quoting stay out of every user translation unit).
        core::MemberDesc members[columns_of<T>::size + 1];
        std::size_t n = 0;
        for_each_column<T>([&](auto mp, const char* member_name) {
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
        std::apply([&](const auto&... o) {
            std::size_t k = 0;
            ((options[k++] = {member_offset(o.member), o.db_name, o.generated_, o.role, o.read_only_}), ...);
        }, column_traits<T>::options);
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

// Associations of a schema; must appear before the schema's first use (after both types).
//   QUARRY_ASSOCIATIONS(User, quarry::has_many(&User::posts, &Post::user_id));
//   QUARRY_ASSOCIATIONS(Post, quarry::belongs_to(&Post::author, &Post::user_id),
//                             quarry::many_to_many(&Post::tags, &PostTag::post_id, &PostTag::tag_id));
#define QUARRY_ASSOCIATIONS(Type, ...)                                           \
    template <>                                                                  \
    struct quarry::assoc_traits<Type> {                                          \
        static constexpr auto associations = std::make_tuple(__VA_ARGS__);       \
    }
