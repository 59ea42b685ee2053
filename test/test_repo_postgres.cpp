// SPDX-License-Identifier: MIT
// The Repo on the test PostgreSQL (started by scripts/test.sh): every operation, type round
// trips, typed errors with constraint names, transactions and the statement cache.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include <quarry/repo.hpp>

#include "pg_env.hpp"
#include "assoc_support.hpp"
#include "behaviours_support.hpp"
#include "changeset_support.hpp"
#include "repo_support.hpp"

using namespace quarry;

namespace {

struct PgRepo {
    PgScratch scratch;
    Repo repo;
    PgRepo(const std::string& conninfo, const char* ddl) : scratch(conninfo, ddl), repo(conninfo) {
        std::string schema = pqxx::nontransaction(scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>();
        repo.session().connection().execute("SET search_path TO " + schema);
    }
};


}  // namespace

struct PgSample {
    std::int64_t id = 0;
    std::int16_t small = 0;
    std::int32_t medium = 0;
    std::int64_t big = 0;
    bool flag = false;
    double real = 0;
    std::string text;
    std::vector<std::byte> bytes;
    std::optional<std::string> maybe;
    timestamp at{};
};
BOOST_HANA_ADAPT_STRUCT(PgSample, id, small, medium, big, flag, real, text, bytes, maybe, at);
QUARRY_TABLE(PgSample, "pg_samples", &PgSample::id);

TEST_CASE("PostgreSQL: a bad connection string or an unreachable server is a typed error") {
    CHECK_THROWS_AS(Repo("host=127.0.0.1 port=1 connect_timeout=2 dbname=x"), ConnectionError);
    try {
        Repo bad("postgres://user@[::1");
        FAIL("expected InvalidUrl");
    } catch (const InvalidUrl& e) {
        CHECK_FALSE(e.is_transient());  // retrying a malformed string cannot help
    }
    CHECK_THROWS_AS(Repo("host=127.0.0.1 nonsense_option=1"), InvalidUrl);
}

TEST_CASE("PostgreSQL: insert, all, get, one, update, remove, tuples and write statements") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    User ada = repo.insert(make_user("Ada", "ada@example.com", 36));
    User bob = repo.insert(make_user("Bob", "bob@example.com", 17));
    CHECK(ada.id > 0);
    CHECK(bob.id > ada.id);
    CHECK(ada.inserted_at == make_user("", "").inserted_at);
    CHECK(repo.all(from<User>() | where(col(&User::age) >= 18)).size() == 1);
    CHECK(repo.get<User>(bob.id)->email == "bob@example.com");
    CHECK_FALSE(repo.get<User>(std::int64_t{999999}));
    CHECK_THROWS_AS(repo.one(from<User>()), MultipleResults);
    CHECK_THROWS_AS(repo.one(from<User>() | where(col(&User::age) > 100)), NoResults);
    const std::vector<std::int64_t> ids = {ada.id, bob.id, 12345};
    CHECK(repo.all(from<User>() | where(in(col(&User::id), ids))).size() == 2);  // one array parameter
    bob.age = 18;
    repo.update(bob);
    CHECK(repo.get<User>(bob.id)->age == 18);
    auto pairs = repo.all(from<User>() | order_by(col(&User::id)) | select(col(&User::name), col(&User::age)));
    REQUIRE(pairs.size() == 2);
    CHECK(pairs[1] == std::tuple<std::string, int>("Bob", 18));
    CHECK(repo.one(from<User>() | select(count())) == 2);
    CHECK(repo.execute(update_all(from<User>(), set(&User::active, false))) == 2);
    repo.remove(bob);
    CHECK_THROWS_AS(repo.remove(bob), NoResults);
    CHECK(repo.execute(delete_all(from<User>())) == 1);
}

