// SPDX-License-Identifier: MIT
#include "quarry/core/dialect.hpp"

namespace quarry::core {

std::string_view to_string(Feature f) {
    switch (f) {
        case Feature::distinct_on: return "DISTINCT ON";
        case Feature::row_locks: return "row locks (FOR UPDATE / FOR SHARE)";
        case Feature::lateral_join: return "LATERAL joins";
        case Feature::ilike: return "ILIKE";
        case Feature::right_join: return "RIGHT JOIN";
        case Feature::full_join: return "FULL JOIN";
        case Feature::intersect_all: return "INTERSECT ALL";
        case Feature::except_all: return "EXCEPT ALL";
    }
    return "?";
}

std::string_view Dialect::function_name(Func f) const noexcept {
    static constexpr std::string_view names[] = {
        "COUNT", "SUM", "AVG", "MIN", "MAX", "ROW_NUMBER", "RANK", "DENSE_RANK", "PERCENT_RANK", "CUME_DIST",
        "NTILE", "LAG", "LEAD", "FIRST_VALUE", "LAST_VALUE", "NTH_VALUE", "COALESCE", "NULLIF", "LOWER",
        "UPPER", "LENGTH", "ABS", "ROUND", "GREATEST", "LEAST"};
    return names[static_cast<int>(f)];
}

}  // namespace quarry::core
