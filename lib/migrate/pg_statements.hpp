// SPDX-License-Identifier: MIT
// A PostgreSQL script cut into its statements, as psql cuts it: at semicolons outside quotes,
// dollar quotes and comments. Needed where statements must run one by one: PostgreSQL runs
// several statements sent together as one implicit transaction, where CREATE INDEX
// CONCURRENTLY and friends are refused.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace quarry::migrate::detail {

// The statements of `sql`, each as written from its first word (comments inside it kept, the
// semicolon dropped); a statement of nothing but whitespace and comments is left out. A SQL-standard function body
// (BEGIN ATOMIC ... END) holds semicolons of its own and is not supported: refused.
std::vector<std::string> pg_statements(std::string_view sql);

// CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ...: the index's name, unquoted; or
// empty for any other statement.
std::string concurrent_index_name(std::string_view statement);

}  // namespace quarry::migrate::detail
