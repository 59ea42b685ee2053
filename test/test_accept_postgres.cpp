// SPDX-License-Identifier: MIT
// Every golden statement is accepted by a real PostgreSQL, against the canonical schema:
// PREPAREd as the driver sends it, with no parameter types (the server infers them from the
// text, so a parameter the SQL leaves untyped is caught here), and with the types quarry's
// values carry.
#include <doctest/doctest.h>

#include "pg_env.hpp"
#include "schema.hpp"
#include "support.hpp"

TEST_CASE("PostgreSQL prepares every golden statement, untyped as the driver sends it and with the rendered parameter types") {
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
        for (bool typed : {false, true}) {
            std::string prepare =
                "PREPARE " + name + (typed && !types.empty() ? "(" + types + ")" : "") + " AS " + r.sql;
            try {
                pqxx::nontransaction tx(pg.conn());
                tx.exec(prepare);
                tx.exec("DEALLOCATE " + name);
                prepared += typed;
            } catch (const pqxx::sql_error& e) {
                FAIL_CHECK(std::string(e.what()) << "\n" << prepare);
            }
        }
    }
    CHECK(prepared >= 80);
}

TEST_CASE("PostgreSQL applies set operations in pipe order, though INTERSECT binds tighter there") {
    using namespace quarry;
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgScratch pg(*conninfo, canonical_schema_postgres);
    pqxx::nontransaction tx(pg.conn());
    tx.exec("INSERT INTO users (id, name, email, age, active, inserted_at) VALUES (1, 'a', 'a@x', 10, true, now()), "
            "(2, 'b', 'b@x', 20, true, now()), (3, 'c', 'c@x', 30, true, now())");
    // Raw fragments keep the statements free of parameters.
    auto one = from<User>() | where(raw<bool>("? = 1", col(&User::id))) | select(col(&User::id));
    auto two = from<User>() | where(raw<bool>("? = 2", col(&User::id))) | select(col(&User::id));
    auto two_or_three = from<User>() | where(raw<bool>("? IN (2, 3)", col(&User::id))) | select(col(&User::id));
    auto ids = [&](const auto& q) {
        const Rendered r = to_sql(q | order_by(col(&User::id)), postgres());
        REQUIRE(r.params.empty());
        std::vector<std::int64_t> out;
        const pqxx::result rows = tx.exec(r.sql);
        for (const auto& row : rows) out.push_back(row[0].as<std::int64_t>());
        return out;
    };
    // (1 ∪ 2) ∩ {2, 3} = {2}; PostgreSQL would read the unbracketed text as 1 ∪ (2 ∩ {2, 3}) = {1, 2}.
    CHECK(ids(one | union_(two) | intersect(two_or_three)) == std::vector<std::int64_t>{2});
    CHECK(ids(one | except_(two) | intersect(two_or_three)) == std::vector<std::int64_t>{});
    CHECK(ids(two_or_three | intersect(two) | union_(one)) == std::vector<std::int64_t>{1, 2});
}
