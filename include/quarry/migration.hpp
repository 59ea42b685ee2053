// SPDX-License-Identifier: MIT
// Migrations: versioned schema changes written in a small C++ DSL (or as SQL files), recorded
// as plain values and rendered per dialect by the runner (quarry/migrator.hpp). Nothing here is
// a template: a migration file costs what any C++ file with a few function calls costs.
//
//   quarry::Migration create_users{20240101120000, "create_users", [](quarry::migrate::Plan& m) {
//       m.create_table("users", [](quarry::migrate::Table& t) {
//           t.id();
//           t.add("email", quarry::migrate::type::string(160)).null(false);
//           t.timestamps();
//       });
//       m.create_index("users", {"email"}).unique();
//   }};
//
// A migration built from one function is reversible: rolling it back runs the inverse of each
// step in reverse order. A step with no inverse (drop_table without its definition, execute
// without down SQL, ...) makes rollback fail with MigrationError before anything runs; give
// explicit up and down functions for such migrations instead.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quarry/errors.hpp"

namespace quarry {

// Anything wrong with a migration or its run: an irreversible step on rollback, a step the
// dialect cannot do, a failed step (the database error is the nested exception), a lock not
// obtained, an edited migration. The database is left as it was before the failed migration.
class MigrationError : public Error {
public:
    MigrationError(std::string message, std::int64_t version = 0, std::string migration = {})
        : Error(std::move(message)), version_(version), migration_(std::move(migration)) {}
    std::int64_t version() const noexcept { return version_; }      // 0: not about one migration
    const std::string& migration() const noexcept { return migration_; }

private:
    std::int64_t version_;
    std::string migration_;
};

namespace migrate {

// ---- column types ------------------------------------------------------------------------

enum class TypeKind : std::uint8_t {
    integer, bigint, smallint, real, decimal, text, string, boolean, date, timestamp, binary, uuid, json, raw
};

// A column type, rendered per dialect (docs/migrations.md has the table).
struct ColumnType {
    ColumnType() = default;
    ColumnType(TypeKind k, int size_ = 0, int precision_ = 0, int scale_ = 0)
        : kind(k), size(size_), precision(precision_), scale(scale_) {}
    TypeKind kind = TypeKind::text;
    int size = 0;        // string: VARCHAR(size)
    int precision = 0;   // decimal: NUMERIC(precision, scale); 0: unconstrained
    int scale = 0;
    std::string sql;     // raw: the type as written, on every dialect
    friend bool operator==(const ColumnType&, const ColumnType&) = default;
};

namespace type {
inline ColumnType integer() { return {TypeKind::integer}; }
inline ColumnType bigint() { return {TypeKind::bigint}; }
inline ColumnType smallint() { return {TypeKind::smallint}; }
inline ColumnType real() { return {TypeKind::real}; }  // double precision
inline ColumnType decimal(int precision = 0, int scale = 0) { return {TypeKind::decimal, 0, precision, scale}; }
inline ColumnType text() { return {TypeKind::text}; }
inline ColumnType string(int size = 255) { return {TypeKind::string, size}; }
inline ColumnType boolean() { return {TypeKind::boolean}; }
inline ColumnType date() { return {TypeKind::date}; }
inline ColumnType timestamp() { return {TypeKind::timestamp}; }  // UTC, microseconds
inline ColumnType binary() { return {TypeKind::binary}; }
inline ColumnType uuid() { return {TypeKind::uuid}; }
inline ColumnType json() { return {TypeKind::json}; }
// A database-specific type, written as is (checked to be a plain type name, not SQL).
ColumnType raw(std::string_view sql);
}  // namespace type

// ---- defaults ----------------------------------------------------------------------------

// A column default: a literal (rendered as a safely quoted SQL literal; a string holding a NUL
// byte or invalid UTF-8 is refused), the current time, or an SQL expression given as is.
struct Default {
    enum class Kind : std::uint8_t { null, integer, real, boolean, text, now, sql };
    Default() = default;
    explicit Default(Kind k, std::int64_t i_ = 0, double r_ = 0, std::string s_ = {}) : kind(k), i(i_), r(r_), s(std::move(s_)) {}
    Kind kind = Kind::null;
    std::int64_t i = 0;
    double r = 0;
    std::string s;
    friend bool operator==(const Default&, const Default&) = default;
};
inline Default default_null() { return {}; }
inline Default default_now() { return Default(Default::Kind::now); }
inline Default default_sql(std::string expression) { return Default(Default::Kind::sql, 0, 0, std::move(expression)); }

enum class Action : std::uint8_t { no_action, restrict, cascade, set_null, set_default };

// ---- definitions -------------------------------------------------------------------------

struct Reference {
    std::string table;
    std::vector<std::string> columns{"id"};
    Action on_delete = Action::no_action;
    Action on_update = Action::no_action;
    friend bool operator==(const Reference&, const Reference&) = default;
};

struct Column {
    Column() = default;
    Column(std::string name_, ColumnType type_, bool nullable_ = true, std::optional<Default> default_value_ = {})
        : name(std::move(name_)), type(std::move(type_)), nullable(nullable_), default_value(std::move(default_value_)) {}
    std::string name;
    ColumnType type;
    bool nullable = true;
    std::optional<Default> default_value;
    bool primary_key = false;
    bool identity = false;  // generated integer key (SQLite: the rowid; PostgreSQL: IDENTITY)
    friend bool operator==(const Column&, const Column&) = default;
};

enum class ConstraintType : std::uint8_t { primary_key, unique, check, foreign_key, exclusion };

// A named table constraint. Default names follow PostgreSQL's: <table>_pkey,
// <table>_<columns>_key, <table>_<columns>_fkey; checks and exclusions are always named.
struct Constraint {
    Constraint() = default;
    Constraint(ConstraintType k, std::string name_, std::vector<std::string> columns_ = {}, std::string expression_ = {},
               std::optional<Reference> references_ = {}, std::string where_ = {})
        : kind(k), name(std::move(name_)), columns(std::move(columns_)), expression(std::move(expression_)),
          references(std::move(references_)), where(std::move(where_)) {}
    ConstraintType kind = ConstraintType::check;
    std::string name;
    std::vector<std::string> columns;  // primary key, unique, foreign key
    std::string expression;            // check: the condition; exclusion: "USING gist (...)"
    std::optional<Reference> references;
    std::string where;                 // exclusion: optional predicate
    friend bool operator==(const Constraint&, const Constraint&) = default;
};

struct Index {
    std::string table;
    std::string name;                  // default <table>_<columns>_index (Ecto's convention)
    std::vector<std::string> columns;  // column names (quoted) ...
    std::vector<std::string> expressions;  // ... or expressions (as written)
    bool unique_ = false;
    bool concurrently_ = false;        // PostgreSQL: CREATE INDEX CONCURRENTLY (no transaction)
    std::string where_;                // partial index predicate
    std::string using_;                // PostgreSQL access method (gin, gist, ...)
    friend bool operator==(const Index&, const Index&) = default;
};

struct TableDef {
    std::string name;
    std::vector<Column> columns;
    std::vector<Constraint> constraints;
    bool if_not_exists = false;
    friend bool operator==(const TableDef&, const TableDef&) = default;
};

// ---- steps -------------------------------------------------------------------------------

struct CreateTable { TableDef table; };
struct DropTable { std::string name; std::optional<TableDef> definition; bool if_exists = false; };
struct RenameTable { std::string from, to; };
// `foreign_key`: the column references another table (a named foreign key constraint).
struct AddColumn { std::string table; Column column; std::optional<Constraint> foreign_key; };
struct RemoveColumn { std::string table, name; std::optional<Column> definition; };
struct RenameColumn { std::string table, from, to; };
// Changes a column's type, nullability and default to those of `column`; `from` (the old
// definition) makes it reversible.
struct ModifyColumn { std::string table; Column column; std::optional<Column> from; };
struct AddConstraint { std::string table; Constraint constraint; };
struct DropConstraint { std::string table, name; std::optional<Constraint> definition; };
struct CreateIndex { Index index; };
struct DropIndex { std::string name; std::optional<Index> definition; bool concurrently = false; bool if_exists = false; };
struct Execute { std::string up; std::optional<std::string> down; };

using Step = std::variant<CreateTable, DropTable, RenameTable, AddColumn, RemoveColumn, RenameColumn, ModifyColumn,
                          AddConstraint, DropConstraint, CreateIndex, DropIndex, Execute>;

// A short description of a step for progress lines and errors: `create table "users"`.
std::string describe(const Step& step);

// ---- the builder -------------------------------------------------------------------------

class Table;

// Fluent options of the column just added; valid until the next call on its Table.
class ColumnOptions {
public:
    ColumnOptions& null(bool allowed = true);
    ColumnOptions& default_to(std::int64_t v);
    ColumnOptions& default_to(int v) { return default_to(static_cast<std::int64_t>(v)); }
    ColumnOptions& default_to(double v);
    ColumnOptions& default_to(bool v);
    ColumnOptions& default_to(std::string_view v);
    ColumnOptions& default_to(const char* v) { return default_to(std::string_view(v)); }
    ColumnOptions& default_to(Default d);
    ColumnOptions& primary_key();
    ColumnOptions& unique(std::string name = {});
    // A foreign key to `table`(`column`).
    ColumnOptions& references(std::string table, std::string column = "id", Action on_delete = Action::no_action,
                              Action on_update = Action::no_action);
    ColumnOptions& check(std::string name, std::string condition);

private:
    friend class Table;
    ColumnOptions(Table& t, std::size_t i) : t_(t), i_(i) {}
    Column& col();
    Table& t_;
    std::size_t i_;
};

// The definition of a table being created.
class Table {
public:
    explicit Table(std::string name) { def_.name = std::move(name); }
    // An auto-generated integer primary key (SQLite: INTEGER PRIMARY KEY, the rowid;
    // PostgreSQL: bigint GENERATED BY DEFAULT AS IDENTITY).
    ColumnOptions id(std::string name = "id");
    ColumnOptions add(std::string name, ColumnType type);
    // inserted_at and updated_at: NOT NULL timestamps defaulting to the current time.
    void timestamps(std::string inserted = "inserted_at", std::string updated = "updated_at");
    void primary_key(std::vector<std::string> columns);
    void unique(std::vector<std::string> columns, std::string name = {});
    void check(std::string name, std::string condition);
    void foreign_key(std::vector<std::string> columns, std::string table, std::vector<std::string> ref_columns,
                     Action on_delete = Action::no_action, Action on_update = Action::no_action, std::string name = {});
    // PostgreSQL only: EXCLUDE USING <method> (<elements>) [WHERE (<where>)].
    void exclude(std::string name, std::string using_elements, std::string where = {});
    void if_not_exists() { def_.if_not_exists = true; }
    const TableDef& definition() const noexcept { return def_; }

private:
    friend class ColumnOptions;
    TableDef def_;
};

class Plan;

// Options of the index just declared.
class IndexOptions {
public:
    IndexOptions& unique(bool u = true);
    IndexOptions& where(std::string predicate);
    IndexOptions& name(std::string n);
    IndexOptions& concurrently(bool c = true);
    IndexOptions& using_method(std::string method);

private:
    friend class Plan;
    IndexOptions(Plan& p, std::size_t i) : p_(p), i_(i) {}
    Index& index();
    Plan& p_;
    std::size_t i_;
};

// The steps of an alter_table block.
class Alter {
public:
    // Adds a column; `references` makes it a foreign key.
    ColumnOptions add(std::string name, ColumnType type);
    void remove(std::string name);                          // irreversible in change()
    void remove(std::string name, ColumnType type, bool nullable = true);  // reversible
    void rename(std::string from, std::string to);
    // New type (and nullability/default); pass `from` to make it reversible.
    void modify(std::string name, ColumnType type, bool nullable = true, std::optional<Default> default_value = {},
                std::optional<Column> from = {});
    void add_constraint(Constraint c);
    void unique(std::vector<std::string> columns, std::string name = {});
    void check(std::string name, std::string condition);
    void foreign_key(std::vector<std::string> columns, std::string table, std::vector<std::string> ref_columns,
                     Action on_delete = Action::no_action, Action on_update = Action::no_action, std::string name = {});
    void drop_constraint(std::string name);                 // irreversible in change()
    void drop_constraint(Constraint definition);            // reversible

private:
    friend class Plan;
    explicit Alter(std::string table) : table_(std::move(table)), scratch_(table_) {}
    std::string table_;
    struct PendingAdd {
        std::size_t step, column, first_constraint;
    };
    Table scratch_;  // holds the columns being added, with the constraints their options declare
    std::vector<PendingAdd> adds_;
    std::vector<Step> steps_;
};

// Records the steps of one direction of a migration.
class Plan {
public:
    void create_table(std::string name, const std::function<void(Table&)>& define);
    void drop_table(std::string name);                                          // irreversible in change()
    void drop_table(std::string name, const std::function<void(Table&)>& define);  // reversible
    void drop_table_if_exists(std::string name);
    void rename_table(std::string from, std::string to);
    void alter_table(std::string name, const std::function<void(Alter&)>& steps);
    IndexOptions create_index(std::string table, std::vector<std::string> columns);
    // An index over expressions, written as SQL (`lower(email)`).
    IndexOptions create_expression_index(std::string table, std::string name, std::vector<std::string> expressions);
    void drop_index(std::string name, bool concurrently = false);                // irreversible in change()
    void drop_index(Index definition);                                           // reversible
    // Raw SQL; without `down` the step is irreversible.
    void execute(std::string up, std::optional<std::string> down = {});
    void add(Step s) { steps_.push_back(std::move(s)); }

