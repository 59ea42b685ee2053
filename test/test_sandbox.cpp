// SPDX-License-Identifier: MIT
// The test sandbox on SQLite and PostgreSQL, on a Repo's own session and on a pool: 200
// sandboxed "tests" inserting the same unique keys leave nothing behind, with nested
// transactions and tests that throw; threads share the sandbox's connection; the doctest
// integration.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include <quarry/sandbox_doctest.hpp>

#include "pg_env.hpp"
#include "schema.hpp"

using namespace quarry;
using namespace std::chrono_literals;

namespace {

User same_user() {
    return User{.id = 0, .name = "same", .email = "same@example.com", .age = 1, .active = true, .inserted_at = {}};
}

// One sandboxed "test": the same unique row every time, a nested transaction that fails and
// one that commits, and every `throw_every`-th one throws.
void sandboxed_test(Repo& repo, int i, int throw_every) {
    testing::Sandbox sandbox(repo);
    repo.insert(same_user());
    CHECK_THROWS_AS(repo.insert(same_user()), ConstraintError);  // the unique key: only this test's row
    CHECK_THROWS_AS(repo.transaction([&](Repo& tx) {
        tx.insert(User{.id = 0, .name = "inner", .email = "inner@example.com", .age = 2, .active = true, .inserted_at = {}});
        throw std::runtime_error("inner failure");
    }), std::runtime_error);
    repo.transaction([&](Repo& tx) {  // a savepoint that commits: visible until the sandbox ends
        tx.insert(User{.id = 0, .name = "kept", .email = "kept@example.com", .age = 3, .active = true, .inserted_at = {}});
    });
    CHECK(repo.count(from<User>()) == 2);
    if (i % throw_every == 0) throw std::runtime_error("a test that fails");
}

void two_hundred_tests(Repo& repo) {
    int thrown = 0;
    for (int i = 1; i <= 200; ++i) {
        try {
            sandboxed_test(repo, i, 10);
        } catch (const std::runtime_error&) {
            ++thrown;
        }
    }
    CHECK(thrown == 20);
    CHECK(repo.count(from<User>()) == 0);  // nothing left behind
}

// Threads a test starts share its sandbox: they see its writes, and theirs go with it.
void shared_threads(Pool& pool) {
    Repo repo(pool);
    {
        testing::Sandbox sandbox(repo);
        repo.insert(same_user());
        std::atomic<int> errors{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                try {
                    for (int i = 0; i < 25; ++i) {
                        CHECK(repo.count(from<User>() | where(col(&User::email) == "same@example.com")) == 1);
                        repo.transaction([&](Repo& tx) {
                            tx.insert(User{.id = 0, .name = "t", .email = "t" + std::to_string(t * 100 + i) + "@x", .age = t,
                                           .active = true, .inserted_at = {}});
                        });
                    }
                } catch (const std::exception& e) {
                    if (errors++ == 0) MESSAGE(std::string(e.what()));
                }
            });
        for (auto& th : threads) th.join();
        CHECK(errors == 0);
        CHECK(repo.count(from<User>()) == 101);
    }
    CHECK(repo.count(from<User>()) == 0);
    CHECK_FALSE(pool.pinned());
}

struct SqliteFile {
    std::string path;
    explicit SqliteFile(const char* tag)
        : path((std::filesystem::temp_directory_path() / ("quarry_sandbox_" + std::string(tag) + "_" + std::to_string(::getpid()) + ".db")).string()) {
        wipe();
        Repo(url()).session().connection().execute(canonical_schema_sqlite);
    }
    ~SqliteFile() { wipe(); }
    void wipe() const {
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    }
    std::string url() const { return "sqlite:" + path; }
};

}  // namespace

TEST_CASE("sandbox (SQLite): 200 tests inserting the same unique keys leave 0 rows, on a session and on a pool") {
    SqliteFile db("sqlite");
    {
        Repo repo(db.url());
        two_hundred_tests(repo);
    }
    Pool pool(db.url(), {.max_size = 4});
    Repo pooled(pool);
    two_hundred_tests(pooled);
    shared_threads(pool);
}

// Writer mode's transactions take a write turn before a connection. In a sandbox a thread may
// hold the one connection first (a Stream) and then open a transaction, while another thread's
// transaction holds the write turn and waits for that connection: with both turns, each waited
// for the other until PoolTimeout.
TEST_CASE("sandbox with single_writer: a thread holding the connection that then opens a transaction does not deadlock with a waiting one") {
    SqliteFile db("writer_turn");
    PoolOptions options;
    options.max_size = 2;
    options.acquire_timeout = 3s;
    options.single_writer = true;
    Pool pool(db.url(), options);
    Repo repo(pool);
    {
        testing::Sandbox sandbox(repo);
        Lease held = pool.acquire();  // this thread holds the sandbox's connection, as a Stream would
        std::atomic<bool> started{false};
        std::string writer_error;
        std::thread writer([&] {
            started = true;
            try {
                repo.transaction([](Repo& tx) {
                    tx.insert(User{.id = 0, .name = "b", .email = "b@x", .age = 2, .active = true, .inserted_at = {}});
                });
            } catch (const std::exception& e) {
                writer_error = e.what();
            }
        });
        while (!started) std::this_thread::yield();
        std::this_thread::sleep_for(200ms);  // the writer is waiting for the connection by now
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_NOTHROW(repo.transaction([](Repo& tx) {
            tx.insert(User{.id = 0, .name = "a", .email = "a@x", .age = 1, .active = true, .inserted_at = {}});
        }));
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
        held.release();
        writer.join();
        CHECK(writer_error == "");
        CHECK(repo.count(from<User>()) == 2);
    }
    CHECK(repo.count(from<User>()) == 0);
}

