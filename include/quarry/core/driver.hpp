// SPDX-License-Identifier: MIT
// The driver interface: what the Repo needs from a database, and nothing of the typed face.
// One implementation per database, each in one .cpp under lib/driver/.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/core/dialect.hpp"
#include "quarry/core/value.hpp"

namespace quarry::core {

// The current row of a running statement. Each getter checks the stored type and throws
// DecodeError naming the column when the value does not fit.
class Row {
public:
    virtual ~Row() = default;
    virtual std::uint32_t size() const noexcept = 0;
    virtual std::string_view name(std::uint32_t i) const = 0;
    virtual bool is_null(std::uint32_t i) const = 0;
    virtual std::int64_t integer(std::uint32_t i) const = 0;
    virtual double real(std::uint32_t i) const = 0;
    virtual bool boolean(std::uint32_t i) const = 0;
    virtual std::string_view text(std::uint32_t i) const = 0;
    virtual std::string_view blob(std::uint32_t i) const = 0;
    virtual std::int64_t timestamp(std::uint32_t i) const = 0;  // microseconds since the epoch, UTC

    // Throws DecodeError("column <name>: <what>").
    [[noreturn]] void mismatch(std::uint32_t i, std::string_view what) const;
};

// A prepared statement. bind() resets it; step() runs it to the next row.
class Statement {
public:
    virtual ~Statement() = default;
    virtual void bind(const std::vector<Value>& params) = 0;
    virtual bool step() = 0;  // true: row() holds a row
    virtual const Row& row() const noexcept = 0;
    virtual void reset() noexcept = 0;
    virtual std::int64_t rows_affected() const noexcept = 0;
    // After the first step: how many rows the run returns, when the driver already knows
    // (PostgreSQL holds the whole result); 0 when it does not (SQLite steps lazily).
    virtual std::size_t rows_known() const noexcept { return 0; }
};

// A lazily read result: constant memory however many rows (SQLite steps a private statement;
// PostgreSQL fetches from a server-side cursor in batches).
class Cursor {
public:
    virtual ~Cursor() = default;
    virtual bool next() = 0;  // true: row() holds the next row
    virtual const Row& row() const noexcept = 0;
};

class Connection {
public:
    virtual ~Connection() = default;
    virtual const Dialect& dialect() const noexcept = 0;
    virtual std::unique_ptr<Statement> prepare(std::string_view sql) = 0;
    // Runs SQL without parameters or rows (BEGIN, SAVEPOINT, DDL).
    virtual void execute(std::string_view sql) = 0;
    // False once the connection is known to be broken (the server went away): a pool closes
    // it instead of handing it out. Cheap: no round trip.
    virtual bool healthy() const noexcept { return true; }
    // True behind a pooler that may run consecutive transactions on different server sessions
    // (PgBouncer in transaction mode, `pgbouncer=true`): nothing may outlive a transaction there.
    virtual bool transaction_pooled() const noexcept { return false; }
    // True when the database lives and dies with this connection (SQLite in memory): no other
    // connection can see it.
    virtual bool private_database() const noexcept { return false; }
    // Whether the database has a transaction open on this connection. SQLite ends one by itself
    // on some errors (ON CONFLICT ROLLBACK, RAISE(ROLLBACK), a full disk); the Session asks
    // before each statement it runs inside a transaction, so that nothing runs in autocommit
    // believing it is part of one. Cheap: no round trip.
    virtual bool in_transaction() const noexcept = 0;
    // Statements running longer than `t` are cancelled with StatementTimeout, and the connection
    // stays usable (0: no limit). PostgreSQL: statement_timeout; SQLite: a progress handler.
    virtual void set_statement_timeout(std::chrono::milliseconds t) = 0;
    // A cursor over `sql`; the parameters' payloads must outlive it. `in_transaction`: whether
    // the session has a transaction open (a cursor outside one must not hold one open).
    virtual std::unique_ptr<Cursor> open_cursor(std::string_view sql, const std::vector<Value>& params,
                                                std::uint32_t batch, bool in_transaction) = 0;
};

// `sqlite:path.db`, `sqlite::memory:`, `postgres://user:pass@host:port/db?...` or a libpq
// `key=value` string. Throws InvalidUrl for what cannot be parsed, ConnectionError for a
// database that cannot be opened or reached.
std::unique_ptr<Connection> connect(std::string_view url);

// Timestamps as SQLite stores them: ISO-8601 text, UTC, always six fractional digits
// ("2024-02-29T13:45:00.000001Z"), so text order is time order for years 0000-9999.
std::string format_timestamp(std::int64_t micros);
// The same into `out` (at least timestamp_text_max bytes, not NUL-terminated); returns the end.
inline constexpr std::size_t timestamp_text_max = 32;
char* format_timestamp(std::int64_t micros, char* out) noexcept;
// Accepts what format_timestamp writes and the usual variants (space for T, fewer fractional
// digits, no Z, "+00:00"). Returns false for anything else.
bool parse_timestamp(std::string_view text, std::int64_t& micros) noexcept;

}  // namespace quarry::core
