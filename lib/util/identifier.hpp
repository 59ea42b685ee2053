// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <string_view>

namespace quarry::util {

bool valid_utf8(std::string_view s) noexcept;
// Throws QueryError unless `name` can be an identifier: non-empty, no NUL byte, valid UTF-8.
void check_identifier(std::string_view name, std::string_view what);
// ANSI quoting: "name" with embedded quotes doubled (both shipped dialects use it).
void append_quoted(std::string& out, std::string_view name);
inline std::string quoted(std::string_view name) {
    std::string s;
    append_quoted(s, name);
    return s;
}

}  // namespace quarry::util
