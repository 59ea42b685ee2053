// SPDX-License-Identifier: MIT
// The SQLite driver: every sqlite3_* call of quarry lives in this file.
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "driver/connect.hpp"
#include "quarry/errors.hpp"

namespace quarry::driver {

using core::Value;
using core::ValueKind;

namespace {

std::string code_name(int extended) {
    switch (extended) {
        case SQLITE_CONSTRAINT_UNIQUE: return "SQLITE_CONSTRAINT_UNIQUE";
        case SQLITE_CONSTRAINT_PRIMARYKEY: return "SQLITE_CONSTRAINT_PRIMARYKEY";
        case SQLITE_CONSTRAINT_FOREIGNKEY: return "SQLITE_CONSTRAINT_FOREIGNKEY";
        case SQLITE_CONSTRAINT_NOTNULL: return "SQLITE_CONSTRAINT_NOTNULL";
        case SQLITE_CONSTRAINT_CHECK: return "SQLITE_CONSTRAINT_CHECK";
        case SQLITE_BUSY: return "SQLITE_BUSY";
        case SQLITE_LOCKED: return "SQLITE_LOCKED";
        default: return "SQLITE_" + std::to_string(extended);
    }
}

// "UNIQUE constraint failed: users.email, users.name" -> table "users", columns {email, name}.
// SQLite's messages are not localised, and these formats are part of its documented behaviour.
void split_columns(std::string_view detail, std::string& table, std::vector<std::string>& columns) {
    while (!detail.empty()) {
        auto comma = detail.find(", ");
        std::string_view item = detail.substr(0, comma);
        auto dot = item.find('.');
        if (dot != std::string_view::npos) {
            table = std::string(item.substr(0, dot));
            columns.emplace_back(item.substr(dot + 1));
        }
        if (comma == std::string_view::npos) break;
        detail.remove_prefix(comma + 2);
    }
}

// Rows of a one-column query with one text parameter; empty when anything fails.
std::vector<std::string> texts_of(sqlite3* db, const char* sql, const std::string& arg) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return out;
    sqlite3_bind_text(st, 1, arg.data(), static_cast<int>(arg.size()), SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (auto t = sqlite3_column_text(st, 0)) out.emplace_back(reinterpret_cast<const char*>(t));
    sqlite3_finalize(st);
    return out;
}

// SQLite names the columns of a unique violation, not the index. A unique index made by
// CREATE UNIQUE INDEX has a name users chose: find it by its columns (documented pragmas, not
// message text). Indexes SQLite made itself for UNIQUE / PRIMARY KEY clauses have no such name.
std::string unique_index_named(sqlite3* db, const std::string& table, const std::vector<std::string>& columns) {
    for (const std::string& index : texts_of(db, "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" AND origin = 'c'", table))
        if (texts_of(db, "SELECT name FROM pragma_index_info(?1) ORDER BY seqno", index) == columns) return index;
    return {};
}

// What a connection's statements share: its statement timeout, its busy timeout and its open
// cursors. Each step of a statement gets `limit` from when it starts (a stream's slow reader is
// not the statement's fault); SQLite's progress handler interrupts the step once the deadline
// has passed, and the busy handler stops waiting for a lock then too (it does not run the
// progress handler while it sleeps).
struct ConnState {
    using Clock = std::chrono::steady_clock;
    Clock::duration limit{};
    Clock::time_point at{};
    std::chrono::milliseconds busy_timeout{5000};
    Clock::time_point busy_since{};
    int open_cursors = 0;  // streams reading on this connection: each holds a read snapshot

    void arm() noexcept {
        if (limit.count() > 0) at = Clock::now() + limit;
    }
    bool deadline_passed() const noexcept { return limit.count() > 0 && Clock::now() >= at; }
    static int check(void* self) noexcept { return static_cast<ConnState*>(self)->deadline_passed() ? 1 : 0; }
    // SQLite's own busy handler's waits, within busy_timeout and the statement's deadline.
    static int busy(void* self, int count) noexcept {
        auto& s = *static_cast<ConnState*>(self);
        const auto now = Clock::now();
        if (count == 0) s.busy_since = now;
        auto left = s.busy_timeout - (now - s.busy_since);
        if (s.limit.count() > 0) left = std::min(left, s.at - now);
        if (left <= Clock::duration::zero()) return 0;
        static constexpr int delays_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
        const std::chrono::milliseconds delay(count < 12 ? delays_ms[count] : 100);
        std::this_thread::sleep_for(std::min<Clock::duration>(delay, left));
        return 1;
    }
};

[[noreturn]] void raise(sqlite3* db, int rc, std::string_view sql, const ConnState* st = nullptr) {
    const int extended = db ? sqlite3_extended_errcode(db) : rc;
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string code = code_name(extended);
    std::string text = message + " (" + code + ") in: " + std::string(sql);
    const int primary = extended & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        // The busy handler gave up for the statement's deadline, not for busy_timeout.
        if (st && st->deadline_passed())
            throw StatementTimeout("statement timeout reached while waiting for a lock: " + text, std::string(sql), code);
        // Retrying cannot help while the stream's snapshot is open: say what holds it.
        if (extended == SQLITE_BUSY_SNAPSHOT && st && st->open_cursors > 0)
            throw DatabaseError(text + " (a Stream is still open on this connection: it reads one snapshot of the "
                                       "database, which this connection cannot write past; end the stream first, or "
                                       "read its rows into a vector)",
                                std::string(sql), code);
        // Without shared cache, SQLITE_LOCKED is this connection in its own way (DROP TABLE
        // while one of its statements reads the table): no wait or retry can clear it.
        if (primary == SQLITE_LOCKED && extended != SQLITE_LOCKED_SHAREDCACHE)
            throw DatabaseError(text + " (another statement on this connection is still using it: an open Stream?)",
                                std::string(sql), code);
        throw DatabaseBusy(text, std::string(sql), code);
    }
    if (primary == SQLITE_READONLY) throw ReadOnlyError(text, std::string(sql), code);
    if (primary == SQLITE_INTERRUPT) throw StatementTimeout(text, std::string(sql), code);
    if (primary == SQLITE_CONSTRAINT) {
        ConstraintKind kind;
        switch (extended) {
            case SQLITE_CONSTRAINT_UNIQUE: kind = ConstraintKind::unique; break;
            case SQLITE_CONSTRAINT_PRIMARYKEY: kind = ConstraintKind::primary_key; break;
            case SQLITE_CONSTRAINT_FOREIGNKEY: kind = ConstraintKind::foreign_key; break;
            case SQLITE_CONSTRAINT_NOTNULL: kind = ConstraintKind::not_null; break;
            case SQLITE_CONSTRAINT_CHECK: kind = ConstraintKind::check; break;
            default: throw DatabaseError(text, std::string(sql), code);
        }
        std::string table, constraint;
        std::vector<std::string> columns;
        const std::string_view marker = "constraint failed: ";
        auto at = message.find(marker);
        if (at != std::string::npos) {
            std::string_view detail = std::string_view(message).substr(at + marker.size());
            constexpr std::string_view index_marker = "index '";
            if (kind == ConstraintKind::check) {
                constraint = std::string(detail);  // SQLite names the CHECK constraint (or its expression)
            } else if (detail.starts_with(index_marker) && detail.ends_with('\'')) {
                // A unique index on expressions (lower(email)) has no columns to name: SQLite
                // names the index instead.
                constraint = std::string(detail.substr(index_marker.size(), detail.size() - index_marker.size() - 1));
                if (db) {
                    auto tables = texts_of(db, "SELECT tbl_name FROM sqlite_schema WHERE type = 'index' AND name = ?1", constraint);
                    if (!tables.empty()) table = std::move(tables[0]);
                }
            } else {
                split_columns(detail, table, columns);
            }
        }
        if (kind == ConstraintKind::unique && db && !table.empty() && constraint.empty())
            constraint = unique_index_named(db, table, columns);
        throw ConstraintError(kind, std::move(constraint), std::move(table), std::move(columns), text,
                              std::string(sql), code);
    }
    throw DatabaseError(text, std::string(sql), code);
}

// Each getter reads the column's sqlite3_value once: its type for the typed DecodeError, then
// its payload (the sqlite3_column_* functions would look the column up twice).
class SqliteRow final : public core::Row {
public:
    sqlite3_stmt* stmt = nullptr;

    std::uint32_t size() const noexcept override { return static_cast<std::uint32_t>(sqlite3_column_count(stmt)); }
    std::string_view name(std::uint32_t i) const override {
        const char* n = sqlite3_column_name(stmt, static_cast<int>(i));
        return n ? n : "";
    }
    bool is_null(std::uint32_t i) const override { return sqlite3_value_type(value(i)) == SQLITE_NULL; }
    std::int64_t integer(std::uint32_t i) const override {
        sqlite3_value* v = value(i);
        expect(i, v, SQLITE_INTEGER, "an integer");
        return sqlite3_value_int64(v);
    }
    double real(std::uint32_t i) const override {
        sqlite3_value* v = value(i);
        if (sqlite3_value_type(v) != SQLITE_INTEGER) expect(i, v, SQLITE_FLOAT, "a number");
        return sqlite3_value_double(v);
    }
    bool boolean(std::uint32_t i) const override {
        std::int64_t v = integer(i);
        if (v != 0 && v != 1) mismatch(i, "holds " + std::to_string(v) + ", expected a boolean (0 or 1)");
        return v == 1;
    }
    std::string_view text(std::uint32_t i) const override {
        sqlite3_value* v = value(i);
        expect(i, v, SQLITE_TEXT, "text");
        auto p = reinterpret_cast<const char*>(sqlite3_value_text(v));
        return {p ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v))};
    }
    std::string_view blob(std::uint32_t i) const override {
        sqlite3_value* v = value(i);
        expect(i, v, SQLITE_BLOB, "a blob");
        auto p = static_cast<const char*>(sqlite3_value_blob(v));
        return {p ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v))};
    }
    std::int64_t timestamp(std::uint32_t i) const override {
        std::int64_t us = 0;
        std::string_view t = text(i);
        if (!core::parse_timestamp(t, us)) mismatch(i, "holds \"" + std::string(t) + "\", not an ISO-8601 timestamp");
        return us;
    }

