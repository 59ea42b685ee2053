// SPDX-License-Identifier: MIT
// Casting untrusted input (a form's text, a JSON value) to the C++ types of fields.
#include <charconv>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "quarry/changeset.hpp"
#include "util/identifier.hpp"

namespace quarry::detail {

namespace {
using Kind = Param::Kind;

// Form input often carries stray spaces around numbers; text fields keep theirs.
std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A trailing UTC offset (+02:00, -0530, +01) as seconds east of UTC; the rest of the text stays.
bool split_offset(std::string_view& s, long& seconds) noexcept {
    seconds = 0;
    const auto t = s.find_first_of("T ");
    if (t == std::string_view::npos) return true;
    const auto sign = s.find_last_of("+-");
    if (sign == std::string_view::npos || sign < t) return true;
    std::string_view z = s.substr(sign + 1);
    std::string digits;
    for (char c : z)
        if (c != ':') digits += c;
    if ((digits.size() != 2 && digits.size() != 4) || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    const long h = std::stol(digits.substr(0, 2)), m = digits.size() == 4 ? std::stol(digits.substr(2)) : 0;
    if (h > 23 || m > 59) return false;
    seconds = (h * 3600 + m * 60) * (s[sign] == '-' ? -1 : 1);
    s = s.substr(0, sign);
    return true;
}
}  // namespace

CastResult cast_integer(const Param& p, std::int64_t& out) noexcept {
    switch (p.kind) {
    case Kind::null: return CastResult::blank;
    case Kind::integer: out = p.i; return CastResult::ok;
    case Kind::real:
        // 3.0 is an integer; 3.5 and 1e300 are not.
        if (std::trunc(p.d) != p.d || !(p.d >= -9.2233720368547758e18 && p.d < 9.2233720368547758e18)) return CastResult::invalid;
        out = static_cast<std::int64_t>(p.d);
        return CastResult::ok;
    case Kind::text: {
        const std::string_view s = trim(p.s);
        if (s.empty()) return CastResult::blank;
        const char* first = s.data() + (s.front() == '+' && s.size() > 1 && s[1] != '-' ? 1 : 0);
        const auto [end, ec] = std::from_chars(first, s.data() + s.size(), out);
        return ec == std::errc() && end == s.data() + s.size() ? CastResult::ok : CastResult::invalid;
    }
    default: return CastResult::invalid;
    }
}

CastResult cast_real(const Param& p, double& out) noexcept {
    switch (p.kind) {
    case Kind::null: return CastResult::blank;
    case Kind::integer: out = static_cast<double>(p.i); return CastResult::ok;
    case Kind::real: out = p.d; return std::isfinite(p.d) ? CastResult::ok : CastResult::invalid;
    case Kind::text: {
        const std::string_view s = trim(p.s);
        if (s.empty()) return CastResult::blank;
        const char* first = s.data() + (s.front() == '+' && s.size() > 1 && s[1] != '-' ? 1 : 0);
        const char* last = s.data() + s.size();
        auto [end, ec] = std::from_chars(first, last, out, std::chars_format::general);
        if (ec == std::errc::result_out_of_range && end == last) {
            // Out of a double's range: too large is refused, too small ("1e-400") is the nearest
            // double (zero, or a denormal), as strtod and JSON parsers read it. A long double has
            // the range to tell the two apart.
            long double wide = 0;
            const auto r = std::from_chars(first, last, wide, std::chars_format::general);
            if (r.ec == std::errc() && r.ptr == last && std::fabs(wide) < 1) {
                out = static_cast<double>(wide);
                ec = std::errc();
            }
        }
        // NaN and infinities are not numbers a form means (and SQLite would store NaN as NULL).
        return ec == std::errc() && end == last && std::isfinite(out) ? CastResult::ok : CastResult::invalid;
    }
    default: return CastResult::invalid;
    }
}

CastResult cast_boolean(const Param& p, bool& out) noexcept {
    switch (p.kind) {
    case Kind::null: return CastResult::blank;
    case Kind::boolean: out = p.b; return CastResult::ok;
    case Kind::integer:
        if (p.i != 0 && p.i != 1) return CastResult::invalid;
        out = p.i == 1;
        return CastResult::ok;
    case Kind::text: {
        const std::string_view s = trim(p.s);
        if (s.empty()) return CastResult::blank;
        // What forms send: checkboxes say "on", selects and APIs "true"/"false" or "1"/"0".
        if (s == "true" || s == "1" || s == "on") return out = true, CastResult::ok;
        if (s == "false" || s == "0" || s == "off") return out = false, CastResult::ok;
        return CastResult::invalid;
    }
    default: return CastResult::invalid;
    }
}

CastResult cast_text(const Param& p, std::string& out) {
    if (p.kind == Kind::null) return CastResult::blank;
    if (p.kind != Kind::text) return CastResult::invalid;
    // PostgreSQL refuses invalid UTF-8 and NUL in text; refuse them here, as a field error.
    if (!util::valid_utf8(p.s) || p.s.find('\0') != std::string::npos) return CastResult::invalid;
    out = p.s;
    return CastResult::ok;
}

CastResult cast_timestamp(const Param& p, std::int64_t& micros) noexcept {
    if (p.is_empty()) return CastResult::blank;
    if (p.kind != Kind::text) return CastResult::invalid;
    std::string_view s = trim(p.s);
    long offset = 0;
    const bool zulu = !s.empty() && (s.back() == 'Z' || s.back() == 'z');
    if (zulu) s.remove_suffix(1);
    else if (!split_offset(s, offset)) return CastResult::invalid;
    if (!core::parse_timestamp(s, micros)) return CastResult::invalid;
    micros -= static_cast<std::int64_t>(offset) * 1'000'000;
    // Years quarry can store (after the offset, which may cross 0001 or 9999): a field error
    // here, not a QueryError when the valid changeset is written.
    if (micros < detail::min_timestamp_us || micros > detail::max_timestamp_us) return CastResult::invalid;
    return CastResult::ok;
}

CastResult cast_date(const Param& p, std::chrono::year_month_day& out) noexcept {
    if (p.is_empty()) return CastResult::blank;
    if (p.kind != Kind::text) return CastResult::invalid;
    return core::parse_date(trim(p.s), out) ? CastResult::ok : CastResult::invalid;
}

CastResult cast_json(const Param& p, std::string& out) {
    switch (p.kind) {
    case Kind::null: return CastResult::blank;
    case Kind::json: out = p.s; return CastResult::ok;
    case Kind::boolean: out = p.b ? "true" : "false"; return CastResult::ok;
    case Kind::integer: out = std::to_string(p.i); return CastResult::ok;
    case Kind::real: out = nlohmann::json(p.d).dump(); return CastResult::ok;
    case Kind::text:
        // Form input is JSON text; it must parse.
        if (p.s.empty()) return CastResult::blank;
        if (!nlohmann::json::accept(p.s)) return CastResult::invalid;
        out = p.s;
        return CastResult::ok;
    }
    return CastResult::invalid;
}

bool is_blank_text(std::string_view s) noexcept {
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
    return true;
}

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xc0) != 0x80) ++n;
    return n;
}

std::int64_t checked_count(std::size_t n) {
    return n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()) ? std::numeric_limits<std::int64_t>::max()
                                                                                  : static_cast<std::int64_t>(n);
}

}  // namespace quarry::detail
