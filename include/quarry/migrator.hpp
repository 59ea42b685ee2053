// SPDX-License-Identifier: MIT
// The migration runner: applies and rolls back migrations, recording them in the
// `schema_migrations` table (version, name, checksum, applied_at, duration_ms).
//
//   quarry::Repo repo("sqlite:app.db");
//   quarry::Migrator m(repo.session(), {create_users, add_posts});
//   m.migrate();                 // every pending migration, in version order
//   m.rollback({.steps = 1});    // the last one applied
//
// Guarantees (docs/migrations.md):
// - Each migration runs in a transaction with its schema_migrations row: it is applied
//   entirely or not at all. A migration that must run outside one (CREATE INDEX CONCURRENTLY)
//   says so in its progress event.
// - One runner at a time: PostgreSQL takes an advisory lock for the run; SQLite holds its write
//   lock for the run (each migration a savepoint, committed as it completes). A second runner
//   waits, then finds the work done.
// - An applied migration whose checksum changed stops migrate and rollback (MigrationError
//   listing them) unless allow_edited.
// - Rollback checks that every migration it would undo is known and reversible before it runs
//   anything.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quarry/core/session.hpp"
#include "quarry/migration.hpp"

namespace quarry {

enum class MigrationState : std::uint8_t {
    applied,  // recorded, and its checksum matches
    pending,  // known, not recorded
    edited,   // recorded with a different checksum: changed after it ran
    missing,  // recorded, but not among the known migrations
};
std::string_view to_string(MigrationState s);

struct MigrationStatus {
    std::int64_t version = 0;
    std::string name;
    MigrationState state = MigrationState::pending;
    std::string applied_at;        // as the database prints it; empty when pending
    std::string checksum;          // of the known migration; empty when missing
    std::string applied_checksum;  // as recorded; empty when pending
};

// What the runner reports as it goes (the CLI prints these as progress lines).
struct MigrationEvent {
    enum class Kind : std::uint8_t { started, statement, finished } kind;
    bool up = true;
    std::int64_t version = 0;
    std::string name;
    bool transactional = true;
    std::string sql;                    // statement: the SQL about to run
    std::chrono::nanoseconds elapsed{};  // finished: the migration's time
};
using MigrationListener = std::function<void(const MigrationEvent&)>;

// What one migration did: its statements (also in a dry run), and its time.
struct MigrationRun {
    std::int64_t version = 0;
    std::string name;
    bool up = true;
    std::vector<std::string> sql;
    std::chrono::nanoseconds elapsed{};
};

struct MigrateOptions {
    std::optional<std::int64_t> to{};  // apply pending migrations up to and including this version
    std::optional<int> steps{};        // at most this many
    bool dry_run = false;            // run everything in a transaction that is rolled back
    bool allow_edited = false;       // run even when an applied migration was edited
    MigrationListener on_event{};
};

struct RollbackOptions {
    int steps = 1;                   // the last `steps` applied migrations ...
    std::optional<std::int64_t> to{};  // ... or every applied migration above this version
    bool dry_run = false;
    bool allow_edited = false;
    MigrationListener on_event{};
};

class Migrator {
public:
    // Sorted by version; a duplicate version is a MigrationError. Runs on `session` (a Repo's:
    // repo.session()); the session must not be inside a transaction.
    Migrator(core::Session& session, std::vector<Migration> migrations);
    // Opens its own connection (see core::connect for URLs).
    Migrator(std::string_view url, std::vector<Migration> migrations);
    ~Migrator();
    Migrator(const Migrator&) = delete;
    Migrator& operator=(const Migrator&) = delete;

    std::vector<MigrationRun> migrate(const MigrateOptions& options = {});
    std::vector<MigrationRun> rollback(const RollbackOptions& options = {});
    // Rolls back the last `steps` migrations and applies them again (the development loop:
    // edit a migration, redo it). `allow_edited`: as for rollback; the re-applied migration is
    // recorded with its new checksum.
    std::vector<MigrationRun> redo(int steps = 1, const MigrationListener& on_event = {}, bool allow_edited = false);
    // Every known or recorded migration, by version.
    std::vector<MigrationStatus> status();

    const std::vector<Migration>& migrations() const noexcept { return migrations_; }
    core::Session& session() noexcept { return *session_; }
    // How long to wait for another runner's lock (SQLite: its write lock) before failing.
    void set_lock_timeout(std::chrono::milliseconds t) { lock_timeout_ = t; }

private:
    struct Recorded;
    void order();  // sorts by version; a duplicate is a MigrationError
    std::vector<MigrationRun> run(const std::vector<const Migration*>& plan, bool up, bool dry_run,
                                  const MigrationListener& on_event);
    std::vector<Recorded> recorded();
    void check_edited(const std::vector<Recorded>& rec, bool allow) const;
    std::vector<const Migration*> to_roll_back(const std::vector<Recorded>& rec, const RollbackOptions& o) const;

    std::unique_ptr<core::Session> owned_;
    core::Session* session_;
    std::vector<Migration> migrations_;
    std::chrono::milliseconds lock_timeout_{60000};
};

// The SQL `migrations` would run, written for `dialect` without a database of that kind:
// PostgreSQL's is rendered directly; SQLite's by migrating a scratch in-memory database, so
// table rebuilds read the schema the earlier migrations made.
std::vector<MigrationRun> render_migrations(const std::vector<Migration>& migrations, const core::Dialect& dialect);

// The schema as SQL (tables, constraints, indexes, views, triggers; no rows), in a stable order,
// so that two databases with the same schema dump the same text.
std::string dump_schema(core::Session& session);

// A table's columns as the database describes them (for `quarry gen model`).
struct ColumnInfo {
    std::string name;
    std::string type;      // as declared (SQLite) or format_type (PostgreSQL)
    bool nullable = true;
    bool has_default = false;
    int primary_key = 0;   // position in the primary key, 1-based; 0: not in it
    bool generated = false;  // identity, serial, or SQLite's rowid alias
};
std::vector<ColumnInfo> describe_table(core::Session& session, const std::string& table);
std::vector<std::string> list_tables(core::Session& session);

}  // namespace quarry