private:
    sqlite3_value* value(std::uint32_t i) const { return sqlite3_column_value(stmt, static_cast<int>(i)); }
    void expect(std::uint32_t i, sqlite3_value* v, int wanted, std::string_view what) const {
        const int t = sqlite3_value_type(v);
        if (t != wanted) [[unlikely]]
            wrong_type(i, t, what);
    }
    [[noreturn]] void wrong_type(std::uint32_t i, int t, std::string_view what) const {
        static constexpr const char* names[] = {"", "an integer", "a real", "text", "a blob", "NULL"};
        if (t == SQLITE_NULL) mismatch(i, "is NULL but the field is not optional");
        mismatch(i, std::string("holds ") + names[t] + ", expected " + std::string(what));
    }
};

class SqliteStatement final : public core::Statement {
public:
    SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string sql, ConnState* state)
        : db_(db), sql_(std::move(sql)), state_(state) { row_.stmt = stmt; }
    ~SqliteStatement() override { sqlite3_finalize(row_.stmt); }

    void bind(const std::vector<Value>& params) override {
        sqlite3_stmt* s = row_.stmt;
        sqlite3_reset(s);
        fresh_ = true;
        if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(s))
            throw QueryError("statement expects " + std::to_string(sqlite3_bind_parameter_count(s)) + " parameters, got " +
                             std::to_string(params.size()) + ": " + sql_);
        std::size_t stamps = 0;
        for (const Value& v : params) stamps += v.kind == ValueKind::timestamp;
        if (stamps_.size() < stamps * core::timestamp_text_max) stamps_.resize(stamps * core::timestamp_text_max);
        stamps = 0;
        for (std::size_t k = 0; k < params.size(); ++k) {
            const Value& v = params[k];
            const int at = static_cast<int>(k + 1);
            int rc = SQLITE_OK;
            switch (v.kind) {
                case ValueKind::null: rc = sqlite3_bind_null(s, at); break;
                case ValueKind::boolean:
                case ValueKind::integer: rc = sqlite3_bind_int64(s, at, v.i); break;
                case ValueKind::real:
                    // SQLite would store NaN as NULL: refuse it rather than lose the value.
                    if (std::isnan(v.d)) throw QueryError("SQLite cannot store NaN (it would become NULL): parameter " +
                                                          std::to_string(at) + " of: " + sql_);
                    rc = sqlite3_bind_double(s, at, v.d);
                    break;
                // A null pointer would bind NULL: an empty value still needs an address.
                case ValueKind::text: rc = sqlite3_bind_text64(s, at, v.size ? v.s : "", v.size, SQLITE_STATIC, SQLITE_UTF8); break;
                case ValueKind::blob: rc = sqlite3_bind_blob64(s, at, v.size ? v.s : "", v.size, SQLITE_STATIC); break;
                case ValueKind::timestamp: {
                    // Formatted into the statement's own buffer, which outlives the run: no copy.
                    char* t = stamps_.data() + stamps++ * core::timestamp_text_max;
                    const char* end = core::format_timestamp(v.i, t);
                    rc = sqlite3_bind_text64(s, at, t, static_cast<sqlite3_uint64>(end - t), SQLITE_STATIC, SQLITE_UTF8);
                    break;
                }
                case ValueKind::array: throw QueryError("SQLite cannot bind an array parameter: " + sql_);
            }
            if (rc != SQLITE_OK) raise(db_, rc, sql_, state_);
        }
    }
    bool step() override {
        state_->arm();
        // sqlite3_changes64 is the last INSERT, UPDATE or DELETE's count: a statement that changed
        // nothing (a SELECT, DDL) would report its predecessor's. Counted only if something changed.
        if (fresh_) {
            fresh_ = false;
            total_before_ = sqlite3_total_changes64(db_);
        }
        int rc = sqlite3_step(row_.stmt);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) {
            changes_ = sqlite3_total_changes64(db_) != total_before_ ? sqlite3_changes64(db_) : 0;
            fresh_ = true;
            return false;
        }
        sqlite3_reset(row_.stmt);
        fresh_ = true;
        raise(db_, rc, sql_, state_);
    }
    const core::Row& row() const noexcept override { return row_; }
    void reset() noexcept override {
        sqlite3_reset(row_.stmt);
        fresh_ = true;
    }
    std::int64_t rows_affected() const noexcept override { return changes_; }

