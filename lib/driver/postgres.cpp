// SPDX-License-Identifier: MIT
// The PostgreSQL driver: every libpqxx and libpq call of quarry lives in this file (DESIGN §7: a
// port to libpqxx 7 touches one file). Parameters and results travel in text format.
//
// libpqxx 6.4 opens and owns the connection (and is told never to re-activate it silently).
// Statements run through libpq on that connection: libpqxx 6.4 copies every parameter twice,
// wraps every value read in reference-counted objects, checks for notifications with an extra
// system call after each statement, and reports serialisation failures and deadlocks without
// their SQLSTATE or the constraint, table and column of an error. libpq's PGresult gives all of
// that directly (docs/performance.md has the measurements that led here).
#include <algorithm>
#include <chrono>
#include <charconv>
#include <cmath>
#include <cstring>
#include <libpq-fe.h>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "driver/connect.hpp"
#include "quarry/errors.hpp"

namespace quarry::driver {

using core::Value;
using core::ValueKind;

namespace {

// libpqxx 6.4 hands its PGconn only to large objects, through this protected accessor.
struct RawConnection : pqxx::largeobject {
    static PGconn* of(pqxx::connection& c) {
        pqxx::work tx(c, "quarry_connect");
        PGconn* raw = largeobject::raw_connection(tx);
        tx.abort();
        return raw;
    }
};

struct ClearResult {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

// ---- parameters ----------------------------------------------------------------------------

// The most bytes a scalar's text can take (before its NUL).
std::size_t text_bound(const Value& v) {
    switch (v.kind) {
        case ValueKind::null: return 0;
        case ValueKind::boolean: return 5;
        case ValueKind::integer: return 20;
        case ValueKind::real: return 32;
        case ValueKind::text: return v.size;
        case ValueKind::blob: return 2 + 2 * std::size_t{v.size};
        case ValueKind::timestamp: return core::timestamp_text_max;
        case ValueKind::array: break;
    }
    std::size_t n = 2;  // {}
    for (std::uint32_t k = 0; k < v.size; ++k)  // a comma, then NULL or the text quoted with every byte escaped
        n += v.items[k].kind == ValueKind::null ? 5 : 2 * text_bound(v.items[k]) + 3;
    return n;
}

// Writes a scalar in PostgreSQL's text input format; returns the end.
char* write_scalar(char* p, const Value& v) {
    switch (v.kind) {
        case ValueKind::boolean: return v.i ? std::copy_n("true", 4, p) : std::copy_n("false", 5, p);
        case ValueKind::integer: return std::to_chars(p, p + 20, v.i).ptr;
        case ValueKind::real:
            if (std::isnan(v.d)) return std::copy_n("NaN", 3, p);
            if (std::isinf(v.d)) return v.d > 0 ? std::copy_n("Infinity", 8, p) : std::copy_n("-Infinity", 9, p);
            return std::to_chars(p, p + 32, v.d).ptr;
        case ValueKind::text: return v.size ? std::copy_n(v.s, v.size, p) : p;
        case ValueKind::blob: {
            static constexpr char hex[] = "0123456789abcdef";
            *p++ = '\\';
            *p++ = 'x';
            for (std::uint32_t k = 0; k < v.size; ++k) {
                auto b = static_cast<unsigned char>(v.s[k]);
                *p++ = hex[b >> 4];
                *p++ = hex[b & 15];
            }
            return p;
        }
        case ValueKind::timestamp: return core::format_timestamp(v.i, p);
        case ValueKind::null:
        case ValueKind::array: break;
    }
    return p;
}

// An array parameter as a PostgreSQL array literal: {1,2,3} or {"a","b\"c",NULL}.
char* write_array(char* p, const Value& v) {
    *p++ = '{';
    std::string item;
    for (std::uint32_t k = 0; k < v.size; ++k) {
        if (k) *p++ = ',';
        const Value& e = v.items[k];
        if (e.kind == ValueKind::null) {
            p = std::copy_n("NULL", 4, p);
            continue;
        }
        item.resize(text_bound(e));
        item.resize(static_cast<std::size_t>(write_scalar(item.data(), e) - item.data()));
        *p++ = '"';
        for (char c : item) {
            if (c == '"' || c == '\\') *p++ = '\\';
            *p++ = c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    return p;
}

bool holds_nul(const Value& v) {
    if (v.kind == ValueKind::text) return v.size && std::memchr(v.s, 0, v.size);
    if (v.kind == ValueKind::array)
        for (std::uint32_t k = 0; k < v.size; ++k)
            if (holds_nul(v.items[k])) return true;
    return false;
}

// Parameters in libpq's text format: NUL-terminated texts in one buffer, NULL as a null pointer.
// The buffer is sized from an upper bound first, so values are written straight into it.
class Params {
public:
    void assign(const std::vector<Value>& params, std::string_view sql) {
        std::size_t bound = 0;
        for (const Value& v : params) bound += text_bound(v) + 1;
        if (bound > capacity_) {
            text_ = std::make_unique<char[]>(bound);
            capacity_ = bound;
        }
        values_.resize(params.size());
        char* p = text_.get();
        for (std::size_t k = 0; k < params.size(); ++k) {
            const Value& v = params[k];
            if (v.kind == ValueKind::null) {
                values_[k] = nullptr;
                continue;
            }
            // PostgreSQL text cannot hold a NUL byte, and libpq would cut the value there.
            if (holds_nul(v))
                throw QueryError("PostgreSQL text cannot contain a NUL byte (store such data as a blob): parameter " +
                                 std::to_string(k + 1) + " of: " + std::string(sql));
            values_[k] = p;
            p = v.kind == ValueKind::array ? write_array(p, v) : write_scalar(p, v);
            *p++ = '\0';
        }
    }
    int size() const noexcept { return static_cast<int>(values_.size()); }
    const char* const* values() const noexcept { return values_.data(); }

private:
    std::unique_ptr<char[]> text_;
    std::size_t capacity_ = 0;
    std::vector<const char*> values_;
};

// ---- errors --------------------------------------------------------------------------------

std::string field_of(const PGresult* r, int code) {
    const char* f = r ? PQresultErrorField(r, code) : nullptr;
    return f ? f : "";
}

// The columns of a unique or foreign key violation, from its detail: Key (a, "b c")=(1, 2) ...
// PostgreSQL names constraints after their columns in the order written and cuts the name to
// 63 bytes, so the columns are what a declaration can be matched by. Nothing for an expression
// index, a translated message (lc_messages), or a detail hidden from a role that may not read
// the row.
std::vector<std::string> key_columns(std::string_view detail) {
    std::vector<std::string> out;
    if (!detail.starts_with("Key (")) return out;
    std::size_t i = 5;
    for (;;) {
        std::string name;
        if (i < detail.size() && detail[i] == '"') {
            for (++i; i < detail.size(); ++i) {
                if (detail[i] != '"') name += detail[i];
                else if (i + 1 < detail.size() && detail[i + 1] == '"') name += detail[++i];
                else break;
            }
            if (i++ >= detail.size()) return {};
        } else {
            while (i < detail.size() && detail[i] != ',' && detail[i] != ')') {
                if (detail[i] == '(' || detail[i] == ' ' || detail[i] == ':') return {};  // an expression
                name += detail[i++];
            }
        }
        if (name.empty() || i >= detail.size()) return {};
        out.push_back(std::move(name));
        if (detail.substr(i, 3) == ")=(") return out;
        if (detail.substr(i, 2) != ", ") return {};
        i += 2;
    }
}

// Whether the statement's first word, past blanks and comments, is COPY. The server runs a COPY
// before quarry sees its result (and in autocommit commits it): it is refused before it is sent.
bool is_copy(std::string_view sql) noexcept {
    std::size_t i = 0;
    for (;;) {
        while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
        if (sql.substr(i, 2) == "--") {
            i = sql.find('\n', i);
            if (i == std::string_view::npos) return false;
        } else if (sql.substr(i, 2) == "/*") {
            int depth = 0;  // PostgreSQL's block comments nest
            do {
                if (sql.substr(i, 2) == "/*") ++depth, i += 2;
                else if (sql.substr(i, 2) == "*/") --depth, i += 2;
                else ++i;
            } while (depth > 0 && i < sql.size());
        } else {
            break;
        }
    }
    if (sql.size() - i < 4) return false;
    for (std::size_t k = 0; k < 4; ++k)
        if (std::toupper(static_cast<unsigned char>(sql[i + k])) != "COPY"[k]) return false;
    return i + 4 == sql.size() || !(std::isalnum(static_cast<unsigned char>(sql[i + 4])) || sql[i + 4] == '_');
}

[[noreturn]] void refuse_copy(std::string_view sql) {
    throw UnsupportedFeature("postgres", "COPY through quarry (use libpq directly for bulk copies): " + std::string(sql));
}

[[noreturn]] void raise(PGconn* conn, const PGresult* r, std::string_view sql) {
    std::string message = r ? PQresultErrorMessage(r) : "";
    if (message.empty()) message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    const std::string state = field_of(r, PG_DIAG_SQLSTATE);
    const std::string text = message + (state.empty() ? "" : " [SQLSTATE " + state + "]") + " in: " + std::string(sql);
    if (PQstatus(conn) == CONNECTION_BAD || state.starts_with("08") || state == "57P01" || state == "57P02" ||
        state == "57P03") {
        if (sql == "COMMIT")
            throw InDoubt("the connection was lost during COMMIT: the transaction may or may not have been committed: " +
                              message,
                          std::string(sql), state);
        // The server ending the session (57P0x) answers the statement instead of running it.
        throw ConnectionError("PostgreSQL connection lost: " + text, state.starts_with("57P0"));
    }
    auto constraint = [&](ConstraintKind kind) {
        std::vector<std::string> columns;
        if (auto c = field_of(r, PG_DIAG_COLUMN_NAME); !c.empty()) columns.push_back(std::move(c));
        else if (const std::string detail = field_of(r, PG_DIAG_MESSAGE_DETAIL);
                 kind == ConstraintKind::unique ||
                 (kind == ConstraintKind::foreign_key && detail.find("is not present in table") != std::string::npos))
            // A foreign key's detail names the referencing row's columns only when that row is
            // the one written; a delete of a referenced row names the parent's key, which is not
            // a column of the table the error names.
            columns = key_columns(detail);
        throw ConstraintError(kind, field_of(r, PG_DIAG_CONSTRAINT_NAME), field_of(r, PG_DIAG_TABLE_NAME),
                              std::move(columns), text, std::string(sql), state);
    };
    if (state == "23505") constraint(ConstraintKind::unique);
    if (state == "23503") constraint(ConstraintKind::foreign_key);
    if (state == "23514") constraint(ConstraintKind::check);
    if (state == "23502") constraint(ConstraintKind::not_null);
    if (state == "23P01") constraint(ConstraintKind::exclusion);
    if (state == "25006") throw ReadOnlyError(text, std::string(sql), state);
    if (state == "55P03") throw DatabaseBusy(text, std::string(sql), state);
    if (state == "57014") throw StatementTimeout(text, std::string(sql), state);
    if (state == "40001") throw SerializationFailure(text, std::string(sql), state);
    if (state == "40P01") throw Deadlock(text, std::string(sql), state);
    if (state == "40003") throw InDoubt(text, std::string(sql), state);
    throw DatabaseError(text, std::string(sql), state);
}

// ---- rows ----------------------------------------------------------------------------------

class PgRow final : public core::Row {
public:
    const PGresult* result = nullptr;
    int at = 0;

    std::uint32_t size() const noexcept override { return static_cast<std::uint32_t>(PQnfields(result)); }
    std::string_view name(std::uint32_t i) const override {
        const char* n = PQfname(result, static_cast<int>(i));
        return n ? n : "";
    }
    bool is_null(std::uint32_t i) const override {
        // NULL reads as an empty value: only then is the flag worth a call.
        return PQgetlength(result, at, static_cast<int>(i)) == 0 && PQgetisnull(result, at, static_cast<int>(i));
    }
    std::int64_t integer(std::uint32_t i) const override {
        std::string_view t = text_of(i);
        std::int64_t v = 0;
        auto r = std::from_chars(t.data(), t.data() + t.size(), v);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) mismatch(i, "holds \"" + std::string(t) + "\", expected an integer");
        return v;
    }
    double real(std::uint32_t i) const override {
        std::string_view t = text_of(i);
        if (t == "NaN") return std::nan("");
        if (t == "Infinity") return HUGE_VAL;
        if (t == "-Infinity") return -HUGE_VAL;
        double v = 0;
        auto r = std::from_chars(t.data(), t.data() + t.size(), v);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) mismatch(i, "holds \"" + std::string(t) + "\", expected a number");
        return v;
    }
    bool boolean(std::uint32_t i) const override {
        std::string_view t = text_of(i);
        if (t == "t") return true;
        if (t == "f") return false;
        mismatch(i, "holds \"" + std::string(t) + "\", expected a boolean");
    }
    std::string_view text(std::uint32_t i) const override { return text_of(i); }
    std::string_view blob(std::uint32_t i) const override {
        std::string_view t = text_of(i);
        if (!t.starts_with("\\x") || t.size() % 2) mismatch(i, "is not bytea in hex format");
        scratch_.clear();
        auto nibble = [&](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            mismatch(i, "is not bytea in hex format");
        };
        for (std::size_t k = 2; k < t.size(); k += 2) scratch_ += static_cast<char>(nibble(t[k]) << 4 | nibble(t[k + 1]));
        return scratch_;
    }
    std::int64_t timestamp(std::uint32_t i) const override {
        std::string_view t = text_of(i);
        std::int64_t us = 0;
        if (!core::parse_timestamp(t, us)) mismatch(i, "holds \"" + std::string(t) + "\", not a UTC timestamp");
        return us;
    }

private:
    std::string_view text_of(std::uint32_t i) const {
        const int c = static_cast<int>(i);
        const int length = PQgetlength(result, at, c);
        if (length == 0 && PQgetisnull(result, at, c)) [[unlikely]]  // NULL reads as an empty value
            mismatch(i, "is NULL but the field is not optional");
        return {PQgetvalue(result, at, c), static_cast<std::size_t>(length)};
    }
    mutable std::string scratch_;
};

// ---- connection ----------------------------------------------------------------------------

class PgConnection final : public core::Connection {
public:
    // `transaction_pooler`: behind PgBouncer in transaction pooling mode, where consecutive
    // transactions may run on different server connections: nothing may outlive a transaction
    // on the server (no named prepared statements, no WITH HOLD cursors, no session SETs).
    PgConnection(const std::string& conninfo, bool transaction_pooler) : pooler_(transaction_pooler) {
        try {
            conn_.emplace(conninfo);
        } catch (const pqxx::broken_connection& e) {
            const std::string what = e.what();
            // libpq gives no SQLSTATE for a refused connection: the server's message says why
            // (in English unless the server is set to another language; then it stays transient).
            for (const char* permanent : {"does not exist", "authentication failed", "no pg_hba.conf entry",
                                          "not permitted to log in", "permission denied for database"})
                if (what.find(permanent) != std::string::npos)
                    throw ConnectionRefused("PostgreSQL refused the connection: " + what);
            throw ConnectionError("cannot connect to PostgreSQL: " + what);
        } catch (const std::exception& e) {  // libpq rejects a malformed connection string here
            throw InvalidUrl(std::string("invalid PostgreSQL connection string: ") + e.what());
        }
        // A broken connection must stay broken: libpqxx would otherwise reconnect silently,
        // dropping session state (time zone, search_path) and any open transaction (DESIGN §7).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        conn_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
        try {
            pg_ = RawConnection::of(*conn_);
        } catch (const pqxx::broken_connection& e) {
            throw ConnectionError(std::string("PostgreSQL connection lost: ") + e.what());
        }
        PQsetErrorVerbosity(pg_, PQERRORS_DEFAULT);  // the fields come from PQresultErrorField
        // The row decoder reads ISO timestamps, hex bytea and exact floats, and every text is
        // UTF-8: say so, whatever the role, the database or PGOPTIONS would have set. Without
        // extra_float_digits = 3 a server before 12 (or one told 0) rounds a double; without the
        // client encoding a LATIN1 database stores UTF-8 bytes as other characters.
        execute("SET TIME ZONE 'UTC'; SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, MDY'; "
                "SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'; SET extra_float_digits = 3");
    }
    const core::Dialect& dialect() const noexcept override { return core::postgres(); }
    std::unique_ptr<core::Statement> prepare(std::string_view sql) override;
    void execute(std::string_view sql) override {
        if (is_copy(sql)) refuse_copy(sql);
        std::string text(sql);
        if (text == "COMMIT" && PQtransactionStatus(pg_) == PQTRANS_INERROR) {
            // PostgreSQL would answer this COMMIT with ROLLBACK and no error: the caller would
            // believe its writes were kept. End the transaction and say what happened.
            exec("ROLLBACK");
            ++scope_;
            throw DatabaseError("COMMIT refused: a statement of this transaction failed earlier, so PostgreSQL "
                                "discarded all of it (run such statements in a nested transaction to keep the rest)",
                                text, "25P02");
        }
        exec(text);
        if (text.starts_with("BEGIN") || text == "COMMIT" || text.starts_with("ROLLBACK")) ++scope_;
    }
    std::unique_ptr<core::Cursor> open_cursor(std::string_view sql, const std::vector<Value>& params, std::uint32_t batch,
                                              bool in_transaction) override;

