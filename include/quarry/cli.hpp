// SPDX-License-Identifier: MIT
// The `quarry` command line, as a function: a program that holds C++ migrations gets the same
// commands as the `quarry` binary by calling it from its main (docs/cli.md):
//
//   int main(int argc, char** argv) { return quarry::cli::main(argc, argv, app::migrations()); }
//
// Commands: new migration NAME, new project NAME, migrate, rollback, redo, status, dump,
// gen model --table T. SQL-file migrations under --migrations (default ./migrations) run beside
// the C++ ones. Exit codes: 0 done; 1 failed (the database is as it was before the failing
// migration); 2 usage error; 3 `status --check` found pending migrations; 4 it found edited or
// missing ones.
#pragma once
#include <string>
#include <vector>

#include "quarry/migration.hpp"

namespace quarry::cli {

int main(int argc, char** argv, std::vector<Migration> migrations = {});

// `quarry gen model`: a C++ struct and its quarry declaration for a table's columns.
struct ModelColumn {
    std::string name, type;
    bool nullable = true;
    int primary_key = 0;
    bool generated = false;
};
std::string generate_model(const std::string& table, const std::vector<ModelColumn>& columns, std::string struct_name = {});

}  // namespace quarry::cli