private:
    sqlite3* db_;
    SqliteRow row_;
    std::string sql_;
    std::string stamps_;  // bound timestamps' text, one slot per timestamp parameter
    std::int64_t changes_ = 0;
    std::int64_t total_before_ = 0;  // the connection's total changes when this run began
    bool fresh_ = true;              // the next step begins a run
    ConnState* state_;
};

// A statement of its own, stepped lazily: SQLite never materialises the result.
class SqliteCursor final : public core::Cursor {
public:
    SqliteCursor(std::unique_ptr<core::Statement> st, ConnState* state) : st_(std::move(st)), state_(state) {
        ++state_->open_cursors;
    }
    ~SqliteCursor() override { --state_->open_cursors; }
    SqliteCursor(const SqliteCursor&) = delete;
    SqliteCursor& operator=(const SqliteCursor&) = delete;
    bool next() override {
        // A failed step resets the statement: stepping it again would start from the first row.
        if (failed_) std::rethrow_exception(failed_);
        try {
            return st_->step();
        } catch (...) {
            failed_ = std::current_exception();
            throw;
        }
    }
    const core::Row& row() const noexcept override { return st_->row(); }

private:
    std::unique_ptr<core::Statement> st_;
    ConnState* state_;
    std::exception_ptr failed_;
};

