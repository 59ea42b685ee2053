// SPDX-License-Identifier: MIT
// DDL for both databases: types, defaults, columns, constraints, and the statements of each
// step. SQLite steps that its ALTER TABLE cannot do go to sqlite_rebuild.cpp.
#include "migrate/ddl.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "quarry/errors.hpp"
#include "util/identifier.hpp"

namespace quarry::migrate::detail {

Db db_of(const core::Dialect& d) { return d.name() == "postgres" ? Db::postgres : Db::sqlite; }
std::string_view db_name(Db db) { return db == Db::postgres ? "postgres" : "sqlite"; }

std::string Ddl::ident(std::string_view name) const {
    if (name.empty() || name.find('\0') != std::string_view::npos || !util::valid_utf8(name))
        throw MigrationError("invalid identifier \"" + std::string(name) + "\": empty, or holds a NUL byte or invalid UTF-8");
    if (db_ == Db::postgres && name.size() > 63)
        throw MigrationError("identifier \"" + std::string(name) +
                             "\" is longer than 63 bytes: PostgreSQL would truncate it (give a shorter name)");
    return util::quoted(name);
}

std::string Ddl::idents(const std::vector<std::string>& names) const {
    if (names.empty()) throw MigrationError("a key, constraint or index with no columns");
    std::string s;
    for (const auto& n : names) {
        if (!s.empty()) s += ", ";
        s += ident(n);
    }
    return s;
}

std::string Ddl::type(const ColumnType& t) const {
    const bool pg = db_ == Db::postgres;
    switch (t.kind) {
        case TypeKind::integer: return pg ? "integer" : "INTEGER";
        case TypeKind::bigint: return pg ? "bigint" : "BIGINT";
        case TypeKind::smallint: return pg ? "smallint" : "SMALLINT";
        case TypeKind::real: return pg ? "double precision" : "REAL";
        case TypeKind::decimal: {
            std::string s = pg ? "numeric" : "NUMERIC";
            if (t.precision > 0) s += "(" + std::to_string(t.precision) + ", " + std::to_string(t.scale) + ")";
            return s;
        }
        case TypeKind::text: return pg ? "text" : "TEXT";
        case TypeKind::string:
            if (t.size <= 0) throw MigrationError("type::string: size must be positive");
            return (pg ? "varchar(" : "VARCHAR(") + std::to_string(t.size) + ")";
        case TypeKind::boolean: return pg ? "boolean" : "BOOLEAN";
        case TypeKind::date: return pg ? "date" : "DATE";
        case TypeKind::timestamp: return pg ? "timestamptz" : "TIMESTAMP";
        case TypeKind::binary: return pg ? "bytea" : "BLOB";
        case TypeKind::uuid: return pg ? "uuid" : "UUID";
        // SQLite: the name holds TEXT so the column has TEXT affinity (JSON "5" stays text).
        case TypeKind::json: return pg ? "jsonb" : "JSON_TEXT";
        case TypeKind::raw: return t.sql;
    }
    return "TEXT";
}

namespace {
std::string text_literal(std::string_view s, bool pg) {
    if (s.find('\0') != std::string_view::npos || !util::valid_utf8(s))
        throw MigrationError("default value holds a NUL byte or invalid UTF-8");
    // PostgreSQL: an E'' string reads the same whatever standard_conforming_strings says.
    const bool escape = pg && s.find('\\') != std::string_view::npos;
    std::string out = escape ? "E'" : "'";
    for (char c : s) {
        if (c == '\'') out += '\'';
        if (escape && c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}
}  // namespace

std::string Ddl::default_expr(const Default& d, const ColumnType& t) const {
    const bool pg = db_ == Db::postgres;
    switch (d.kind) {
        case Default::Kind::null: return "NULL";
        case Default::Kind::integer: return std::to_string(d.i);
        case Default::Kind::real: {
            if (!std::isfinite(d.r)) throw MigrationError("default value is not a finite number");
            char buf[40];
            const auto end = std::to_chars(buf, buf + sizeof buf, d.r).ptr;  // shortest round trip, no locale
            std::string s(buf, end);
            if (s.find_first_of(".eE") == std::string::npos) s += ".0";
            return d.r < 0 ? "(" + s + ")" : s;
        }
        case Default::Kind::boolean: return pg ? (d.i ? "TRUE" : "FALSE") : (d.i ? "1" : "0");
        case Default::Kind::text: return text_literal(d.s, pg);
        case Default::Kind::now:
            if (t.kind == TypeKind::date) return pg ? "CURRENT_DATE" : "(date('now'))";
            // SQLite: quarry's timestamp text, six fractional digits (%f gives three).
            return pg ? "now()" : "(strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))";
        case Default::Kind::sql:
            if (d.s.empty()) throw MigrationError("default_sql: empty expression");
            return "(" + d.s + ")";
    }
    return "NULL";
}

std::string Ddl::column(const Column& c) const {
    std::string s = ident(c.name) + " ";
    if (c.identity) {
        // SQLite: exactly INTEGER PRIMARY KEY makes the column the rowid (generated keys).
        if (db_ == Db::sqlite) return s + "INTEGER PRIMARY KEY";
        s += type(c.type) + " GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
        return s;
    }
    s += type(c.type);
    if (c.primary_key) s += " PRIMARY KEY";
    if (!c.nullable && !c.primary_key) s += " NOT NULL";
    if (c.default_value) s += " DEFAULT " + default_expr(*c.default_value, c.type);
    return s;
}

namespace {
std::string_view action(Action a) {
    switch (a) {
        case Action::no_action: return "NO ACTION";
        case Action::restrict: return "RESTRICT";
        case Action::cascade: return "CASCADE";
        case Action::set_null: return "SET NULL";
        case Action::set_default: return "SET DEFAULT";
    }
    return "NO ACTION";
}
}  // namespace

std::string Ddl::references(const Reference& r) const {
    std::string s = "REFERENCES " + ident(r.table) + " (" + idents(r.columns) + ")";
    if (r.on_delete != Action::no_action) (s += " ON DELETE ") += action(r.on_delete);
    if (r.on_update != Action::no_action) (s += " ON UPDATE ") += action(r.on_update);
    return s;
}

std::string Ddl::constraint(const Constraint& c) const {
    std::string s = "CONSTRAINT " + ident(c.name) + " ";
    switch (c.kind) {
        case ConstraintType::primary_key: return s + "PRIMARY KEY (" + idents(c.columns) + ")";
        case ConstraintType::unique: return s + "UNIQUE (" + idents(c.columns) + ")";
        case ConstraintType::check:
            if (c.expression.empty()) throw MigrationError("check constraint \"" + c.name + "\" has no condition");
            return s + "CHECK (" + c.expression + ")";
        case ConstraintType::foreign_key: {
            if (!c.references) throw MigrationError("foreign key \"" + c.name + "\" references nothing");
            const auto& r = *c.references;
            if (r.columns.size() != c.columns.size())
                throw MigrationError("foreign key \"" + c.name + "\": " + std::to_string(c.columns.size()) + " columns reference " +
                                     std::to_string(r.columns.size()));
            return s + "FOREIGN KEY (" + idents(c.columns) + ") " + references(r);
        }
        case ConstraintType::exclusion:
            if (db_ == Db::sqlite) throw UnsupportedFeature("sqlite", "exclusion constraints");
            s += "EXCLUDE USING " + c.expression;
            if (!c.where.empty()) s += " WHERE (" + c.where + ")";
            return s;
    }
    return s;
}

std::string Ddl::create_table(const TableDef& t) const {
    if (t.columns.empty()) throw MigrationError("create table \"" + t.name + "\": no columns");
    std::string s = "CREATE TABLE ";
    if (t.if_not_exists) s += "IF NOT EXISTS ";
    s += ident(t.name) + " (";
    bool first = true;
    for (const auto& c : t.columns) {
        s += first ? "\n  " : ",\n  ";
        first = false;
        s += column(c);
    }
    for (const auto& c : t.constraints) s += ",\n  " + constraint(c);
    return s + "\n)";
}

std::string Ddl::create_index(const Index& i) const {
    if (i.columns.empty() == i.expressions.empty())
        throw MigrationError("index \"" + i.name + "\": give either columns or expressions");
    std::string s = i.unique_ ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
    // SQLite has no concurrent builds: its index is built inside the migration's transaction.
    if (i.concurrently_ && db_ == Db::postgres) s += "CONCURRENTLY ";
    s += ident(i.name) + " ON " + ident(i.table);
    if (!i.using_.empty()) {
        if (db_ == Db::sqlite) throw UnsupportedFeature("sqlite", "index access methods (USING " + i.using_ + ")");
        for (char ch : i.using_)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_')
                throw MigrationError("index \"" + i.name + "\": access method \"" + i.using_ + "\" is not a plain name");
        s += " USING " + i.using_;
    }
    s += " (";
    if (!i.columns.empty()) s += idents(i.columns);
    for (std::size_t k = 0; k < i.expressions.size(); ++k) s += (k ? ", (" : "(") + i.expressions[k] + ")";
    s += ")";
    if (!i.where_.empty()) s += " WHERE " + i.where_;
    return s;
}

namespace {

// Whether SQLite's ALTER TABLE ADD COLUMN can add this column in place.
bool sqlite_can_add(const AddColumn& a) {
    const auto& c = a.column;
    if (c.primary_key || c.identity) return false;
    if (c.default_value && (c.default_value->kind == Default::Kind::now || c.default_value->kind == Default::Kind::sql))
        return false;  // only constant defaults
    const bool null_default = !c.default_value || c.default_value->kind == Default::Kind::null;
    if (!c.nullable && null_default) return false;  // NOT NULL needs a default for existing rows
    return true;
}

struct Render {
    Db db;
    core::Session* live;
    Ddl ddl{db};
    const Step& step;

    std::vector<Sql> one(std::string s) const { return {Sql{std::move(s)}}; }
    std::vector<Sql> rebuild() const {
        if (!live) throw MigrationError("SQLite table rebuild needs a database to read the table from");
        return sqlite_rebuild(step, *live);
    }
    std::string alter(const std::string& table) const { return "ALTER TABLE " + ddl.ident(table) + " "; }

    std::vector<Sql> operator()(const CreateTable& s) const { return one(ddl.create_table(s.table)); }
    std::vector<Sql> operator()(const DropTable& s) const {
        return one(std::string("DROP TABLE ") + (s.if_exists ? "IF EXISTS " : "") + ddl.ident(s.name));
    }
    std::vector<Sql> operator()(const RenameTable& s) const { return one(alter(s.from) + "RENAME TO " + ddl.ident(s.to)); }
    std::vector<Sql> operator()(const AddColumn& s) const {
        if (db == Db::sqlite && !sqlite_can_add(s)) return rebuild();
        std::string sql = alter(s.table) + "ADD COLUMN " + ddl.column(s.column);
        if (s.foreign_key) {
            // Inline: CONSTRAINT name REFERENCES t (c) [ON ...] — the table-constraint form
            // without FOREIGN KEY (column list), which ADD COLUMN accepts on both databases.
            const auto& fk = *s.foreign_key;
            if (!fk.references || fk.references->columns.size() != 1)
                throw MigrationError("foreign key \"" + fk.name + "\" of an added column must reference one column");
            sql += " CONSTRAINT " + ddl.ident(fk.name) + " " + ddl.references(*fk.references);
        }
        return one(std::move(sql));
    }
    std::vector<Sql> operator()(const RemoveColumn& s) const {
        if (db == Db::sqlite && sqlite_column_in_use(*live, s.table, s.name)) return rebuild();
        return one(alter(s.table) + "DROP COLUMN " + ddl.ident(s.name));
    }
    std::vector<Sql> operator()(const RenameColumn& s) const {
        return one(alter(s.table) + "RENAME COLUMN " + ddl.ident(s.from) + " TO " + ddl.ident(s.to));
    }
    std::vector<Sql> operator()(const ModifyColumn& s) const {
        if (db == Db::sqlite) return rebuild();
        const auto& c = s.column;
        const std::string col = ", ALTER COLUMN " + ddl.ident(c.name) + " ";
        const std::string t = ddl.type(c.type);
        // What the live column is, when known: a key column stays NOT NULL (as on SQLite), an
        // identity column has no default to drop, a column without a default needs no DROP.
        bool in_key = false, identity = false, has_default = true;
        std::string collate;  // a collation other than the type's default, kept when the new type has collations
        if (live) {
            const auto r = query_text(*live,
                                      "SELECT CAST(a.attidentity <> '' AS text), CAST(a.atthasdef AS text), "
                                      "CAST(EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary "
                                      "AND a.attnum = ANY (i.indkey)) AS text), "
                                      "(SELECT quote_ident(co.collname) FROM pg_collation co JOIN pg_type ty ON ty.oid = a.atttypid "
                                      " WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation "
                                      " AND (SELECT nt.typcollation <> 0 FROM pg_type nt WHERE nt.oid = to_regtype(?))) "
                                      "FROM pg_attribute a "
                                      "WHERE a.attrelid = to_regclass(quote_ident(?)) AND a.attname = ? AND NOT a.attisdropped",
                                      {core::Value::string(t), core::Value::string(s.table), core::Value::string(c.name)});
            if (r.empty()) throw MigrationError("table \"" + s.table + "\" has no column \"" + c.name + "\"");
            identity = r[0][0] == "true";
            has_default = r[0][1] == "true";
            in_key = r[0][2] == "true";
            if (r[0][3]) collate = " COLLATE " + *r[0][3];
        }
        if (c.default_value && identity)
            throw MigrationError("column \"" + c.name + "\" is an identity column: it cannot have a default");
        std::string sql = alter(s.table);
        // The old default goes first: the type change would cast it, and fails when it cannot
        // ('0' of a text column that becomes an integer).
        if (has_default && !identity) sql += "ALTER COLUMN " + ddl.ident(c.name) + " DROP DEFAULT, ";
        sql += "ALTER COLUMN " + ddl.ident(c.name) + " TYPE " + t + collate + " USING " + ddl.ident(c.name) + "::" + t;
        if (!c.nullable && !in_key) sql += col + "SET NOT NULL";
        if (c.nullable && !in_key) sql += col + "DROP NOT NULL";
        if (c.default_value) sql += col + "SET DEFAULT " + ddl.default_expr(*c.default_value, c.type);
        return one(std::move(sql));
    }
    std::vector<Sql> operator()(const AddConstraint& s) const {
        if (db == Db::sqlite) return rebuild();
        return one(alter(s.table) + "ADD " + ddl.constraint(s.constraint));
    }
    std::vector<Sql> operator()(const DropConstraint& s) const {
        if (db == Db::sqlite) return rebuild();
        return one(alter(s.table) + "DROP CONSTRAINT " + ddl.ident(s.name));
    }
    std::vector<Sql> operator()(const CreateIndex& s) const {
        return one(ddl.create_index(s.index));
    }
    std::vector<Sql> operator()(const DropIndex& s) const {
        std::string sql = "DROP INDEX ";
        if (s.concurrently && db == Db::postgres) sql += "CONCURRENTLY ";
        if (s.if_exists) sql += "IF EXISTS ";
        return one(sql + ddl.ident(s.name));
    }
    std::vector<Sql> operator()(const Execute& s) const {
        if (s.up.find('\0') != std::string::npos) throw MigrationError("execute: SQL holds a NUL byte");
        return one(s.up);
    }
};

}  // namespace

std::vector<Sql> render_step(const Step& step, Db db, core::Session* live) {
    return std::visit(Render{db, live, Ddl(db), step}, step);
}

std::vector<std::vector<std::optional<std::string>>> query_text(core::Session& s, const std::string& sql,
                                                                const std::vector<core::Value>& params) {
    std::vector<std::vector<std::optional<std::string>>> rows;
    core::StatementRun run(s, s.run_sql(sql, params));
    while (run.step()) {
        const auto& r = run.row();
        auto& out = rows.emplace_back();
        for (std::uint32_t i = 0; i < r.size(); ++i) {
            if (r.is_null(i)) out.emplace_back();
            else out.emplace_back(std::string(r.text(i)));
        }
    }
    return rows;
}

}  // namespace quarry::migrate::detail
