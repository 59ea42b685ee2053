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

namespace {
// The text matched comes from untrusted input. libstdc++'s default matcher backtracks,
// recursing once per character: a 40 KB field overflowed an 8 MiB stack, 4 KB a 1 MiB thread
// stack, and a pattern like ^(a+)+$ takes exponential time. Its polynomial mode (a Thompson
// NFA, an extension of libstdc++'s) matches in time linear in the text with a stack bounded by
// the pattern; it refuses back-references, which a format check does not need.
constexpr auto linear_time =
#ifdef __GLIBCXX__
    std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
    std::regex::ECMAScript;
#endif
}  // namespace

FormatPattern::FormatPattern(std::string_view ecmascript)
    : regex_(std::make_shared<const std::regex>(ecmascript.begin(), ecmascript.end(), linear_time)) {}

bool FormatPattern::found_in(std::string_view text) const {
    return std::regex_search(text.begin(), text.end(), *static_cast<const std::regex*>(regex_.get()));
}

}  // namespace quarry::detail