class SqliteConnection final : public core::Connection {
public:
    struct Options {
        int busy_timeout_ms = 5000;
        bool read_only = false;
    };
    SqliteConnection(const std::string& path, const Options& o) {
        const int flags = (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
        int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
        if (rc != SQLITE_OK) {
            std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            throw ConnectionError("cannot open SQLite database \"" + path + "\": " + why);
        }
        try {
            sqlite3_extended_result_codes(db_, 1);
            set_busy_timeout(o.busy_timeout_ms);
            execute("PRAGMA foreign_keys = ON");
            if (path != ":memory:" && !o.read_only) use_wal(o.busy_timeout_ms);
        } catch (const Error& e) {
            // Not a database (or a file SQLite cannot use) shows only at the first statement.
            const int code = sqlite3_errcode(db_) & 0xff;
            sqlite3_close_v2(db_);  // the destructor does not run for a constructor that throws
            if (code == SQLITE_NOTADB || code == SQLITE_CANTOPEN || code == SQLITE_CORRUPT)
                throw ConnectionError("cannot open SQLite database \"" + path + "\": " + e.what());
            throw;
        } catch (...) {
            sqlite3_close_v2(db_);
            throw;
        }
    }
    ~SqliteConnection() override { sqlite3_close_v2(db_); }

    const core::Dialect& dialect() const noexcept override { return core::sqlite(); }
    std::unique_ptr<core::Statement> prepare(std::string_view sql) override {
        sqlite3_stmt* stmt = nullptr;
        const char* tail = nullptr;
        int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
        if (rc != SQLITE_OK) raise(db_, rc, sql);
        if (!stmt) throw QueryError("no SQL statement (only blanks or comments): \"" + std::string(sql) + "\"");
        // SQLite would prepare the first statement and ignore the rest: refuse instead. What
        // follows may still be blanks, semicolons and comments, which prepare to nothing.
        const char* end = sql.data() + sql.size();
        while (tail < end && std::string_view(tail, static_cast<std::size_t>(end - tail)).find_first_not_of(" \t\r\n;") !=
                                 std::string_view::npos) {
            sqlite3_stmt* more = nullptr;
            const char* after = nullptr;
            rc = sqlite3_prepare_v3(db_, tail, static_cast<int>(end - tail), 0, &more, &after);
            sqlite3_finalize(more);
            if (rc != SQLITE_OK || more || after == tail) {
                sqlite3_finalize(stmt);
                throw QueryError("SQL holds more than one statement; run them one at a time: " + std::string(sql));
            }
            tail = after;
        }
        return std::make_unique<SqliteStatement>(db_, stmt, std::string(sql), &state_);
    }
    std::unique_ptr<core::Cursor> open_cursor(std::string_view sql, const std::vector<Value>& params, std::uint32_t,
                                              bool) override {
        auto st = prepare(sql);
        st->bind(params);
        return std::make_unique<SqliteCursor>(std::move(st), &state_);
    }
    void execute(std::string_view sql) override {
        std::string text(sql);
        char* err = nullptr;
        state_.arm();
        int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
        sqlite3_free(err);
        if (rc != SQLITE_OK) raise(db_, rc, sql, &state_);
    }

    bool in_transaction() const noexcept override { return sqlite3_get_autocommit(db_) == 0; }

    bool private_database() const noexcept override {
        const char* file = sqlite3_db_filename(db_, "main");
        return file == nullptr || *file == '\0';  // in memory (or a temporary file)
    }

    void set_statement_timeout(std::chrono::milliseconds t) override {
        state_.limit = t;
        // Checked every 1,000 virtual machine instructions, only while a limit is set.
        if (t.count() > 0) sqlite3_progress_handler(db_, 1000, &ConnState::check, &state_);
        else sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    }

private:
    // Switching a file to WAL takes its exclusive lock. While another connection uses the file,
    // SQLite answers SQLITE_BUSY at once, without calling the busy handler (waiting there could
    // deadlock), so connections opening a new file together failed: retry within the busy timeout.
    // Each try's own waits (for the read lock it takes first) are bounded by what is left.
    void use_wal(int busy_timeout_ms) {
        using namespace std::chrono;
        const auto deadline = steady_clock::now() + milliseconds(busy_timeout_ms);
        for (;;) {
            const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
            set_busy_timeout(static_cast<int>(std::max<std::int64_t>(left, 0)));
            try {
                execute("PRAGMA journal_mode = WAL");
                break;
            } catch (const DatabaseBusy&) {
                if (steady_clock::now() >= deadline) throw;
                std::this_thread::sleep_for(milliseconds(1));
            }
        }
        set_busy_timeout(busy_timeout_ms);
    }
    void set_busy_timeout(int ms) {
        state_.busy_timeout = std::chrono::milliseconds(ms);
        sqlite3_busy_handler(db_, ms > 0 ? &ConnState::busy : nullptr, &state_);
    }

    sqlite3* db_ = nullptr;
    ConnState state_;
};

}  // namespace

// sqlite:path[?busy_timeout=MS&mode=ro]: the first '?' starts the options.
std::unique_ptr<core::Connection> open_sqlite(std::string_view target) {
    if (target.find('\0') != std::string_view::npos) throw InvalidUrl("sqlite: path contains a NUL byte");
    const auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (path.empty()) throw InvalidUrl("sqlite: URL has no path (use sqlite:app.db or sqlite::memory:)");
    SqliteConnection::Options o;
    std::string_view rest = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view item = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        if (key == "busy_timeout") {
            int ms = -1;
            auto r = std::from_chars(value.data(), value.data() + value.size(), ms);
            if (r.ec != std::errc() || r.ptr != value.data() + value.size() || ms < 0)
                throw InvalidUrl("sqlite: busy_timeout must be a number of milliseconds, got \"" + std::string(value) + "\"");
            o.busy_timeout_ms = ms;
        } else if (key == "mode" && (value == "ro" || value == "rw")) {
            o.read_only = value == "ro";
        } else {
            throw InvalidUrl("sqlite: unknown option \"" + std::string(item) + "\" (known: busy_timeout=MS, mode=ro|rw)");
        }
    }
    return std::make_unique<SqliteConnection>(std::string(path), o);
}

}  // namespace quarry::driver
