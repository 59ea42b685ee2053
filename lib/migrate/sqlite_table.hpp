// SPDX-License-Identifier: MIT
// Just enough of SQLite's CREATE TABLE grammar to rebuild a table: the statement split into
// column definitions and table constraints, a column split into its type and its constraint
// clauses. Text is kept as written, so whatever quarry does not touch survives unchanged.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace quarry::migrate::detail {

struct Token {
    enum Kind { word, quoted, string, group, punct } kind;
    std::string_view text;  // a view into the tokenised text
};

// `nested`: parenthesised groups are one token (false: every parenthesis is punctuation).
std::vector<Token> tokenize(std::string_view sql, bool nested = true);
std::string unquote(const Token& t);
std::string upper(std::string_view s);
// Whether any identifier in `sql` (at any depth) is `name` (case-insensitive, as SQLite).
bool mentions(std::string_view sql, std::string_view name);

struct Clause {
    std::string keyword;  // PRIMARY, NOT, NULL, UNIQUE, CHECK, DEFAULT, COLLATE, REFERENCES, GENERATED, AS
    std::string name;     // from CONSTRAINT name, or empty
    std::string text;     // as written
    std::size_t offset = 0;  // where `text` starts in the column definition
};

struct Item {
    bool is_constraint = false;
    std::string name;     // the column's name, or the constraint's (may be empty)
    std::string keyword;  // constraints: PRIMARY, UNIQUE, CHECK, FOREIGN
    std::string text;     // as written
};

struct ParsedTable {
    std::string tail;  // after the closing parenthesis (WITHOUT ROWID, STRICT)
    std::vector<Item> items;
};

ParsedTable parse_create_table(std::string_view sql);

struct ColumnParts {
    std::string name, type;
    std::vector<Clause> clauses;
};
ColumnParts split_column(std::string_view item);
// `sql` from its first parenthesised group on: an index's columns, expressions and WHERE
// clause, a CHECK's condition (past any quoted name holding a parenthesis).
std::string_view from_first_group(std::string_view sql);
// The columns named by a PRIMARY KEY / UNIQUE / FOREIGN KEY table constraint.
std::vector<std::string> constraint_columns(std::string_view item);

}  // namespace quarry::migrate::detail
