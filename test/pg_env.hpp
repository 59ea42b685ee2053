// SPDX-License-Identifier: MIT
// The test PostgreSQL: started by scripts/test.sh, named by QUARRY_TEST_PG. A test writes only
// into a server whose cluster_name says the test script started it.
#pragma once
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

inline std::optional<std::string> test_pg_conninfo() {
    const char* c = std::getenv("QUARRY_TEST_PG");
    if (c && *c) return std::string(c);
    const char* required = std::getenv("QUARRY_REQUIRE_PG");
    if (required && std::string(required) == "1") FAIL("QUARRY_TEST_PG is not set but QUARRY_REQUIRE_PG=1");
    MESSAGE("QUARRY_TEST_PG not set: PostgreSQL checks skipped (scripts/test.sh starts a server)");
    return std::nullopt;
}

// A connection with a private schema on the search path, dropped at the end.
class PgScratch {
public:
    explicit PgScratch(const std::string& conninfo, const char* ddl) : conn_(conninfo) {
        pqxx::nontransaction tx(conn_);
        auto cluster = tx.exec("SHOW cluster_name")[0][0].as<std::string>();
        REQUIRE_MESSAGE(cluster == "quarry_test", "refusing to write into a server the tests did not start");
        schema_ = "quarry_t" + std::to_string(conn_.backendpid());
        tx.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
        tx.exec("CREATE SCHEMA " + schema_);
        tx.exec("SET search_path TO " + schema_);
        tx.exec(ddl);
    }
    ~PgScratch() {
        try {
            pqxx::nontransaction tx(conn_);
            tx.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
        } catch (...) {
        }
    }
    pqxx::connection& conn() { return conn_; }
    const std::string& schema() const { return schema_; }

private:
    pqxx::connection conn_;
    std::string schema_;
};
