// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <quarry/quarry.hpp>

// Parameters as one readable line: true, 10, 'a''b', {1, 2}, NULL.
std::string format_params(const std::vector<quarry::Value>& params);
std::string format_value(const quarry::Value& v);

// What a statement renders to on one dialect. `sql` starting with '!' names the expected error:
// "!UnsupportedFeature" or "!QueryError".
struct Expect {
    std::string sql;
    std::string params;
};

struct GoldenCase {
    std::string name;
    std::function<quarry::core::NodePtr()> build;
    Expect sqlite;
    Expect postgres;
};

const std::vector<GoldenCase>& golden_cases();

// PostgreSQL type names for PREPARE name(types) AS ..., from the parameters' kinds.
std::string postgres_param_types(const std::vector<quarry::Value>& params);

// Runs `body` in a forked child, stderr captured, for behaviour that stops the program on
// purpose (std::terminate, abort). The child's stdout goes nowhere and it leaves no core file.
struct ChildEnd {
    bool stopped;  // killed by SIGABRT, or (a sanitizer run with handle_abort=1) an exit other than 0 or 3
    bool threw;    // body threw (exit 3)
    std::string err;
};
ChildEnd run_in_child(const std::function<void()>& body);