    const std::vector<Step>& steps() const noexcept { return steps_; }

private:
    friend class IndexOptions;
    std::vector<Step> steps_;
};

// The inverse of a step, or nullopt when it has none.
std::optional<Step> inverse(const Step& step);

}  // namespace migrate

// One versioned migration. Versions order migrations (a timestamp like 20240101120000 is the
// convention); names are for people. Either reversible (one `change` function) or explicit
// (`up` and `down`), or SQL text (from SQL files).
class Migration {
public:
    using Define = std::function<void(migrate::Plan&)>;
    Migration(std::int64_t version, std::string name, Define change);
    static Migration up_down(std::int64_t version, std::string name, Define up, Define down);
    static Migration sql(std::int64_t version, std::string name, std::string up_sql, std::optional<std::string> down_sql,
                         bool transactional = true);

    std::int64_t version() const noexcept { return version_; }
    const std::string& name() const noexcept { return name_; }
    // The steps forward, and backward (MigrationError naming the step when one has no inverse).
    std::vector<migrate::Step> up_steps() const;
    std::vector<migrate::Step> down_steps() const;
    // Hex digest of what the migration does (its steps, canonically described): an applied
    // migration whose checksum changed was edited after it ran.
    std::string checksum() const;
    // False for a migration whose steps in that direction must run outside a transaction
    // (CREATE/DROP INDEX CONCURRENTLY); MigrationError when they are mixed with other steps.
    bool transactional(bool up = true) const;

private:
    Migration() = default;
    std::int64_t version_ = 0;
    std::string name_;
    Define up_, down_;  // down_ empty: reversible from up_
    std::optional<bool> transactional_;
};

// SQL-file migrations: every directory `<version>_<name>/` under `dir` holding up.sql (and
// optionally down.sql). A first line `-- quarry:no-transaction` runs the file outside a
// transaction. Throws MigrationError for a malformed directory name or a duplicate version.
std::vector<Migration> load_sql_migrations(const std::string& dir);

}  // namespace quarry
