// SPDX-License-Identifier: MIT
// Every golden statement is accepted by a real PostgreSQL: PREPAREd with the parameter types
// quarry's values carry, against the canonical schema.
#include <doctest/doctest.h>

#include "pg_env.hpp"
#include "schema.hpp"
#include "support.hpp"

TEST_CASE("PostgreSQL prepares every golden statement with the rendered parameter types") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgScratch pg(*conninfo, canonical_schema_postgres);
    int prepared = 0, n = 0;
    for (const auto& c : golden_cases()) {
        if (c.postgres.sql.starts_with("!")) continue;
        INFO("case: ", c.name);
        auto r = quarry::core::render(c.build(), quarry::postgres());
        std::string name = "golden_" + std::to_string(n++);
        std::string types = postgres_param_types(r.params);
        std::string prepare = "PREPARE " + name + (types.empty() ? "" : "(" + types + ")") + " AS " + r.sql;
        try {
            pqxx::nontransaction tx(pg.conn());
            tx.exec(prepare);
            tx.exec("DEALLOCATE " + name);
            ++prepared;
        } catch (const pqxx::sql_error& e) {
            FAIL_CHECK(std::string(e.what()) << "\n" << prepare);
        }
    }
    CHECK(prepared >= 80);
}
