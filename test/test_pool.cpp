// SPDX-License-Identifier: MIT
// The pool on SQLite files: checkout and return, timeouts with the pool's state, backpressure,
// broken connections never handed out, health checks, lifetimes, idle timeout, min size, leak
// reports, metrics, and the Repo running on a pool from many threads.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <quarry/pool.hpp>
#include <quarry/repo.hpp>

#include "schema.hpp"
#include "support.hpp"

using namespace quarry;
using namespace std::chrono_literals;

namespace {

struct TempDb {
    std::string path;
    explicit TempDb(const char* tag) {
        path = (std::filesystem::temp_directory_path() / ("quarry_pool_" + std::string(tag) + "_" + std::to_string(::getpid()) + ".db")).string();
        wipe();
        Repo r("sqlite:" + path);
        r.execute_sql(std::string(canonical_schema_sqlite).substr(0, std::string(canonical_schema_sqlite).find(';')));
    }
    ~TempDb() { wipe(); }
    void wipe() const {
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    }
    std::string url() const { return "sqlite:" + path; }
};

// A connection whose health a test can break.
struct Breakable final : core::Connection {
    std::unique_ptr<core::Connection> inner;
    std::shared_ptr<std::atomic<bool>> broken;
    Breakable(std::unique_ptr<core::Connection> c, std::shared_ptr<std::atomic<bool>> b) : inner(std::move(c)), broken(std::move(b)) {}
    const core::Dialect& dialect() const noexcept override { return inner->dialect(); }
    std::unique_ptr<core::Statement> prepare(std::string_view sql) override { return inner->prepare(sql); }
    void execute(std::string_view sql) override {
        if (*broken) throw ConnectionError("broken on purpose");
        inner->execute(sql);
    }
    std::unique_ptr<core::Cursor> open_cursor(std::string_view sql, const std::vector<Value>& p, std::uint32_t b, bool t) override {
        return inner->open_cursor(sql, p, b, t);
    }
    bool healthy() const noexcept override { return !*broken; }
    bool in_transaction() const noexcept override { return inner->in_transaction(); }
    void set_statement_timeout(std::chrono::milliseconds t) override { inner->set_statement_timeout(t); }
};

// Whether `done()` becomes true within `limit`. The housekeeper's work is checked this way, not
// after a fixed sleep: on a loaded machine its thread may run late.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = 5000ms) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

User user(int i) {
    return User{.name = "u" + std::to_string(i), .email = "u" + std::to_string(i) + "@x", .age = i, .active = true, .inserted_at = {}};
}

}  // namespace

TEST_CASE("pool: a lease returns its session, which is handed out again") {
    TempDb db("basic");
    Pool pool(db.url(), {.max_size = 2});
    core::Session* first = nullptr;
    {
        Lease l = pool.acquire();
        first = &l.session();
        CHECK(pool.state().in_use == 1);
    }
    CHECK(pool.state().in_use == 0);
    CHECK(pool.state().idle == 1);
    Lease again = pool.acquire();
    CHECK(&again.session() == first);  // the warm one, with its statement cache
    Lease second = pool.acquire();
    CHECK(&second.session() != first);
    CHECK(pool.state().total == 2);
    const auto m = pool.metrics();
    CHECK(m.acquired == 3);
    CHECK(m.created == 2);
}

TEST_CASE("pool: a bad URL fails at construction; max_size 0 is refused") {
    CHECK_THROWS_AS(Pool("mysql://nope"), ConnectionError);
    CHECK_THROWS_AS(Pool("sqlite:/no/such/dir/x.db"), ConnectionError);
    TempDb db("bad");
    CHECK_THROWS_AS(Pool(db.url(), {.max_size = 0}), Error);
}

