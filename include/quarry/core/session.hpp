// SPDX-License-Identifier: MIT
// A Session is one connection with its statement cache and its transaction depth: the untyped
// engine under Repo. Not thread-safe (one session per thread, or per pooled checkout).
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "quarry/core/driver.hpp"
#include "quarry/core/lowerer.hpp"
#include "quarry/core/param_list.hpp"
#include "quarry/core/render.hpp"
#include "quarry/core/telemetry.hpp"

namespace quarry::core {

struct CacheStats {
    std::uint64_t hits = 0;    // executions that rendered no text and prepared nothing
    std::uint64_t misses = 0;  // executions that rendered and prepared
    std::size_t size = 0;      // statements held now
};

enum class Isolation : std::uint8_t { default_, read_committed, repeatable_read, serializable };

struct TxOptions {
    Isolation isolation = Isolation::default_;
    bool read_only = false;
    bool deferrable = false;  // PostgreSQL: with serializable + read_only
    // SQLite: take the write lock at BEGIN (BEGIN IMMEDIATE) so a writer never fails on upgrade.
    bool immediate = true;
    // Repo::transaction runs the whole function again, up to this many times, when the
    // database aborts it as a serialisation failure (40001) or a deadlock victim (40P01), after
    // an exponential pause with jitter. Outermost transactions only; the function must be safe
    // to run again (what it does outside the database is not undone).
    int retries = 0;
};

// The pause before retry number `attempt` (0-based): 2^attempt x 5 ms, at most 1 s, with full
// jitter (uniform in [0, that]).
std::chrono::microseconds retry_pause(int attempt);

class Session {
public:
    explicit Session(std::unique_ptr<Connection> connection, std::size_t cache_capacity = 256);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    const Dialect& dialect() const noexcept { return connection_->dialect(); }
    Connection& connection() noexcept { return *connection_; }

    // The prepared statement for `statement`, with its parameters bound: ready to step. A shape
    // seen before renders no text and prepares nothing. The caller resets it when done
    // (StatementRun does).
    Statement& run(const Node& statement);
    // `statement` inside other SQL text: `before` + its SQL + `after` (SELECT EXISTS(...),
    // an aggregate over it as a derived table, EXPLAIN). Its parameters, in its own order.
    Statement& run_wrapped(const Node& statement, std::string_view before, std::string_view after);
    // A statement whose shape is fixed by the caller's C++ types (the Repo's insert, update,
    // remove and get by key): `tag` names the shape, `values` holds its parameters in the order
    // the rendered SQL binds them, and `build(context)` makes the statement value only when this
    // session has not prepared it yet. Nothing is built, hashed or walked on a hit. On a miss the
    // rendered parameters are checked against `values` (a mismatch is a quarry bug: logic_error).
    using BuildFn = NodePtr (*)(const void* context);
    Statement& run_fixed(std::uint64_t tag, const ParamList& values, BuildFn build, const void* context);
    // Raw SQL with `?` placeholders (`??` is a literal question mark), cached by its text.
    Statement& run_sql(std::string_view sql, const std::vector<Value>& params);
    CacheStats cache_stats() const noexcept;

    // A lazy cursor over `statement` (not cached: it is busy for as long as it is read). It
    // never holds a transaction open: statements run while it is read commit as they would
    // without it. Read it with next(); release it with end_stream, which reports it to telemetry
    // as one statement (rows read, time opening and fetching, time between fetches as decode).
    struct OpenStream {
        std::unique_ptr<Cursor> cursor;
        bool timed = false;
        std::string sql;
        QueryEvent event;
        std::chrono::steady_clock::time_point started;
    };
    OpenStream open_stream(const Node& statement, std::uint32_t batch);
    bool next(OpenStream& s);
    void end_stream(OpenStream& s) noexcept;

    // Every statement run from now on is reported to `sink` (empty: telemetry off, no clock reads).
    void set_telemetry(TelemetrySink sink) { sink_ = std::move(sink); }
    bool telemetry_on() const noexcept { return static_cast<bool>(sink_); }
    // What run*() learnt about the statement it just bound, for StatementRun to report.
    const QueryEvent& pending_event() const noexcept { return pending_; }
    void emit(const QueryEvent& e) const noexcept;

    // Transactions: the outermost is BEGIN/COMMIT/ROLLBACK, nested ones are savepoints that
    // quarry manages itself (DESIGN §7: libpqxx's subtransactions cannot be trusted). Each
    // statement they issue is a telemetry event.
    // Statements running longer than `t` fail with StatementTimeout; the session stays usable
    // (0: no limit), though SQLite ends a transaction whose write it interrupts (TransactionAborted). Set outside a transaction (PostgreSQL would undo it with a rollback).
    void set_statement_timeout(std::chrono::milliseconds t);
    std::chrono::milliseconds statement_timeout() const noexcept { return statement_timeout_; }

