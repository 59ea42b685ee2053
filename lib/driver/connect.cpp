// SPDX-License-Identifier: MIT
// Connection strings: which driver, and what it is given.
#include "driver/connect.hpp"

#include "quarry/errors.hpp"

namespace quarry::core {

void Row::mismatch(std::uint32_t i, std::string_view what) const {
    throw DecodeError(std::string(name(i)), std::string(what));
}

std::unique_ptr<Connection> connect(std::string_view url) {
    if (url.starts_with("sqlite:")) return driver::open_sqlite(url.substr(7));
    if (url.starts_with("postgres://") || url.starts_with("postgresql://") || url.find('=') != std::string_view::npos)
        throw ConnectionError("the PostgreSQL driver is not built yet (issue 3 in progress); use sqlite:");
    throw InvalidUrl("unrecognised connection string \"" + std::string(url) +
                     "\": expected sqlite:path.db, sqlite::memory:, postgres://... or key=value");
}

}  // namespace quarry::core
