// SPDX-License-Identifier: MIT
// Changesets, part 1: field errors, the untrusted input a changeset casts, and how each C++
// type is cast from it (cast_traits). See quarry/changeset.hpp.
#pragma once
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "quarry/errors.hpp"
#include "quarry/expr.hpp"
#include "quarry/schema.hpp"

namespace quarry {

class Repo;

// ---- errors -------------------------------------------------------------------------------

// One parameter of an error: count = 3, kind = "min", type = "integer", enum = [...].
using ErrorParam = std::variant<std::int64_t, double, std::string, std::vector<std::string>>;

// An error on one field (or on the whole changeset, with an empty field). `message` keeps its
// %{key} placeholders so it can be translated; text() fills them from `params`.
struct FieldError {
    std::string field;
    std::string message;
    std::string validation;  // required, format, length, number, inclusion, ..., cast, unique, foreign_key, ...
    std::vector<std::pair<std::string, ErrorParam>> params;

    const ErrorParam* param(std::string_view key) const noexcept;
    std::string text() const;  // "should be at least 3 character(s)"
    friend bool operator==(const FieldError&, const FieldError&) = default;
};

// Every field's messages, interpolated: {"email": ["has already been taken"], ...}.
using ErrorMap = std::map<std::string, std::vector<std::string>>;
ErrorMap error_map(const std::vector<FieldError>& errors);

// An invalid changeset met where a valid one was required (Result::value(), apply_action).
class ChangesetInvalid : public Error {
public:
    ChangesetInvalid(std::string action, std::string type, std::vector<FieldError> errors);
    const std::string& action() const noexcept { return action_; }
    const std::vector<FieldError>& errors() const noexcept { return errors_; }

private:
    std::string action_;
    std::vector<FieldError> errors_;
};

// ---- input --------------------------------------------------------------------------------

// One untrusted input value, as a form or a JSON body gives it.
struct Param {
    enum class Kind : std::uint8_t { null, boolean, integer, real, text, json };
    Kind kind = Kind::null;
    bool b = false;
    std::int64_t i = 0;
    double d = 0;
    std::string s;  // text; for Kind::json, the JSON text of an object or array