TEST_CASE("pool: over an in-memory SQLite database, where each connection is a database of its own, only a pool of one") {
    try {
        Pool pool("sqlite::memory:");  // max_size 10 by default
        FAIL("a pool of 10 private in-memory databases was created");
    } catch (const InvalidUrl& e) {
        CHECK(std::string(e.what()).find("separate database") != std::string::npos);
    }
    CHECK_THROWS_AS(Pool("sqlite::memory:?busy_timeout=10", {.max_size = 2}), InvalidUrl);
    CHECK_THROWS_AS(Pool("sqlite:file::memory:", {.max_size = 2}), InvalidUrl);  // SQLite's URI spelling
    // A pool of one keeps its connection, whatever the lifetime and idle options say: reopened,
    // it would be a new, empty database.
    Pool one("sqlite::memory:", {.max_size = 1, .max_lifetime = 30ms, .idle_timeout = 10ms, .housekeeping_interval = 5ms});
    Repo repo(one);
    repo.execute_sql("CREATE TABLE t (x INTEGER)");
    repo.execute_sql("INSERT INTO t VALUES (1)");
    std::this_thread::sleep_for(150ms);  // many lifetimes and housekeeping passes
    CHECK(repo.query<std::int64_t>("SELECT count(*) FROM t").at(0) == 1);
    CHECK(one.metrics().created == 1);
    CHECK(one.metrics().closed == 0);
}

TEST_CASE("pool: acquire times out with the pool's state; a transaction left open is rolled back on return") {
    TempDb db("timeout");
    Pool pool(db.url(), {.max_size = 1, .acquire_timeout = 100ms});
    {
        Lease held = pool.acquire();
        held->begin();
        held->run_sql("INSERT INTO users (name, email, age, active, inserted_at) VALUES ('a', 'a', 1, 1, 'x')", {}).step();
        held->connection();  // still held
        const auto t0 = std::chrono::steady_clock::now();
        try {
            pool.acquire();
            FAIL("acquire did not time out");
        } catch (const PoolTimeout& e) {
            CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
            CHECK(e.state().in_use == 1);
            CHECK(e.state().total == 1);
            CHECK(std::string(e.what()).find("1 in use") != std::string::npos);
            CHECK(e.is_transient());
        }
    }  // returned inside its transaction: rolled back
    Repo repo(pool);
    CHECK(repo.count(from<User>()) == 0);
    CHECK(pool.metrics().timeouts == 1);
}

TEST_CASE("pool: a transaction begun in raw SQL and left open is rolled back on return, not handed to the next holder") {
    TempDb db("raw_begin");
    Pool pool(db.url(), {.max_size = 1});
    Repo repo(pool);
    // Each call is a lease of its own: the BEGIN is rolled back when its lease comes back, so the
    // writes after it commit (before, they went into that transaction and were never committed).
    repo.execute_sql("BEGIN");
    repo.execute_sql("INSERT INTO users (name, email, age, active, inserted_at) VALUES ('a', 'a', 1, 1, 'x')");
    repo.execute_sql("INSERT INTO users (name, email, age, active, inserted_at) VALUES ('b', 'b', 1, 1, 'x')");
    Repo other("sqlite:" + db.path);
    CHECK(other.count(from<User>()) == 2);
    // Held in one lease, the BEGIN's writes are rolled back with it.
    {
        Lease held = pool.acquire();
        held->connection().execute("BEGIN");
        held->connection().execute("INSERT INTO users (name, email, age, active, inserted_at) VALUES ('c', 'c', 1, 1, 'x')");
    }
    CHECK(other.count(from<User>()) == 2);
    CHECK_FALSE(pool.acquire()->connection().in_transaction());
    CHECK(pool.metrics().broken == 0);
}

TEST_CASE("pool: a broken connection is closed on return and never handed out again") {
    TempDb db("broken");
    auto broken = std::make_shared<std::atomic<bool>>(false);
    const std::string url = db.url();
    Pool pool([&] { return std::make_unique<Breakable>(core::connect(url), broken); }, {.max_size = 2});
    core::Session* was = nullptr;
    {
        Lease l = pool.acquire();
        was = &l.session();
        *broken = true;  // the server went away while it was out
    }
    CHECK(pool.state().total == 0);
    CHECK(pool.metrics().broken == 1);
    *broken = false;
    Lease fresh = pool.acquire();
    CHECK(pool.metrics().created == 2);
    (void)was;
}

