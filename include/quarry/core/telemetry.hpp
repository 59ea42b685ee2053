// SPDX-License-Identifier: MIT
// Query telemetry: one event per statement run, handed to a pluggable sink.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace quarry::core {

struct QueryEvent {
    std::string_view sql;     // as prepared (placeholders, no values)
    std::uint32_t params = 0;
    std::string_view source;  // the statement's table; empty for raw SQL
    std::int64_t rows = 0;    // rows returned, or changed when none were returned
    std::chrono::nanoseconds prepare{0};  // rendering and preparing; zero on a cache hit
    std::chrono::nanoseconds execute{0};  // binding and running (every step)
    std::chrono::nanoseconds decode{0};   // mapping rows to C++ values, between steps
    bool cache_hit = false;
    bool failed = false;  // the run ended with an exception
    std::chrono::nanoseconds total() const noexcept { return prepare + execute + decode; }
};

// Called on the thread that ran the statement, after it finished; must not throw.
using TelemetrySink = std::function<void(const QueryEvent&)>;

// A ready sink: one line per event on stderr, only for events that took at least `slow`
// (zero: every event). Lines look like
//   quarry: 1.204 ms (prepare 0.000, execute 1.100, decode 0.104) rows=3 params=1 hit users: SELECT ...
// A stream is one event, reported when it ends; each BEGIN / SAVEPOINT / COMMIT / ROLLBACK a
// transaction issues is one too (no parameters, no source).
TelemetrySink stderr_logger(std::chrono::nanoseconds slow = std::chrono::nanoseconds(0));

}  // namespace quarry::core
