// SPDX-License-Identifier: MIT
#include "quarry/errors.hpp"

namespace quarry {

UnsupportedFeature::UnsupportedFeature(std::string_view dialect, std::string_view feature)
    : QueryError(std::string(dialect) + " does not support " + std::string(feature)),
      dialect_(dialect),
      feature_(feature) {}

DatabaseError::DatabaseError(std::string message, std::string sql, std::string code)
    : Error(message), sql_(std::move(sql)), code_(std::move(code)) {}

TransactionAborted::TransactionAborted(std::string sql)
    : DatabaseError("the database ended the transaction by itself after an earlier error (SQLite does on ON CONFLICT "
                    "ROLLBACK, RAISE(ROLLBACK), an interrupted write such as a statement timeout, a full disk or an I/O "
                    "error), undoing its writes; statements are refused "
                    "until the outermost transaction is left, rather than run outside it: " + sql,
                    sql, "") {}

std::string_view to_string(ConstraintKind k) noexcept {
    switch (k) {
        case ConstraintKind::unique: return "unique";
        case ConstraintKind::primary_key: return "primary_key";
        case ConstraintKind::foreign_key: return "foreign_key";
        case ConstraintKind::check: return "check";
        case ConstraintKind::not_null: return "not_null";
        case ConstraintKind::exclusion: return "exclusion";
    }
    return "constraint";
}

ConstraintError::ConstraintError(ConstraintKind kind, std::string constraint, std::string table,
                                 std::vector<std::string> columns, std::string message, std::string sql,
                                 std::string code)
    : DatabaseError(std::move(message), std::move(sql), std::move(code)),
      kind_(kind),
      constraint_(std::move(constraint)),
      table_(std::move(table)),
      columns_(std::move(columns)) {}

DecodeError::DecodeError(std::string column, std::string message)
    : Error("column " + column + ": " + message), column_(std::move(column)) {}

}  // namespace quarry
