// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace quarry::cli {

// Writes an SQL-file migration directory (up.sql, down.sql) or, with `cpp`, a header holding a
// C++ migration; returns what it wrote. Refuses to overwrite.
std::string new_migration(const std::string& dir, const std::string& name, bool cpp, std::int64_t version);
// Writes a project skeleton under `name`; returns the files written.
std::vector<std::string> new_project(const std::string& name, std::int64_t version);

}  // namespace quarry::cli
