// SPDX-License-Identifier: MIT
#pragma once
#include <memory>
#include <string_view>

#include "quarry/core/driver.hpp"

namespace quarry::driver {

// `target` is what follows "sqlite:": a path, or ":memory:".
std::unique_ptr<core::Connection> open_sqlite(std::string_view target);
// A libpq connection string: a postgres:// URI or key=value pairs.
std::unique_ptr<core::Connection> open_postgres(std::string_view conninfo);

}  // namespace quarry::driver