TEST_CASE("pool: an idle connection that fails its health check is replaced before it is handed out") {
    TempDb db("health");
    auto broken = std::make_shared<std::atomic<bool>>(false);
    std::vector<std::shared_ptr<std::atomic<bool>>> flags;
    const std::string url = db.url();
    std::mutex m;
    Pool pool(
        [&] {
            auto flag = std::make_shared<std::atomic<bool>>(false);
            std::lock_guard lock(m);
            flags.push_back(flag);
            return std::make_unique<Breakable>(core::connect(url), flag);
        },
        {.max_size = 2, .health_check_after = 0ms});
    { Lease l = pool.acquire(); }
    {
        std::lock_guard lock(m);
        *flags[0] = true;  // broken while idle
    }
    std::this_thread::sleep_for(5ms);
    Lease l = pool.acquire();
    CHECK(l->connection().healthy());
    CHECK(pool.metrics().failed_health_checks == 1);
    CHECK(pool.metrics().created == 2);
}

TEST_CASE("pool: connections past their lifetime are closed; idle ones beyond min_size time out; min_size is kept") {
    TempDb db("life");
    Pool pool(db.url(), {.min_size = 2, .max_size = 4, .max_lifetime = 150ms, .lifetime_jitter = 0.2, .idle_timeout = 0ms,
                         .housekeeping_interval = 20ms});
    CHECK(eventually([&] { return pool.state().total == 2; }));  // topped up to min_size
    const auto created = pool.metrics().created;
    CHECK(eventually([&] { return pool.metrics().closed >= 2; }));            // expired ...
    CHECK(eventually([&] { return pool.metrics().created >= created + 2; }));  // ... and replaced
    CHECK(eventually([&] { return pool.state().total == 2; }));

    Pool idle(db.url(), {.min_size = 1, .max_size = 4, .idle_timeout = 50ms, .housekeeping_interval = 20ms});
    {
        Lease a = idle.acquire(), b = idle.acquire(), c = idle.acquire();
        CHECK(idle.state().total == 3);
    }
    CHECK(eventually([&] { return idle.state().total == 1; }));  // down to min_size, not below
    std::this_thread::sleep_for(100ms);
    CHECK(idle.state().total == 1);
}

TEST_CASE("pool: a lease held past the leak threshold is reported once, with where it was acquired") {
    TempDb db("leak");
    std::mutex m;
    std::vector<LeakReport> reports;
    Pool pool(db.url(), {.max_size = 2, .leak_threshold = 50ms, .on_leak = [&](const LeakReport& r) {
                             std::lock_guard lock(m);
                             reports.push_back(r);
                         },
                         .housekeeping_interval = 10ms});
    {
        Lease l = pool.acquire();
        CHECK(eventually([&] {
            std::lock_guard lock(m);
            return !reports.empty();
        }));
        std::this_thread::sleep_for(100ms);  // ten more housekeeping passes: no second report
    }
    std::lock_guard lock(m);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].where.find("test_pool.cpp") != std::string::npos);
    CHECK(reports[0].held >= 50ms);
    CHECK(pool.metrics().leaks == 1);
}

