// SPDX-License-Identifier: MIT
// The PostgreSQL driver: every libpqxx call of quarry lives in this file (DESIGN §7: a port to
// libpqxx 7 touches one file). Parameters and results travel in text format.
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <libpq-fe.h>
#include <pqxx/pqxx>
#include <string>

#include "driver/connect.hpp"
#include "quarry/errors.hpp"

namespace quarry::driver {
namespace {

struct PgParam {
    bool null = false;
    std::string text;
};

}  // namespace
}  // namespace quarry::driver

namespace pqxx {
template <>
struct string_traits<quarry::driver::PgParam> {
    static constexpr const char* name() noexcept { return "quarry parameter"; }
    static constexpr bool has_null() noexcept { return true; }
    static bool is_null(const quarry::driver::PgParam& p) { return p.null; }
    static quarry::driver::PgParam null() { return {true, {}}; }
    static void from_string(const char s[], quarry::driver::PgParam& p) { p = {false, s}; }
    static std::string to_string(const quarry::driver::PgParam& p) { return p.text; }
};
}  // namespace pqxx

namespace quarry::driver {

using core::Value;
using core::ValueKind;

namespace {

void append_scalar(std::string& out, const Value& v) {
    char buf[64];
    switch (v.kind) {
        case ValueKind::boolean: out += v.i ? "true" : "false"; break;
        case ValueKind::integer: out.append(buf, std::to_chars(buf, buf + sizeof buf, v.i).ptr); break;
        case ValueKind::real:
            if (std::isnan(v.d)) out += "NaN";
            else if (std::isinf(v.d)) out += v.d > 0 ? "Infinity" : "-Infinity";
            else out.append(buf, std::to_chars(buf, buf + sizeof buf, v.d).ptr);
            break;
        case ValueKind::text: out.append(v.s, v.size); break;
        case ValueKind::blob: {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            for (std::uint32_t k = 0; k < v.size; ++k) {
                auto b = static_cast<unsigned char>(v.s[k]);
                out += hex[b >> 4];
                out += hex[b & 15];
            }
            break;
        }
        case ValueKind::timestamp: out += core::format_timestamp(v.i); break;
        case ValueKind::null:
        case ValueKind::array: break;
    }
}

// An array parameter as a PostgreSQL array literal: {1,2,3} or {"a","b\"c",NULL}.
void append_array(std::string& out, const Value& v) {
    out += '{';
    for (std::uint32_t k = 0; k < v.size; ++k) {
        if (k) out += ',';
        const Value& item = v.items[k];
        if (item.kind == ValueKind::null) {
            out += "NULL";
            continue;
        }
        std::string text;
        append_scalar(text, item);
        out += '"';
        for (char c : text) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
}

// "TABLE NAME:  users" in a verbose error message: libpq's field labels, not server prose.
std::string field(std::string_view message, std::string_view label) {
    auto at = message.find(label);
    if (at == std::string_view::npos) return {};
    auto start = message.find_first_not_of(' ', at + label.size());
    if (start == std::string_view::npos) return {};
    auto end = message.find('\n', start);
    return std::string(message.substr(start, end == std::string_view::npos ? end : end - start));
}

[[noreturn]] void raise(const pqxx::sql_error& e, std::string_view sql) {
    const std::string& state = e.sqlstate();
    std::string message = e.what();
    std::string text = message + "in: " + std::string(sql);
    auto constraint = [&](ConstraintKind kind) {
        std::vector<std::string> columns;
        if (auto c = field(message, "COLUMN NAME:"); !c.empty()) columns.push_back(c);
        throw ConstraintError(kind, field(message, "CONSTRAINT NAME:"), field(message, "TABLE NAME:"), std::move(columns),
                              text, std::string(sql), state);
    };
    if (state == "23505") constraint(ConstraintKind::unique);
    if (state == "23503") constraint(ConstraintKind::foreign_key);
    if (state == "23514") constraint(ConstraintKind::check);
    if (state == "23502") constraint(ConstraintKind::not_null);
    if (state == "23P01") constraint(ConstraintKind::exclusion);
    if (state == "55P03") throw DatabaseBusy(text, std::string(sql), state);
    if (state == "57014") throw StatementTimeout(text, std::string(sql), state);
    if (state == "40001") throw SerializationFailure(text, std::string(sql), state);
    if (state == "40P01") throw Deadlock(text, std::string(sql), state);
    if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03")
        throw ConnectionError(text);
    throw DatabaseError(text, std::string(sql), state);
}

// Runs f, turning libpqxx's exceptions into quarry's family.
template <class F>
decltype(auto) guarded(std::string_view sql, F&& f) {
    try {
        return f();
    } catch (const pqxx::sql_error& e) {
        raise(e, sql);
    } catch (const pqxx::serialization_failure& e) {
        // libpqxx 6.4 raises these without a SQLSTATE (DESIGN §7): the type is the code.
        throw SerializationFailure(std::string(e.what()) + " in: " + std::string(sql), std::string(sql), "40001");
    } catch (const pqxx::deadlock_detected& e) {
        throw Deadlock(std::string(e.what()) + " in: " + std::string(sql), std::string(sql), "40P01");
    } catch (const pqxx::in_doubt_error& e) {
        throw InDoubt(std::string(e.what()) + " in: " + std::string(sql), std::string(sql), "");
    } catch (const pqxx::statement_completion_unknown& e) {
        throw InDoubt(std::string(e.what()) + " in: " + std::string(sql), std::string(sql), "40003");
    } catch (const pqxx::broken_connection& e) {
        throw ConnectionError(std::string("PostgreSQL connection lost: ") + e.what());
    } catch (const pqxx::failure& e) {
        // serialization_failure, deadlock_detected, ... carry no SQLSTATE in libpqxx 6.4 (DESIGN §7).
        throw DatabaseError(std::string(e.what()) + " in: " + std::string(sql), std::string(sql), "");
    }
}

class PgRow final : public core::Row {
public:
    const pqxx::result* result = nullptr;
    pqxx::result::size_type at = 0;

    std::uint32_t size() const noexcept override { return static_cast<std::uint32_t>(result->columns()); }
    std::string_view name(std::uint32_t i) const override { return result->column_name(i); }
    bool is_null(std::uint32_t i) const override { return field(i).is_null(); }
    std::int64_t integer(std::uint32_t i) const override {
        std::string_view t = text_of(i, "an integer");
        std::int64_t v = 0;
        auto r = std::from_chars(t.data(), t.data() + t.size(), v);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) mismatch(i, "holds \"" + std::string(t) + "\", expected an integer");
        return v;
    }
    double real(std::uint32_t i) const override {
        std::string_view t = text_of(i, "a number");
        if (t == "NaN") return std::nan("");
        if (t == "Infinity") return HUGE_VAL;
        if (t == "-Infinity") return -HUGE_VAL;
        double v = 0;
        auto r = std::from_chars(t.data(), t.data() + t.size(), v);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) mismatch(i, "holds \"" + std::string(t) + "\", expected a number");
        return v;
    }
    bool boolean(std::uint32_t i) const override {
        std::string_view t = text_of(i, "a boolean");
        if (t == "t") return true;
        if (t == "f") return false;
        mismatch(i, "holds \"" + std::string(t) + "\", expected a boolean");
    }
    std::string_view text(std::uint32_t i) const override { return text_of(i, "text"); }
    std::string_view blob(std::uint32_t i) const override {
        std::string_view t = text_of(i, "a blob");
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
        std::string_view t = text_of(i, "a timestamp");
        std::int64_t us = 0;
        if (!core::parse_timestamp(t, us)) mismatch(i, "holds \"" + std::string(t) + "\", not a UTC timestamp");
        return us;
    }

private:
    pqxx::field field(std::uint32_t i) const { return (*result)[at][static_cast<pqxx::row::size_type>(i)]; }
    std::string_view text_of(std::uint32_t i, std::string_view what) const {
        pqxx::field f = field(i);
        if (f.is_null()) mismatch(i, "is NULL but the field is not optional");
        (void)what;
        return {f.c_str(), f.size()};
    }
    mutable std::string scratch_;
};

class PgConnection;

class PgStatement final : public core::Statement {
public:
    PgStatement(PgConnection& c, std::string name, std::string sql) : conn_(c), name_(std::move(name)), sql_(std::move(sql)) {
        row_.result = &result_;
    }
    ~PgStatement() override;
    void bind(const std::vector<Value>& params) override;
    bool step() override {
        if (!ran_) run();
        if (next_ >= result_.size()) return false;
        row_.at = next_++;
        return true;
    }
    const core::Row& row() const noexcept override { return row_; }
    void reset() noexcept override {
        result_ = pqxx::result();
        ran_ = false;
        next_ = 0;
    }
    std::int64_t rows_affected() const noexcept override { return static_cast<std::int64_t>(result_.affected_rows()); }

private:
    void run();
    PgConnection& conn_;
    std::string name_, sql_;
    std::vector<PgParam> params_;
    pqxx::result result_;
    PgRow row_;
    bool ran_ = false;
    pqxx::result::size_type next_ = 0;
};

class PgConnection final : public core::Connection {
public:
    explicit PgConnection(const std::string& conninfo) {
        try {
            conn_.emplace(conninfo);
        } catch (const pqxx::broken_connection& e) {
            throw ConnectionError(std::string("cannot connect to PostgreSQL: ") + e.what());
        } catch (const std::exception& e) {  // libpq rejects a malformed connection string here
            throw InvalidUrl(std::string("invalid PostgreSQL connection string: ") + e.what());
        }
        conn_->set_verbosity(pqxx::connection_base::verbose);
        // A broken connection must stay broken: libpqxx would otherwise reconnect silently,
        // dropping session state (time zone, search_path) and any open transaction (DESIGN §7).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        conn_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
        tx_.emplace(*conn_);
        execute("SET TIME ZONE 'UTC'");
    }
    ~PgConnection() override {
        tx_.reset();
        conn_.reset();
    }
    const core::Dialect& dialect() const noexcept override { return core::postgres(); }
    std::unique_ptr<core::Statement> prepare(std::string_view sql) override {
        std::string name = "quarry_" + std::to_string(++counter_);
        std::string text(sql);
        tracked(sql, [&] {
            conn_->prepare(name, text);
            conn_->prepare_now(name);  // bad SQL fails here, not at the first execution
            return pqxx::result();
        });
        return std::make_unique<PgStatement>(*this, std::move(name), std::move(text));
    }
    void execute(std::string_view sql) override {
        std::string text(sql);
        if (text == "COMMIT" && failed_) {
            // PostgreSQL would answer this COMMIT with ROLLBACK and no error: the caller would
            // believe its writes were kept. End the transaction and say what happened.
            tracked(text, [&] { return tx_->exec("ROLLBACK"); });
            in_transaction_ = failed_ = false;
            throw DatabaseError("COMMIT refused: a statement of this transaction failed earlier, so PostgreSQL "
                                "discarded all of it (run such statements in a nested transaction to keep the rest)",
                                text, "25P02");
        }
        tracked(text, [&] { return tx_->exec(text); });
        if (text.starts_with("BEGIN")) {
            in_transaction_ = true;
            failed_ = false;
        } else if (text == "COMMIT" || text == "ROLLBACK") {
            in_transaction_ = failed_ = false;
        } else if (text.starts_with("ROLLBACK TO SAVEPOINT")) {
            failed_ = false;  // back to a point before the failure: the transaction is usable again
        }
    }
    std::unique_ptr<core::Cursor> open_cursor(std::string_view sql, const std::vector<Value>& params, std::uint32_t batch,
                                              bool in_transaction) override;
    pqxx::result exec(const std::string& sql) {
        return tracked(sql, [&] { return tx_->exec(sql); });
    }
    pqxx::result exec_params(const std::string& sql, const std::vector<PgParam>& params) {
        return tracked(sql, [&] { return tx_->exec_params(sql, pqxx::prepare::make_dynamic_params(params)); });
    }
    pqxx::result exec_prepared(const std::string& name, const std::vector<PgParam>& params, std::string_view sql) {
        return tracked(sql, [&] { return tx_->exec_prepared(name, pqxx::prepare::make_dynamic_params(params)); });
    }
    void reprepare(const std::string& name, const std::string& sql) {
        unprepare(name);
        tracked(sql, [&] {
            conn_->prepare(name, sql);
            conn_->prepare_now(name);
            return pqxx::result();
        });
    }
    void unprepare(const std::string& name) noexcept {
        try {
            conn_->unprepare(name);
        } catch (...) {
        }
    }

private:
    // Any failure inside a transaction block aborts it on the server; remember that for COMMIT.
    template <class F>
    pqxx::result tracked(std::string_view sql, F&& f) {
        try {
            return guarded(sql, [&] { return pqxx::result(f()); });
        } catch (const Error&) {
            if (in_transaction_) failed_ = true;
            throw;
        }
    }
    bool in_transaction_ = false;
    bool failed_ = false;
    std::optional<pqxx::connection> conn_;
    // quarry issues BEGIN / SAVEPOINT / COMMIT itself (DESIGN §7), so everything goes through
    // one nontransaction: libpqxx then never wraps or reorders our statements.
    std::optional<pqxx::nontransaction> tx_;
    std::uint64_t counter_ = 0;
};

PgStatement::~PgStatement() { conn_.unprepare(name_); }

void to_text(const std::vector<Value>& params, std::vector<PgParam>& out) {
    out.resize(params.size());
    for (std::size_t k = 0; k < params.size(); ++k) {
        PgParam& p = out[k];
        p.null = params[k].kind == ValueKind::null;
        p.text.clear();
        if (params[k].kind == ValueKind::array)
            append_array(p.text, params[k]);
        else
            append_scalar(p.text, params[k]);
    }
}

void PgStatement::bind(const std::vector<Value>& params) {
    reset();
    to_text(params, params_);
}

// DECLARE ... NO SCROLL CURSOR, then FETCH FORWARD `batch` at a time (DESIGN §7: libpqxx 6.4's
// stream_from is unsafe with a column list, and its single-row mode is out of reach).
class PgCursor final : public core::Cursor {
public:
    PgCursor(PgConnection& c, std::string name, std::uint32_t batch) : conn_(c), name_(std::move(name)), batch_(batch) {
        row_.result = &result_;
    }
    ~PgCursor() override {
        try {
            conn_.exec("CLOSE " + name_);
        } catch (...) {
            // The transaction already failed or ended; the cursor went with it.
        }
    }
    bool next() override {
        if (next_ >= result_.size()) {
            if (exhausted_) return false;
            result_ = conn_.exec("FETCH FORWARD " + std::to_string(batch_) + " FROM " + name_);
            next_ = 0;
            exhausted_ = result_.size() < batch_;
            if (result_.empty()) return false;
        }
        row_.at = next_++;
        return true;
    }
    const core::Row& row() const noexcept override { return row_; }

private:
    PgConnection& conn_;
    std::string name_;
    std::uint32_t batch_;
    pqxx::result result_;
    PgRow row_;
    pqxx::result::size_type next_ = 0;
    bool exhausted_ = false;
};

std::unique_ptr<core::Cursor> PgConnection::open_cursor(std::string_view sql, const std::vector<Value>& params,
                                                         std::uint32_t batch, bool in_transaction) {
    std::string name = "quarry_cursor_" + std::to_string(++counter_);
    std::vector<PgParam> text;
    to_text(params, text);
    if (in_transaction) {
        exec_params("DECLARE " + name + " NO SCROLL CURSOR FOR " + std::string(sql), text);
    } else {
        // Outside a transaction: a WITH HOLD cursor, declared in a transaction of its own, so
        // that statements run while the stream is read commit as they would without it. The
        // server keeps the result; the client still reads it in batches.
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
    }
    return std::make_unique<PgCursor>(*this, std::move(name), batch ? batch : 1000);
}

void PgStatement::run() {
    try {
        result_ = conn_.exec_prepared(name_, params_, sql_);
    } catch (const DatabaseError& e) {
        // A schema change altered the statement's result type ("cached plan must not change
        // result type"): prepare it again, once. Inside a transaction the error has already
        // aborted it, and the retry reports that instead.
        if (e.code() != "0A000") throw;
        conn_.reprepare(name_, sql_);
        result_ = conn_.exec_prepared(name_, params_, sql_);
    }
    ran_ = true;
    next_ = 0;
}

}  // namespace

std::unique_ptr<core::Connection> open_postgres(std::string_view conninfo) {
    if (conninfo.find('\0') != std::string_view::npos) throw InvalidUrl("PostgreSQL connection string contains a NUL byte");
    // libpq's own parser tells a malformed string (InvalidUrl: retrying cannot help) from a
    // server that cannot be reached (ConnectionError).
    char* error = nullptr;
    std::string text(conninfo);
    if (PQconninfoOption* options = PQconninfoParse(text.c_str(), &error)) {
        PQconninfoFree(options);
    } else {
        std::string why = error ? error : "out of memory";
        PQfreemem(error);
        while (!why.empty() && why.back() == '\n') why.pop_back();
        throw InvalidUrl("invalid PostgreSQL connection string: " + why);
    }
    return std::make_unique<PgConnection>(std::string(conninfo));
}

}  // namespace quarry::driver
