// SPDX-License-Identifier: MIT
// Timestamps as ISO-8601 text (SQLite stores them so; PostgreSQL's text form is close).
#include <charconv>
#include <chrono>

#include "quarry/core/driver.hpp"

namespace quarry::core {

namespace {
using namespace std::chrono;

void put_digits(char*& p, long v, int width) {
    for (int k = width - 1; k >= 0; --k) {
        p[k] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    p += width;
}

bool read_digits(std::string_view s, std::size_t& at, int width, long& out) noexcept {
    if (at + static_cast<std::size_t>(width) > s.size()) return false;
    long v = 0;
    for (int k = 0; k < width; ++k) {
        char c = s[at + static_cast<std::size_t>(k)];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    at += static_cast<std::size_t>(width);
    out = v;
    return true;
}
}  // namespace

std::string format_timestamp(std::int64_t micros) {
    char buf[timestamp_text_max];
    return std::string(buf, format_timestamp(micros, buf));
}

char* format_timestamp(std::int64_t micros, char* buf) noexcept {
    const sys_time<microseconds> tp{microseconds(micros)};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const auto in_day = tp - day;  // non-negative: floor above
    const long us = static_cast<long>(in_day.count());
    char* p = buf;
    int y = static_cast<int>(ymd.year());
    if (y < 0 || y > 9999) {  // outside ISO's four digits: still exact, no longer ordered as text
        auto r = std::to_chars(p, buf + 8, y);
        p = r.ptr;
    } else {
        put_digits(p, y, 4);
    }
    *p++ = '-';
    put_digits(p, static_cast<long>(static_cast<unsigned>(ymd.month())), 2);
    *p++ = '-';
    put_digits(p, static_cast<long>(static_cast<unsigned>(ymd.day())), 2);
    *p++ = 'T';
    put_digits(p, us / 3'600'000'000L, 2);
    *p++ = ':';
    put_digits(p, us / 60'000'000L % 60, 2);
    *p++ = ':';
    put_digits(p, us / 1'000'000L % 60, 2);
    *p++ = '.';
    put_digits(p, us % 1'000'000L, 6);
    *p++ = 'Z';
    return p;
}

bool parse_timestamp(std::string_view s, std::int64_t& micros) noexcept {
    std::size_t at = 0;
    long y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    bool negative_year = !s.empty() && s[0] == '-';
    if (negative_year) ++at;
    if (!read_digits(s, at, 4, y)) return false;
    if (negative_year) y = -y;
    if (at >= s.size() || s[at++] != '-' || !read_digits(s, at, 2, mo)) return false;
    if (at >= s.size() || s[at++] != '-' || !read_digits(s, at, 2, d)) return false;
    if (at < s.size()) {
        if (s[at] != 'T' && s[at] != ' ') return false;
        ++at;
        if (!read_digits(s, at, 2, h) || at >= s.size() || s[at++] != ':' || !read_digits(s, at, 2, mi)) return false;
        if (at < s.size() && s[at] == ':') {
            ++at;
            if (!read_digits(s, at, 2, sec)) return false;
            if (at < s.size() && s[at] == '.') {
                ++at;
                int digits = 0;
                while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
                    if (digits < 6) frac = frac * 10 + (s[at] - '0');
                    ++digits;
                    ++at;
                }
                if (digits == 0) return false;
                for (int k = digits; k < 6; ++k) frac *= 10;
            }
        }
        if (at < s.size()) {
            std::string_view zone = s.substr(at);
            if (zone != "Z" && zone != "+00:00" && zone != "+00" && zone != "+0000") return false;
            at = s.size();
        }
    }
    const year_month_day ymd{year(static_cast<int>(y)), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return false;
    const auto tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec) + microseconds(frac);
    micros = duration_cast<microseconds>(tp.time_since_epoch()).count();
    return true;
}

}  // namespace quarry::core