TEST_CASE("pool: a full wait queue, or waits above the target for an interval, fail fast with PoolOverloaded") {
    TempDb db("overload");
    {
        Pool pool(db.url(), {.max_size = 1, .acquire_timeout = 2000ms, .max_waiters = 1});
        std::optional<Lease> held(pool.acquire());
        std::atomic<bool> served{false};
        std::thread waiter([&] {
            Lease l = pool.acquire(10000ms);  // the queue's one place
            served = true;
        });
        while (pool.state().waiting == 0) std::this_thread::yield();
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_THROWS_AS(pool.acquire(), PoolOverloaded);
        CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);  // at once, not after the 2 s timeout
        held.reset();  // the waiter in the queue is served
        waiter.join();
        CHECK(served);
    }
    {
        Pool pool(db.url(), {.max_size = 1, .acquire_timeout = 2000ms, .overload_target = 10ms, .overload_interval = 50ms});
        // Four threads keep a queue: every acquire waits ~90 ms. After 50 ms of that, acquires
        // that would wait fail fast — each PoolOverloaded comes at once, not after the timeout.
        std::atomic<bool> stop{false};
        std::atomic<int> overloaded{0}, slow_failures{0};
        std::vector<std::thread> threads;
        for (int h = 0; h < 4; ++h)
            threads.emplace_back([&] {
                while (!stop) {
                    const auto t0 = std::chrono::steady_clock::now();
                    try {
                        Lease l = pool.acquire();
                        std::this_thread::sleep_for(30ms);
                    } catch (const PoolOverloaded& e) {
                        ++overloaded;
                        if (std::chrono::steady_clock::now() - t0 > 1000ms) ++slow_failures;  // the timeout is 2 s
                        CHECK(e.state().total == 1);
                        std::this_thread::sleep_for(5ms);
                    }
                }
            });
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (overloaded == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
        stop = true;
        for (auto& t : threads) t.join();
        CHECK(overloaded >= 1);
        CHECK(slow_failures == 0);
        CHECK(pool.metrics().overloaded == static_cast<std::uint64_t>(overloaded.load()));
        // Once a connection is free again, acquires succeed at once and clear the state.
        Lease ok = pool.acquire();
        CHECK(ok);
    }
}

TEST_CASE("pool: the Repo runs on a pool from many threads; a transaction holds one session") {
    TempDb db("repo");
    Pool pool(db.url(), {.max_size = 4, .acquire_timeout = 10000ms});
    Repo repo(pool);
    CHECK(repo.pooled());
    CHECK(repo.dialect().name() == "sqlite");
    CHECK_THROWS_AS(repo.session(), QueryError);
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                try {
                    repo.transaction([&](Repo& tx) {
                        auto u = tx.insert(user(t * 1000 + i));
                        CHECK(tx.get<User>(u.id).has_value());
                    });
                } catch (const DatabaseBusy&) {
                    ++errors;  // SQLite: one writer at a time (issue 6's writer mode serialises them)
                }
            }
        });
    for (auto& t : threads) t.join();
    CHECK(repo.count(from<User>()) == 400 - errors);
    CHECK(pool.state().total <= 4);
    // A failing transaction rolls back and returns its session.
    CHECK_THROWS_AS(repo.transaction([&](Repo& tx) {
        tx.insert(user(99999));
        tx.insert(user(99999));  // unique email
    }),
                    ConstraintError);
    CHECK(repo.count(from<User>() | where(col(&User::age) == 99999)) == 0);
    CHECK(pool.state().in_use == 0);
    // A stream keeps its session checked out until it is done.
    {
        auto rows = repo.stream(from<User>());
        auto it = rows.begin();
        CHECK(it != rows.end());
        CHECK(pool.state().in_use == 1);
    }
    CHECK(pool.state().in_use == 0);
}

TEST_CASE("pool: a stream kept past the transaction it was opened in keeps that connection checked out until it is done") {
    TempDb db("kept-stream");
    Pool pool(db.url(), {.max_size = 2, .acquire_timeout = 2000ms});
    Repo repo(pool);
    for (int i = 0; i < 3; ++i) repo.insert(user(i));
    auto q = from<User>() | order_by(col(&User::age));
    // Returned from the transaction's function: the stream shares the transaction's lease.
    auto returned = repo.transaction([&](Repo& tx) { return tx.stream(q); });
    CHECK(pool.state().in_use == 1);
    // Opened through the pooled Repo inside a transaction (it runs on the transaction's session).
    std::optional<Stream<User>> kept;
    repo.transaction([&](Repo&) { kept.emplace(repo.stream(q)); });
    CHECK(pool.state().in_use == 2);
    std::vector<int> ages;
    for (const User& u : returned) ages.push_back(u.age);
    for (const User& u : *kept) ages.push_back(u.age);
    CHECK(ages == std::vector<int>{0, 1, 2, 0, 1, 2});
    // A connection comes back when its stream goes, not before: no other thread is handed a
    // session a stream still reads.
    { auto done = std::move(returned); }
    CHECK(pool.state().in_use == 1);
    kept.reset();
    CHECK(pool.state().in_use == 0);
    CHECK(repo.count(from<User>()) == 3);
}

