// SPDX-License-Identifier: MIT
// How a C++ type becomes a bound parameter, how it is read back from a row, and which SQL type
// a column of it has. Specialise quarry::value_traits<T> for your own types (one customisation
// point): sql_type, fam, kind, bind(Lowerer&, const T&) and read(const core::Row&, index).
#pragma once
#include <chrono>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "quarry/core/driver.hpp"
#include "quarry/core/lowerer.hpp"
#include "quarry/errors.hpp"

namespace quarry {

// The families the type checker compares: values of one family compare with each other, except
// `other`, whose values compare only with the same C++ type (enums, uuid, json).
enum class family { numeric, boolean, text, blob, time, date, duration, other, dynamic };

template <class T, class = void>
struct value_traits;  // primary: not a SQL value

namespace detail {
// Binds `v` as a value of type V into any lowerer. A value_traits specialisation whose bind takes
// core::Lowerer& only (written before the two-pass build) is run on a values-only Lowerer and its
// parameters replayed.
template <class V, class L, class X>
void bind_param(L& l, const X& v) {
    if constexpr (requires { value_traits<V>::bind(l, v); }) {
        value_traits<V>::bind(l, v);
    } else {
        core::Lowerer values{core::Lowerer::ValuesOnly{}};
        value_traits<V>::bind(values, v);
        values.replay_params(l);
    }
}
}  // namespace detail

template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
struct value_traits<T> {
    static constexpr core::SqlType sql_type = sizeof(T) > 4 ? core::SqlType::bigint : core::SqlType::integer;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::integer;
    static void bind(auto& l, T v) {
        // SQL integers are signed 64-bit: a larger unsigned value is refused, never wrapped.
        if (!std::in_range<std::int64_t>(v))
            throw QueryError("unsigned value " + std::to_string(v) + " does not fit a 64-bit SQL integer");
        l.param(core::Value::integer(static_cast<std::int64_t>(v)));
    }
    static T read(const core::Row& r, std::uint32_t i) {
        const std::int64_t v = r.integer(i);
        if (!std::in_range<T>(v)) r.mismatch(i, "holds " + std::to_string(v) + ", out of range for the field's integer type");
        return static_cast<T>(v);
    }
};
template <>
struct value_traits<bool> {
    static constexpr core::SqlType sql_type = core::SqlType::boolean;
    static constexpr family fam = family::boolean;
    static constexpr core::ValueKind kind = core::ValueKind::boolean;
    static void bind(auto& l, bool v) { l.param(core::Value::boolean(v)); }
    static bool read(const core::Row& r, std::uint32_t i) { return r.boolean(i); }
};
template <std::floating_point T>
struct value_traits<T> {
    static constexpr core::SqlType sql_type = core::SqlType::real;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::real;
    static void bind(auto& l, T v) { l.param(core::Value::real(static_cast<double>(v))); }
    static T read(const core::Row& r, std::uint32_t i) { return static_cast<T>(r.real(i)); }
};
template <>
struct value_traits<std::string> {
    static constexpr core::SqlType sql_type = core::SqlType::text;
    static constexpr family fam = family::text;
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(auto& l, std::string_view v) { l.param_text(v); }
    static std::string read(const core::Row& r, std::uint32_t i) { return std::string(r.text(i)); }
};
template <>
struct value_traits<std::string_view> : value_traits<std::string> {
    static std::string_view read(const core::Row&, std::uint32_t) = delete;  // would dangle: read std::string
};
template <>
struct value_traits<std::vector<std::byte>> {
    static constexpr core::SqlType sql_type = core::SqlType::blob;
    static constexpr family fam = family::blob;
    static constexpr core::ValueKind kind = core::ValueKind::blob;
    static void bind(auto& l, const std::vector<std::byte>& v) {
        l.param_blob({reinterpret_cast<const char*>(v.data()), v.size()});
    }
    static std::vector<std::byte> read(const core::Row& r, std::uint32_t i) {
        std::string_view b = r.blob(i);
        const auto* p = reinterpret_cast<const std::byte*>(b.data());
        return std::vector<std::byte>(p, p + b.size());
    }
};
namespace detail {
// Timestamps travel as microseconds since the epoch and are stored on SQLite as ISO-8601 text,
// whose order is time order only for four-digit years, and PostgreSQL has no year 0: 0001-01-01
// to 9999-12-31, inclusive, as for dates.
inline constexpr std::int64_t min_timestamp_us = -62'135'596'800'000'000;
inline constexpr std::int64_t max_timestamp_us = 253'402'300'799'999'999;
[[noreturn]] void timestamp_out_of_range();
// A time point's microseconds since the epoch (finer units truncated toward zero), refused with
// QueryError outside those years rather than overflowing into another time
// (sys_time<seconds>::max(), a common "never", would be stored as 1969-12-31T23:59:59).
template <class Rep, class Period>
std::int64_t timestamp_micros(std::chrono::duration<Rep, Period> d) {
    using F = std::ratio_divide<Period, std::micro>;  // microseconds per tick
    std::int64_t us = 0;
    if constexpr (std::is_floating_point_v<Rep>) {
        const double x = static_cast<double>(d.count()) * (static_cast<double>(F::num) / static_cast<double>(F::den));
        if (!(x >= static_cast<double>(min_timestamp_us) && x <= static_cast<double>(max_timestamp_us))) timestamp_out_of_range();
        us = static_cast<std::int64_t>(x);
    } else {
        if (!std::in_range<std::int64_t>(d.count()) ||
            __builtin_mul_overflow(static_cast<std::int64_t>(d.count()), static_cast<std::int64_t>(F::num), &us))
            timestamp_out_of_range();
        us /= F::den;
    }
    if (us < min_timestamp_us || us > max_timestamp_us) timestamp_out_of_range();
    return us;
}
}  // namespace detail

template <class Duration>
struct value_traits<std::chrono::sys_time<Duration>> {
    static constexpr core::SqlType sql_type = core::SqlType::timestamp;
    static constexpr family fam = family::time;
    static constexpr core::ValueKind kind = core::ValueKind::timestamp;
    static void bind(auto& l, std::chrono::sys_time<Duration> t) {
        l.param(core::Value::timestamp(detail::timestamp_micros(t.time_since_epoch())));
    }
    static std::chrono::sys_time<Duration> read(const core::Row& r, std::uint32_t i) {
        const std::chrono::sys_time<std::chrono::microseconds> t{std::chrono::microseconds(r.timestamp(i))};
        return std::chrono::floor<Duration>(t);
    }
};
template <class T>
struct value_traits<std::optional<T>> {
    static constexpr core::SqlType sql_type = value_traits<T>::sql_type;
    static constexpr family fam = value_traits<T>::fam;
    static constexpr core::ValueKind kind = value_traits<T>::kind;
    static void bind(auto& l, const std::optional<T>& v) {
        if (v)
            detail::bind_param<T>(l, *v);
        else
            l.param(core::Value::null());
    }
    static std::optional<T> read(const core::Row& r, std::uint32_t i) {
        if (r.is_null(i)) return std::nullopt;
        return value_traits<T>::read(r, i);
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

// Enums, dates, durations, UUIDs and JSON.
#include "quarry/types.hpp"
