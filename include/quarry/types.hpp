// SPDX-License-Identifier: MIT
// More C++ types for columns and parameters, each travelling as text or integer:
//
//   enums        QUARRY_ENUM_TEXT / QUARRY_ENUM_INT        text label / integer   (see below)
//   dates        std::chrono::year_month_day, sys_days     "YYYY-MM-DD" text      SQLite TEXT, PostgreSQL date
//   durations    std::chrono::duration<Rep, Period>        integer microseconds   bigint on both
//   UUIDs        quarry::uuid                              canonical lowercase    SQLite TEXT, PostgreSQL uuid
//   JSON         quarry::json (text, not parsed)           the JSON text          SQLite TEXT, PostgreSQL jsonb
//
// Enums, declared once after the enum (at namespace scope; enumerators may be written unqualified):
//
//   enum class Color { red, green, blue };
//   QUARRY_ENUM_TEXT(Color, {red, "red"}, {green, "green"}, {blue, "blue"});   // stored as the names
//   enum class Level : std::int16_t { low = 1, mid = 5, high = 10 };
//   QUARRY_ENUM_INT(Level, low, mid, high);                                     // stored as 1, 5, 10
//
// A stored name or number the declaration does not list reads as a DecodeError naming the column;
// binding a value it does not list (static_cast<Color>(7)) is a QueryError; a mapping that lists
// a value or a name twice does not compile. An enum compares only with itself in expressions:
// col(&Shirt::color) == Color::red, never == "red" or == 3. `<` on a text-backed enum is the
// database's order of the names (alphabetical in a text column, declaration order in a
// PostgreSQL enum type). The macros say `using enum E`, so an enumerator may not be named
// `values` or `type_name`.
//
// Dates, UUIDs and JSON likewise compare only with their own kind (a date never with a
// timestamp); durations with any duration (all travel as microseconds). UUIDs are written
// lowercase: SQLite compares the text, so UUIDs other programs store there should be lowercase
// too. PostgreSQL must print dates in ISO style (DateStyle ISO, the default).
#pragma once
#include <array>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "quarry/value_traits.hpp"

namespace quarry {

// ---- enums --------------------------------------------------------------------------------

// One declared enumerator of a text-backed enum and the text stored for it.
template <class E>
struct enum_name {
    E value;
    std::string_view name;
};

// Specialised by QUARRY_ENUM_TEXT / QUARRY_ENUM_INT, or by hand: `values` is a constexpr array
// of enum_name<E> (stored as text) or of E (stored as its underlying integer); `type_name`, if
// present, names the enum in error messages.
template <class E>
struct enum_mapping;

template <class E>
concept mapped_enum = std::is_enum_v<E> && requires { enum_mapping<E>::values; };

namespace detail {
[[noreturn]] void undeclared_enum_value(std::string_view type, std::int64_t value);
[[noreturn]] void undeclared_enum_text(const core::Row& r, std::uint32_t i, std::string_view type, std::string_view text);
[[noreturn]] void undeclared_enum_number(const core::Row& r, std::uint32_t i, std::string_view type, std::int64_t value);

template <class E>
constexpr std::string_view enum_type_name() {
    if constexpr (requires { enum_mapping<E>::type_name; }) return enum_mapping<E>::type_name;
    else return "enum";
}
template <class E>
constexpr std::int64_t enum_number(E v) noexcept {
    return static_cast<std::int64_t>(static_cast<std::underlying_type_t<E>>(v));
}
template <class E>
constexpr bool enum_fits_int64(E v) noexcept {
    using U = std::underlying_type_t<E>;
    if constexpr (std::is_unsigned_v<U> && sizeof(U) >= sizeof(std::int64_t))
        return static_cast<U>(v) <= static_cast<U>(INT64_MAX);
    else
        return true;
}
template <class E>
inline constexpr bool enum_is_text =
    std::is_same_v<std::remove_cvref_t<decltype(enum_mapping<E>::values[0])>, enum_name<E>>;

// Every value and every name declared once, every number a 64-bit SQL integer.
template <class E>
consteval bool enum_mapping_ok() {
    const auto& v = enum_mapping<E>::values;
    const std::size_t n = std::size(v);
    for (std::size_t a = 0; a < n; ++a) {
        if constexpr (enum_is_text<E>) {
            for (std::size_t b = a + 1; b < n; ++b)
                if (v[a].value == v[b].value || v[a].name == v[b].name) return false;
        } else {
            if (!enum_fits_int64(v[a])) return false;
            for (std::size_t b = a + 1; b < n; ++b)
                if (v[a] == v[b]) return false;
        }
    }
    return true;
}
}  // namespace detail

template <mapped_enum E>
struct value_traits<E> {
    using mapping = enum_mapping<E>;
    static constexpr bool text = detail::enum_is_text<E>;
    static_assert(text || std::is_same_v<std::remove_cvref_t<decltype(mapping::values[0])>, E>,
                  "quarry: enum_mapping<E>::values must hold quarry::enum_name<E> (text) or E (integer)");
    static_assert(detail::enum_mapping_ok<E>(),
                  "quarry: an enum mapping declares a value or a name twice (or a number beyond 64 bits)");