    Result exec(const std::string& sql) {
        alive(sql);
        return checked(PQexec(pg_, sql.c_str()), sql);
    }
    Result exec_params(const std::string& sql, const Params& p) {
        alive(sql);
        return checked(PQexecParams(pg_, sql.c_str(), p.size(), nullptr, p.values(), nullptr, nullptr, 0), sql);
    }
    Result exec_prepared(const std::string& name, const Params& p, std::string_view sql) {
        alive(sql);
        return checked(PQexecPrepared(pg_, name.c_str(), p.size(), p.values(), nullptr, nullptr, 0), sql);
    }
    void prepare_as(const std::string& name, const std::string& sql) {
        alive(sql);
        checked(PQprepare(pg_, name.c_str(), sql.c_str(), 0, nullptr), sql);
    }
    void unprepare(const std::string& name) noexcept {
        // Best effort: inside a failed transaction the server refuses, and the statement stays
        // prepared (under a name never reused) until the connection closes.
        if (PQstatus(pg_) == CONNECTION_OK) PQclear(PQexec(pg_, ("DEALLOCATE " + name).c_str()));
    }
    // Changes whenever a transaction or savepoint begins or ends: a cursor declared in one is
    // gone once it changes, and closing it then would fail (and abort the transaction around).
    std::uint64_t scope() const noexcept { return scope_; }
    bool usable() const noexcept { return PQstatus(pg_) == CONNECTION_OK; }
    bool healthy() const noexcept override { return usable() && PQtransactionStatus(pg_) != PQTRANS_UNKNOWN; }
    // PostgreSQL keeps a failed transaction open (aborted) until ROLLBACK; only a lost
    // connection (UNKNOWN) ends it, and that fails the next statement anyway.
    bool in_transaction() const noexcept override { return PQtransactionStatus(pg_) != PQTRANS_IDLE; }
    bool in_failed_transaction() const noexcept { return PQtransactionStatus(pg_) == PQTRANS_INERROR; }
    void set_statement_timeout(std::chrono::milliseconds t) override {
        if (pooler_) {
            if (t.count() <= 0) return;
            throw UnsupportedFeature("postgres",
                                     "a per-connection statement timeout behind PgBouncer in transaction mode (a SET would stay "
                                     "on one server connection; set it for the role: ALTER ROLE ... SET statement_timeout)");
        }
        exec("SET statement_timeout = " + std::to_string(std::max<std::int64_t>(t.count(), 0)));
    }
    bool transaction_pooled() const noexcept override { return pooler_; }

private:
    void alive(std::string_view sql) const {
        if (PQstatus(pg_) != CONNECTION_OK)
            throw ConnectionError("PostgreSQL connection lost (quarry does not reconnect a session): cannot run " +
                                      std::string(sql),
                                  true);
    }
    Result checked(PGresult* raw, std::string_view sql) {
        Result r(raw);
        const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return r;
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
            end_copy();
            throw UnsupportedFeature("postgres", "COPY through quarry (use libpq directly for bulk copies)");
        }
        raise(pg_, r.get(), sql);
    }
    // Leaves COPY mode so that the connection stays usable.
    void end_copy() noexcept {
        PQputCopyEnd(pg_, "COPY is not supported by quarry");
        char* row = nullptr;
        while (PQgetCopyData(pg_, &row, 0) > 0) PQfreemem(row);
        while (PGresult* r = PQgetResult(pg_)) PQclear(r);
    }