TEST_CASE("PostgreSQL: every mapped type round-trips with NULLs and edge values") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo,
              "CREATE TABLE pg_samples (id bigserial PRIMARY KEY, small smallint, medium integer, big bigint, flag boolean, "
              "real double precision, text text, bytes bytea, maybe text, at timestamptz)");
    PgSample lo;
    lo.small = std::numeric_limits<std::int16_t>::min();
    lo.medium = std::numeric_limits<std::int32_t>::min();
    lo.big = std::numeric_limits<std::int64_t>::min();
    lo.real = -0.1;
    lo.at = timestamp(std::chrono::microseconds(-1'234'567'890'123'457));
    PgSample hi;
    hi.small = std::numeric_limits<std::int16_t>::max();
    hi.medium = std::numeric_limits<std::int32_t>::max();
    hi.big = std::numeric_limits<std::int64_t>::max();
    hi.flag = true;
    hi.real = 1.0 / 3.0;
    hi.text = "na\xC3\xAFve \xE2\x9C\x93 'quoted' \"double\" \\ back";
    hi.bytes = {std::byte{0}, std::byte{0xff}, std::byte{0}, std::byte{'x'}};
    hi.maybe = "present";
    hi.at = timestamp(std::chrono::microseconds(1'700'000'000'000'001));
    for (const PgSample& s : {lo, hi}) {
        PgSample stored = db.repo.insert(s);
        auto back = db.repo.get<PgSample>(stored.id);
        REQUIRE(back);
        CHECK(back->small == s.small);
        CHECK(back->medium == s.medium);
        CHECK(back->big == s.big);
        CHECK(back->flag == s.flag);
        CHECK(back->real == s.real);
        CHECK(back->text == s.text);
        CHECK(back->bytes == s.bytes);
        CHECK(back->maybe == s.maybe);
        CHECK(back->at == s.at);
    }
    PgSample odd;
    for (double x : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -0.0}) {
        odd.real = x;
        const double back = db.repo.get<PgSample>(db.repo.insert(odd).id)->real;
        CHECK((std::isnan(x) ? std::isnan(back) : back == x));
    }
    // PostgreSQL text cannot hold NUL, and libpq would cut the value there: refused, nothing written.
    const auto rows = db.repo.count(from<PgSample>());
    odd.text = std::string("cut\0here", 8);
    CHECK_THROWS_WITH_AS(db.repo.insert(odd), doctest::Contains("NUL byte"), QueryError);
    CHECK(db.repo.count(from<PgSample>()) == rows);
    db.repo.session().connection().execute("UPDATE pg_samples SET medium = NULL");
    CHECK_THROWS_WITH_AS(db.repo.all(from<PgSample>()), doctest::Contains("column medium"), DecodeError);
}

TEST_CASE("PostgreSQL: constraint violations carry kind, constraint, table and column") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, (std::string(canonical_schema_postgres) +
                          "CREATE TABLE memberships (user_id bigint NOT NULL REFERENCES users(id), team text NOT NULL, "
                          "score integer NOT NULL CONSTRAINT score_positive CHECK (score > 0), "
                          "CONSTRAINT one_team UNIQUE (user_id, team));"
                          "CREATE TABLE bookings (room int, during tsrange, "
                          "CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&));")
                             .c_str());
    Repo& repo = db.repo;
    User ada = repo.insert(make_user("Ada", "ada@example.com"));
    auto& c = repo.session().connection();
    auto expect = [&](auto&& fn, ConstraintKind kind, std::string constraint, std::string table, std::vector<std::string> columns) {
        try {
            fn();
            FAIL("expected a ConstraintError");
        } catch (const ConstraintError& e) {
            CHECK(e.kind() == kind);
            CHECK(e.constraint() == constraint);
            CHECK(e.table() == table);
            CHECK(e.columns() == columns);
            CHECK(e.code().size() == 5);
        }
    };
    const std::string id = std::to_string(ada.id);
    expect([&] { repo.insert(make_user("again", "ada@example.com")); }, ConstraintKind::unique, "users_email_key", "users", {"email"});
    expect([&] { c.execute("INSERT INTO memberships VALUES (999, 'x', 1)"); }, ConstraintKind::foreign_key,
           "memberships_user_id_fkey", "memberships", {"user_id"});
    c.execute("INSERT INTO memberships VALUES (" + id + ", 'red', 1)");
    expect([&] { c.execute("INSERT INTO memberships VALUES (" + id + ", 'red', 2)"); }, ConstraintKind::unique, "one_team",
           "memberships", {"user_id", "team"});
    expect([&] { c.execute("INSERT INTO memberships VALUES (" + id + ", NULL, 2)"); }, ConstraintKind::not_null, "",
           "memberships", {"team"});
    expect([&] { c.execute("INSERT INTO memberships VALUES (" + id + ", 'blue', 0)"); }, ConstraintKind::check,
           "score_positive", "memberships", {});
    // Deleting a parent still referenced: PostgreSQL names the referencing table and, in its
    // detail, the parent's key ("Key (id)=..."), which is not a column of memberships.
    expect([&] { c.execute("DELETE FROM users WHERE id = " + id); }, ConstraintKind::foreign_key, "memberships_user_id_fkey",
           "memberships", {});
    c.execute("INSERT INTO bookings VALUES (1, '[2024-01-01 10:00, 2024-01-01 12:00)')");
    expect([&] { c.execute("INSERT INTO bookings VALUES (2, '[2024-01-01 11:00, 2024-01-01 13:00)')"); },
           ConstraintKind::exclusion, "no_overlap", "bookings", {});
}