    void begin(const TxOptions& options = {});
    void commit();
    void rollback() noexcept;  // best effort: used while unwinding
    int depth() const noexcept { return depth_; }
    // True inside a transaction the database has ended by itself (see TransactionAborted): the
    // statements and savepoints of its levels are refused until the outermost level is left.
    bool transaction_ended() const noexcept { return depth_ > 0 && !connection_->in_transaction(); }
    // Test sandbox: at transaction depth `depth` (-1: never) each Repo statement runs in a
    // savepoint of its own, so that a failing one leaves the sandbox's transaction usable as
    // autocommit would (PostgreSQL aborts a whole transaction on any error).
    void guard_statements_at(int depth) noexcept { guard_depth_ = depth; }
    bool guards_statements() const noexcept { return guard_depth_ >= 0 && depth_ == guard_depth_; }
    // Test sandbox: the depth of the sandbox's own transaction (0: none). A transaction begun
    // there is the test's outermost one: its options (isolation, read only) are ignored, since
    // the sandbox's transaction has begun already, instead of refused as on a savepoint.
    void set_sandbox_depth(int depth) noexcept { sandbox_depth_ = depth; }

private:
    struct Entry {
        std::uint64_t key;
        std::unique_ptr<Statement> statement;
        ParamPlan plan;
        std::string sql;
        std::string_view source;
        std::uint32_t marks = 0;  // raw SQL: its ? marks, checked against the arguments of every run
    };
    // Binds, and with telemetry on records the pending event.
    Statement& bind(Entry& e, const std::vector<Value>& params, bool hit, std::chrono::steady_clock::time_point start);
    Entry* find(std::uint64_t key);
    // Refuses `sql` with TransactionAborted when transaction_ended().
    void check_open(std::string_view sql) const {
        if (depth_ > 0) [[unlikely]]
            if (!connection_->in_transaction()) refuse(sql);
    }
    [[noreturn]] static void refuse(std::string_view sql);
    void control(const std::string& sql);  // BEGIN, SAVEPOINT, COMMIT, ...
    Entry& add(std::uint64_t key, const std::string& sql, ParamPlan plan);
    // The parameters of a cached statement: through its plan, or a parameters-only render.
    void collect(const Node& statement, const Entry& e);
    std::unique_ptr<Connection> connection_;
    std::size_t capacity_;
    std::list<Entry> lru_;  // most recent first
    std::unordered_map<std::uint64_t, std::list<Entry>::iterator> index_;
    std::vector<Value> params_;
    CacheStats stats_;
    int depth_ = 0;
    int guard_depth_ = -1;
    int sandbox_depth_ = 0;
    std::chrono::milliseconds statement_timeout_{0};
    TelemetrySink sink_;
    QueryEvent pending_;
};

// One run of a bound statement: steps it, resets it when the run ends however it ends, and
// reports the run to the session's telemetry sink.
class StatementRun {
public:
    StatementRun(Session& s, const Node& statement) : StatementRun(s, s.run(statement)) {}
    StatementRun(Session& s, Statement& bound) : session_(s), st_(bound) {
        if (s.telemetry_on()) {
            event_ = s.pending_event();
            timed_ = true;
            exceptions_ = std::uncaught_exceptions();
            started_ = std::chrono::steady_clock::now();
        }
    }
    ~StatementRun() {
        if (timed_) report();  // before reset(): PostgreSQL's row count lives in the result
        st_.reset();
    }
    StatementRun(const StatementRun&) = delete;
    StatementRun& operator=(const StatementRun&) = delete;
    bool step() {
        if (!timed_) return st_.step();
        const auto t0 = std::chrono::steady_clock::now();
        const bool more = st_.step();
        stepping_ += std::chrono::steady_clock::now() - t0;
        rows_ += more;
        return more;
    }
    const Row& row() const noexcept { return st_.row(); }
    std::int64_t rows_affected() const noexcept { return st_.rows_affected(); }
    std::size_t rows_known() const noexcept { return st_.rows_known(); }

private:
    void report() noexcept;
    Session& session_;
    Statement& st_;
    bool timed_ = false;
    int exceptions_ = 0;
    std::int64_t rows_ = 0;
    QueryEvent event_;
    std::chrono::steady_clock::time_point started_;
    std::chrono::nanoseconds stepping_{0};
};

}  // namespace quarry::core
