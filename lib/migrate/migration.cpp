// SPDX-License-Identifier: MIT
// A Migration: its steps in each direction, its checksum, whether it needs a transaction.
#include <algorithm>
#include <bit>
#include <cstdio>

#include "quarry/migration.hpp"
#include "util/hash.hpp"

namespace quarry {

using namespace migrate;

Migration::Migration(std::int64_t version, std::string name, Define change)
    : version_(version), name_(std::move(name)), up_(std::move(change)) {
    if (version_ <= 0) throw MigrationError("migration \"" + name_ + "\": version must be positive", version_, name_);
    if (!up_) throw MigrationError("migration \"" + name_ + "\": no change function", version_, name_);
}

Migration Migration::up_down(std::int64_t version, std::string name, Define up, Define down) {
    Migration m(version, std::move(name), std::move(up));
    if (!down) throw MigrationError("migration \"" + m.name_ + "\": no down function", version, m.name_);
    m.down_ = std::move(down);
    return m;
}

Migration Migration::sql(std::int64_t version, std::string name, std::string up_sql, std::optional<std::string> down_sql,
                         bool transactional) {
    // Reversible through Execute's inverse when there is down SQL.
    Migration m(version, std::move(name), [up = std::move(up_sql), down = std::move(down_sql)](Plan& p) { p.execute(up, down); });
    m.transactional_ = transactional;
    return m;
}

std::vector<Step> Migration::up_steps() const {
    Plan p;
    up_(p);
    return p.steps();
}

std::vector<Step> Migration::down_steps() const {
    Plan p;
    if (down_) {
        down_(p);
        return p.steps();
    }
    up_(p);
    std::vector<Step> down;
    const auto& up = p.steps();
    for (auto it = up.rbegin(); it != up.rend(); ++it) {
        auto inv = inverse(*it);
        if (!inv)
            throw MigrationError("migration " + std::to_string(version_) + " \"" + name_ + "\" cannot be rolled back: its step " +
                                     describe(*it) +
                                     " has no inverse (give drop steps the definition they remove, execute() its down SQL, "
                                     "modify() its `from` column, or write explicit up and down functions)",
                                 version_, name_);
        down.push_back(std::move(*inv));
    }
    return down;
}

namespace {

// A canonical serialisation of steps: every field, length-prefixed, so that any edit to a
// migration changes its checksum while formatting of the C++ source does not.
struct Canon {
    std::string out;
    void s(std::string_view v) { (out += std::to_string(v.size())) += ':'; out += v; }
    void i(std::int64_t v) { (out += std::to_string(v)) += ';'; }
    void b(bool v) { out += v ? 'T' : 'F'; }
    void strs(const std::vector<std::string>& v) { i(static_cast<std::int64_t>(v.size())); for (const auto& x : v) s(x); }
    void type(const ColumnType& t) { i(static_cast<int>(t.kind)); i(t.size); i(t.precision); i(t.scale); s(t.sql); }
    void def(const std::optional<Default>& d) {
        b(d.has_value());
        if (d) { i(static_cast<int>(d->kind)); i(d->i); i(static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(d->r))); s(d->s); }
    }
    void col(const Column& c) { s(c.name); type(c.type); b(c.nullable); def(c.default_value); b(c.primary_key); b(c.identity); }
    void ref(const std::optional<Reference>& r) {
        b(r.has_value());
        if (r) { s(r->table); strs(r->columns); i(static_cast<int>(r->on_delete)); i(static_cast<int>(r->on_update)); }
    }
    void con(const Constraint& c) { i(static_cast<int>(c.kind)); s(c.name); strs(c.columns); s(c.expression); ref(c.references); s(c.where); }
    void table(const TableDef& t) {
        s(t.name); b(t.if_not_exists);
        i(static_cast<std::int64_t>(t.columns.size())); for (const auto& c : t.columns) col(c);
        i(static_cast<std::int64_t>(t.constraints.size())); for (const auto& c : t.constraints) con(c);
    }
    void index(const Index& x) { s(x.table); s(x.name); strs(x.columns); strs(x.expressions); b(x.unique_); b(x.concurrently_); s(x.where_); s(x.using_); }

    void operator()(const CreateTable& x) { s("create_table"); table(x.table); }
    void operator()(const DropTable& x) { s("drop_table"); s(x.name); b(x.if_exists); b(x.definition.has_value()); if (x.definition) table(*x.definition); }
    void operator()(const RenameTable& x) { s("rename_table"); s(x.from); s(x.to); }
    void operator()(const AddColumn& x) { s("add"); s(x.table); col(x.column); b(x.foreign_key.has_value()); if (x.foreign_key) con(*x.foreign_key); }
    void operator()(const RemoveColumn& x) { s("remove"); s(x.table); s(x.name); b(x.definition.has_value()); if (x.definition) col(*x.definition); }
    void operator()(const RenameColumn& x) { s("rename"); s(x.table); s(x.from); s(x.to); }
    void operator()(const ModifyColumn& x) { s("modify"); s(x.table); col(x.column); b(x.from.has_value()); if (x.from) col(*x.from); }
    void operator()(const AddConstraint& x) { s("add_constraint"); s(x.table); con(x.constraint); }
    void operator()(const DropConstraint& x) { s("drop_constraint"); s(x.table); s(x.name); b(x.definition.has_value()); if (x.definition) con(*x.definition); }
    void operator()(const CreateIndex& x) { s("create_index"); index(x.index); }
    void operator()(const DropIndex& x) { s("drop_index"); s(x.name); b(x.concurrently); b(x.if_exists); b(x.definition.has_value()); if (x.definition) index(*x.definition); }
    void operator()(const Execute& x) { s("execute"); s(x.up); b(x.down.has_value()); if (x.down) s(*x.down); }
};

}  // namespace

std::string Migration::checksum() const {
    Canon c;
    for (const auto& st : up_steps()) std::visit(c, st);
    if (down_) {
        c.s("down");
        Plan p;
        down_(p);
        for (const auto& st : p.steps()) std::visit(c, st);
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(util::hash_bytes(c.out)));
    return hex;
}

bool Migration::transactional(bool up) const {
    if (transactional_) return *transactional_;
    bool concurrent = false, other = false;
    for (const auto& st : up ? up_steps() : down_steps()) {
        const bool c = (std::holds_alternative<CreateIndex>(st) && std::get<CreateIndex>(st).index.concurrently_) ||
                       (std::holds_alternative<DropIndex>(st) && std::get<DropIndex>(st).concurrently);
        (c ? concurrent : other) = true;
    }
    if (concurrent && other)
        throw MigrationError("migration " + std::to_string(version_) + " \"" + name_ +
                                 "\" mixes concurrent index steps (which run outside a transaction) with other steps: "
                                 "put the concurrent ones in a migration of their own",
                             version_, name_);
    return !concurrent;
}

}  // namespace quarry