TEST_CASE("PostgreSQL: transactions commit, roll back, nest as savepoints, and take options") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    auto count_users = [&] { return repo.one(from<User>() | select(count())); };
    repo.transaction([&](Repo& r) { r.insert(make_user("A", "a@x")); });
    CHECK_THROWS_AS(repo.transaction([&](Repo& r) {
                        r.insert(make_user("B", "b@x"));
                        throw std::runtime_error("no");
                    }),
                    std::runtime_error);
    CHECK(count_users() == 1);
    repo.transaction([&](Repo& r) {
        r.insert(make_user("C", "c@x"));
        CHECK_THROWS_AS(r.transaction([&](Repo& inner) {
                            inner.insert(make_user("D", "d@x"));
                            inner.insert(make_user("C again", "c@x"));
                        }),
                        ConstraintError);
        r.insert(make_user("E", "e@x"));  // the outer transaction is still usable
    });
    CHECK(count_users() == 3);
    TxOptions ro;
    ro.isolation = Isolation::serializable;
    ro.read_only = true;
    ro.deferrable = true;
    CHECK(repo.transaction([&](Repo& r) { return r.one(from<User>() | select(count())); }, ro) == 3);
    CHECK_THROWS_AS(repo.transaction([&](Repo& r) { r.insert(make_user("F", "f@x")); }, ro), DatabaseError);
    CHECK(repo.session().depth() == 0);
    CHECK(count_users() == 3);
}

TEST_CASE("PostgreSQL: the second execution of a shape renders and prepares nothing") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    for (int i = 0; i < 3; ++i) db.repo.insert(make_user("u" + std::to_string(i), std::to_string(i) + "@x", 20 + i));
    const auto before = db.repo.cache_stats();
    for (int age = 0; age < 30; ++age) db.repo.all(from<User>() | where(col(&User::age) > age) | limit(10));
    CHECK(db.repo.cache_stats().misses == before.misses + 1);
    CHECK(db.repo.cache_stats().hits == before.hits + 29);
    // Statements dropped behind the cache's back (DEALLOCATE ALL) are prepared again when next run.
    db.repo.session().connection().execute("DEALLOCATE ALL");
    CHECK(db.repo.all(from<User>() | where(col(&User::age) > 20) | limit(10)).size() == 2);
    CHECK(db.repo.get<User>(db.repo.all(from<User>()).at(0).id));
}

TEST_CASE("PostgreSQL: a parameter keeps the type of its value in CASE branches, functions and beside other types") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    parameters_keep_their_types(db.repo);
}

TEST_CASE("PostgreSQL: insert, get, update and remove prepare once per type, then bind the row directly") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    check_fixed_statements(db.repo);
    // A bound list travels as one array literal: NULLs in it are sized for, and never match.
    std::vector<std::optional<std::string>> bodies(7);
    CHECK(db.repo.count(from<Post>() | where(in(col(&Post::body), bodies))) == 0);
    bodies.push_back("text \"quoted\" \\ back");
    db.repo.insert(Post{.user_id = db.repo.all(from<User>()).at(0).id, .title = "q", .body = bodies.back()});
    CHECK(db.repo.count(from<Post>() | where(in(col(&Post::body), bodies))) == 1);
}

TEST_CASE("PostgreSQL: update_all and delete_all change exactly the rows the query selects") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    check_bulk_writes(db.repo);
}

TEST_CASE("PostgreSQL: upsert inserts, or replaces the row it conflicts with, and returns the row as stored") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    check_upsert(db.repo);
}

