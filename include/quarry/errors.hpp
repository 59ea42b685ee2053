// SPDX-License-Identifier: MIT
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quarry {

// Root of quarry's error family: every failure a user can act on derives from it.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    // True when retrying the same operation may succeed (deadlock, serialization failure, lost link).
    virtual bool is_transient() const noexcept { return false; }
};

// An invalid composition or value, found while building or rendering a query value.
class QueryError : public Error {
public:
    using Error::Error;
};

// A construct the target dialect cannot express; never silently dropped.
class UnsupportedFeature : public QueryError {
public:
    UnsupportedFeature(std::string_view dialect, std::string_view feature);
    const std::string& dialect() const noexcept { return dialect_; }
    const std::string& feature() const noexcept { return feature_; }

private:
    std::string dialect_;
    std::string feature_;
};

// A failure reported by the database while running a statement. Carries the SQL and the
// database's own code: the SQLSTATE on PostgreSQL, the extended result code on SQLite.
class DatabaseError : public Error {
public:
    DatabaseError(std::string message, std::string sql, std::string code);
    const std::string& sql() const noexcept { return sql_; }
    const std::string& code() const noexcept { return code_; }

private:
    std::string sql_;
    std::string code_;
};

enum class ConstraintKind { unique, primary_key, foreign_key, check, not_null, exclusion };
std::string_view to_string(ConstraintKind k) noexcept;

// A write refused by a constraint. Names are empty where the database does not give them.
class ConstraintError : public DatabaseError {
public:
    ConstraintError(ConstraintKind kind, std::string constraint, std::string table, std::vector<std::string> columns,
                    std::string message, std::string sql, std::string code);
    ConstraintKind kind() const noexcept { return kind_; }
    const std::string& constraint() const noexcept { return constraint_; }
    const std::string& table() const noexcept { return table_; }
    // The constrained columns (a composite key names several); empty when unknown.
    const std::vector<std::string>& columns() const noexcept { return columns_; }
    std::string column() const { return columns_.empty() ? std::string() : columns_.front(); }

private:
    ConstraintKind kind_;
    std::string constraint_, table_;
    std::vector<std::string> columns_;
};

// Another connection holds the lock this statement needs (SQLITE_BUSY / SQLITE_LOCKED): retry.
class DatabaseBusy : public DatabaseError {
public:
    using DatabaseError::DatabaseError;
    bool is_transient() const noexcept override { return true; }
};

// PostgreSQL 40001: the transaction could not be serialised with a concurrent one. Retry it.
class SerializationFailure : public DatabaseError {
public:
    using DatabaseError::DatabaseError;
    bool is_transient() const noexcept override { return true; }
};

// PostgreSQL 40P01: this transaction was chosen as a deadlock victim. Retry it.
class Deadlock : public DatabaseError {
public:
    using DatabaseError::DatabaseError;
    bool is_transient() const noexcept override { return true; }
};

// The statement was cancelled for running too long (PostgreSQL 57014, SQLite interrupt).
class StatementTimeout : public DatabaseError {
public:
    using DatabaseError::DatabaseError;
};

// A write sent where only reads are allowed: a hot standby (PostgreSQL 25006), a read-only
// transaction, a SQLite database opened read-only.
class ReadOnlyError : public DatabaseError {
public:
    using DatabaseError::DatabaseError;
};

// The connection broke while a COMMIT was in flight: whether it took effect is unknown.
// Never retried automatically.
class InDoubt : public DatabaseError {
public:
    using DatabaseError::DatabaseError;
};

// The database ended a transaction by itself after an error (SQLite does on ON CONFLICT
// ROLLBACK, RAISE(ROLLBACK), a write interrupted by a statement timeout, a full disk or an
// I/O error): its writes are undone. Every
// statement quarry would run in it afterwards, COMMIT included, is refused with this error
// until the outermost transaction is left, instead of running in autocommit. `sql()` is the
// statement refused.
class TransactionAborted : public DatabaseError {
public:
    explicit TransactionAborted(std::string sql);
};

// Thrown by rollback_with(value) inside Repo::transaction: the transaction is rolled back and
// this propagates to the caller, who gets the value back.
template <class V>
class Rolledback : public Error {
public:
    explicit Rolledback(V v) : Error("transaction rolled back on request"), value(std::move(v)) {}
    V value;
};
template <class V>
[[noreturn]] void rollback_with(V value) {
    throw Rolledback<V>(std::move(value));
}

// The database cannot be reached, or refused the connection string, or the connection broke.
// `not_applied()`: the statement is known not to have taken effect (it was never sent, or the
// server ended the session before running it), so running it again is safe even for a write.
class ConnectionError : public Error {
public:
    explicit ConnectionError(std::string message, bool not_applied = false)
        : Error(std::move(message)), not_applied_(not_applied) {}
    bool is_transient() const noexcept override { return true; }
    bool not_applied() const noexcept { return not_applied_; }

private:
    bool not_applied_;
};

// A pool's circuit breaker is open: connecting to its database failed several times in a row,
// so for a while (growing up to PoolOptions::breaker_max_cooldown) requests fail at once instead
// of trying again.
class CircuitOpen : public ConnectionError {
public:
    explicit CircuitOpen(std::string message) : ConnectionError(std::move(message), true) {}
};

// A connection string quarry cannot parse (nothing was attempted), or cannot use as asked (an
// in-memory SQLite database for a pool of several connections).
class InvalidUrl : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
    bool is_transient() const noexcept override { return false; }
};

// The database answered and refused the connection for a reason waiting cannot fix: no such
// database or role, failed authentication, no pg_hba.conf entry. Not transient: pools and
// retries give it to the caller at once.
class ConnectionRefused : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
    bool is_transient() const noexcept override { return false; }
};

// A value read from the database does not fit the C++ type it maps to (NULL into a
// non-optional, text into an integer, an out-of-range integer). Names the column.
class DecodeError : public Error {
public:
    DecodeError(std::string column, std::string message);
    const std::string& column() const noexcept { return column_; }

private:
    std::string column_;
};

// A changeset's update or delete found no row: another writer deleted it, or (with optimistic
// locking) changed it since it was read.
class StaleEntry : public Error {
public:
    using Error::Error;
};

// Thrown by a lifecycle hook (quarry::hooks<T>) to refuse a write: everything the write and its
// hooks did is rolled back. A changeset write returns the changeset with this error on `field`.
class Veto : public Error {
public:
    explicit Veto(std::string message, std::string field = {}) : Error(message), message_(std::move(message)), field_(std::move(field)) {}
    const std::string& message() const noexcept { return message_; }
    const std::string& field() const noexcept { return field_; }

private:
    std::string message_, field_;
};

// Repo::one found no row, or more than one.
class NoResults : public Error {
public:
    using Error::Error;
};
class MultipleResults : public Error {
public:
    using Error::Error;
};

}  // namespace quarry
