// SPDX-License-Identifier: MIT
// Every golden statement renders to exactly its expected text and parameters on both dialects.
#include <doctest/doctest.h>

#include "support.hpp"

namespace {

void check_dialect(const GoldenCase& c, const quarry::Dialect& d, const Expect& e) {
    INFO("case: ", c.name, " / ", d.name());
    if (e.sql == "!UnsupportedFeature") {
        CHECK_THROWS_AS(quarry::core::render(c.build(), d), quarry::UnsupportedFeature);
        return;
    }
    if (e.sql == "!QueryError") {
        CHECK_THROWS_AS(quarry::core::render(c.build(), d), quarry::QueryError);
        return;
    }
    auto r = quarry::core::render(c.build(), d);
    CHECK(r.sql == e.sql);
    CHECK(format_params(r.params) == e.params);
}

}  // namespace

TEST_CASE("every golden statement renders its expected SQL and parameters on SQLite") {
    for (const auto& c : golden_cases()) check_dialect(c, quarry::sqlite(), c.sqlite);
}

TEST_CASE("every golden statement renders its expected SQL and parameters on PostgreSQL") {
    for (const auto& c : golden_cases()) check_dialect(c, quarry::postgres(), c.postgres);
}

TEST_CASE("the golden list covers R1 to R8 and at least 80 statements") {
    CHECK(golden_cases().size() >= 80);
    int canonical = 0;
    for (const auto& c : golden_cases()) canonical += c.name.size() > 2 && c.name[0] == 'R' && c.name[2] == ' ';
    CHECK(canonical == 8);
}

TEST_CASE("the parameters-only pass collects exactly what the full render collects") {
    // The statement cache's hit path binds from this pass without producing text.
    for (const auto& c : golden_cases()) {
        for (const quarry::Dialect* d : {&quarry::sqlite(), &quarry::postgres()}) {
            INFO("case: ", c.name, " / ", d->name());
            auto node = c.build();
            std::vector<quarry::Value> params;
            try {
                auto full = quarry::core::render(node, *d);
                quarry::core::render_into(*node, *d, nullptr, params);
                CHECK(format_params(params) == format_params(full.params));
            } catch (const quarry::QueryError&) {
                // Unsupported on this dialect: covered by the golden checks.
            }
        }
    }
}

TEST_CASE("a parameter plan recorded on one value collects the parameters of a second value of its shape") {
    int usable = 0, total = 0;
    for (const auto& c : golden_cases()) {
        for (const quarry::Dialect* d : {&quarry::sqlite(), &quarry::postgres()}) {
            INFO("case: ", c.name, " / ", d->name());
            auto first = c.build();
            quarry::core::ParamPlan plan;
            std::vector<quarry::Value> recorded;
            try {
                quarry::core::render_into(*first, *d, nullptr, recorded, &plan);
            } catch (const quarry::QueryError&) {
                continue;  // unsupported on this dialect
            }
            auto second = c.build();  // fresh nodes, same shape
            REQUIRE(quarry::core::cache_key(*second, *d) == quarry::core::cache_key(*first, *d));
            auto full = quarry::core::render(second, *d);
            std::vector<quarry::Value> replayed;
            ++total;
            if (!quarry::core::collect_params(*second, plan, replayed)) {
                CHECK(replayed.empty());
                continue;
            }
            ++usable;
            CHECK(format_params(replayed) == format_params(full.params));
            // The replayed values point into the second value, not the first.
            for (std::size_t k = 0; k < replayed.size(); ++k)
                if (replayed[k].kind == quarry::ValueKind::text) CHECK(replayed[k].s == full.params[k].s);
        }
    }
    CHECK(usable == total);  // no golden statement reaches one node twice
}