TEST_CASE("PostgreSQL: exists, count, aggregates, explain, raw SQL, insert_all and rollback_with") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    std::vector<User> many;
    for (int i = 0; i < 30000; ++i) many.push_back(make_user("n" + std::to_string(i), "m" + std::to_string(i) + "@x", 20 + i % 5));
    CHECK(repo.insert_all(many) == 30000);  // 5 columns a row: at most 13107 rows per statement here
    CHECK(repo.count(from<User>()) == 30000);
    CHECK(repo.count(from<User>() | limit(3)) == 3);
    CHECK(repo.count(from<User>() | select(col(&User::age)) | distinct()) == 5);
    CHECK(repo.exists(from<User>() | where(col(&User::age) == 24)));
    CHECK_FALSE(repo.exists(from<User>() | where(col(&User::age) > 99)));
    CHECK(repo.sum(from<User>() | where(col(&User::age) == 21), &User::age) == std::optional<std::int64_t>(21 * 6000));
    CHECK(repo.avg(from<User>(), &User::age) == std::optional<double>(22.0));
    CHECK(repo.min(from<User>(), &User::age) == std::optional<int>(20));
    CHECK_FALSE(repo.max(from<User>() | where(col(&User::age) > 99), &User::age));
    CHECK(repo.explain(from<User>() | where(col(&User::id) == 3)).find("users") != std::string::npos);
    auto rows = repo.query<std::tuple<std::string, int>>("SELECT name, age FROM users WHERE email = ?", "m7@x");
    REQUIRE(rows.size() == 1);
    CHECK(std::get<1>(rows[0]) == 22);
    CHECK(repo.query<std::string>("SELECT name FROM users WHERE name = ?", "x' OR '1'='1").empty());
    std::vector<User> clash;
    for (int i = 0; i < 20000; ++i) clash.push_back(make_user("c", "c" + std::to_string(i) + "@x"));
    clash.push_back(make_user("dup", "m5@x"));
    CHECK_THROWS_AS(repo.insert_all(clash), ConstraintError);
    CHECK(repo.count(from<User>()) == 30000);
    auto back = repo.insert_all_returning(std::vector<User>{make_user("r1", "r1@x"), make_user("r2", "r2@x")});
    REQUIRE(back.size() == 2);
    CHECK(back[1].id > back[0].id);
    CHECK(repo.get_by<User>(col(&User::email) == std::string("r2@x"))->id == back[1].id);
    CHECK_FALSE(repo.one_or_none(from<User>() | where(col(&User::email) == std::string("nobody@x"))));
    CHECK(repo.execute_sql("DELETE FROM users WHERE email LIKE ?", "r_@x") == 2);
    try {
        repo.transaction([&](Repo& r) {
            r.insert(make_user("A", "a@x"));
            rollback_with(42);
        });
        FAIL("expected Rolledback");
    } catch (const Rolledback<int>& r) {
        CHECK(r.value == 42);
    }
    CHECK(repo.count(from<User>()) == 30000);
}

TEST_CASE("PostgreSQL: last() and reverse_order() over DISTINCT ON keep each group's row and reverse the groups") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    const User a = repo.insert(make_user("a", "a@x")), b = repo.insert(make_user("b", "b@x"));
    for (int views : {5, 50, 10}) {
        repo.insert(Post{.user_id = a.id, .title = "a" + std::to_string(views), .body = {}, .published = false, .views = views});
        repo.insert(Post{.user_id = b.id, .title = "b" + std::to_string(views + 1), .body = {}, .published = false, .views = views + 1});
    }
    // Each user's most viewed post, users in id order.
    auto best = from<Post>() | distinct_on(col(&Post::user_id)) | order_by(desc(col(&Post::views)));
    auto titles = [&](auto q) {
        std::vector<std::string> out;
        for (const Post& p : repo.all(q)) out.push_back(p.title);
        return out;
    };
    CHECK(titles(best) == std::vector<std::string>{"a50", "b51"});
    CHECK(titles(best | reverse_order()) == std::vector<std::string>{"b51", "a50"});
    CHECK(repo.one(best | last()).title == "b51");
    CHECK(repo.one(best | first()).title == "a50");
    CHECK(repo.one(best | reverse_order() | last()).title == "a50");
    // Without an order of its own, last() is the last group.
    CHECK(repo.one(from<Post>() | distinct_on(col(&Post::user_id)) | last()).user_id == b.id);
}

TEST_CASE("PostgreSQL: a serialization failure is a transient SerializationFailure") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo a(*conninfo, canonical_schema_postgres);
    Repo b(*conninfo);
    b.session().connection().execute("SET search_path TO " +
                                     pqxx::nontransaction(a.scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>());
    auto x = a.repo.insert(make_user("x", "x@x", 1));
    auto y = a.repo.insert(make_user("y", "y@x", 1));
    TxOptions serializable;
    serializable.isolation = Isolation::serializable;
    // Write skew: each reads both rows and writes one; the second commit cannot be serialised.
    a.repo.session().begin(serializable);
    b.session().begin(serializable);
    CHECK(a.repo.sum(from<User>(), &User::age) == std::optional<std::int64_t>(2));
    CHECK(b.sum(from<User>(), &User::age) == std::optional<std::int64_t>(2));
    a.repo.execute(update_all(from<User>() | where(col(&User::id) == x.id), set(&User::age, 0)));
    b.execute(update_all(from<User>() | where(col(&User::id) == y.id), set(&User::age, 0)));
    a.repo.session().commit();
    try {
        b.session().commit();
        FAIL("expected a serialization failure");
    } catch (const SerializationFailure& e) {
        CHECK(e.is_transient());
        CHECK(e.code() == "40001");
    }
    b.session().rollback();
    CHECK(b.session().depth() == 0);
    CHECK(b.count(from<User>() | where(col(&User::age) == 0)) == 1);  // b's connection is usable again
}