TEST_CASE("sandbox (PostgreSQL): 200 tests inserting the same unique keys leave 0 rows, on a session and on a pool") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgScratch scratch(*conninfo, canonical_schema_postgres);
    const std::string path = scratch.schema();
    {
        Repo repo(*conninfo);
        repo.session().connection().execute("SET search_path TO " + path);
        two_hundred_tests(repo);
    }
    Pool pool(*conninfo, {.max_size = 4, .on_connect = [path](core::Session& s) { s.connection().execute("SET search_path TO " + path); }});
    Repo pooled(pool);
    two_hundred_tests(pooled);
    shared_threads(pool);
}

TEST_CASE("sandbox: misuse is refused") {
    SqliteFile db("misuse");
    Repo repo(db.url());
    repo.transaction([&](Repo&) { CHECK_THROWS_AS(testing::Sandbox{repo}, QueryError); });  // inside a transaction
    Pool pool(db.url(), {.max_size = 2});
    Repo pooled(pool);
    pooled.transaction([&](Repo&) { CHECK_THROWS_AS(testing::Sandbox{pooled}, QueryError); });
    testing::Sandbox first(pool);
    try {
        testing::Sandbox second(pool);
        FAIL("two sandboxes on one pool");
    } catch (const QueryError& e) {
        CHECK(std::string(e.what()).find("one sandbox per pool") != std::string::npos);
    }
    // The test's outermost transaction may ask for options: the sandbox's began already.
    CHECK_NOTHROW(pooled.transaction([&](Repo& tx) { tx.count(from<User>()); }, {.isolation = Isolation::serializable}));
}

// ---- the doctest integration ------------------------------------------------------------------

namespace {
// The sandboxed test cases below run on this Repo (a real program names its own in main()).
SqliteFile& shared_file() {
    static SqliteFile f("doctest");
    return f;
}
Repo& shared_repo() {
    static Repo r(shared_file().url());
    return r;
}
const bool registered = [] {
    testing::use_repo(shared_repo());
    return true;
}();
}  // namespace

// Each finds the table empty and inserts the same unique row: in either order, the second
// passes only if the first left nothing.
QUARRY_TEST_CASE("QUARRY_TEST_CASE: a first test inserts a unique row") {
    CHECK(registered);
    CHECK(shared_repo().count(from<User>()) == 0);
    shared_repo().insert(same_user());
    CHECK(shared_repo().count(from<User>()) == 1);
}

QUARRY_TEST_CASE("QUARRY_TEST_CASE: a second test inserts the same row") {
    CHECK(shared_repo().count(from<User>()) == 0);
    shared_repo().insert(same_user());
    CHECK(shared_repo().in_transaction());
}

// ---- fixtures --------------------------------------------------------------------------------

#include <quarry/factory.hpp>

TEST_CASE("fixtures: a factory builds valid rows with sequences and overrides, inserts through a changeset") {
    SqliteFile db("factory");
    Repo repo(db.url());
    testing::Sandbox sandbox(repo);
    testing::Factory<User> users(
        [](std::int64_t n) {
            return User{.id = 0, .name = "user " + std::to_string(n), .email = "user" + std::to_string(n) + "@example.com", .age = 30,
                        .active = true, .inserted_at = {}};
        },
        [](Changeset<User> cs) {
            return std::move(cs) | validate_required(&User::name, &User::email) | validate_number(&User::age, {.ge = 0}) |
                   unique_constraint(&User::email);
        });
    const User built = users.build([](User& u) { u.age = 17; });
    CHECK(built.age == 17);
    CHECK(built.id == 0);
    CHECK(repo.count(from<User>()) == 0);  // build stores nothing
    const auto ten = users.insert_many(repo, 10);
    CHECK(ten.size() == 10);
    CHECK(ten.front().id > 0);
    CHECK(ten.front().email != ten.back().email);  // the sequence keeps unique fields unique
    CHECK(repo.count(from<User>()) == 10);
    const User named = users.insert(repo, [](User& u) { u.name = "Ada"; });
    CHECK(repo.get<User>(named.id)->name == "Ada");
    // An invalid fixture is refused with its errors, not stored.
    try {
        users.insert(repo, [](User& u) { u.age = -1; });
        FAIL("an invalid fixture was stored");
    } catch (const ChangesetInvalid& e) {
        CHECK(e.errors().at(0).field == "age");
    }
    try {
        users.insert(repo, [&](User& u) { u.email = named.email; });
        FAIL("a duplicate fixture was stored");
    } catch (const ChangesetInvalid& e) {
        CHECK(e.errors().at(0).validation == "unique");
    }
    CHECK(repo.count(from<User>()) == 11);
}