    static constexpr core::SqlType sql_type =
        text ? core::SqlType::text : sizeof(E) > 4 ? core::SqlType::bigint : core::SqlType::integer;
    static constexpr family fam = family::other;  // compares only with E itself
    static constexpr core::ValueKind kind = text ? core::ValueKind::text : core::ValueKind::integer;

    static void bind(auto& l, E v) {
        for (const auto& e : mapping::values) {
            if constexpr (text) {
                if (e.value == v) return l.param_text(e.name);
            } else {
                if (e == v) return l.param(core::Value::integer(detail::enum_number(v)));
            }
        }
        detail::undeclared_enum_value(detail::enum_type_name<E>(), detail::enum_number(v));
    }
    static E read(const core::Row& r, std::uint32_t i) {
        if constexpr (text) {
            const std::string_view t = r.text(i);
            for (const auto& e : mapping::values)
                if (e.name == t) return e.value;
            detail::undeclared_enum_text(r, i, detail::enum_type_name<E>(), t);
        } else {
            const std::int64_t n = r.integer(i);
            for (E e : mapping::values)
                if (detail::enum_number(e) == n) return e;
            detail::undeclared_enum_number(r, i, detail::enum_type_name<E>(), n);
        }
    }
};

// ---- dates --------------------------------------------------------------------------------

namespace core {
// "YYYY-MM-DD" into out[0..10): false (nothing written) for an invalid date or a year outside
// 0001-9999, the years both databases and ISO-8601 text agree on.
bool format_date(std::chrono::year_month_day d, char* out) noexcept;
// Exactly "YYYY-MM-DD" of a valid date in 0001-9999; false for anything else.
bool parse_date(std::string_view text, std::chrono::year_month_day& d) noexcept;
}  // namespace core

namespace detail {
[[noreturn]] void invalid_date(std::chrono::year_month_day d);
[[noreturn]] void not_a_date(const core::Row& r, std::uint32_t i, std::string_view text);
}  // namespace detail

template <>
struct value_traits<std::chrono::year_month_day> {
    static constexpr core::SqlType sql_type = core::SqlType::date;
    static constexpr family fam = family::date;
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(auto& l, std::chrono::year_month_day d) {
        char buf[10];
        if (!core::format_date(d, buf)) detail::invalid_date(d);
        l.param_text({buf, sizeof buf});
    }
    static std::chrono::year_month_day read(const core::Row& r, std::uint32_t i) {
        const std::string_view t = r.text(i);
        std::chrono::year_month_day d;
        if (!core::parse_date(t, d)) detail::not_a_date(r, i, t);
        return d;
    }
};
// A day as a time point is a date too (not a timestamp at midnight).
template <>
struct value_traits<std::chrono::sys_days> {
    using ymd = value_traits<std::chrono::year_month_day>;
    static constexpr core::SqlType sql_type = ymd::sql_type;
    static constexpr family fam = ymd::fam;
    static constexpr core::ValueKind kind = ymd::kind;
    static void bind(auto& l, std::chrono::sys_days d) { ymd::bind(l, std::chrono::year_month_day{d}); }
    static std::chrono::sys_days read(const core::Row& r, std::uint32_t i) { return std::chrono::sys_days{ymd::read(r, i)}; }
};

// ---- durations ----------------------------------------------------------------------------
// A whole number of microseconds (the precision of quarry's timestamps) in a 64-bit integer:
// exact, ordered, summable in SQL, and the same on both databases (PostgreSQL's interval mixes
// months and days and has no portable integer form). Binding truncates finer units toward zero;
// a count beyond ±2^63 µs is a QueryError. Reading into a coarser or narrower type than the
// stored count fits exactly (90 s into std::chrono::minutes) is a DecodeError.

namespace detail {
[[noreturn]] void duration_out_of_range();
[[noreturn]] void duration_does_not_fit(const core::Row& r, std::uint32_t i, std::int64_t micros);
}  // namespace detail

template <class Rep, class Period>
struct value_traits<std::chrono::duration<Rep, Period>> {
    using D = std::chrono::duration<Rep, Period>;
    static_assert(std::is_arithmetic_v<Rep>, "quarry: a duration column needs an arithmetic representation");
    static constexpr core::SqlType sql_type = core::SqlType::bigint;
    static constexpr family fam = family::duration;
    static constexpr core::ValueKind kind = core::ValueKind::integer;

