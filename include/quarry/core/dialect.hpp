// SPDX-License-Identifier: MIT
// A dialect answers "how does this database spell that". The visitor asks; it never branches
// on a dialect's identity, so a third dialect is one more file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "quarry/core/ast.hpp"

namespace quarry::core {

enum class Feature : std::uint8_t {
    distinct_on, row_locks, lateral_join, ilike, right_join, full_join, intersect_all, except_all,
};
std::string_view to_string(Feature f);

enum class InListStyle : std::uint8_t {
    expanded,  // x IN (?, ?, ?): the list length is part of the statement's shape
    array,     // x = ANY($1): one array parameter, one shape for every length
};

enum class CompoundWrap : std::uint8_t {
    parentheses,  // (SELECT ... LIMIT 1) UNION (...)
    subselect,    // SELECT * FROM (SELECT ... LIMIT 1) UNION ...
};

enum class SetOpGrouping : std::uint8_t {
    intersect_first,  // INTERSECT binds tighter than UNION and EXCEPT (standard SQL, PostgreSQL)
    left_to_right,    // all bind alike and apply in order (SQLite)
};

class Dialect {
public:
    virtual ~Dialect() = default;
    virtual std::string_view name() const noexcept = 0;
    // n is 1-based, counted in the order parameters appear in the SQL text. Writes at most
    // max_placeholder bytes at `out` and returns the end of what it wrote.
    static constexpr std::size_t max_placeholder = 16;
    virtual char* placeholder(char* out, std::uint32_t n) const = 0;
    virtual std::string_view boolean(bool v) const noexcept = 0;
    virtual bool supports(Feature f) const noexcept = 0;
    virtual InListStyle in_list_style() const noexcept = 0;
    virtual CompoundWrap compound_wrap() const noexcept = 0;
    virtual SetOpGrouping set_op_grouping() const noexcept { return SetOpGrouping::intersect_first; }
    virtual std::string_view type_name(SqlType t) const noexcept = 0;
    virtual std::string_view function_name(Func f) const noexcept;
    // What OFFSET needs before it when there is no LIMIT ("LIMIT -1 " on SQLite).
    virtual std::string_view offset_prefix() const noexcept { return {}; }
    // How a list of bound rows opens after `(a, b) IN`: SQLite needs VALUES; PostgreSQL types a
    // VALUES list on its own (unknown parameters become text) but row constructors from the
    // left-hand columns.
    virtual std::string_view row_list_open() const noexcept { return "(VALUES "; }
    // What follows a placeholder whose type the statement would not otherwise give it: a
    // parameter in a CASE branch, a function argument, beside another parameter, or a whole
    // select item; and a real wherever it is (an integer column beside it would make it an
    // integer). PostgreSQL types an untyped parameter from its context and makes it text where
    // there is none; SQLite keeps each value's own type and needs nothing. `element` is an
    // array's item kind.
    virtual std::string_view parameter_cast(ValueKind /*kind*/, ValueKind /*element*/) const noexcept { return {}; }
    // The most parameters one statement may bind.
    virtual std::uint32_t max_params() const noexcept = 0;
};

const Dialect& sqlite();
const Dialect& postgres();

}  // namespace quarry::core