    std::optional<pqxx::connection> conn_;  // owns pg_
    PGconn* pg_ = nullptr;
    std::uint64_t counter_ = 0;
    std::uint64_t scope_ = 0;
    bool pooler_ = false;

public:
    // A name for a server-side object (statement, cursor) never used on this connection before.
    std::string next_name(std::string_view prefix) { return std::string(prefix) + std::to_string(++counter_); }
};

// ---- statements ----------------------------------------------------------------------------

class PgStatement final : public core::Statement {
public:
    // An empty name: not prepared on the server, sent with its parameters each time (behind a
    // transaction pooler; the client still caches the rendered text and parameter plan).
    PgStatement(PgConnection& c, std::string name, std::string sql)
        : conn_(c), name_(std::move(name)), sql_(std::move(sql)), prepared_(!name_.empty()) {}
    ~PgStatement() override {
        if (prepared_) conn_.unprepare(name_);
    }
    void bind(const std::vector<Value>& params) override {
        reset();
        params_.assign(params, sql_);
    }
    bool step() override {
        if (!result_) run();
        if (next_ >= rows_) return false;
        row_.at = next_++;
        return true;
    }
    const core::Row& row() const noexcept override { return row_; }
    void reset() noexcept override {
        result_.reset();
        next_ = rows_ = 0;
    }
    std::size_t rows_known() const noexcept override { return static_cast<std::size_t>(rows_); }
    std::int64_t rows_affected() const noexcept override {
        if (!result_) return 0;
        const char* n = PQcmdTuples(result_.get());
        std::int64_t v = 0;
        (void)std::from_chars(n, n + std::strlen(n), v);
        return v;
    }

private:
    void run() {
        if (name_.empty()) {
            result_ = conn_.exec_params(sql_, params_);
            row_.result = result_.get();
            rows_ = PQntuples(result_.get());
            next_ = 0;
            return;
        }
        if (!prepared_) prepare();
        try {
            result_ = conn_.exec_prepared(name_, params_, sql_);
        } catch (const DatabaseError& e) {
            // A schema change altered the statement's result type ("cached plan must not change
            // result type", 0A000), or the statement is gone from the server (26000): prepare it
            // again, once, under a new name. Inside a transaction the server refuses the old
            // name's DEALLOCATE (it stays until the connection closes), and a PREPARE under it
            // would fail with "already exists" at every later run.
            if (e.code() != "0A000" && e.code() != "26000") throw;
            conn_.unprepare(name_);
            prepared_ = false;
            name_ = conn_.next_name("quarry_");
            // The error has aborted the transaction around: nothing more runs there, and the
            // caller is told the cause. The next run prepares the statement.
            if (conn_.in_failed_transaction()) throw;
            prepare();
            result_ = conn_.exec_prepared(name_, params_, sql_);
        }
        row_.result = result_.get();
        rows_ = PQntuples(result_.get());
        next_ = 0;
    }
    void prepare() {
        conn_.prepare_as(name_, sql_);
        prepared_ = true;
    }
    PgConnection& conn_;
    std::string name_, sql_;
    Params params_;
    Result result_;
    PgRow row_;
    int next_ = 0, rows_ = 0;
    bool prepared_;  // on the server under name_ (false after a failed re-prepare)
};

std::unique_ptr<core::Statement> PgConnection::prepare(std::string_view sql) {
    if (is_copy(sql)) refuse_copy(sql);
    std::string text(sql);
    if (pooler_) return std::make_unique<PgStatement>(*this, std::string(), std::move(text));
    std::string name = next_name("quarry_");
    prepare_as(name, text);  // bad SQL fails here, not at the first execution
    return std::make_unique<PgStatement>(*this, std::move(name), std::move(text));
}

// ---- cursors -------------------------------------------------------------------------------

// DECLARE ... NO SCROLL CURSOR, then FETCH FORWARD `batch` at a time (DESIGN §7: libpqxx 6.4's
// stream_from is unsafe with a column list).
class PgCursor final : public core::Cursor {
public:
    PgCursor(PgConnection& c, std::string name, std::uint32_t batch, std::optional<std::uint64_t> scope)
        : conn_(c), name_(std::move(name)), batch_(batch), scope_(scope) {}
    // No cursor on the server: the whole result, read already (behind a transaction pooler).
    PgCursor(PgConnection& c, Result all) : conn_(c), batch_(0), result_(std::move(all)), exhausted_(true) {
        row_.result = result_.get();
        rows_ = PQntuples(result_.get());
    }
    ~PgCursor() override {
        // A cursor declared in a transaction ended with it; a WITH HOLD one lives until closed.
        if (name_.empty() || !conn_.usable() || (scope_ && *scope_ != conn_.scope())) return;
        try {
            conn_.exec("CLOSE " + name_);
        } catch (...) {
            // The transaction around failed earlier. A cursor declared in a transaction goes
            // when it ends; a WITH HOLD one stays on the server until the connection closes.
        }
    }
    bool next() override {
        if (next_ >= rows_) {
            if (exhausted_) return false;
            result_ = conn_.exec("FETCH FORWARD " + std::to_string(batch_) + " FROM " + name_);
            row_.result = result_.get();
            rows_ = PQntuples(result_.get());
            next_ = 0;
            exhausted_ = static_cast<std::uint32_t>(rows_) < batch_;
            if (rows_ == 0) return false;
        }
        row_.at = next_++;
        return true;
    }
    const core::Row& row() const noexcept override { return row_; }

private:
    PgConnection& conn_;
    std::string name_;
    std::uint32_t batch_;
    std::optional<std::uint64_t> scope_;  // empty: WITH HOLD
    Result result_;
    PgRow row_;
    int next_ = 0, rows_ = 0;
    bool exhausted_ = false;
};

std::unique_ptr<core::Cursor> PgConnection::open_cursor(std::string_view sql, const std::vector<Value>& params,
                                                         std::uint32_t batch, bool in_transaction) {
    std::string name = next_name("quarry_cursor_");
    Params text;
    text.assign(params, sql);
    if (in_transaction) {
        exec_params("DECLARE " + name + " NO SCROLL CURSOR FOR " + std::string(sql), text);
        return std::make_unique<PgCursor>(*this, std::move(name), batch ? batch : 1000, scope_);
    }
    if (pooler_) {
        // Behind a transaction pooler a WITH HOLD cursor would stay on a server connection the
        // next FETCH may not get, and a transaction held for the stream would swallow the
        // statements run while it is read: outside a transaction, the result comes whole.
        return std::make_unique<PgCursor>(*this, exec_params(std::string(sql), text));
    }
    // Outside a transaction: a WITH HOLD cursor, declared in a transaction of its own, so that
    // statements run while the stream is read commit as they would without it. The server keeps
    // the result; the client still reads it in batches.
    execute("BEGIN");
    try {
        exec_params("DECLARE " + name + " NO SCROLL CURSOR WITH HOLD FOR " + std::string(sql), text);
        execute("COMMIT");
    } catch (...) {
        try {
            execute("ROLLBACK");
        } catch (...) {
        }
        throw;
    }
    return std::make_unique<PgCursor>(*this, std::move(name), batch ? batch : 1000, std::nullopt);
}

}  // namespace

namespace {

// Takes quarry's own `pgbouncer=true|false` out of a connection string, which libpq would
// refuse: a parameter of a URL's query, or a key=value pair (libpq's syntax: spaces around
// '=', single-quoted values with backslash escapes). Whether it was true.
bool flag_value(std::string_view value) {
    if (value == "true" || value == "1") return true;
    if (value == "false" || value == "0") return false;
    throw InvalidUrl("invalid PostgreSQL connection string: pgbouncer=" + std::string(value) + " (expected true or false)");
}

bool take_pgbouncer_flag(std::string& conninfo) {
    if (conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://")) {
        const std::size_t query = conninfo.find('?');
        if (query == std::string::npos) return false;
        std::string kept;
        bool on = false;
        for (std::size_t at = query + 1; at <= conninfo.size();) {
            std::size_t end = conninfo.find('&', at);
            if (end == std::string::npos) end = conninfo.size();
            const std::string_view param(conninfo.data() + at, end - at);
            if (param.starts_with("pgbouncer=")) on = flag_value(param.substr(10));
            else if (!param.empty()) kept += (kept.empty() ? "" : "&") + std::string(param);
            at = end + 1;
        }
        conninfo.resize(query);
        if (!kept.empty()) conninfo += "?" + kept;
        return on;
    }
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::string kept;
    bool on = false;
    std::size_t i = 0;
    const std::size_t n = conninfo.size();
    while (i < n) {
        while (i < n && space(conninfo[i])) ++i;
        if (i == n) break;
        const std::size_t pair = i;
        while (i < n && conninfo[i] != '=' && !space(conninfo[i])) ++i;
        const std::string key = conninfo.substr(pair, i - pair);
        while (i < n && space(conninfo[i])) ++i;
        if (i == n || conninfo[i] != '=') return on;  // malformed: libpq will say so
        ++i;
        while (i < n && space(conninfo[i])) ++i;
        std::string value;
        if (i < n && conninfo[i] == '\'') {
            for (++i; i < n && conninfo[i] != '\''; ++i) {
                if (conninfo[i] == '\\' && i + 1 < n) ++i;
                value += conninfo[i];
            }
            if (i < n) ++i;  // the closing quote
        } else {
            while (i < n && !space(conninfo[i])) {
                if (conninfo[i] == '\\' && i + 1 < n) ++i;
                value += conninfo[i++];
            }
        }
        if (key == "pgbouncer") on = flag_value(value);
        else kept += (kept.empty() ? "" : " ") + conninfo.substr(pair, i - pair);
    }
    conninfo = kept;
    return on;
}

}  // namespace

std::unique_ptr<core::Connection> open_postgres(std::string_view conninfo_in) {
    if (conninfo_in.find('\0') != std::string_view::npos) throw InvalidUrl("PostgreSQL connection string contains a NUL byte");
    std::string conninfo(conninfo_in);
    const bool pooler = take_pgbouncer_flag(conninfo);
    // libpq's own parser tells a malformed string (InvalidUrl: retrying cannot help) from a
    // server that cannot be reached (ConnectionError).
    char* error = nullptr;
    std::string text = conninfo;
    if (PQconninfoOption* options = PQconninfoParse(text.c_str(), &error)) {
        PQconninfoFree(options);
    } else {
        std::string why = error ? error : "out of memory";
        PQfreemem(error);
        while (!why.empty() && why.back() == '\n') why.pop_back();
        throw InvalidUrl("invalid PostgreSQL connection string: " + why);
    }
    return std::make_unique<PgConnection>(conninfo, pooler);
}

}  // namespace quarry::driver
