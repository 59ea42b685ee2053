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

#include <filesystem>

#include <quarry/pool.hpp>
#include <quarry/repo.hpp>

TEST_CASE("a pool shared by 16 threads: every checkout is exclusive, the Repo on it reads and writes") {
    using namespace std::chrono_literals;
    const std::string path = (std::filesystem::temp_directory_path() / ("quarry_pool_tsan_" + std::to_string(::getpid()) + ".db")).string();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    {
        Repo setup("sqlite:" + path);
        setup.execute_sql("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
        setup.execute_sql("INSERT INTO counters VALUES (1, 0)");
    }
    Pool pool("sqlite:" + path, {.max_size = 3, .acquire_timeout = 30000ms, .health_check_after = 1ms, .max_lifetime = 50ms,
                                 .housekeeping_interval = 5ms});
    Repo repo(pool);
    std::atomic<int> errors{0}, inside{0}, most{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i) {
                try {
                    if (i % 10 == 0) {
                        repo.transaction([&](Repo& tx) { tx.execute_sql("UPDATE counters SET n = n + 1 WHERE id = 1"); });
                    } else {
                        Lease l = pool.acquire();
                        const int now = ++inside;
                        int seen = most.load();
                        while (now > seen && !most.compare_exchange_weak(seen, now)) {
                        }
                        core::StatementRun run(*l, l->run_sql("SELECT ?", {Value::integer(t)}));
                        if (!run.step() || run.row().integer(0) != t) ++errors;
                        --inside;
                    }
                } catch (const std::exception& e) {
                    if (errors++ == 0) MESSAGE(std::string(e.what()));
                }
            }
        });
    for (auto& t : threads) t.join();
    CHECK(errors == 0);
    CHECK(most <= 3);
    CHECK(repo.query<std::int64_t>("SELECT n FROM counters").at(0) == 16 * 30);
    CHECK(pool.metrics().closed > 0);  // lifetimes ended while the threads ran
    pool.close();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
}

TEST_CASE("replicas, writer mode and bound transactions from 8 threads: no races (run under TSan)") {
    using namespace std::chrono_literals;
    const std::string path = (std::filesystem::temp_directory_path() / ("quarry_replicas_tsan_" + std::to_string(::getpid()) + ".db")).string();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    {
        Repo setup("sqlite:" + path);
        setup.execute_sql("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
        setup.execute_sql("INSERT INTO counters VALUES (1, 0)");
        setup.execute_sql(std::string(canonical_schema_sqlite).substr(0, std::string(canonical_schema_sqlite).find(';')));
    }
    {
        // Read-only connections to the same file stand in for replicas; one of them is a file
        // that does not exist, so it stays out of rotation while the prober keeps trying it.
        Pool primary("sqlite:" + path, {.max_size = 4, .acquire_timeout = 30000ms, .single_writer = true});
        Replicas replicas({"sqlite:" + path + "?mode=ro", "sqlite:" + path + ".missing?mode=ro"},
                          {.balance = ReplicaOptions::Balance::least_busy, .pool = {.max_size = 2}, .probe_interval = 5ms});
        Repo repo(primary, replicas);
        std::atomic<int> errors{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 200; ++i) {
                    try {
                        if (i % 4 == 0) {
                            repo.transaction([&](Repo&) {
                                repo.execute_sql("UPDATE counters SET n = n + 1 WHERE id = 1");  // the outer Repo: joins
                            });
                        } else if (i % 4 == 1) {
                            repo.execute_sql("UPDATE counters SET n = n + 0 WHERE id = 1");
                        } else {
                            (void)repo.count(from<User>());  // on the replica
                            (void)repo.all(from<User>() | limit(1));
                            (void)replicas.status();
                        }
                    } catch (const std::exception& e) {
                        if (errors++ == 0) MESSAGE(t << ": " << std::string(e.what()));
                    }
                }
            });
        for (auto& t : threads) t.join();
        CHECK(errors == 0);
        CHECK(repo.query<std::int64_t>("SELECT n FROM counters").at(0) == 8 * 50);
        const auto st = replicas.status();
        CHECK(st[0].in_rotation);
        CHECK_FALSE(st[1].in_rotation);
    }
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
}