TEST_CASE("PostgreSQL: stream reads through a cursor in batches, outside and inside transactions") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    for (int i = 0; i < 25; ++i) repo.insert(make_user("s" + std::to_string(i), std::to_string(i) + "@s", i));
    auto q = from<User>() | where(col(&User::age) >= 5) | order_by(col(&User::age));
    int expected = 5;
    for (const User& u : repo.stream(q, 7)) {  // batches of 7: several round trips
        CHECK(u.age == expected++);
        CHECK(repo.session().depth() == 0);  // a WITH HOLD cursor: no transaction held open
    }
    CHECK(expected == 25);
    CHECK(repo.session().depth() == 0);
    {
        auto s = repo.stream(q, 3);
        auto it = s.begin();
        CHECK(it->age == 5);
        CHECK(repo.get<User>(it->id)->age == 5);  // other statements run while it is open
    }
    CHECK(repo.session().depth() == 0);
    repo.transaction([&](Repo& r) {
        int n = 0;
        for (const User& u : r.stream(q)) n += u.age >= 5;
        CHECK(n == 20);
        CHECK(r.session().depth() == 1);
    });
    CHECK(repo.session().depth() == 0);
    // A cursor opened inside a transaction ends with it (it is not WITH HOLD): a stream kept
    // past the commit says so when read, and the session goes on.
    auto kept = repo.transaction([&](Repo& r) { return r.stream(q, 3); });
    CHECK_THROWS_AS(kept.begin(), DatabaseError);
    CHECK(repo.count(from<User>()) == 25);
}

TEST_CASE("PostgreSQL: streaming one million rows stays in bounded memory") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    db.repo.execute_sql(
        "INSERT INTO users (name, email, age, active, inserted_at) SELECT 'user number ' || x, 'user' || x || '@example.com', "
        "x % 90, x % 2 = 0, '2024-01-01T00:00:00Z' FROM generate_series(1, 1000000) AS x");
    const std::size_t before = resident_bytes();
    std::size_t peak = before;
    std::int64_t rows = 0;
    for (const User& u : db.repo.stream(from<User>())) {
        rows += u.id > 0;
        if (rows % 100000 == 0) peak = std::max(peak, resident_bytes());
    }
    CHECK(rows == 1000000);
    const double grew_mb = static_cast<double>(peak - before) / (1024.0 * 1024.0);
    MESSAGE("streaming 1,000,000 rows from PostgreSQL grew the resident set by ", grew_mb, " MiB");
    if (!address_sanitized) CHECK(grew_mb < 16.0);
}

TEST_CASE("PostgreSQL: a cached statement whose result type a schema change altered is prepared again, once") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    db.repo.insert(make_user("A", "a@x", 41));
    auto q = from<User>() | select(col(&User::age));
    CHECK(db.repo.all(q) == std::vector<int>{41});
    db.repo.session().connection().execute("ALTER TABLE users ALTER COLUMN age TYPE bigint");
    CHECK(db.repo.all(q) == std::vector<int>{41});
    CHECK(db.repo.cache_stats().hits >= 1);

    // Met inside a transaction, the change aborts it: the caller is told the cause, and the
    // statement is prepared anew at its next run (the old name, which the failed transaction
    // would not let go, is never reused).
    pqxx::nontransaction(db.scratch.conn()).exec("ALTER TABLE users ALTER COLUMN age TYPE integer");
    try {
        db.repo.transaction([&](Repo& tx) { tx.all(q); });
        FAIL("expected the schema change to surface");
    } catch (const DatabaseError& e) {
        CHECK(e.code() == "0A000");
    }
    for (int run = 0; run < 3; ++run) CHECK(db.repo.all(q) == std::vector<int>{41});
    CHECK(db.repo.transaction([&](Repo& tx) { return tx.all(q); }) == std::vector<int>{41});
}

TEST_CASE("PostgreSQL: a connection killed by the server stays broken and says so; no silent reconnect") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    const auto pid = db.repo.query<int>("SELECT pg_backend_pid()").at(0);
    pqxx::nontransaction(db.scratch.conn()).exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)");  // returns once it is gone
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            db.repo.count(from<User>());
            FAIL("expected a ConnectionError");
        } catch (const ConnectionError& e) {
            CHECK(e.is_transient());
        }
    }
}

