// SPDX-License-Identifier: MIT
// The migration DSL: builders that record steps, the inverse of each step, and a canonical
// description of steps (for checksums and progress lines).
#include <algorithm>
#include <cstdio>

#include "migrate/names.hpp"
#include "quarry/migration.hpp"
#include "util/hash.hpp"

namespace quarry::migrate {

ColumnType type::raw(std::string_view sql) {
    // A type name with optional arguments: letters, digits, spaces, _, (, ), commas, [ ] and dots.
    if (sql.empty()) throw MigrationError("type::raw: empty type");
    for (char c : sql)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view(" _(),[].").find(c) != std::string_view::npos))
            throw MigrationError("type::raw(\"" + std::string(sql) + "\"): not a plain type name (character '" +
                                 std::string(1, c) + "')");
    ColumnType t(TypeKind::raw);
    t.sql = std::string(sql);
    return t;
}

// ---- ColumnOptions / Table ---------------------------------------------------------------

Column& ColumnOptions::col() { return t_.def_.columns[i_]; }
ColumnOptions& ColumnOptions::null(bool allowed) { col().nullable = allowed; return *this; }
ColumnOptions& ColumnOptions::default_to(std::int64_t v) { return default_to(Default{Default::Kind::integer, v}); }
ColumnOptions& ColumnOptions::default_to(double v) { return default_to(Default{Default::Kind::real, 0, v}); }
ColumnOptions& ColumnOptions::default_to(bool v) { return default_to(Default{Default::Kind::boolean, v ? 1 : 0}); }
ColumnOptions& ColumnOptions::default_to(std::string_view v) {
    return default_to(Default{Default::Kind::text, 0, 0, std::string(v)});
}
ColumnOptions& ColumnOptions::default_to(Default d) { col().default_value = std::move(d); return *this; }
ColumnOptions& ColumnOptions::primary_key() {
    col().primary_key = true;
    col().nullable = false;
    return *this;
}
ColumnOptions& ColumnOptions::unique(std::string name) {
    t_.unique({col().name}, std::move(name));
    return *this;
}
ColumnOptions& ColumnOptions::references(std::string table, std::string column, Action on_delete, Action on_update) {
    const std::string name = col().name;
    t_.foreign_key({name}, std::move(table), {std::move(column)}, on_delete, on_update);
    return *this;
}
ColumnOptions& ColumnOptions::check(std::string name, std::string condition) {
    t_.check(std::move(name), std::move(condition));
    return *this;
}

ColumnOptions Table::id(std::string name) {
    Column c(std::move(name), type::bigint(), false);
    c.primary_key = c.identity = true;
    def_.columns.push_back(std::move(c));
    return {*this, def_.columns.size() - 1};
}
ColumnOptions Table::add(std::string name, ColumnType type) {
    def_.columns.push_back(Column{std::move(name), std::move(type)});
    return {*this, def_.columns.size() - 1};
}
void Table::timestamps(std::string inserted, std::string updated) {
    add(std::move(inserted), type::timestamp()).null(false).default_to(default_now());
    add(std::move(updated), type::timestamp()).null(false).default_to(default_now());
}
void Table::primary_key(std::vector<std::string> columns) {
    for (auto& c : def_.columns)
        if (std::find(columns.begin(), columns.end(), c.name) != columns.end()) c.nullable = false;
    def_.constraints.push_back(Constraint{ConstraintType::primary_key, def_.name + "_pkey", std::move(columns)});
}
void Table::unique(std::vector<std::string> columns, std::string name) {
    if (name.empty()) name = default_constraint_name(def_.name, columns, "key");
    def_.constraints.push_back(Constraint{ConstraintType::unique, std::move(name), std::move(columns)});
}
void Table::check(std::string name, std::string condition) {
    def_.constraints.push_back(Constraint{ConstraintType::check, std::move(name), {}, std::move(condition)});
}
void Table::foreign_key(std::vector<std::string> columns, std::string table, std::vector<std::string> ref_columns,
                        Action on_delete, Action on_update, std::string name) {
    if (name.empty()) name = default_constraint_name(def_.name, columns, "fkey");
    def_.constraints.push_back(Constraint{ConstraintType::foreign_key, std::move(name), std::move(columns), {},
                                          Reference{std::move(table), std::move(ref_columns), on_delete, on_update}});
}
void Table::exclude(std::string name, std::string using_elements, std::string where) {
    def_.constraints.push_back(
        Constraint{ConstraintType::exclusion, std::move(name), {}, std::move(using_elements), {}, std::move(where)});
}

// ---- Alter ---------------------------------------------------------------------------------