    static Param text(std::string_view v) { Param p; p.kind = Kind::text; p.s = v; return p; }
    bool is_empty() const noexcept { return kind == Kind::null || (kind == Kind::text && s.empty()); }
};
using Params = std::vector<std::pair<std::string, Param>>;

// What casting one input value did.
enum class CastResult : std::uint8_t { ok, blank, invalid };

namespace detail {
// Compiled once (lib/changeset/cast.cpp).
CastResult cast_integer(const Param& p, std::int64_t& out) noexcept;
CastResult cast_real(const Param& p, double& out) noexcept;
CastResult cast_boolean(const Param& p, bool& out) noexcept;
CastResult cast_text(const Param& p, std::string& out);       // UTF-8 checked
CastResult cast_timestamp(const Param& p, std::int64_t& micros) noexcept;
CastResult cast_date(const Param& p, std::chrono::year_month_day& out) noexcept;
CastResult cast_json(const Param& p, std::string& out);        // syntax checked
bool is_blank_text(std::string_view s) noexcept;                 // empty or only whitespace
std::size_t utf8_length(std::string_view s) noexcept;          // code points
}  // namespace detail

// How a C++ type is cast from untrusted input. Specialise for your own field types:
//   template <> struct quarry::cast_traits<Money> {
//       static constexpr std::string_view name = "money";     // the `type` of "is invalid"
//       static CastResult cast(const Param& in, Money& out);
//   };
template <class M, class = void>
struct cast_traits;

template <std::integral M>
    requires(!std::same_as<M, bool>)
struct cast_traits<M> {
    static constexpr std::string_view name = "integer";
    static CastResult cast(const Param& in, M& out) noexcept {
        std::int64_t v = 0;
        const CastResult r = detail::cast_integer(in, v);
        if (r != CastResult::ok) return r;
        if (!std::in_range<M>(v)) return CastResult::invalid;
        out = static_cast<M>(v);
        return r;
    }
};
template <std::floating_point M>
struct cast_traits<M> {
    static constexpr std::string_view name = "float";
    static CastResult cast(const Param& in, M& out) noexcept {
        double v = 0;
        const CastResult r = detail::cast_real(in, v);
        if (r != CastResult::ok) return r;
        // A double beyond the field's range would become infinity (and converting it is UB).
        if (v > static_cast<double>(std::numeric_limits<M>::max()) || v < -static_cast<double>(std::numeric_limits<M>::max()))
            return CastResult::invalid;
        out = static_cast<M>(v);
        return r;
    }
};
template <>
struct cast_traits<bool> {
    static constexpr std::string_view name = "boolean";
    static CastResult cast(const Param& in, bool& out) noexcept { return detail::cast_boolean(in, out); }
};
template <>
struct cast_traits<std::string> {
    static constexpr std::string_view name = "string";
    static CastResult cast(const Param& in, std::string& out) { return detail::cast_text(in, out); }
};
template <class D>
struct cast_traits<std::chrono::sys_time<D>> {
    static constexpr std::string_view name = "timestamp";
    static CastResult cast(const Param& in, std::chrono::sys_time<D>& out) noexcept {
        std::int64_t us = 0;
        const CastResult r = detail::cast_timestamp(in, us);
        if (r != CastResult::ok) return r;
        // A clock finer than microseconds (nanoseconds: years 1677-2262) may not reach the time.
        using F = std::ratio_divide<std::micro, typename D::period>;  // ticks per microsecond
        if constexpr (F::num > 1) {
            std::int64_t ticks = 0;
            if (__builtin_mul_overflow(us, static_cast<std::int64_t>(F::num), &ticks)) return CastResult::invalid;
        }
        out = std::chrono::floor<D>(std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(us)));
        return r;
    }
};
template <>
struct cast_traits<std::chrono::year_month_day> {
    static constexpr std::string_view name = "date";
    static CastResult cast(const Param& in, std::chrono::year_month_day& out) noexcept { return detail::cast_date(in, out); }
};
template <>
struct cast_traits<std::chrono::sys_days> {
    static constexpr std::string_view name = "date";
    static CastResult cast(const Param& in, std::chrono::sys_days& out) noexcept {
        std::chrono::year_month_day d{};
        const CastResult r = detail::cast_date(in, d);
        out = std::chrono::sys_days(d);
        return r;
    }
};
// A duration is cast from a number of its own units (seconds for std::chrono::seconds).
template <class Rep, class Period>
struct cast_traits<std::chrono::duration<Rep, Period>> {
    static constexpr std::string_view name = "duration";
    static CastResult cast(const Param& in, std::chrono::duration<Rep, Period>& out) noexcept {
        Rep v{};
        const CastResult r = cast_traits<Rep>::cast(in, v);
        out = std::chrono::duration<Rep, Period>(v);
        return r;
    }
};
// An enum is cast from its declared name (text-backed) or number (integer-backed).
template <mapped_enum E>
struct cast_traits<E> {
    static constexpr std::string_view name = "enum";
    static CastResult cast(const Param& in, E& out) {
        if (in.is_empty()) return CastResult::blank;
        if constexpr (detail::enum_is_text<E>) {
            if (in.kind != Param::Kind::text) return CastResult::invalid;
            for (const auto& e : enum_mapping<E>::values)
                if (e.name == in.s) return out = e.value, CastResult::ok;
        } else {
            std::int64_t n = 0;
            if (detail::cast_integer(in, n) != CastResult::ok) return CastResult::invalid;
            for (E e : enum_mapping<E>::values)
                if (detail::enum_number(e) == n) return out = e, CastResult::ok;
        }
        return CastResult::invalid;
    }
};
template <>
struct cast_traits<uuid> {
    static constexpr std::string_view name = "uuid";
    static CastResult cast(const Param& in, uuid& out) noexcept {
        if (in.is_empty()) return CastResult::blank;
        if (in.kind != Param::Kind::text) return CastResult::invalid;
        auto u = uuid::parse(in.s);
        if (!u) return CastResult::invalid;
        out = *u;
        return CastResult::ok;
    }
};
template <>
struct cast_traits<json> {
    static constexpr std::string_view name = "json";
    static CastResult cast(const Param& in, json& out) { return detail::cast_json(in, out.text); }
};
// Bytes are taken as given (a form field's raw text).
template <>
struct cast_traits<std::vector<std::byte>> {
    static constexpr std::string_view name = "binary";
    static CastResult cast(const Param& in, std::vector<std::byte>& out) {
        if (in.kind == Param::Kind::null) return CastResult::blank;
        if (in.kind != Param::Kind::text) return CastResult::invalid;
        const auto* p = reinterpret_cast<const std::byte*>(in.s.data());
        out.assign(p, p + in.s.size());
        return CastResult::ok;
    }
};
// NULL, or an empty string, casts to nullopt.
template <class M>
struct cast_traits<std::optional<M>> {
    static constexpr std::string_view name = cast_traits<M>::name;
    static CastResult cast(const Param& in, std::optional<M>& out) {
        if (in.is_empty()) {
            out.reset();
            return CastResult::ok;
        }
        M v{};
        const CastResult r = cast_traits<M>::cast(in, v);
        if (r == CastResult::blank) {  // only whitespace where a value cannot be empty: empty, so NULL
            out.reset();
            return CastResult::ok;
        }
        if (r == CastResult::ok) out = std::move(v);
        return r;
    }
};

template <class M>
concept castable = requires { cast_traits<M>::name; };

}  // namespace quarry
