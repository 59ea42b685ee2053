// SPDX-License-Identifier: MIT
#include "pool/pool_support.hpp"

#include <algorithm>

#include "quarry/core/session.hpp"

namespace quarry::pool_support {

std::string site(const CallSite& w) {
    return std::string(w.file) + ":" + std::to_string(w.line) + " (" + w.function + ")";
}

bool healthy(core::Session& s) noexcept {
    try {
        return s.connection().healthy();
    } catch (...) {
        return false;
    }
}

// Handed out inside a transaction, a connection would take the next holder's writes and never
// commit them (SQLite), or fail them all (PostgreSQL, once a statement in it failed).
bool out_of_transaction(core::Session& s) noexcept {
    try {
        auto& c = s.connection();
        if (!c.in_transaction()) return true;
        c.execute("ROLLBACK");
        return !c.in_transaction();
    } catch (...) {
        return false;
    }
}

std::string with_connect_timeout(std::string url, std::chrono::milliseconds t) {
    if (t.count() <= 0 || url.starts_with("sqlite:") || url.find("connect_timeout=") != std::string::npos) return url;
    const auto seconds = std::max<std::int64_t>(2, (t.count() + 999) / 1000);
    if (url.starts_with("postgres://") || url.starts_with("postgresql://"))
        return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + std::to_string(seconds);
    return url + " connect_timeout=" + std::to_string(seconds);
}

}  // namespace quarry::pool_support
