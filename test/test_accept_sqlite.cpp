// SPDX-License-Identifier: MIT
// Every golden statement is accepted by a real SQLite: prepared against the canonical schema,
// with exactly as many parameters as quarry rendered.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include "schema.hpp"
#include "support.hpp"

namespace {

struct Db {
    sqlite3* db = nullptr;
    Db() {
        REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
        char* err = nullptr;
        REQUIRE_MESSAGE(sqlite3_exec(db, canonical_schema_sqlite, nullptr, nullptr, &err) == SQLITE_OK, (err ? err : ""));
    }
    ~Db() { sqlite3_close(db); }
};

}  // namespace

TEST_CASE("SQLite prepares every golden statement with the rendered parameter count") {
    Db db;
    int prepared = 0;
    for (const auto& c : golden_cases()) {
        if (c.sqlite.sql.starts_with("!")) continue;
        INFO("case: ", c.name);
        auto r = quarry::core::render(c.build(), quarry::sqlite());
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v2(db.db, r.sql.c_str(), static_cast<int>(r.sql.size()), &stmt, nullptr);
        CHECK_MESSAGE(rc == SQLITE_OK, sqlite3_errmsg(db.db), "\n", r.sql);
        if (rc == SQLITE_OK) {
            CHECK(sqlite3_bind_parameter_count(stmt) == static_cast<int>(r.params.size()));
            ++prepared;
        }
        sqlite3_finalize(stmt);
    }
    CHECK(prepared >= 75);
}
