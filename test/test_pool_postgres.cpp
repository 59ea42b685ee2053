// SPDX-License-Identifier: MIT
// The pool on the test PostgreSQL: many threads, never more server connections than max_size
// (counted by the server), timeouts on time, terminated backends never handed out.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <quarry/pool.hpp>
#include <quarry/repo.hpp>

#include "pg_env.hpp"

using namespace quarry;
using namespace std::chrono_literals;

namespace {

// Connections of this test process, as pg_stat_activity counts them.
struct Watcher {
    pqxx::connection conn;
    std::string app;
    Watcher(const std::string& conninfo, std::string a) : conn(conninfo), app(std::move(a)) {
        pqxx::nontransaction tx(conn);
        REQUIRE_MESSAGE(tx.exec("SHOW cluster_name")[0][0].as<std::string>() == "quarry_test",
                        "refusing to run against a server the tests did not start");
    }
    int count() {
        pqxx::nontransaction tx(conn);
        return tx.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = " + tx.quote(app))[0][0].as<int>();
    }
    // Returns once the backends are gone (waiting up to 5 s each), not when they were signalled.
    int terminate_all() {
        pqxx::nontransaction tx(conn);
        return tx.exec("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = " +
                       tx.quote(app))[0][0]
            .as<int>();
    }
};

std::string app_name(const char* tag) { return std::string("quarry_pool_") + tag + "_" + std::to_string(::getpid()); }

}  // namespace

TEST_CASE("pool (PostgreSQL): a server that accepts but never answers: the connect times out (connect_timeout)") {
    // A socket that listens and never accepts: the kernel completes TCP handshakes, nobody
    // speaks PostgreSQL's protocol. No server is needed for this one.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::string url = "host=127.0.0.1 port=" + std::to_string(ntohs(addr.sin_port)) + " dbname=x user=x";
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(Pool(url, {.connect_timeout = 2000ms}), ConnectionError);
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("the connect gave up after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took >= 1900ms);
    CHECK(took < 5000ms);
    ::close(fd);
}

TEST_CASE("PostgreSQL connection strings: quarry's pgbouncer flag is found as libpq would parse the string, nowhere else") {
    // Nothing listens on port 1: a string that parses fails to connect (ConnectionError); a bad
    // flag fails before that (InvalidUrl).
    CHECK_THROWS_AS(core::connect("host=127.0.0.1 port=1 pgbouncer=maybe"), InvalidUrl);
    CHECK_THROWS_AS(core::connect("host=127.0.0.1 port=1 pgbouncer = 'maybe'"), InvalidUrl);
    CHECK_THROWS_AS(core::connect("postgres://127.0.0.1:1/x?pgbouncer=maybe"), InvalidUrl);
    CHECK_THROWS_AS(core::connect("postgres://127.0.0.1:1/x?sslmode=disable&pgbouncer=2&connect_timeout=2"), InvalidUrl);
    // A quoted value that contains the text is a value, not the flag.
    try {
        core::connect("host=127.0.0.1 port=1 application_name='a pgbouncer=maybe b'");
    } catch (const InvalidUrl& e) {
        FAIL("the quoted value was taken for the flag: " << std::string(e.what()));
    } catch (const ConnectionError&) {
    }
    for (const char* good : {"host=127.0.0.1 port=1 pgbouncer=true", "pgbouncer='1'\thost=127.0.0.1\nport=1",
                             "postgres://127.0.0.1:1/x?pgbouncer=true", "postgres://127.0.0.1:1/x?sslmode=disable&pgbouncer=false&connect_timeout=2"}) {
        try {
            core::connect(good);
            FAIL("connected to port 1?");
        } catch (const InvalidUrl& e) {
            FAIL(std::string(good) << ": " << std::string(e.what()));
        } catch (const ConnectionError&) {
        }
    }
}

TEST_CASE("pool (PostgreSQL): 32 threads x 10,000 checkouts on a pool of 8, never more than 8 server connections") {
    auto c = test_pg_conninfo();
    if (!c) return;
    const std::string app = app_name("stress");
    Watcher watch(*c, app);
    std::atomic<int> errors{0}, most{0};
    std::atomic<bool> done{false};
    {
        Pool pool(*c + " application_name=" + app, {.max_size = 8, .acquire_timeout = 30000ms});
        std::thread monitor([&] {
            Watcher w(*c, app);
            while (!done) {
                most = std::max(most.load(), w.count());
                std::this_thread::sleep_for(5ms);
            }
        });
        std::vector<std::thread> threads;
        for (int t = 0; t < 32; ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 10000; ++i) {
                    try {
                        Lease l = pool.acquire();
                        if (i % 4 == 0) {  // a quarter of the checkouts run a statement
                            core::StatementRun run(*l, l->run_sql("SELECT ?", {Value::integer(t * 10000 + i)}));
                            run.step();
                            if (run.row().integer(0) != t * 10000 + i) ++errors;
                        }
                    } catch (const std::exception& e) {
                        if (errors++ == 0) MESSAGE(std::string(e.what()));
                    }
                }
            });
        for (auto& t : threads) t.join();
        done = true;
        monitor.join();
        const auto m = pool.metrics();
        MESSAGE("acquire p50 " << m.acquire_p50.count() << " us, p99 " << m.acquire_p99.count() << " us, max "
                               << m.acquire_max.count() << " us over " << m.acquired << " checkouts");
        CHECK(m.acquired == 320000);
        CHECK(m.state.total <= 8);
        CHECK(m.timeouts == 0);
    }
    CHECK(errors == 0);
    CHECK(most <= 8);
    CHECK(most >= 1);
    // Closed: no server connection left (the server notices the disconnects at once).
    int left = 0;
    for (int i = 0; i < 50 && (left = watch.count()) != 0; ++i) std::this_thread::sleep_for(20ms);
    CHECK(left == 0);
}

