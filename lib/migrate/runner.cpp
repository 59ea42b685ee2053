// SPDX-License-Identifier: MIT
// The Migrator: lock, read what is recorded, run each migration in its transaction, record it.
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "migrate/ddl.hpp"
#include "migrate/pg_statements.hpp"
#include "quarry/migrator.hpp"
#include "util/hash.hpp"

namespace quarry {

using namespace migrate;
using namespace migrate::detail;

std::string_view to_string(MigrationState s) {
    switch (s) {
        case MigrationState::applied: return "applied";
        case MigrationState::pending: return "pending";
        case MigrationState::edited: return "edited";
        case MigrationState::missing: return "missing";
    }
    return "?";
}

struct Migrator::Recorded {
    std::int64_t version;
    std::string name, checksum, applied_at;
};

namespace {

// An advisory lock key for this table: the same in every process.
constexpr std::int64_t lock_key = 0x71756172727921;  // "quarry!"

std::string migrations_table_ddl(Db db) {
    if (db == Db::postgres)
        return "CREATE TABLE IF NOT EXISTS \"schema_migrations\" (\"version\" bigint PRIMARY KEY, \"name\" text NOT NULL, "
               "\"checksum\" text NOT NULL, \"applied_at\" timestamptz NOT NULL, \"duration_ms\" bigint NOT NULL)";
    return "CREATE TABLE IF NOT EXISTS \"schema_migrations\" (\"version\" BIGINT PRIMARY KEY, \"name\" TEXT NOT NULL, "
           "\"checksum\" TEXT NOT NULL, \"applied_at\" TIMESTAMP NOT NULL, \"duration_ms\" BIGINT NOT NULL)";
}

bool migrations_table_exists(core::Session& s, Db db) {
    const char* sql = db == Db::postgres ? "SELECT CAST(to_regclass('schema_migrations') AS text)"
                                         : "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'";
    const auto rows = query_text(s, sql);
    return !rows.empty() && rows[0][0].has_value();
}

std::int64_t micros_now() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string label(const Migration& m) { return std::to_string(m.version()) + " \"" + m.name() + "\""; }

// Holds the run's lock: PostgreSQL's advisory lock, SQLite's write transaction (with foreign
// keys off, as the table rebuild procedure requires, and restored afterwards).
class RunLock {
public:
    // `keep`: SQLite, when the run fails, commits the migrations that completed before the
    // failure (each is its own savepoint); a dry run keeps nothing.
    RunLock(core::Session& s, Db db, std::chrono::milliseconds timeout, bool keep) : s_(s), db_(db), keep_(keep) {
        if (s.depth() != 0) throw MigrationError("the Migrator's session is inside a transaction: migrate outside one");
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        if (db == Db::postgres) {
            // A session-level lock taken through PgBouncer in transaction mode stays on whichever
            // server connection ran that statement: the unlock may run on another, and the lock
            // outlives the run, blocking later runners (seen in a test: one held lock per run).
            if (s.connection().transaction_pooled())
                throw MigrationError(
                    "migrations need a direct PostgreSQL connection: their lock is a session-level advisory "
                    "lock, which PgBouncer in transaction mode (pgbouncer=true) would leave held on a server "
                    "connection; migrate with a connection string that bypasses the pooler");
            for (;;) {
                const auto r = query_text(s, "SELECT CAST(pg_try_advisory_lock(?) AS text)", {core::Value::integer(lock_key)});
                if (r.at(0).at(0) == "true") break;
                if (std::chrono::steady_clock::now() > deadline)
                    throw MigrationError("another migration runner holds the lock (PostgreSQL advisory lock " +
                                         std::to_string(lock_key) + "); gave up after " + std::to_string(timeout.count()) + " ms");
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            locked_ = true;
            return;
        }
        const auto fk = query_text(s, "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys");
        fk_on_ = !fk.empty() && fk[0][0] == "1";
        s.connection().execute("PRAGMA foreign_keys = OFF");
        for (;;) {
            try {
                s.begin();  // BEGIN IMMEDIATE: the write lock
                break;
            } catch (const DatabaseBusy&) {
                if (std::chrono::steady_clock::now() > deadline) {
                    restore();
                    throw MigrationError("another migration runner holds the SQLite write lock; gave up after " +
                                         std::to_string(timeout.count()) + " ms");
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(5));  // with busy_timeout=0 BEGIN waits not at all
            } catch (...) {
                restore();  // the destructor will not run: the session keeps its foreign keys
                throw;
            }
        }
        locked_ = true;
    }
    // SQLite: makes the completed migrations durable (or, in a dry run, discards them).
    void finish(bool keep) {
        if (db_ == Db::sqlite && locked_) {
            if (keep) s_.commit();
            else s_.rollback();
        }
    }
    ~RunLock() {
        if (!locked_) return;
        if (db_ == Db::postgres) {
            try {
                query_text(s_, "SELECT CAST(pg_advisory_unlock(?) AS text)", {core::Value::integer(lock_key)});
            } catch (const std::exception&) {  // the connection is gone: so is the lock
            }
            return;
        }
        if (s_.depth() == 1 && keep_) {
            try {
                s_.commit();
            } catch (const std::exception&) {
                s_.rollback();
            }
        }
        if (s_.depth() > 0) s_.rollback();
        restore();
    }

private:
    void restore() noexcept {
        try {
            if (fk_on_) s_.connection().execute("PRAGMA foreign_keys = ON");
        } catch (const std::exception&) {
        }
    }
    core::Session& s_;
    Db db_;
    bool keep_;
    bool fk_on_ = false;
    bool locked_ = false;
};

}  // namespace

Migrator::Migrator(core::Session& session, std::vector<Migration> migrations)
    : session_(&session), migrations_(std::move(migrations)) {
    order();
}

Migrator::Migrator(std::string_view url, std::vector<Migration> migrations)
    : owned_(std::make_unique<core::Session>(core::connect(url))), session_(owned_.get()), migrations_(std::move(migrations)) {
    order();
}

void Migrator::order() {
    std::stable_sort(migrations_.begin(), migrations_.end(), [](const Migration& a, const Migration& b) { return a.version() < b.version(); });
    for (std::size_t i = 1; i < migrations_.size(); ++i)
        if (migrations_[i].version() == migrations_[i - 1].version())
            throw MigrationError("two migrations have version " + std::to_string(migrations_[i].version()) + ": \"" +
                                     migrations_[i - 1].name() + "\" and \"" + migrations_[i].name() + "\"",
                                 migrations_[i].version(), migrations_[i].name());
}

Migrator::~Migrator() = default;

std::vector<Migrator::Recorded> Migrator::recorded() {
    std::vector<Recorded> out;
    const Db db = db_of(session_->dialect());
    if (!migrations_table_exists(*session_, db)) return out;
    for (const auto& r : query_text(*session_,
                                    "SELECT CAST(\"version\" AS TEXT), \"name\", \"checksum\", CAST(\"applied_at\" AS TEXT) "
                                    "FROM \"schema_migrations\""))
        out.push_back({std::stoll(*r[0]), *r[1], *r[2], *r[3]});
    // Sorted here: PostgreSQL would order by the text of the CAST, which has the same name.
    std::sort(out.begin(), out.end(), [](const Recorded& a, const Recorded& b) { return a.version < b.version; });
    return out;
}

std::vector<MigrationStatus> Migrator::status() {
    std::map<std::int64_t, MigrationStatus> all;
    for (const auto& m : migrations_) all[m.version()] = {m.version(), m.name(), MigrationState::pending, {}, m.checksum(), {}};
    for (const auto& r : recorded()) {
        auto [it, fresh] = all.try_emplace(r.version);
        auto& st = it->second;
        if (fresh) {
            st.version = r.version;
            st.name = r.name;
            st.state = MigrationState::missing;
        } else {
            st.state = st.checksum == r.checksum ? MigrationState::applied : MigrationState::edited;
        }
        st.applied_at = r.applied_at;
        st.applied_checksum = r.checksum;
    }
    std::vector<MigrationStatus> out;
    for (auto& [v, st] : all) out.push_back(std::move(st));
    return out;
}

void Migrator::check_edited(const std::vector<Recorded>& rec, bool allow) const {
    if (allow) return;
    std::string edited;
    for (const auto& r : rec)
        for (const auto& m : migrations_)
            if (m.version() == r.version && m.checksum() != r.checksum)
                edited += "\n  " + label(m) + ": recorded checksum " + r.checksum + ", now " + m.checksum();
    if (!edited.empty())
        throw MigrationError("applied migrations were edited after they ran (write a new migration instead, or pass "
                             "allow_edited / --allow-edited):" + edited);
}

std::vector<MigrationRun> Migrator::migrate(const MigrateOptions& o) {
    const Db db = db_of(session_->dialect());
    RunLock lock(*session_, db, lock_timeout_, !o.dry_run);
    if (!o.dry_run) session_->connection().execute(migrations_table_ddl(db));
    const auto rec = recorded();
    check_edited(rec, o.allow_edited);
    std::set<std::int64_t> done;
    for (const auto& r : rec) done.insert(r.version);
    std::vector<const Migration*> plan;
    for (const auto& m : migrations_) {
        if (done.count(m.version())) continue;
        if (o.to && m.version() > *o.to) break;
        if (o.steps && static_cast<int>(plan.size()) >= *o.steps) break;
        plan.push_back(&m);
    }
    auto runs = run(plan, true, o.dry_run, o.on_event);
    lock.finish(!o.dry_run);
    return runs;
}

std::vector<const Migration*> Migrator::to_roll_back(const std::vector<Recorded>& rec, const RollbackOptions& o) const {
    std::vector<const Migration*> plan;
    for (auto it = rec.rbegin(); it != rec.rend(); ++it) {
        if (o.to ? it->version <= *o.to : static_cast<int>(plan.size()) >= o.steps) break;
        const auto m = std::find_if(migrations_.begin(), migrations_.end(), [&](const Migration& x) { return x.version() == it->version; });
        if (m == migrations_.end())
            throw MigrationError("cannot roll back migration " + std::to_string(it->version) + " \"" + it->name +
                                     "\": it is recorded as applied but is not among the known migrations",
                                 it->version, it->name);
        plan.push_back(&*m);
    }
    for (const auto* m : plan) (void)m->down_steps();  // throws for an irreversible step, before anything runs
    return plan;
}

std::vector<MigrationRun> Migrator::rollback(const RollbackOptions& o) {
    if (!o.to && o.steps < 0) throw MigrationError("rollback: steps must not be negative");
    const Db db = db_of(session_->dialect());
    RunLock lock(*session_, db, lock_timeout_, !o.dry_run);
    const auto rec = recorded();
    check_edited(rec, o.allow_edited);
    auto runs = run(to_roll_back(rec, o), false, o.dry_run, o.on_event);
    lock.finish(!o.dry_run);
    return runs;
}

std::vector<MigrationRun> Migrator::redo(int steps, const MigrationListener& on_event, bool allow_edited) {
    core::Session& s = *session_;
    const Db db = db_of(s.dialect());
    // All or nothing: a re-apply that fails leaves the migrations applied as they were, not
    // rolled back. SQLite's run lock is one transaction (kept only on success); PostgreSQL gets
    // one around both halves, unless a migration must run outside a transaction.
    RunLock lock(s, db, lock_timeout_, false);
    const auto rec = recorded();
    check_edited(rec, allow_edited);
    RollbackOptions o;
    o.steps = steps;
    auto plan = to_roll_back(rec, o);
    const bool whole = db == Db::postgres && std::all_of(plan.begin(), plan.end(), [](const Migration* m) {
                           return m->transactional(false) && m->transactional(true);
                       });
    if (whole) s.begin();
    struct EndWhole {
        core::Session& s;
        bool on;
        ~EndWhole() {
            if (on) s.rollback();
        }
    } end_whole{s, whole};
    auto runs = run(plan, false, false, on_event);
    std::reverse(plan.begin(), plan.end());
    auto again = run(plan, true, false, on_event);
    runs.insert(runs.end(), again.begin(), again.end());
    if (whole) {
        end_whole.on = false;
        s.commit();
    }
    lock.finish(true);
    return runs;
}

std::vector<MigrationRun> Migrator::run(const std::vector<const Migration*>& plan, bool up, bool dry_run,
                                        const MigrationListener& on_event) {
    core::Session& s = *session_;
    const Db db = db_of(s.dialect());
    std::vector<MigrationRun> runs;
    // PostgreSQL dry run: one transaction around everything, so later migrations see what the
    // earlier ones made, rolled back at the end (SQLite's run is always inside one).
    const bool pg_dry = dry_run && db == Db::postgres;
    if (pg_dry) s.begin();
    struct EndDry {
        core::Session& s;
        bool on;
        ~EndDry() { if (on) s.rollback(); }
    } end_dry{s, pg_dry};

    // SQLite: foreign key violations already in the database before this run, per child and
    // parent table. A migration is refused only for violations it adds, not for an orphan row
    // unrelated to it (counted, not listed by rowid: a table rebuild may renumber rows).
    std::map<std::pair<std::string, std::string>, std::size_t> known_orphans;
    const std::string fk_check = "SELECT \"table\", CAST(rowid AS TEXT), parent FROM pragma_foreign_key_check";
    if (db == Db::sqlite && !plan.empty())
        for (const auto& row : query_text(s, fk_check)) ++known_orphans[{row[0].value_or(""), row[2].value_or("")}];

    for (const Migration* m : plan) {
        MigrationRun r{m->version(), m->name(), up, {}, {}};
        bool tx = true, began = false;
        auto emit = [&](MigrationEvent::Kind k, std::string sql = {}) {
            if (on_event) on_event(MigrationEvent{k, up, m->version(), m->name(), tx, std::move(sql), r.elapsed});
        };
        // Everything that can throw is in here, so that the migration's transaction is always
        // ended (and, on SQLite, RunLock keeps the migrations that completed before it).
        try {
            const auto steps = up ? m->up_steps() : m->down_steps();
            // SQLite runs everything in its run's transaction; concurrent index builds do not exist there.
            tx = db == Db::sqlite || m->transactional(up);
            emit(MigrationEvent::Kind::started);
            const auto t0 = std::chrono::steady_clock::now();
            // Outside a transaction nothing can be undone: a dry run only shows those statements.
            const bool execute = !(dry_run && !tx);
            if (tx) {
                s.begin();
                began = true;
            }
            auto exec = [&](const Sql& q, const Step* step) {
                emit(MigrationEvent::Kind::statement, q.text);
                r.sql.push_back(q.text);
                if (!execute) return;
                if (!q.expect_empty) {
                    s.connection().execute(q.text);
                    return;
                }
                const auto found = query_text(s, q.text);
                if (found.empty()) return;
                std::map<std::pair<std::string, std::string>, std::size_t> counts;
                for (const auto& row : found) ++counts[{row[0].value_or(""), row[2].value_or("")}];
                auto added = [&](const std::pair<std::string, std::string>& tables) {
                    const auto known = known_orphans.find(tables);
                    const std::size_t before = known == known_orphans.end() ? 0 : known->second;
                    return counts[tables] > before ? counts[tables] - before : 0;
                };
                std::size_t more = 0;
                for (const auto& [tables, n] : counts) more += added(tables);
                if (!more) return;  // only rows that were orphans before this run
                std::string rows;
                std::size_t listed = 0;
                for (const auto& row : found)
                    if (listed < 5 && added({row[0].value_or(""), row[2].value_or("")}) > 0 && ++listed)
                        rows += "\n  table \"" + row[0].value_or("?") + "\" rowid " + row[1].value_or("?") +
                                " references a missing row of \"" + row[2].value_or("?") + "\"";
                throw MigrationError("migration " + label(*m) + ": foreign key check failed" +
                                         (step ? " after " + describe(*step) : std::string()) + ": it leaves " +
                                         std::to_string(more) + " more row(s) without their parent, among:" + rows,
                                     m->version(), m->name());
            };
            for (const auto& step : steps) {
                std::string building;  // the index a concurrent build is making
                try {
                    for (const auto& q : render_step(step, db, execute ? &s : nullptr)) {
                        if (tx || db != Db::postgres || !std::holds_alternative<Execute>(step)) {
                            exec(q, &step);
                            continue;
                        }
                        // Sent together, PostgreSQL would run the statements as one implicit
                        // transaction, where CREATE INDEX CONCURRENTLY is refused.
                        std::vector<std::string> statements;
                        try {
                            statements = pg_statements(q.text);
                        } catch (const MigrationError& e) {
                            throw MigrationError("migration " + label(*m) + ": " + e.what(), m->version(), m->name());
                        }
                        for (const auto& statement : statements) {
                            building = concurrent_index_name(statement);
                            exec(Sql{statement, false}, &step);
                        }
                    }
                } catch (const MigrationError&) {
                    throw;
                } catch (const std::exception& e) {
                    // A concurrent index build that fails leaves an INVALID index behind: drop it
                    // (only an invalid one: the failure may have been that a valid one existed).
                    if (const auto* ci = std::get_if<CreateIndex>(&step)) building = ci->index.name;
                    if (!building.empty() && !tx && db == Db::postgres) {
                        try {
                            const auto invalid = query_text(s, "SELECT 'x' FROM pg_index WHERE indexrelid = to_regclass(quote_ident(?)) "
                                                               "AND NOT indisvalid", {core::Value::string(building)});
                            if (!invalid.empty())
                                s.connection().execute("DROP INDEX CONCURRENTLY IF EXISTS " + Ddl(db).ident(building));
                        } catch (const std::exception&) {
                        }
                    }
                    std::throw_with_nested(MigrationError("migration " + label(*m) + " failed at " + describe(step) + ": " +
                                                              e.what() + (tx ? "; nothing of it was applied" : "; it ran outside a transaction: the steps before this one remain"),
                                                          m->version(), m->name()));
                }
            }
            if (db == Db::sqlite)  // foreign keys are off during the run: check what the migration left
                exec(Sql{fk_check, true}, nullptr);
            r.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
            if (execute && !dry_run) {
                // The bound values point into these strings: they outlive the statement's run.
                const std::string checksum = m->checksum();
                const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count();
                const std::vector<core::Value> params =
                    up ? std::vector<core::Value>{core::Value::integer(m->version()), core::Value::string(m->name()),
                                                  core::Value::string(checksum), core::Value::timestamp(micros_now()),
                                                  core::Value::integer(ms)}
                       : std::vector<core::Value>{core::Value::integer(m->version())};
                core::StatementRun record(s, s.run_sql(up ? "INSERT INTO \"schema_migrations\" (\"version\", \"name\", \"checksum\", "
                                                            "\"applied_at\", \"duration_ms\") VALUES (?, ?, ?, ?, ?)"
                                                          : "DELETE FROM \"schema_migrations\" WHERE \"version\" = ?",
                                                       params));
                record.step();
            }
            if (began) {
                began = false;
                s.commit();
            }
            runs.push_back(r);
            emit(MigrationEvent::Kind::finished);
        } catch (...) {
            if (began) s.rollback();
            throw;
        }
    }
    return runs;
}

std::vector<MigrationRun> render_migrations(const std::vector<Migration>& migrations, const core::Dialect& dialect) {
    if (db_of(dialect) == Db::sqlite) {
        Migrator m("sqlite::memory:", migrations);
        return m.migrate();
    }
    std::vector<MigrationRun> runs;
    for (const auto& m : migrations) {
        MigrationRun r{m.version(), m.name(), true, {}, {}};
        for (const auto& step : m.up_steps())
            for (const auto& q : render_step(step, Db::postgres, nullptr)) r.sql.push_back(q.text);
        runs.push_back(std::move(r));
    }
    return runs;
}

}  // namespace quarry
