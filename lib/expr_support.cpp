// SPDX-License-Identifier: MIT
#include <string>
#include <string_view>

#include "quarry/errors.hpp"

namespace quarry {

std::string escape_like(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 4);
    for (char c : s) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

namespace detail {
void empty_optional_compared() {
    throw QueryError("comparison with an empty std::optional: it binds NULL, and a comparison with NULL is never true "
                     "in SQL, so the filter would match no row; test the optional and use is_null(x) / is_not_null(x), "
                     "or leave the filter out");
}
}  // namespace detail

std::size_t count_raw_placeholders(std::string_view sql) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        if (sql[i] != '?') continue;
        if (i + 1 < sql.size() && sql[i + 1] == '?') {
            ++i;
            continue;
        }
        ++n;
    }
    return n;
}

}  // namespace quarry