TEST_CASE("pool (PostgreSQL): a pool of 1 held: 100 acquirers with a 200 ms timeout all time out within [200, 300] ms") {
    auto c = test_pg_conninfo();
    if (!c) return;
    Pool pool(*c, {.max_size = 1});
    Lease held = pool.acquire();
    std::vector<std::thread> threads;
    std::vector<std::chrono::milliseconds> took(100);
    std::atomic<int> timeouts{0};
    for (int t = 0; t < 100; ++t)
        threads.emplace_back([&, t] {
            const auto t0 = std::chrono::steady_clock::now();
            try {
                pool.acquire(200ms);
            } catch (const PoolTimeout& e) {
                ++timeouts;
                CHECK(e.state().in_use == 1);
            }
            took[t] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        });
    for (auto& t : threads) t.join();
    CHECK(timeouts == 100);
    const auto [lo, hi] = std::minmax_element(took.begin(), took.end());
    MESSAGE("timeouts came after " << lo->count() << " to " << hi->count() << " ms");
    CHECK(*lo >= 200ms);
    CHECK(*hi <= 300ms);
}

TEST_CASE("pool (PostgreSQL): terminated backends are never handed out; the pool heals") {
    auto c = test_pg_conninfo();
    if (!c) return;
    const std::string app = app_name("kill");
    Watcher watch(*c, app);
    Pool pool(*c + " application_name=" + app, {.max_size = 4, .health_check_after = 0ms});
    Repo repo(pool);
    {
        Lease a = pool.acquire(), b = pool.acquire(), d = pool.acquire();
    }
    CHECK(pool.state().idle == 3);
    CHECK(watch.terminate_all() == 3);
    // Idle ones: the health check finds them dead before handing them out.
    for (int i = 0; i < 5; ++i) CHECK(repo.query<std::int64_t>("SELECT ?::bigint", i).at(0) == i);
    CHECK(pool.metrics().failed_health_checks >= 1);
    // One in use: its statement fails with ConnectionError; returned, it is closed.
    {
        Lease l = pool.acquire();
        watch.terminate_all();
        CHECK_THROWS_AS(l->connection().execute("SELECT 1"), ConnectionError);
    }
    CHECK(pool.metrics().broken >= 1);
    CHECK(repo.query<std::int64_t>("SELECT 7::bigint").at(0) == 7);
}

TEST_CASE("timeouts (PostgreSQL): pg_sleep past the statement timeout is StatementTimeout in time; the same connection goes on") {
    auto c = test_pg_conninfo();
    if (!c) return;
    Pool pool(*c, {.max_size = 1, .statement_timeout = 200ms});
    Repo repo(pool);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(repo.execute_sql("SELECT pg_sleep(5)"), StatementTimeout);
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("cancelled after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took >= 200ms);
    CHECK(took < 1000ms);
    CHECK(repo.query<std::int64_t>("SELECT 42::bigint").at(0) == 42);
    CHECK(pool.metrics().created == 1);
    CHECK(pool.metrics().broken == 0);
}

TEST_CASE("retries (PostgreSQL): SERIALIZABLE read-modify-write from 8 threads: every 40001 retried, the result is a serial order's") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgScratch scratch(*c, "CREATE TABLE ledger (id integer PRIMARY KEY, n bigint NOT NULL); INSERT INTO ledger VALUES (1, 0), (2, 0)");
    const std::string schema = pqxx::nontransaction(scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>();
    Pool pool(*c, {.max_size = 8, .on_connect = [&](core::Session& s) { s.connection().execute("SET search_path TO " + schema); }});
    Repo repo(pool);
    std::atomic<int> attempts{0}, escaped{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                try {
                    repo.transaction(
                        [&](Repo& tx) {
                            ++attempts;
                            // Read both rows, write one from the other: only a serial order keeps 1 and 2 equal.
                            const auto n1 = tx.query<std::int64_t>("SELECT n FROM ledger WHERE id = 1").at(0);
                            const auto n2 = tx.query<std::int64_t>("SELECT n FROM ledger WHERE id = 2").at(0);
                            tx.execute_sql("UPDATE ledger SET n = ? WHERE id = 1", n2 + 1);
                            tx.execute_sql("UPDATE ledger SET n = ? WHERE id = 2", n1 + 1);
                        },
                        {.isolation = core::Isolation::serializable, .retries = 100});
                } catch (const SerializationFailure&) {
                    ++escaped;
                } catch (const Deadlock&) {
                    ++escaped;
                }
            }
        });
    for (auto& t : threads) t.join();
    MESSAGE((attempts.load() - 200) << " retries for 200 transactions");
    CHECK(escaped == 0);
    CHECK(repo.query<std::int64_t>("SELECT n FROM ledger WHERE id = 1").at(0) == 200);
    CHECK(repo.query<std::int64_t>("SELECT n FROM ledger WHERE id = 2").at(0) == 200);
    // Without retries the same failure reaches the caller, typed and transient.
    std::atomic<int> failures{0};
    std::vector<std::thread> racers;
    for (int t = 0; t < 4; ++t)
        racers.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                try {
                    repo.transaction([&](Repo& tx) {
                        const auto n = tx.query<std::int64_t>("SELECT n FROM ledger WHERE id = 1").at(0);
                        std::this_thread::sleep_for(std::chrono::milliseconds(2));
                        tx.execute_sql("UPDATE ledger SET n = ? WHERE id = 1", n + 1);
                    }, {.isolation = core::Isolation::serializable});
                } catch (const SerializationFailure& e) {
                    CHECK(e.is_transient());
                    ++failures;
                }
            }
        });
    for (auto& t : racers) t.join();
    CHECK(failures > 0);
}
