// SPDX-License-Identifier: MIT
#include "util/identifier.hpp"

#include "quarry/errors.hpp"

namespace quarry::util {

bool valid_utf8(std::string_view s) noexcept {
    auto p = reinterpret_cast<const unsigned char*>(s.data());
    auto end = p + s.size();
    while (p < end) {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (n < 0 || end - p < n + 1) return false;
        unsigned cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
        for (int k = 1; k <= n; ++k) {
            if ((p[k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[k] & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

void check_identifier(std::string_view name, std::string_view what) {
    if (name.empty()) throw QueryError(std::string(what) + " name is empty");
    if (name.find('\0') != std::string_view::npos)
        throw QueryError(std::string(what) + " name contains a NUL byte");
    if (!valid_utf8(name)) throw QueryError(std::string(what) + " name is not valid UTF-8");
}

void append_quoted(std::string& out, std::string_view name) {
    out += '"';
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

}  // namespace quarry::util
