// SPDX-License-Identifier: MIT
// The compiled half of quarry/types.hpp: date and UUID text, and the errors of the mappings.
#include <stdexcept>
#include <string>

#include "quarry/errors.hpp"
#include "quarry/types.hpp"

namespace quarry {

namespace {

void put_digits(char* p, unsigned v, int width) noexcept {
    for (int k = width - 1; k >= 0; --k) {
        p[k] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
}

bool read_digits(std::string_view s, std::size_t at, int width, unsigned& out) noexcept {
    unsigned v = 0;
    for (int k = 0; k < width; ++k) {
        const char c = s[at + static_cast<std::size_t>(k)];
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    out = v;
    return true;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_dash_at(std::size_t k) noexcept { return k == 8 || k == 13 || k == 18 || k == 23; }

// Stored text quoted for an error message, cut short when long.
std::string quoted(std::string_view text) {
    constexpr std::size_t limit = 64;
    std::string out = "\"";
    out.append(text.substr(0, limit));
    if (text.size() > limit) out += "...";
    out += '"';
    return out;
}

}  // namespace

namespace core {

bool format_date(std::chrono::year_month_day d, char* out) noexcept {
    const int y = static_cast<int>(d.year());
    if (!d.ok() || y < 1 || y > 9999) return false;
    put_digits(out, static_cast<unsigned>(y), 4);
    out[4] = '-';
    put_digits(out + 5, static_cast<unsigned>(d.month()), 2);
    out[7] = '-';
    put_digits(out + 8, static_cast<unsigned>(d.day()), 2);
    return true;
}

bool parse_date(std::string_view text, std::chrono::year_month_day& d) noexcept {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
    unsigned y = 0, m = 0, day = 0;
    if (!read_digits(text, 0, 4, y) || !read_digits(text, 5, 2, m) || !read_digits(text, 8, 2, day)) return false;
    const std::chrono::year_month_day parsed{std::chrono::year(static_cast<int>(y)), std::chrono::month(m), std::chrono::day(day)};
    if (y < 1 || !parsed.ok()) return false;
    d = parsed;
    return true;
}

}  // namespace core

std::optional<uuid> uuid::parse(std::string_view text) noexcept {
    if (text.size() != 36) return std::nullopt;
    std::array<std::uint8_t, 16> bytes{};
    std::size_t n = 0;
    for (std::size_t k = 0; k < 36; ++k) {
        if (is_dash_at(k)) {
            if (text[k] != '-') return std::nullopt;
            continue;
        }
        const int hi = hex_value(text[k]);
        const int lo = hex_value(text[k + 1]);
        if (hi < 0 || lo < 0 || is_dash_at(k + 1)) return std::nullopt;
        bytes[n++] = static_cast<std::uint8_t>(hi << 4 | lo);
        ++k;
    }
    return uuid(bytes);
}

uuid uuid::from_string(std::string_view text) {
    if (auto u = parse(text)) return *u;
    throw std::invalid_argument("quarry::uuid: " + quoted(text) + " is not a UUID (8-4-4-4-12 hex digits)");
}

void uuid::format(char* out) const noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    std::size_t k = 0;
    for (std::size_t b = 0; b < 16; ++b) {
        if (is_dash_at(k)) out[k++] = '-';
        out[k++] = hex[bytes_[b] >> 4];
        out[k++] = hex[bytes_[b] & 15];
    }
}

std::string uuid::to_string() const {
    std::string s(36, '-');
    format(s.data());
    return s;
}

namespace detail {

void undeclared_enum_value(std::string_view type, std::int64_t value) {
    throw QueryError("value " + std::to_string(value) + " of enum " + std::string(type) +
                     " is not declared in its quarry mapping (QUARRY_ENUM_TEXT / QUARRY_ENUM_INT)");
}
void undeclared_enum_text(const core::Row& r, std::uint32_t i, std::string_view type, std::string_view text) {
    r.mismatch(i, "holds " + quoted(text) + ", which enum " + std::string(type) + " does not declare");
}
void undeclared_enum_number(const core::Row& r, std::uint32_t i, std::string_view type, std::int64_t value) {
    r.mismatch(i, "holds " + std::to_string(value) + ", which enum " + std::string(type) + " does not declare");
}

void invalid_date(std::chrono::year_month_day d) {
    throw QueryError("date " + std::to_string(static_cast<int>(d.year())) + "-" +
                     std::to_string(static_cast<unsigned>(d.month())) + "-" + std::to_string(static_cast<unsigned>(d.day())) +
                     " is not a valid date in years 0001-9999");
}
void not_a_date(const core::Row& r, std::uint32_t i, std::string_view text) {
    r.mismatch(i, "holds " + quoted(text) + ", not a date (YYYY-MM-DD, years 0001-9999)");
}

void timestamp_out_of_range() {
    throw QueryError("timestamp outside the years 0001-9999 that quarry stores (SQLite keeps ISO-8601 text, ordered only "
                     "with four-digit years)");
}
void duration_out_of_range() {
    throw QueryError("duration does not fit a 64-bit count of microseconds");
}
void duration_does_not_fit(const core::Row& r, std::uint32_t i, std::int64_t micros) {
    r.mismatch(i, "holds " + std::to_string(micros) + " microseconds, which the field's duration type cannot hold exactly");
}

void not_a_uuid(const core::Row& r, std::uint32_t i, std::string_view text) {
    r.mismatch(i, "holds " + quoted(text) + ", not a UUID");
}

}  // namespace detail
}  // namespace quarry