TEST_CASE("pool: close refuses new acquires and closes returned connections") {
    TempDb db("close");
    Pool pool(db.url(), {.max_size = 2});
    Lease l = pool.acquire();
    pool.close();
    CHECK_THROWS_AS(pool.acquire(), Error);
    l.release();
    CHECK(pool.state().total == 0);
}

TEST_CASE("pool: destroyed while a lease is out, it waits for the lease, then stops the program naming where it was taken") {
    TempDb db("destroyed");
    PoolOptions options;
    options.acquire_timeout = 300ms;
    const ChildEnd kept = run_in_child([&] {
        auto pool = std::make_unique<Pool>(db.url(), options);
        Lease lease = pool->acquire();
        pool.reset();  // the lease is still out, and nobody will give it back
    });
    CHECK(kept.stopped);
    CHECK(kept.err.find("a Pool was destroyed while 1 of its connections were still in use") != std::string::npos);
    CHECK(kept.err.find("test_pool.cpp") != std::string::npos);  // where the lease was taken
    CHECK(kept.err.find("by this thread") != std::string::npos);

    // Another thread gives its lease back within the acquire timeout: the destructor waits.
    options.acquire_timeout = 5s;
    const ChildEnd returned = run_in_child([&] {
        auto pool = std::make_unique<Pool>(db.url(), options);
        std::atomic<bool> taken{false};
        std::thread user([&] {
            Lease lease = pool->acquire();
            taken = true;
            std::this_thread::sleep_for(200ms);
        });
        while (!taken) std::this_thread::yield();
        pool.reset();
        user.join();
    });
    CHECK_FALSE(returned.stopped);
    CHECK_FALSE(returned.threw);
    CHECK(returned.err == "");
}

