// SPDX-License-Identifier: MIT
// SQLite's documented procedure for the table changes its ALTER TABLE cannot make
// (https://www.sqlite.org/lang_altertable.html#otheralter): create the new table, copy the
// rows, drop the old one, rename the new one, recreate the indexes and triggers, check the
// foreign keys. The runner has turned foreign keys off before its transaction began (so the
// DROP cannot cascade) and runs these statements inside it, so a failure undoes all of them.
#include <algorithm>
#include <set>

#include "migrate/ddl.hpp"
#include "migrate/sqlite_table.hpp"
#include "quarry/errors.hpp"

namespace quarry::migrate::detail {

namespace {

using Rows = std::vector<std::vector<std::optional<std::string>>>;

std::string table_sql(core::Session& s, const std::string& table) {
    const auto rows = query_text(s, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", {core::Value::string(table)});
    if (rows.empty() || !rows[0][0]) throw MigrationError("SQLite has no table named \"" + table + "\"");
    return *rows[0][0];
}

bool same_name(std::string_view a, std::string_view b) { return upper(a) == upper(b); }

struct Edit {
    ParsedTable table;
    std::set<std::string> dropped_indexes;  // upper-cased names
    std::string removed_column;             // excluded from the copy
};

Item column_item(const Ddl& ddl, const Column& c) { return Item{false, c.name, {}, ddl.column(c)}; }
Item constraint_item(const Ddl& ddl, const Constraint& c) {
    return Item{true, c.name, {}, ddl.constraint(c)};
}

std::vector<Item>::iterator find_column(ParsedTable& p, const std::string& table, const std::string& name) {
    auto it = std::find_if(p.items.begin(), p.items.end(), [&](const Item& i) { return !i.is_constraint && same_name(i.name, name); });
    if (it == p.items.end()) throw MigrationError("table \"" + table + "\" has no column \"" + name + "\"");
    return it;
}

// Whether a table-level PRIMARY KEY constraint names `column`.
bool in_table_key(const ParsedTable& p, const std::string& column) {
    for (const auto& i : p.items) {
        if (!i.is_constraint) continue;
        const std::string u = upper(i.text);
        const auto key = u.find("PRIMARY KEY");
        if (key == std::string::npos || key > u.find('(')) continue;
        for (const auto& c : constraint_columns(i.text))
            if (same_name(c, column)) return true;
    }
    return false;
}

// The column rewritten with a new type, nullability and default, keeping its other clauses
// (PRIMARY KEY, UNIQUE, CHECK, REFERENCES, COLLATE) as written. A primary key column stays NOT
// NULL whatever the column says; an INTEGER PRIMARY KEY (the rowid, which SQLite fills in) keeps
// that exact type name when the new type is an integer, and cannot become anything else.
std::string modified_column(const Ddl& ddl, const std::string& table, const Item& old, const Column& c, bool table_key) {
    const auto parts = split_column(old.text);
    bool pk = table_key;
    for (const auto& cl : parts.clauses) pk = pk || cl.keyword == "PRIMARY";
    std::string type = ddl.type(c.type);
    const bool rowid = upper(parts.type) == "INTEGER" && !table_key && pk;
    if (rowid && upper(type) != "INTEGER") {
        if (upper(type).find("INT") == std::string::npos)
            throw MigrationError("modify \"" + table + "\".\"" + c.name + "\": an INTEGER PRIMARY KEY is the table's rowid, "
                                 "which SQLite fills in; as " + type + " it would no longer be");
        type = "INTEGER";
    }
    std::string s = ddl.ident(c.name) + " " + type;
    for (const auto& cl : parts.clauses) {
        if (cl.keyword == "NOT" || cl.keyword == "NULL" || cl.keyword == "DEFAULT") continue;
        s += " " + cl.text;
    }
    if ((!c.nullable || pk) && !rowid) s += " NOT NULL";
    if (c.default_value) s += " DEFAULT " + ddl.default_expr(*c.default_value, c.type);
    return s;
}

void drop_constraint(ParsedTable& p, const std::string& table, const std::string& name) {
    auto it = std::find_if(p.items.begin(), p.items.end(), [&](const Item& i) { return i.is_constraint && same_name(i.name, name); });
    if (it != p.items.end()) {
        p.items.erase(it);
        return;
    }
    // A named clause inside a column definition.
    for (auto& item : p.items) {
        if (item.is_constraint) continue;
        auto parts = split_column(item.text);
        const auto c = std::find_if(parts.clauses.begin(), parts.clauses.end(), [&](const Clause& cl) { return same_name(cl.name, name); });
        if (c == parts.clauses.end()) continue;
        item.text.erase(c->offset, c->text.size());
        return;
    }
    throw MigrationError("table \"" + table + "\" has no constraint named \"" + name + "\"");
}

void remove_column(Edit& e, core::Session& s, const std::string& table, const std::string& name) {
    auto& items = e.table.items;
    items.erase(find_column(e.table, table, name));
    // As PostgreSQL does: constraints over the column go with it.
    std::erase_if(items, [&](const Item& i) {
        if (!i.is_constraint) return false;
        if (i.keyword == "CHECK") return mentions(from_first_group(i.text), name);  // not its own name
        const auto cols = constraint_columns(i.text);
        return std::any_of(cols.begin(), cols.end(), [&](const std::string& c) { return same_name(c, name); });
    });
    for (const auto& r : query_text(s, "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                                    {core::Value::string(table)})) {
        const std::string& sql = *r[1];
        if (mentions(from_first_group(sql), name)) e.dropped_indexes.insert(upper(*r[0]));
    }
    // SQLite's own DROP COLUMN refuses a column that a view or trigger uses; the rebuild would
    // recreate them from their text, to fail at their next use. Refused the same way (a view or
    // trigger naming another table's column of that name is refused too: drop or change it first).
    for (const auto& r : query_text(s, "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('view', 'trigger') "
                                       "AND sql IS NOT NULL ORDER BY name")) {
        const std::string& sql = *r[3];
        const bool on_table = (*r[0] == "trigger" && same_name(*r[2], table)) || mentions(sql, table);
        if (on_table && mentions(sql, name))
            throw MigrationError("cannot remove column \"" + name + "\" of \"" + table + "\": " + *r[0] + " \"" + *r[1] +
                                 "\" uses it (drop or change the " + *r[0] + " first)");
    }
    e.removed_column = name;
}

}  // namespace

bool sqlite_column_in_use(core::Session& live, const std::string& table, const std::string& column) {
    auto p = parse_create_table(table_sql(live, table));
    const auto col = find_column(p, table, column);
    for (const auto& cl : split_column(col->text).clauses)
        if (cl.keyword != "NOT" && cl.keyword != "NULL" && cl.keyword != "DEFAULT" && cl.keyword != "COLLATE") return true;
    for (const auto& item : p.items)
        if (&item != &*col && mentions(item.text, column)) return true;
    for (const auto& r : query_text(live, "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                                    {core::Value::string(table)}))
        if (mentions(from_first_group(*r[0]), column)) return true;
    return false;
}

std::vector<Sql> sqlite_rebuild(const Step& step, core::Session& s) {
    const Ddl ddl(Db::sqlite);
    const auto fk = query_text(s, "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys");
    if (!fk.empty() && fk[0][0] == "1")
        throw MigrationError("SQLite table rebuild with foreign keys on would cascade deletes: run it through the Migrator");

    std::string table;
    Edit e;
    auto load = [&](const std::string& t) {
        table = t;
        e.table = parse_create_table(table_sql(s, t));
    };
    if (const auto* a = std::get_if<AddColumn>(&step)) {
        load(a->table);
        // After the last column, before the table constraints; its foreign key at the end.
        const auto first_constraint = std::find_if(e.table.items.begin(), e.table.items.end(), [](const Item& i) { return i.is_constraint; });
        e.table.items.insert(first_constraint, column_item(ddl, a->column));
        if (a->foreign_key) e.table.items.push_back(constraint_item(ddl, *a->foreign_key));
    } else if (const auto* r = std::get_if<RemoveColumn>(&step)) {
        load(r->table);
        remove_column(e, s, r->table, r->name);
    } else if (const auto* m = std::get_if<ModifyColumn>(&step)) {
        load(m->table);
        auto col = find_column(e.table, m->table, m->column.name);
        col->text = modified_column(ddl, m->table, *col, m->column, in_table_key(e.table, m->column.name));
    } else if (const auto* ac = std::get_if<AddConstraint>(&step)) {
        load(ac->table);
        if (std::any_of(e.table.items.begin(), e.table.items.end(),
                        [&](const Item& i) { return i.is_constraint && same_name(i.name, ac->constraint.name); }))
            throw MigrationError("table \"" + ac->table + "\" already has a constraint named \"" + ac->constraint.name + "\"");
        e.table.items.push_back(constraint_item(ddl, ac->constraint));
    } else if (const auto* dc = std::get_if<DropConstraint>(&step)) {
        load(dc->table);
        drop_constraint(e.table, dc->table, dc->name);
    } else {
        throw MigrationError("internal: " + describe(step) + " needs no table rebuild");
    }

    // The columns both tables have, in the old table's order (generated ones are computed).
    std::vector<std::string> copy;
    std::set<std::string> kept;
    for (const auto& i : e.table.items)
        if (!i.is_constraint) {
            const auto parts = split_column(i.text);
            const bool generated = std::any_of(parts.clauses.begin(), parts.clauses.end(),
                                               [](const Clause& c) { return c.keyword == "GENERATED" || c.keyword == "AS"; });
            if (!generated) kept.insert(upper(i.name));
        }
    for (const auto& r : query_text(s, "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0", {core::Value::string(table)}))
        if (kept.count(upper(*r[0]))) copy.push_back(*r[0]);

    const std::string scratch = "_quarry_rebuild_" + table;
    std::string create = "CREATE TABLE " + ddl.ident(scratch) + " (";
    for (std::size_t k = 0; k < e.table.items.size(); ++k) create += (k ? ",\n  " : "\n  ") + e.table.items[k].text;
    create += "\n)" + e.table.tail;

    std::vector<Sql> out;
    out.push_back({std::move(create)});
    if (!copy.empty()) {
        std::string cols;
        for (const auto& c : copy) cols += (cols.empty() ? "" : ", ") + ddl.ident(c);
        out.push_back({"INSERT INTO " + ddl.ident(scratch) + " (" + cols + ") SELECT " + cols + " FROM " + ddl.ident(table)});
    }
    // Indexes and triggers go with the old table: remember them first. A trigger's tbl_name is
    // spelled as its ON clause was (SQLite names are case-insensitive), an index's as the table's.
    const auto dependents = query_text(s,
                                       "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = ? COLLATE NOCASE AND type IN ('index', 'trigger') "
                                       "AND sql IS NOT NULL ORDER BY type, name",
                                       {core::Value::string(table)});
    // AUTOINCREMENT: DROP TABLE forgets the table's sequence; keep the highest id ever given.
    std::optional<std::string> seq;
    if (!query_text(s, "SELECT name FROM sqlite_schema WHERE name = 'sqlite_sequence'").empty()) {
        const auto r = query_text(s, "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = ?", {core::Value::string(table)});
        if (!r.empty() && r[0][0]) seq = *r[0][0];
    }
    // Legacy renaming for the swap: SQLite 3.26+ otherwise re-checks every view and trigger that
    // names the table while it does not exist, and refuses.
    const auto legacy = query_text(s, "SELECT CAST(legacy_alter_table AS TEXT) FROM pragma_legacy_alter_table");
    const bool was_legacy = !legacy.empty() && legacy[0][0] == "1";
    out.push_back({"DROP TABLE " + ddl.ident(table)});
    if (!was_legacy) out.push_back({"PRAGMA legacy_alter_table = ON"});
    out.push_back({"ALTER TABLE " + ddl.ident(scratch) + " RENAME TO " + ddl.ident(table)});
    if (!was_legacy) out.push_back({"PRAGMA legacy_alter_table = OFF"});
    if (seq) {
        const std::string name = "'" + [&] { std::string q; for (char c : table) { if (c == '\'') q += '\''; q += c; } return q; }() + "'";
        out.push_back({"UPDATE sqlite_sequence SET seq = max(seq, " + *seq + ") WHERE name = " + name});
        out.push_back({"INSERT INTO sqlite_sequence (name, seq) SELECT " + name + ", " + *seq +
                       " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = " + name + ")"});
    }
    for (const auto& d : dependents)
        if (!(*d[0] == "index" && e.dropped_indexes.count(upper(*d[1])))) out.push_back({*d[2]});
    out.push_back(Sql{"SELECT \"table\", CAST(rowid AS TEXT), parent FROM pragma_foreign_key_check", true});
    return out;
}

}  // namespace quarry::migrate::detail
