// SPDX-License-Identifier: MIT
// How a C++ type becomes a bound parameter and which SQL type a column of it has.
// Specialise quarry::value_traits<T> for your own types (one customisation point).
#pragma once
#include <chrono>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "quarry/core/lowerer.hpp"

namespace quarry {

// The families the type checker compares: values of one family compare with each other.
enum class family { numeric, boolean, text, blob, time, other, dynamic };

template <class T, class = void>
struct value_traits;  // primary: not a SQL value

template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
struct value_traits<T> {
    static constexpr core::SqlType sql_type = sizeof(T) > 4 ? core::SqlType::bigint : core::SqlType::integer;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::integer;
    static void bind(core::Lowerer& l, T v) { l.param(core::Value::integer(static_cast<std::int64_t>(v))); }
};
template <>
struct value_traits<bool> {
    static constexpr core::SqlType sql_type = core::SqlType::boolean;
    static constexpr family fam = family::boolean;
    static constexpr core::ValueKind kind = core::ValueKind::boolean;
    static void bind(core::Lowerer& l, bool v) { l.param(core::Value::boolean(v)); }
};
template <std::floating_point T>
struct value_traits<T> {
    static constexpr core::SqlType sql_type = core::SqlType::real;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::real;
    static void bind(core::Lowerer& l, T v) { l.param(core::Value::real(static_cast<double>(v))); }
};
template <>
struct value_traits<std::string> {
    static constexpr core::SqlType sql_type = core::SqlType::text;
    static constexpr family fam = family::text;
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(core::Lowerer& l, std::string_view v) { l.param_text(v); }
};
template <>
struct value_traits<std::string_view> : value_traits<std::string> {};
template <>
struct value_traits<std::vector<std::byte>> {
    static constexpr core::SqlType sql_type = core::SqlType::blob;
    static constexpr family fam = family::blob;
    static constexpr core::ValueKind kind = core::ValueKind::blob;
    static void bind(core::Lowerer& l, const std::vector<std::byte>& v) {
        l.param_blob({reinterpret_cast<const char*>(v.data()), v.size()});
    }
};
template <class Duration>
struct value_traits<std::chrono::sys_time<Duration>> {
    static constexpr core::SqlType sql_type = core::SqlType::timestamp;
    static constexpr family fam = family::time;
    static constexpr core::ValueKind kind = core::ValueKind::timestamp;
    static void bind(core::Lowerer& l, std::chrono::sys_time<Duration> t) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
        l.param(core::Value::timestamp(us));
    }
};
template <class T>
struct value_traits<std::optional<T>> {
    static constexpr core::SqlType sql_type = value_traits<T>::sql_type;
    static constexpr family fam = value_traits<T>::fam;
    static constexpr core::ValueKind kind = value_traits<T>::kind;
    static void bind(core::Lowerer& l, const std::optional<T>& v) {
        if (v)
            value_traits<T>::bind(l, *v);
        else
            l.param(core::Value::null());
    }
};

template <class T>
concept sql_value = requires { value_traits<std::remove_cvref_t<T>>::sql_type; };

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// A value whose type is known only at run time (a column looked up by name).
struct dynamic_value {};
template <>
struct value_traits<dynamic_value> {
    static constexpr core::SqlType sql_type = core::SqlType::any;
    static constexpr family fam = family::dynamic;
    static constexpr core::ValueKind kind = core::ValueKind::null;
};

template <class T>
inline constexpr family family_of = value_traits<std::remove_cvref_t<T>>::fam;

}  // namespace quarry
