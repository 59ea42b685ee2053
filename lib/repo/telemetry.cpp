// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "quarry/core/session.hpp"

namespace quarry::core {

void StatementRun::report() noexcept {
    event_.failed = std::uncaught_exceptions() > exceptions_;
    event_.execute += stepping_;
    const auto elapsed = std::chrono::steady_clock::now() - started_;
    // What was not spent stepping happened between steps: the caller decoding rows.
    event_.decode = std::max(std::chrono::nanoseconds(0), std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed) - stepping_);
    event_.rows = rows_ ? rows_ : st_.rows_affected();
    session_.emit(event_);
}

TelemetrySink stderr_logger(std::chrono::nanoseconds slow) {
    return [slow](const QueryEvent& e) {
        if (e.total() < slow) return;
        auto ms = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; };
        std::string source(e.source.empty() ? "-" : e.source);
        std::fprintf(stderr, "quarry: %.3f ms (prepare %.3f, execute %.3f, decode %.3f) rows=%lld params=%u %s%s %s: %.*s\n",
                     ms(e.total()), ms(e.prepare), ms(e.execute), ms(e.decode), static_cast<long long>(e.rows), e.params,
                     e.cache_hit ? "hit" : "miss", e.failed ? " FAILED" : "", source.c_str(), static_cast<int>(e.sql.size()),
                     e.sql.data());
    };
}

}  // namespace quarry::core