TEST_CASE("replicas: when every replica is busy a read waits busy_wait, not each replica pool's acquire timeout, then runs on the primary") {
    TempDb db("busy_replicas");
    Pool primary(db.url(), {.max_size = 2});
    ReplicaOptions options;
    options.pool.max_size = 1;
    options.pool.acquire_timeout = 5s;
    Replicas replicas({db.url() + "?mode=ro", db.url() + "?mode=ro"}, options);
    Repo repo(primary, replicas);
    repo.insert(User{.id = 0, .name = "a", .email = "a@x", .age = 1, .active = true, .inserted_at = {}});
    // One replica busy: the read goes to the other at once.
    auto first = replicas.acquire_read();
    REQUIRE(first);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(repo.count(from<User>()) == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    // Both busy: busy_wait (50 ms), then the primary.
    auto second = replicas.acquire_read();
    REQUIRE(second);
    CHECK(second->index != first->index);
    t0 = std::chrono::steady_clock::now();
    CHECK(repo.count(from<User>()) == 1);
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(waited >= 50ms);
    CHECK(waited < 2s);  // before: 5 s for each busy replica, 10 s in all
    for (const auto& st : replicas.status()) CHECK(st.in_rotation);
}

TEST_CASE("timeouts (SQLite): a statement past its limit is interrupted with StatementTimeout; the session goes on") {
    TempDb db("timeout_stmt");
    Pool pool(db.url(), {.max_size = 1, .statement_timeout = 100ms});
    Repo repo(pool);
    const auto t0 = std::chrono::steady_clock::now();
    try {
        repo.query<std::int64_t>("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c");
        FAIL("the endless query returned");
    } catch (const StatementTimeout& e) {
        const auto took = std::chrono::steady_clock::now() - t0;
        MESSAGE("interrupted after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
        CHECK(took >= 100ms);
        CHECK(took < 2000ms);
        CHECK(std::string(e.sql()).find("RECURSIVE") != std::string::npos);
    }
    CHECK(repo.query<std::int64_t>("SELECT 42").at(0) == 42);  // same connection, usable
    CHECK(pool.metrics().created == 1);
    // Fast statements never trip it, however many run.
    for (int i = 0; i < 200; ++i) CHECK(repo.query<std::int64_t>("SELECT ?", i).at(0) == i);
    // Inside a transaction the timeout cannot be changed (a rollback would undo it on PostgreSQL).
    {
        Lease l = pool.acquire();
        l->begin();
        CHECK_THROWS_AS(l->set_statement_timeout(0ms), QueryError);
        l->rollback();
        l->set_statement_timeout(5000ms);  // this holder's own limit ...
    }
    CHECK(pool.acquire()->statement_timeout() == 100ms);  // ... not the next holder's
}

TEST_CASE("circuit breaker: connects failing in a row open it (fail fast); after the pause one trial closes it") {
    TempDb db("breaker");
    const std::string url = db.url();
    auto down = std::make_shared<std::atomic<bool>>(false);
    auto broken = std::make_shared<std::atomic<bool>>(false);
    Pool pool(
        [&] {
            if (*down) throw ConnectionError("the database is down (test)");
            return std::make_unique<Breakable>(core::connect(url), broken);
        },
        {.max_size = 2, .acquire_timeout = 3000ms, .health_check_after = 0ms, .breaker_threshold = 3,
         .breaker_cooldown = 200ms, .breaker_max_cooldown = 800ms});
    *down = true;
    *broken = true;  // the open connection dies with the database
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(pool.acquire(), CircuitOpen);  // after 3 failed connects, not after 3 s
    CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
    CHECK(pool.state().circuit_open);
    // An acquire that starts within the cooldown must be refused without a connect. (One that
    // a loaded machine delays past it is the trial instead: then there is nothing to check.)
    using Clock = std::chrono::steady_clock;
    auto opened = t0;  // the breaker opened after this
    int rejected = 0;
    const auto refused_at_once = [&](std::chrono::milliseconds cooldown) {
        const auto started = Clock::now();
        const auto tried = pool.metrics().connect_failures;
        try {
            pool.acquire();
            FAIL("the breaker let a request through");
        } catch (const CircuitOpen& e) {
            CHECK(std::string(e.what()).find("the database is down (test)") != std::string::npos);  // says why
            CHECK(e.not_applied());
        }
        if (started - opened < cooldown) {
            CHECK(pool.metrics().connect_failures == tried);  // no connect tried
            ++rejected;
        }
    };
    refused_at_once(200ms);
    // Still down at the trial: open again, for twice as long.
    std::this_thread::sleep_for(240ms);
    opened = Clock::now();
    CHECK_THROWS_AS(pool.acquire(), CircuitOpen);
    refused_at_once(400ms);
    // Back: the next trial (at most max_cooldown later) closes it.
    *down = false;
    *broken = false;
    std::this_thread::sleep_for(810ms);
    CHECK_NOTHROW(pool.acquire());
    CHECK_FALSE(pool.state().circuit_open);
    const auto m = pool.metrics();
    CHECK(m.breaker_trips == 1);
    CHECK(m.circuit_rejections >= static_cast<std::uint64_t>(rejected));
}

namespace {

// A connection whose next `fail` prepares throw ConnectionError (applied or not, as told).
struct Flaky final : core::Connection {
    std::unique_ptr<core::Connection> inner;
    std::shared_ptr<std::atomic<int>> fail;
    std::shared_ptr<std::atomic<bool>> not_applied;
    Flaky(std::unique_ptr<core::Connection> c, std::shared_ptr<std::atomic<int>> f, std::shared_ptr<std::atomic<bool>> n)
        : inner(std::move(c)), fail(std::move(f)), not_applied(std::move(n)) {}
    const core::Dialect& dialect() const noexcept override { return inner->dialect(); }
    std::unique_ptr<core::Statement> prepare(std::string_view sql) override {
        if (fail->fetch_sub(1) > 0) throw ConnectionError("lost on purpose", *not_applied);
        return inner->prepare(sql);
    }
    void execute(std::string_view sql) override { inner->execute(sql); }
    bool in_transaction() const noexcept override { return inner->in_transaction(); }
    std::unique_ptr<core::Cursor> open_cursor(std::string_view sql, const std::vector<Value>& p, std::uint32_t b, bool t) override {
        return inner->open_cursor(sql, p, b, t);
    }
    void set_statement_timeout(std::chrono::milliseconds t) override { inner->set_statement_timeout(t); }
};

}  // namespace

TEST_CASE("statement retries: a read runs again after a lost connection; a write only when it provably did not run") {
    TempDb db("retries");
    const std::string url = db.url();
    auto fail = std::make_shared<std::atomic<int>>(0);
    auto not_applied = std::make_shared<std::atomic<bool>>(false);
    Pool pool([&] { return std::make_unique<Flaky>(core::connect(url), fail, not_applied); }, {.max_size = 2});
    Repo repo(pool);
    *fail = 1;
    CHECK(repo.all(from<User>()).empty());  // retried
    *fail = 1;
    CHECK_THROWS_AS(repo.insert(user(1)), ConnectionError);  // may have run: not retried
    *fail = 1;
    *not_applied = true;
    CHECK_NOTHROW(repo.insert(user(1)));  // known not to have run: retried, once
    CHECK(repo.count(from<User>()) == 1);
    *fail = 5;  // more failures than retries: the last error reaches the caller
    CHECK_THROWS_AS(repo.all(from<User>() | where(col(&User::age) > 3)), ConnectionError);
    *fail = 0;
    Repo no_retries(pool, {.statement_retries = 0});
    *fail = 1;
    CHECK_THROWS_AS(no_retries.all(from<User>() | where(col(&User::age) > 4)), ConnectionError);
    *fail = 0;
}

namespace {

// 8 threads, `per_thread` transactions each: read a counter, write it back plus one, insert a
// row (numbered from `first`). Returns the DatabaseBusy errors that reached the caller; counts
// any other error in `other`.
long writers(Repo& repo, int per_thread, int first, std::atomic<long>& other) {
    std::atomic<long> busy{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                try {
                    repo.transaction([&](Repo& tx) {
                        const auto n = tx.query<std::int64_t>("SELECT n FROM counter").at(0);
                        tx.execute_sql("UPDATE counter SET n = ?", n + 1);
                        tx.insert(user(first + t * per_thread + i));
                    });
                } catch (const DatabaseBusy&) {
                    ++busy;
                } catch (const std::exception&) {
                    ++other;
                }
            }
        });
    for (auto& t : threads) t.join();
    return busy;
}

}  // namespace

