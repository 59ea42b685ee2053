// SPDX-License-Identifier: MIT
// Migration steps rendered as DDL, per database. PostgreSQL's ALTER TABLE does everything the
// DSL asks; SQLite's cannot, so some of its steps read the live schema and rebuild the table
// (sqlite_rebuild.cpp).
#pragma once
#include <string>
#include <vector>

#include "quarry/core/session.hpp"
#include "quarry/migration.hpp"

namespace quarry::migrate::detail {

enum class Db { sqlite, postgres };
Db db_of(const core::Dialect& d);
std::string_view db_name(Db db);

// One statement of a step. `expect_empty`: a query that must return no rows (a foreign key
// check); the rows it returns are the error.
struct Sql {
    std::string text;
    bool expect_empty = false;
};

// Pieces of DDL, as both databases write them.
class Ddl {
public:
    explicit Ddl(Db db) : db_(db) {}
    std::string ident(std::string_view name) const;  // quoted; PostgreSQL: at most 63 bytes
    std::string idents(const std::vector<std::string>& names) const;  // "a", "b"
    std::string type(const ColumnType& t) const;
    std::string default_expr(const Default& d, const ColumnType& t) const;
    std::string column(const Column& c) const;
    std::string references(const Reference& r) const;  // REFERENCES "t" ("c") [ON DELETE ...]
    std::string constraint(const Constraint& c) const;
    std::string create_table(const TableDef& t) const;
    std::string create_index(const Index& i) const;

private:
    Db db_;
};

// The statements of `step`. `live`: the session the statements will run on, read by SQLite
// steps that rebuild a table (null only for PostgreSQL, which never needs it).
std::vector<Sql> render_step(const Step& step, Db db, core::Session* live);

// SQLite: the statements that rebuild table `table` after `edit` changes its definition
// (sqlite_rebuild.cpp).
std::vector<Sql> sqlite_rebuild(const Step& step, core::Session& live);
// SQLite: whether `column` of `table` appears in an index or a constraint (so that ALTER TABLE
// DROP COLUMN would refuse).
bool sqlite_column_in_use(core::Session& live, const std::string& table, const std::string& column);

// Rows of a query as text (NULL as nullopt); for the schema queries of the migrator.
std::vector<std::vector<std::optional<std::string>>> query_text(core::Session& s, const std::string& sql,
                                                                const std::vector<core::Value>& params = {});

}  // namespace quarry::migrate::detail
