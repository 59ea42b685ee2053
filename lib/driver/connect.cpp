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
    if (url.starts_with("postgres://") || url.starts_with("postgresql://") || url.find('=') != std::string_view::npos) {
#ifdef QUARRY_HAVE_POSTGRES
        return driver::open_postgres(url);
#else
        throw ConnectionError("this quarry was built without PostgreSQL (libpqxx-dev was not found)");
#endif
    }
    throw InvalidUrl("unrecognised connection string \"" + std::string(url) +
                     "\": expected sqlite:path.db, sqlite::memory:, postgres://... or key=value");
}

}  // namespace quarry::core