ColumnOptions Alter::add(std::string name, ColumnType type) {
    // The column and the constraints its options declare land in scratch_; Plan::alter_table
    // turns them into steps when the block ends (options can be set until the next call).
    adds_.push_back({steps_.size(), scratch_.definition().columns.size(), scratch_.definition().constraints.size()});
    steps_.push_back(AddColumn{table_, Column{}, {}});
    return scratch_.add(std::move(name), std::move(type));
}
void Alter::remove(std::string name) { steps_.push_back(RemoveColumn{table_, std::move(name), {}}); }
void Alter::remove(std::string name, ColumnType type, bool nullable) {
    Column c{name, std::move(type), nullable};
    steps_.push_back(RemoveColumn{table_, std::move(name), std::move(c)});
}
void Alter::rename(std::string from, std::string to) { steps_.push_back(RenameColumn{table_, std::move(from), std::move(to)}); }
void Alter::modify(std::string name, ColumnType type, bool nullable, std::optional<Default> default_value,
                   std::optional<Column> from) {
    if (from) from->name = name;
    Column c{std::move(name), std::move(type), nullable, std::move(default_value)};
    steps_.push_back(ModifyColumn{table_, std::move(c), std::move(from)});
}
void Alter::add_constraint(Constraint c) { steps_.push_back(AddConstraint{table_, std::move(c)}); }
void Alter::unique(std::vector<std::string> columns, std::string name) {
    if (name.empty()) name = default_constraint_name(table_, columns, "key");
    add_constraint(Constraint{ConstraintType::unique, std::move(name), std::move(columns)});
}
void Alter::check(std::string name, std::string condition) {
    add_constraint(Constraint{ConstraintType::check, std::move(name), {}, std::move(condition)});
}
void Alter::foreign_key(std::vector<std::string> columns, std::string table, std::vector<std::string> ref_columns,
                        Action on_delete, Action on_update, std::string name) {
    if (name.empty()) name = default_constraint_name(table_, columns, "fkey");
    add_constraint(Constraint{ConstraintType::foreign_key, std::move(name), std::move(columns), {},
                              Reference{std::move(table), std::move(ref_columns), on_delete, on_update}});
}
void Alter::drop_constraint(std::string name) { steps_.push_back(DropConstraint{table_, std::move(name), {}}); }
void Alter::drop_constraint(Constraint definition) {
    std::string name = definition.name;
    steps_.push_back(DropConstraint{table_, std::move(name), std::move(definition)});
}

// ---- Plan ----------------------------------------------------------------------------------

namespace {
TableDef define_table(std::string name, const std::function<void(Table&)>& define) {
    Table t(std::move(name));
    define(t);
    return t.definition();
}
}  // namespace

void Plan::create_table(std::string name, const std::function<void(Table&)>& define) {
    steps_.push_back(CreateTable{define_table(std::move(name), define)});
}
void Plan::drop_table(std::string name) { steps_.push_back(DropTable{std::move(name), {}}); }
void Plan::drop_table(std::string name, const std::function<void(Table&)>& define) {
    auto def = define_table(name, define);
    steps_.push_back(DropTable{std::move(name), std::move(def)});
}
void Plan::drop_table_if_exists(std::string name) { steps_.push_back(DropTable{std::move(name), {}, true}); }
void Plan::rename_table(std::string from, std::string to) { steps_.push_back(RenameTable{std::move(from), std::move(to)}); }

void Plan::alter_table(std::string name, const std::function<void(Alter&)>& block) {
    Alter a(name);
    block(a);
    const auto& def = a.scratch_.definition();
    std::size_t next_add = 0;
    for (std::size_t k = 0; k < a.steps_.size(); ++k) {
        if (next_add == a.adds_.size() || a.adds_[next_add].step != k) {
            steps_.push_back(std::move(a.steps_[k]));
            continue;
        }
        // An added column: a reference among its options becomes the step's foreign key; a
        // unique or check becomes a constraint step right after it.
        const auto& pending = a.adds_[next_add++];
        const std::size_t end =
            next_add < a.adds_.size() ? a.adds_[next_add].first_constraint : def.constraints.size();
        AddColumn add{name, def.columns[pending.column], {}};
        std::vector<Step> after;
        for (std::size_t c = pending.first_constraint; c < end; ++c) {
            const auto& con = def.constraints[c];
            if (con.kind == ConstraintType::foreign_key && !add.foreign_key) add.foreign_key = con;
            else after.push_back(AddConstraint{name, con});
        }
        steps_.push_back(std::move(add));
        for (auto& s : after) steps_.push_back(std::move(s));
    }
}

Index& IndexOptions::index() { return std::get<CreateIndex>(p_.steps_[i_]).index; }
IndexOptions& IndexOptions::unique(bool u) { index().unique_ = u; return *this; }
IndexOptions& IndexOptions::where(std::string predicate) { index().where_ = std::move(predicate); return *this; }
IndexOptions& IndexOptions::name(std::string n) { index().name = std::move(n); return *this; }
IndexOptions& IndexOptions::concurrently(bool c) { index().concurrently_ = c; return *this; }
IndexOptions& IndexOptions::using_method(std::string method) { index().using_ = std::move(method); return *this; }