TEST_CASE("SQLite writer mode: 8 writer threads in WAL, 10,000 transactions, no SQLITE_BUSY escapes") {
    TempDb db("writers");
    {
        Repo setup(db.url());
        setup.execute_sql("CREATE TABLE counter (n INTEGER NOT NULL)");
        setup.execute_sql("INSERT INTO counter VALUES (0)");
        CHECK(setup.query<std::string>("PRAGMA journal_mode").at(0) == "wal");
    }
    // With turns, writers never wait on each other's lock; SQLite's busy timeout (default 5 s)
    // is left for its own brief WAL housekeeping (checkpoints, read marks), which with
    // busy_timeout=0 can surface as a rare SQLITE_BUSY under heavy load.
    Pool pool(db.url(), {.max_size = 8, .acquire_timeout = 30000ms, .single_writer = true});
    Repo repo(pool);
    std::atomic<bool> stop{false};
    std::atomic<long> reads{0}, read_errors{0};
    std::thread reader([&] {  // reads go on beside the writers
        while (!stop) {
            try {
                repo.count(from<User>());
                ++reads;
            } catch (const std::exception&) {
                ++read_errors;
            }
        }
    });
    std::atomic<long> other{0};
    CHECK(writers(repo, 1250, 0, other) == 0);
    CHECK(other == 0);
    stop = true;
    reader.join();
    CHECK(repo.query<std::int64_t>("SELECT n FROM counter").at(0) == 10000);
    CHECK(repo.count(from<User>()) == 10000);
    CHECK(reads > 0);
    CHECK(read_errors == 0);
    // The control: the same writers without turns do meet the lock (busy_timeout=0 makes each
    // meeting an error instead of a wait).
    Pool free_for_all(db.url() + "?busy_timeout=0", {.max_size = 8});
    Repo racing(free_for_all, {.statement_retries = 0});
    CHECK(writers(racing, 100, 10000, other) > 0);
}