    static void bind(auto& l, D d) {
        using F = std::ratio_divide<Period, std::micro>;  // microseconds per tick
        std::int64_t us = 0;
        if constexpr (std::is_floating_point_v<Rep>) {
            const double x = static_cast<double>(d.count()) * (static_cast<double>(F::num) / static_cast<double>(F::den));
            if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) detail::duration_out_of_range();
            us = static_cast<std::int64_t>(x);
        } else {
            if (!std::in_range<std::int64_t>(d.count()) ||
                __builtin_mul_overflow(static_cast<std::int64_t>(d.count()), static_cast<std::int64_t>(F::num), &us))
                detail::duration_out_of_range();
            us /= F::den;
        }
        l.param(core::Value::integer(us));
    }
    static D read(const core::Row& r, std::uint32_t i) {
        using F = std::ratio_divide<std::micro, Period>;  // ticks per microsecond
        const std::int64_t us = r.integer(i);
        if constexpr (std::is_floating_point_v<Rep>) {
            return D(static_cast<Rep>(static_cast<double>(us) * (static_cast<double>(F::num) / static_cast<double>(F::den))));
        } else {
            std::int64_t ticks = 0;
            if (__builtin_mul_overflow(us, static_cast<std::int64_t>(F::num), &ticks) || ticks % F::den != 0 ||
                !std::in_range<Rep>(ticks / F::den))
                detail::duration_does_not_fit(r, i, us);
            return D(static_cast<Rep>(ticks / F::den));
        }
    }
};

// ---- UUIDs --------------------------------------------------------------------------------

// 16 bytes; nil by default. Ordered byte by byte, which is also the order of its canonical text
// and of PostgreSQL's uuid type.
class uuid {
public:
    constexpr uuid() noexcept = default;
    constexpr explicit uuid(const std::array<std::uint8_t, 16>& bytes) noexcept : bytes_(bytes) {}

    // Canonical 8-4-4-4-12 hex text, either case; nullopt for anything else.
    static std::optional<uuid> parse(std::string_view text) noexcept;
    // As parse, but throws std::invalid_argument for malformed text.
    static uuid from_string(std::string_view text);

    // Lowercase canonical text (36 characters).
    std::string to_string() const;
    void format(char* out) const noexcept;  // writes the 36 characters of to_string()

    constexpr const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
    constexpr bool is_nil() const noexcept { return *this == uuid(); }

    friend constexpr bool operator==(const uuid&, const uuid&) = default;
    friend constexpr std::strong_ordering operator<=>(const uuid&, const uuid&) = default;

private:
    std::array<std::uint8_t, 16> bytes_{};
};

namespace detail {
[[noreturn]] void not_a_uuid(const core::Row& r, std::uint32_t i, std::string_view text);
}

template <>
struct value_traits<uuid> {
    static constexpr core::SqlType sql_type = core::SqlType::uuid;
    static constexpr family fam = family::other;  // compares only with uuid
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(auto& l, const uuid& u) {
        char buf[36];
        u.format(buf);
        l.param_text({buf, sizeof buf});
    }
    static uuid read(const core::Row& r, std::uint32_t i) {
        const std::string_view t = r.text(i);
        if (auto u = uuid::parse(t)) return *u;
        detail::not_a_uuid(r, i, t);
    }
};

// ---- JSON ---------------------------------------------------------------------------------

// JSON text, neither parsed nor checked by quarry (PostgreSQL's jsonb checks it on the way in,
// and hands back its own normal form: key order and spacing may differ from what was stored).
// Default: the JSON literal null, not SQL NULL (use std::optional<json> for that).
struct json {
    std::string text = "null";
    json() = default;
    explicit json(std::string t) : text(std::move(t)) {}
    friend bool operator==(const json&, const json&) = default;
};

template <>
struct value_traits<json> {
    static constexpr core::SqlType sql_type = core::SqlType::json;
    static constexpr family fam = family::other;  // compares only with json
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(auto& l, const json& j) { l.param_text(j.text); }
    static json read(const core::Row& r, std::uint32_t i) { return json(std::string(r.text(i))); }
};

}  // namespace quarry

template <>
struct std::hash<quarry::uuid> {
    std::size_t operator()(const quarry::uuid& u) const noexcept {
        std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
        for (std::uint8_t b : u.bytes()) h = (h ^ b) * 0x100000001b3ull;
        return static_cast<std::size_t>(h);
    }
};

// Enum mappings (at namespace scope, after the enum). Enumerators may be written unqualified.
//   QUARRY_ENUM_TEXT(Color, {red, "red"}, {green, "green"});   stored as the given names
//   QUARRY_ENUM_INT(Level, low, high);                          stored as the underlying values
#define QUARRY_ENUM_TEXT(E, ...)                                               \
    template <>                                                                \
    struct quarry::enum_mapping<E> {                                           \
        using enum E;                                                          \
        static constexpr std::string_view type_name = #E;                      \
        static constexpr ::quarry::enum_name<E> values[] = {__VA_ARGS__};      \
    }
#define QUARRY_ENUM_INT(E, ...)                                                \
    template <>                                                                \
    struct quarry::enum_mapping<E> {                                           \
        using enum E;                                                          \
        static constexpr std::string_view type_name = #E;                      \
        static constexpr E values[] = {__VA_ARGS__};                           \
    }