IndexOptions Plan::create_index(std::string table, std::vector<std::string> columns) {
    Index ix;
    ix.name = default_constraint_name(table, columns, "index");
    ix.table = std::move(table);
    ix.columns = std::move(columns);
    steps_.push_back(CreateIndex{std::move(ix)});
    return {*this, steps_.size() - 1};
}
IndexOptions Plan::create_expression_index(std::string table, std::string name, std::vector<std::string> expressions) {
    Index ix;
    ix.table = std::move(table);
    ix.name = std::move(name);
    ix.expressions = std::move(expressions);
    steps_.push_back(CreateIndex{std::move(ix)});
    return {*this, steps_.size() - 1};
}
void Plan::drop_index(std::string name, bool concurrently) { steps_.push_back(DropIndex{std::move(name), {}, concurrently}); }
void Plan::drop_index(Index definition) {
    std::string name = definition.name;
    const bool conc = definition.concurrently_;
    steps_.push_back(DropIndex{std::move(name), std::move(definition), conc});
}
void Plan::execute(std::string up, std::optional<std::string> down) { steps_.push_back(Execute{std::move(up), std::move(down)}); }

// ---- inverse -------------------------------------------------------------------------------

std::optional<Step> inverse(const Step& step) {
    struct V {
        std::optional<Step> operator()(const CreateTable& s) const { return DropTable{s.table.name, s.table}; }
        std::optional<Step> operator()(const DropTable& s) const {
            if (!s.definition) return std::nullopt;
            return CreateTable{*s.definition};
        }
        std::optional<Step> operator()(const RenameTable& s) const { return RenameTable{s.to, s.from}; }
        std::optional<Step> operator()(const AddColumn& s) const { return RemoveColumn{s.table, s.column.name, s.column}; }
        std::optional<Step> operator()(const RemoveColumn& s) const {
            if (!s.definition) return std::nullopt;
            return AddColumn{s.table, *s.definition, {}};
        }
        std::optional<Step> operator()(const RenameColumn& s) const { return RenameColumn{s.table, s.to, s.from}; }
        std::optional<Step> operator()(const ModifyColumn& s) const {
            if (!s.from) return std::nullopt;
            return ModifyColumn{s.table, *s.from, s.column};
        }
        std::optional<Step> operator()(const AddConstraint& s) const {
            return DropConstraint{s.table, s.constraint.name, s.constraint};
        }
        std::optional<Step> operator()(const DropConstraint& s) const {
            if (!s.definition) return std::nullopt;
            return AddConstraint{s.table, *s.definition};
        }
        std::optional<Step> operator()(const CreateIndex& s) const {
            return DropIndex{s.index.name, s.index, s.index.concurrently_};
        }
        std::optional<Step> operator()(const DropIndex& s) const {
            if (!s.definition) return std::nullopt;
            return CreateIndex{*s.definition};
        }
        std::optional<Step> operator()(const Execute& s) const {
            if (!s.down) return std::nullopt;
            return Execute{*s.down, s.up};
        }
    };
    return std::visit(V{}, step);
}

// ---- descriptions --------------------------------------------------------------------------

namespace {
std::string q(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string first_line(std::string_view sql) {
    const auto start = sql.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return {};
    sql.remove_prefix(start);
    const auto nl = sql.find('\n');
    std::string s(sql.substr(0, std::min<std::size_t>(nl, 60)));
    return nl != std::string_view::npos || sql.size() > 60 ? s + " ..." : s;
}
}  // namespace

std::string describe(const Step& step) {
    struct V {
        std::string operator()(const CreateTable& s) const { return "create table " + q(s.table.name); }
        std::string operator()(const DropTable& s) const { return "drop table " + q(s.name); }
        std::string operator()(const RenameTable& s) const { return "rename table " + q(s.from) + " to " + q(s.to); }
        std::string operator()(const AddColumn& s) const { return "add column " + q(s.table) + "." + q(s.column.name); }
        std::string operator()(const RemoveColumn& s) const { return "remove column " + q(s.table) + "." + q(s.name); }
        std::string operator()(const RenameColumn& s) const {
            return "rename column " + q(s.table) + "." + q(s.from) + " to " + q(s.to);
        }
        std::string operator()(const ModifyColumn& s) const { return "modify column " + q(s.table) + "." + q(s.column.name); }
        std::string operator()(const AddConstraint& s) const {
            return "add constraint " + q(s.constraint.name) + " on " + q(s.table);
        }
        std::string operator()(const DropConstraint& s) const { return "drop constraint " + q(s.name) + " on " + q(s.table); }
        std::string operator()(const CreateIndex& s) const { return "create index " + q(s.index.name); }
        std::string operator()(const DropIndex& s) const { return "drop index " + q(s.name); }
        std::string operator()(const Execute& s) const { return "execute \"" + first_line(s.up) + "\""; }
    };
    return std::visit(V{}, step);
}

}  // namespace quarry::migrate