namespace {

struct Hooked {
    std::int64_t id = 0;
    std::string name;
};

}  // namespace
BOOST_HANA_ADAPT_STRUCT(Hooked, id, name);
QUARRY_TABLE(Hooked, "hooked", &Hooked::id);
template <>
struct quarry::hooks<Hooked> {
    static void after_insert(Repo&, const Hooked& h) {
        if (h.name == "refused") throw Veto("refused by its hook");
    }
};

TEST_CASE("pool: inside transaction() every call on the pooled Repo joins the transaction (hooks, chunks, the outer Repo)") {
    TempDb db("joined");
    Repo(db.url()).execute_sql("CREATE TABLE hooked (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    // Writer mode: a write that took a second connection would wait for the turn its own
    // transaction holds (a PoolTimeout after 1 s) instead of running.
    Pool pool(db.url(), {.max_size = 4, .acquire_timeout = 1000ms, .single_writer = true});
    Repo repo(pool);
    // A hook that throws after the insert: the insert is rolled back with it.
    CHECK_THROWS_AS(repo.insert(Hooked{.name = "refused"}), Veto);
    CHECK(repo.count(from<Hooked>()) == 0);
    CHECK(repo.insert(Hooked{.name = "kept"}).id > 0);
    // The outer Repo used inside the function: same transaction, rolled back with it.
    CHECK_THROWS_AS(repo.transaction([&](Repo&) {
        repo.insert(user(1));
        CHECK(repo.count(from<User>()) == 1);  // seen inside
        repo.transaction([&](Repo&) { repo.insert(user(2)); });  // a savepoint, not a second transaction
        throw std::runtime_error("undo");
    }), std::runtime_error);
    CHECK(repo.count(from<User>()) == 0);
    // insert_all beyond one statement's parameters: chunks in one transaction.
    std::vector<User> many;
    for (int i = 0; i < 7000; ++i) many.push_back(user(100 + i));
    CHECK(repo.insert_all(many) == 7000);
    CHECK(pool.metrics().timeouts == 0);
}

TEST_CASE("statement retries: a write run through all() (INSERT ... RETURNING) is not run again after a lost connection") {
    TempDb db("returning");
    const std::string url = db.url();
    auto fail = std::make_shared<std::atomic<int>>(0);
    auto not_applied = std::make_shared<std::atomic<bool>>(false);
    Pool pool([&] { return std::make_unique<Flaky>(core::connect(url), fail, not_applied); }, {.max_size = 2});
    Repo repo(pool);
    *fail = 1;
    CHECK_THROWS_AS(repo.insert_all_returning(std::vector<User>{user(1), user(2)}), ConnectionError);
    *fail = 1;
    CHECK_THROWS_AS(repo.all(insert(user(3)) | returning_all()), ConnectionError);
    *fail = 1;
    CHECK_THROWS_AS(repo.execute_sql("INSERT INTO users (name, email, age, active, inserted_at) VALUES ('r', 'r@x', 1, 1, '')"),
                    ConnectionError);  // raw SQL: never again
    *fail = 0;
    CHECK(repo.count(from<User>()) == 0);
}
