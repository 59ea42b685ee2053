// SPDX-License-Identifier: MIT
// validate_format's compiled pattern: the only use of <regex> in quarry.
//
// GCC 12 warns, with sanitizers on, that libstdc++'s own regex automaton "may use" an
// uninitialised std::function (a false positive inside <regex>, not in this file's code).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>

#include "quarry/changeset/validations.hpp"

namespace quarry::detail {

FormatPattern::FormatPattern(std::string_view ecmascript)
    : regex_(std::make_shared<const std::regex>(ecmascript.begin(), ecmascript.end(), std::regex::ECMAScript)) {}

bool FormatPattern::found_in(std::string_view text) const {
    return std::regex_search(text.begin(), text.end(), *static_cast<const std::regex*>(regex_.get()));
}

}  // namespace quarry::detail