TEST_CASE("PostgreSQL: a connection refused for good (no such database or role) is not transient; a pool says so at once") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    for (const char* bad : {" dbname=quarry_no_such_db", " user=quarry_no_such_role"}) {
        CAPTURE(bad);
        try {
            core::connect(*conninfo + bad);
            FAIL("connected");
        } catch (const ConnectionRefused& e) {
            CHECK_FALSE(e.is_transient());
            CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
        }
        CHECK_THROWS_AS(Pool(*conninfo + bad, PoolOptions{.min_size = 0, .max_size = 2}), ConnectionRefused);
    }
    // A server that is not there at all may come back: that stays transient.
    try {
        core::connect("host=127.0.0.1 port=1 connect_timeout=2 dbname=x");
        FAIL("connected to port 1");
    } catch (const ConnectionError& e) {
        CHECK(e.is_transient());
    }
}

TEST_CASE("PostgreSQL: COPY is refused before it is sent, so it changes nothing") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    repo.insert(make_user("A", "a@x"));
    for (const char* sql : {"COPY (DELETE FROM users RETURNING id) TO STDOUT", "/* a /* nested */ comment */ copy users TO STDOUT",
                            "-- a comment\n  Copy (DELETE FROM users RETURNING id) TO STDOUT"}) {
        CAPTURE(sql);
        CHECK_THROWS_AS(repo.execute_sql(sql), UnsupportedFeature);
        CHECK_THROWS_AS(repo.session().connection().execute(sql), UnsupportedFeature);
        CHECK(repo.count(from<User>()) == 1);
    }
    CHECK(repo.query<std::string>("SELECT 'COPY' AS copy_").at(0) == "COPY");  // only the statement's first word counts
}

TEST_CASE("PostgreSQL: a connection lost during COMMIT is InDoubt, not a failure the caller may retry blindly") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    const auto pid = db.repo.query<int>("SELECT pg_backend_pid()").at(0);
    CHECK_THROWS_AS(db.repo.transaction([&](Repo& r) {
        r.insert(make_user("A", "a@x"));
        pqxx::nontransaction(db.scratch.conn()).exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)");  // returns once it is gone
    }),
                    InDoubt);
    CHECK(db.repo.session().depth() == 0);
    CHECK_THROWS_AS(db.repo.count(from<User>()), ConnectionError);  // and it stays broken
}

TEST_CASE("PostgreSQL: a COMMIT never sent, because the connection was already known lost, is a ConnectionError, not InDoubt") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    const auto pid = db.repo.query<int>("SELECT pg_backend_pid()").at(0);
    try {
        db.repo.transaction([&](Repo& r) {
            r.insert(make_user("A", "a@x"));
            pqxx::nontransaction(db.scratch.conn()).exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)");
            CHECK_THROWS_AS(r.count(from<User>()), ConnectionError);  // seen, and swallowed
        });
        FAIL("the transaction cannot have committed");
    } catch (const InDoubt& e) {
        FAIL("reported in doubt: " << std::string(e.what()));
    } catch (const ConnectionError& e) {
        CHECK(e.not_applied());
        CHECK(e.is_transient());
        CHECK(std::string(e.what()).find("COMMIT not sent") != std::string::npos);
    }
    CHECK(db.repo.session().depth() == 0);
    CHECK(pqxx::nontransaction(db.scratch.conn()).exec("SELECT count(*) FROM users")[0][0].as<int>() == 0);
}

TEST_CASE("PostgreSQL: a failure caught inside a transaction makes its COMMIT an error, never a silent rollback") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    Repo& repo = db.repo;
    repo.insert(make_user("A", "a@x"));
    try {
        repo.transaction([&](Repo& r) {
            r.insert(make_user("B", "b@x"));
            CHECK_THROWS_AS(r.insert(make_user("A again", "a@x")), ConstraintError);  // caught: the server aborted the transaction
        });
        FAIL("expected the COMMIT to be refused");
    } catch (const DatabaseError& e) {
        CHECK(e.code() == "25P02");
    }
    CHECK(repo.session().depth() == 0);
    CHECK(repo.count(from<User>()) == 1);  // B went with the transaction, and the caller knows
    // Within a nested transaction the same failure costs only the savepoint.
    repo.transaction([&](Repo& r) {
        r.insert(make_user("C", "c@x"));
        CHECK_THROWS_AS(r.transaction([&](Repo& inner) { inner.insert(make_user("A again", "a@x")); }), ConstraintError);
    });
    CHECK(repo.count(from<User>()) == 2);
}

TEST_CASE("PostgreSQL: writes made while a stream is read commit as they go; telemetry counts changed rows") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, canonical_schema_postgres);
    for (int i = 0; i < 5; ++i) db.repo.insert(make_user("s" + std::to_string(i), std::to_string(i) + "@s", i));
    Repo observer(*conninfo);
    observer.session().connection().execute("SET search_path TO " +
                                            pqxx::nontransaction(db.scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>());
    int seen = 0;
    for (const User& u : db.repo.stream(from<User>() | order_by(col(&User::id)), 2)) {
        db.repo.execute(update_all(from<User>() | where(col(&User::id) == u.id), set(&User::active, false)));
        ++seen;
        CHECK(observer.count(from<User>() | where(col(&User::active) == false)) == seen);  // committed already
    }
    CHECK(seen == 5);
    std::vector<std::int64_t> rows;
    db.repo.set_telemetry([&](const QueryEvent& e) { rows.push_back(e.rows); });
    db.repo.execute(update_all(from<User>(), set(&User::active, true)));
    CHECK(rows == std::vector<std::int64_t>{5});
}

