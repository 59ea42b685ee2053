// SPDX-License-Identifier: MIT
// Shared query values render and refine correctly from several threads at once. Run under
// ThreadSanitizer by scripts/test.sh (stage tsan).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "schema.hpp"
#include "support.hpp"

using namespace quarry;

TEST_CASE("shared values render and refine correctly from 8 threads at once") {
    const auto base = from<User>() | where(col(&User::active) == true) | order_by(col(&User::id));
    const auto sub = from<Post>() | where(col(&Post::views) > 10) | select(col(&Post::user_id));
    const auto expected_base = to_sql(base, postgres()).sql;
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    constexpr int iterations = 2000;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < iterations; ++i) {
                auto q = base | where(in(col(&User::id), sub)) | limit(t * iterations + i);
                auto r = to_sql(q, i % 2 ? sqlite() : postgres());
                if (r.params.size() != 3 || r.params[2].i != t * iterations + i) mismatches.fetch_add(1);
                if (to_sql(base, postgres()).sql != expected_base) mismatches.fetch_add(1);
                std::vector<Value> params;
                core::render_into(*q.node(), sqlite(), nullptr, params);
                if (params.size() != 3) mismatches.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(mismatches.load() == 0);
    CHECK(to_sql(base, postgres()).sql == expected_base);
}
