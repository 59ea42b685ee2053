// SPDX-License-Identifier: MIT
// SQLite says only "FOREIGN KEY constraint failed": which reference failed is found here, from
// the schema's foreign key list and one lookup in the parent table.
#include "quarry/changeset.hpp"
#include "quarry/core/session.hpp"
#include "util/identifier.hpp"

namespace quarry::detail {

bool reference_missing(core::Session& s, std::string_view table, std::string_view column, const core::Value& value) {
    if (value.kind == core::ValueKind::null) return false;  // a NULL reference is never checked
    std::string parent, to;
    {
        core::StatementRun run(s, s.run_sql(R"(SELECT "table", "to" FROM pragma_foreign_key_list(?) WHERE "from" = ?)",
                                            {core::Value::string(table), core::Value::string(column)}));
        if (!run.step()) return false;
        parent = std::string(run.row().text(0));
        if (!run.row().is_null(1)) to = std::string(run.row().text(1));
    }
    if (to.empty()) {  // REFERENCES parent without a column: the parent's primary key
        core::StatementRun run(s, s.run_sql(R"(SELECT "name" FROM pragma_table_info(?) WHERE "pk" = 1)", {core::Value::string(parent)}));
        if (!run.step()) return false;
        to = std::string(run.row().text(0));
    }
    const std::string sql = "SELECT EXISTS (SELECT 1 FROM " + util::quoted(parent) + " WHERE " + util::quoted(to) + " = ?)";
    core::StatementRun run(s, s.run_sql(sql, {value}));
    return run.step() && !run.row().boolean(0);
}

}  // namespace quarry::detail