// ---- changesets -----------------------------------------------------------------------------

namespace {
const std::string accounts_ddl = std::string(canonical_schema_postgres) + account_schema_postgres;

struct Booking {
    std::int64_t id = 0;
    int room = 0;
    int start_at = 0;
    int end_at = 0;
};
}  // namespace
BOOST_HANA_ADAPT_STRUCT(Booking, id, room, start_at, end_at);
QUARRY_TABLE(Booking, "bookings", &Booking::id);

namespace {
struct Seat {
    std::int64_t id = 0;
    int room = 0;
    int seat_number_within_the_room_of_the_theatre = 0;
};
}  // namespace
BOOST_HANA_ADAPT_STRUCT(Seat, id, room, seat_number_within_the_room_of_the_theatre);
QUARRY_TABLE(Seat, "seats_of_the_theatre_booked_for_the_evening_performances", &Seat::id);

TEST_CASE("PostgreSQL changesets: unique (inline and index), check and foreign key violations become field errors") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, accounts_ddl.c_str());
    changeset_checks::constraints_become_field_errors(db.repo);
}

TEST_CASE("PostgreSQL changesets: an invalid changeset runs no statement and writes nothing") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, accounts_ddl.c_str());
    changeset_checks::invalid_changesets_write_nothing(db.repo);
}

TEST_CASE("PostgreSQL changesets: a refused write inside a transaction leaves the transaction usable") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, accounts_ddl.c_str());
    changeset_checks::violations_inside_a_transaction_leave_it_usable(db.repo);
}

TEST_CASE("PostgreSQL changesets: update writes only the changed columns; a deleted row is StaleEntry") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, accounts_ddl.c_str());
    changeset_checks::updates_write_only_changed_columns(db.repo);
}

TEST_CASE("PostgreSQL changesets: unsafe_validate_unique queries before the write") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, accounts_ddl.c_str());
    changeset_checks::unsafe_validate_unique_checks_before_writing(db.repo);
}

TEST_CASE("PostgreSQL changesets: an exclusion constraint violation becomes a field error") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo,
              "CREATE TABLE bookings (id bigserial PRIMARY KEY, room integer NOT NULL, start_at integer NOT NULL, "
              "end_at integer NOT NULL, CONSTRAINT bookings_no_overlap EXCLUDE USING gist (int4range(start_at, end_at) WITH &&));");
    auto book = [&](const char* from, const char* to) {
        return db.repo.insert(cast(Booking{}, {{"room", "1"}, {"start_at", from}, {"end_at", to}}, &Booking::room,
                                   &Booking::start_at, &Booking::end_at) |
                              exclusion_constraint(&Booking::start_at).named("bookings_no_overlap"));
    };
    REQUIRE(book("10", "20").ok());
    auto overlap = book("15", "25");
    CHECK(overlap.changeset().error_map() == ErrorMap{{"start_at", {"violates an exclusion constraint"}}});
    CHECK(overlap.errors()[0].validation == "exclusion");
    CHECK(book("20", "30").ok());
    // Undeclared, it is a ConstraintError of kind exclusion.
    try {
        db.repo.insert(Booking{0, 1, 12, 13});
        FAIL("expected a ConstraintError");
    } catch (const ConstraintError& e) {
        CHECK(e.kind() == ConstraintKind::exclusion);
        CHECK(e.constraint() == "bookings_no_overlap");
    }
}

TEST_CASE("PostgreSQL changesets: a unique constraint is found by its columns, whatever order PostgreSQL named them in and "
          "however it truncated the name") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    // PostgreSQL names it after the columns in the order written here, cut to 63 bytes:
    // seats_of_the_theatre_booked_fo_seat_number_within_the_room__key or so.
    PgRepo db(*conninfo,
              "CREATE TABLE seats_of_the_theatre_booked_for_the_evening_performances (id bigserial PRIMARY KEY, "
              "room integer NOT NULL, seat_number_within_the_room_of_the_theatre integer NOT NULL, "
              "UNIQUE (seat_number_within_the_room_of_the_theatre, room));"
              "CREATE UNIQUE INDEX \"odd, \"\"quoted\"\" index\" ON seats_of_the_theatre_booked_for_the_evening_performances "
              "(room) WHERE seat_number_within_the_room_of_the_theatre < 0;");
    auto seat = [&](const char* room, const char* number) {
        return db.repo.insert(cast(Seat{}, {{"room", room}, {"seat_number_within_the_room_of_the_theatre", number}}, &Seat::room,
                                   &Seat::seat_number_within_the_room_of_the_theatre) |
                              unique_constraint(&Seat::room, &Seat::seat_number_within_the_room_of_the_theatre));
    };
    REQUIRE(seat("1", "7").ok());
    REQUIRE(seat("2", "7").ok());
    auto taken = seat("1", "7");
    REQUIRE_FALSE(taken.ok());
    CHECK(taken.errors()[0].field == "room");
    CHECK(taken.errors()[0].validation == "unique");
    // The partial index on room alone is another constraint: not the declared one.
    REQUIRE(seat("3", "-1").ok());
    CHECK_THROWS_AS(seat("3", "-2"), ConstraintError);
    try {
        db.repo.insert(Seat{0, 3, -3});
        FAIL("expected a ConstraintError");
    } catch (const ConstraintError& e) {
        CHECK(e.columns() == std::vector<std::string>{"room"});
        CHECK(e.constraint() == "odd, \"quoted\" index");
    }
}

// ---- schema behaviours ------------------------------------------------------------------------

namespace {
const std::string notes_ddl = std::string(canonical_schema_postgres) + note_schema_postgres;
}  // namespace

TEST_CASE("PostgreSQL behaviours: timestamps are set by insert, update, changesets, insert_all and update_all") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, notes_ddl.c_str());
    behaviour_checks::timestamps_are_set_on_every_write(db.repo);
}

TEST_CASE("PostgreSQL behaviours: soft delete scopes every query, join and subquery; restore; hard delete only when asked") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, notes_ddl.c_str());
    behaviour_checks::soft_delete_scopes_every_query(db.repo);
}

TEST_CASE("PostgreSQL behaviours: optimistic locking makes a lost update StaleEntry") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, notes_ddl.c_str());
    behaviour_checks::optimistic_locking_detects_lost_updates(db.repo);
}

TEST_CASE("PostgreSQL behaviours: of two concurrent updates from one version, exactly one is StaleEntry") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, notes_ddl.c_str());
    const std::string path = pqxx::nontransaction(db.scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>();
    Repo a(*conninfo), b(*conninfo);
    for (Repo* r : {&a, &b}) r->session().connection().execute("SET search_path TO " + path);
    behaviour_checks::concurrent_updates_one_stale(db.repo, a, b);
}

TEST_CASE("PostgreSQL behaviours: hooks run in the write's transaction and may veto it") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, notes_ddl.c_str());
    behaviour_checks::hooks_run_in_the_write_transaction(db.repo);
}

TEST_CASE("PostgreSQL behaviours: virtual fields are never stored; read-only fields never written") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, notes_ddl.c_str());
    behaviour_checks::virtual_and_read_only_fields(db.repo);
}

// ---- associations ---------------------------------------------------------------------------

TEST_CASE("PostgreSQL associations: nested preloads run one query per level, filtered and ordered, soft-deleted rows left out") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::preloads_run_one_query_per_level(db.repo);
}

TEST_CASE("PostgreSQL associations: the top N children per parent, and has_one as the first by the preload's order") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::top_n_per_owner(db.repo);
}

TEST_CASE("PostgreSQL associations: a NULL foreign key loads nothing; preloading one row") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::belongs_to_with_null_keys_and_single_rows(db.repo);
}

TEST_CASE("PostgreSQL associations: composite keys in has_many, belongs_to, top N, queries and joins") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::composite_keys(db.repo);
}

TEST_CASE("PostgreSQL associations: queries and joins through belongs_to, has_many and many_to_many") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::queries_and_joins_through_associations(db.repo);
}

TEST_CASE("PostgreSQL associations: assoc_constraint and no_assoc_constraint become field errors; insert_or_get") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::association_constraints_and_insert_or_get(db.repo);
}

TEST_CASE("PostgreSQL associations: nested changesets (cast_assoc from JSON and forms, put_assoc) write in one transaction") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::nested_changesets(db.repo);
}

TEST_CASE("PostgreSQL associations: limit_per under update, delete and union; soft delete under right joins; NULL belongs_to") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, assoc_schema_postgres);
    assoc_checks::limit_per_and_scopes_in_every_position(db.repo);
}

TEST_CASE("PostgreSQL associations: many_to_many with a composite key") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, (std::string(assoc_schema_postgres) + reader_schema_postgres).c_str());
    assoc_checks::many_to_many_composite(db.repo);
}
