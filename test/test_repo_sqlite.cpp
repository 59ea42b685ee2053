// SPDX-License-Identifier: MIT
// The Repo on real SQLite database files: every operation, type round trips, typed errors,
// transactions and the statement cache.
#include <doctest/doctest.h>

#include <cstdio>
#include <ranges>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include <quarry/multi.hpp>
#include <quarry/repo.hpp>
#include <sqlite3.h>

#include "assoc_support.hpp"
#include "behaviours_support.hpp"
#include "changeset_support.hpp"
#include "repo_support.hpp"

using namespace quarry;

namespace {

// A fresh database file in a fresh directory, removed afterwards.
struct TempDb {
    std::filesystem::path dir;
    std::string url;
    TempDb() {
        char tmpl[] = "/tmp/quarry-repo-XXXXXX";
        dir = mkdtemp(tmpl);
        url = "sqlite:" + (dir / "test.db").string();
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
};

Repo canonical(const TempDb& db) {
    Repo repo(db.url);
    repo.session().connection().execute(canonical_schema_sqlite);
    return repo;
}


}  // namespace

// Every width, NULL and edge value of the mapping.
struct Sample {
    std::int64_t id = 0;
    std::int8_t tiny = 0;
    std::int16_t small = 0;
    std::int32_t medium = 0;
    std::int64_t big = 0;
    std::uint32_t unsigned_medium = 0;
    bool flag = false;
    double real = 0;
    std::string text;
    std::vector<std::byte> bytes;
    std::optional<std::string> maybe;
    std::optional<std::int64_t> maybe_number;
    timestamp at{};
};
BOOST_HANA_ADAPT_STRUCT(Sample, id, tiny, small, medium, big, unsigned_medium, flag, real, text, bytes, maybe, maybe_number, at);
QUARRY_TABLE(Sample, "samples", &Sample::id);

constexpr const char* samples_ddl =
    "CREATE TABLE samples (id INTEGER PRIMARY KEY, tiny INTEGER, small INTEGER, medium INTEGER, big INTEGER, "
    "unsigned_medium INTEGER, flag INTEGER, real REAL, text TEXT, bytes BLOB, maybe TEXT, maybe_number INTEGER, at TEXT)";

TEST_CASE("a bad connection string or an unreachable database is a typed error saying what was wrong") {
    CHECK_THROWS_AS(Repo("mysql://localhost/db"), InvalidUrl);
    CHECK_THROWS_AS(Repo("sqlite:"), InvalidUrl);
    CHECK_THROWS_WITH_AS(Repo("sqlite:/nonexistent-quarry-dir/x.db"), doctest::Contains("cannot open SQLite database"), ConnectionError);
    Repo memory("sqlite::memory:");
    CHECK(memory.dialect().name() == "sqlite");
}

TEST_CASE("insert returns the stored row with its generated key; all, get, one, update and remove") {
    TempDb db;
    Repo repo = canonical(db);
    User ada = repo.insert(make_user("Ada", "ada@example.com", 36));
    User bob = repo.insert(make_user("Bob", "bob@example.com", 17));
    CHECK(ada.id > 0);
    CHECK(bob.id == ada.id + 1);
    CHECK(ada.inserted_at == make_user("", "").inserted_at);

    auto adults = repo.all(from<User>() | where(col(&User::age) >= 18) | order_by(col(&User::id)));
    REQUIRE(adults.size() == 1);
    CHECK(adults[0].name == "Ada");

    auto got = repo.get<User>(bob.id);
    REQUIRE(got);
    CHECK(got->email == "bob@example.com");
    CHECK_FALSE(repo.get<User>(std::int64_t{999}));

    CHECK(repo.one(from<User>() | where(col(&User::name) == std::string("Bob"))).id == bob.id);
    CHECK_THROWS_AS(repo.one(from<User>() | where(col(&User::name) == std::string("Nobody"))), NoResults);
    CHECK_THROWS_AS(repo.one(from<User>()), MultipleResults);

    bob.age = 18;
    repo.update(bob);
    CHECK(repo.get<User>(bob.id)->age == 18);
    repo.remove(bob);
    CHECK_FALSE(repo.get<User>(bob.id));
    CHECK_THROWS_AS(repo.remove(bob), NoResults);
    CHECK_THROWS_AS(repo.update(bob), NoResults);
}

TEST_CASE("selected columns map to tuples and single values; write statements report rows changed") {
    TempDb db;
    Repo repo = canonical(db);
    for (int i = 0; i < 5; ++i) repo.insert(make_user("u" + std::to_string(i), "u" + std::to_string(i) + "@x", 20 + i));
    auto pairs = repo.all(from<User>() | order_by(col(&User::age)) | select(col(&User::name), col(&User::age)));
    REQUIRE(pairs.size() == 5);
    CHECK(std::get<0>(pairs[4]) == "u4");
    CHECK(std::get<1>(pairs[4]) == 24);
    CHECK(repo.one(from<User>() | select(count())) == 5);
    CHECK(repo.execute(update_all(from<User>() | where(col(&User::age) >= 22), set(&User::active, false))) == 3);
    CHECK(repo.one(from<User>() | where(col(&User::active) == false) | select(count())) == 3);
    CHECK(repo.execute(delete_all(from<User>() | where(col(&User::active) == false))) == 3);
    auto returned = repo.all(insert(make_user("r", "r@x")) | returning(col(&User::id), col(&User::email)));
    REQUIRE(returned.size() == 1);
    CHECK(std::get<1>(returned[0]) == "r@x");
}

TEST_CASE("every mapped type round-trips with NULLs and edge values") {
    TempDb db;
    Repo repo(db.url);
    repo.session().connection().execute(samples_ddl);
    Sample lo;
    lo.tiny = std::numeric_limits<std::int8_t>::min();
    lo.small = std::numeric_limits<std::int16_t>::min();
    lo.medium = std::numeric_limits<std::int32_t>::min();
    lo.big = std::numeric_limits<std::int64_t>::min();
    lo.unsigned_medium = 0;
    lo.flag = false;
    lo.real = -0.5;
    lo.text = "";
    lo.bytes = {};
    lo.at = timestamp(std::chrono::microseconds(-1'234'567'890'123'457));  // 1930, with microseconds
    Sample hi;
    hi.tiny = std::numeric_limits<std::int8_t>::max();
    hi.small = std::numeric_limits<std::int16_t>::max();
    hi.medium = std::numeric_limits<std::int32_t>::max();
    hi.big = std::numeric_limits<std::int64_t>::max();
    hi.unsigned_medium = std::numeric_limits<std::uint32_t>::max();
    hi.flag = true;
    hi.real = 1e308;
    hi.text = std::string("na\xC3\xAFve \xE2\x9C\x93 with a \0 NUL", 22);
    hi.bytes = {std::byte{0}, std::byte{0xff}, std::byte{0}, std::byte{'x'}};
    hi.maybe = "present";
    hi.maybe_number = -7;
    hi.at = timestamp(std::chrono::microseconds(253'402'300'799'999'999));  // 9999-12-31T23:59:59.999999Z
    for (const Sample& s : {lo, hi}) {
        Sample stored = repo.insert(s);
        auto back = repo.get<Sample>(stored.id);
        REQUIRE(back);
        CHECK(back->tiny == s.tiny);
        CHECK(back->small == s.small);
        CHECK(back->medium == s.medium);
        CHECK(back->big == s.big);
        CHECK(back->unsigned_medium == s.unsigned_medium);
        CHECK(back->flag == s.flag);
        CHECK(back->real == s.real);
        CHECK(back->text == s.text);
        CHECK(back->bytes == s.bytes);
        CHECK(back->maybe == s.maybe);
        CHECK(back->maybe_number == s.maybe_number);
        CHECK(back->at == s.at);
    }
    // Timestamps are stored as ISO-8601 text, UTC, with microseconds.
    CHECK(repo.one(from<Sample>() | where(col(&Sample::flag) == true) | select(raw<std::string>("at"))) ==
          "9999-12-31T23:59:59.999999Z");
}

TEST_CASE("NaN is refused before it reaches SQLite, which would store it as NULL") {
    TempDb db;
    Repo repo(db.url);
    repo.session().connection().execute(samples_ddl);
    Sample s;
    s.real = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(repo.insert(s), doctest::Contains("NaN"), QueryError);
    CHECK(repo.count(from<Sample>()) == 0);
    s.real = std::numeric_limits<double>::infinity();  // SQLite keeps infinities
    CHECK(repo.get<Sample>(repo.insert(s).id)->real == s.real);
}

TEST_CASE("a stored value that does not fit its field is a DecodeError naming the column") {
    TempDb db;
    Repo repo(db.url);
    auto& c = repo.session().connection();
    c.execute(samples_ddl);
    c.execute("INSERT INTO samples (id, tiny, small, medium, big, unsigned_medium, flag, real, text, bytes, at) "
              "VALUES (1, 300, 1, 1, 1, 1, 1, 1.0, 't', x'00', '2024-01-01T00:00:00.000000Z')");
    CHECK_THROWS_WITH_AS(repo.get<Sample>(std::int64_t{1}), doctest::Contains("column tiny"), DecodeError);
    c.execute("UPDATE samples SET tiny = 1, medium = NULL");
    try {
        repo.get<Sample>(std::int64_t{1});
        FAIL("expected a DecodeError");
    } catch (const DecodeError& e) {
        CHECK(e.column() == "medium");
        CHECK(std::string(e.what()).find("NULL") != std::string::npos);
    }
    c.execute("UPDATE samples SET medium = 'abc'");
    CHECK_THROWS_WITH_AS(repo.get<Sample>(std::int64_t{1}), doctest::Contains("column medium: holds text"), DecodeError);
    c.execute("UPDATE samples SET medium = 1, flag = 2");
    CHECK_THROWS_WITH_AS(repo.get<Sample>(std::int64_t{1}), doctest::Contains("column flag"), DecodeError);
    c.execute("UPDATE samples SET flag = 1, at = 'yesterday'");
    CHECK_THROWS_WITH_AS(repo.get<Sample>(std::int64_t{1}), doctest::Contains("column at"), DecodeError);
    c.execute("UPDATE samples SET at = '2024-01-01 00:00:00'");
    CHECK(repo.get<Sample>(std::int64_t{1})->at == timestamp(std::chrono::seconds(1'704'067'200)));
}

TEST_CASE("an unsigned value beyond a 64-bit SQL integer is refused before it reaches SQL") {
    CHECK_THROWS_AS(from<User>() | where(col(&User::id) == std::numeric_limits<std::uint64_t>::max()), QueryError);
}

TEST_CASE("constraint violations are ConstraintErrors with the kind, table and columns") {
    TempDb db;
    Repo repo(db.url);
    repo.session().connection().execute(
        std::string(canonical_schema_sqlite) +
        "CREATE TABLE memberships (user_id INTEGER NOT NULL REFERENCES users(id), team TEXT NOT NULL, "
        "score INTEGER NOT NULL CONSTRAINT score_positive CHECK (score > 0), UNIQUE (user_id, team));");
    User ada = repo.insert(make_user("Ada", "ada@example.com"));
    auto expect = [&](auto&& fn, ConstraintKind kind, std::string table, std::vector<std::string> columns,
                      std::string constraint = "") {
        try {
            fn();
            FAIL("expected a ConstraintError");
        } catch (const ConstraintError& e) {
            CHECK(e.kind() == kind);
            CHECK(e.table() == table);
            CHECK(e.columns() == columns);
            CHECK(e.constraint() == constraint);
            CHECK(e.sql().find("INSERT") == 0);
            CHECK_FALSE(e.is_transient());
        }
    };
    expect([&] { repo.insert(make_user("Ada again", "ada@example.com")); }, ConstraintKind::unique, "users", {"email"});
    auto dup = make_user("Dup", "dup@example.com");
    dup.id = ada.id;
    expect([&] { repo.execute(insert(dup, fields(&User::id, &User::name, &User::email, &User::age, &User::active, &User::inserted_at))); },
           ConstraintKind::primary_key, "users", {"id"});
    auto& c = repo.session().connection();
    expect([&] { c.execute("INSERT INTO memberships VALUES (999, 'x', 1)"); }, ConstraintKind::foreign_key, "", {});
    c.execute("INSERT INTO memberships VALUES (" + std::to_string(ada.id) + ", 'red', 1)");
    expect([&] { c.execute("INSERT INTO memberships VALUES (" + std::to_string(ada.id) + ", 'red', 2)"); },
           ConstraintKind::unique, "memberships", {"user_id", "team"});
    expect([&] { c.execute("INSERT INTO memberships VALUES (" + std::to_string(ada.id) + ", NULL, 2)"); },
           ConstraintKind::not_null, "memberships", {"team"});
    expect([&] { c.execute("INSERT INTO memberships VALUES (" + std::to_string(ada.id) + ", 'blue', 0)"); },
           ConstraintKind::check, "", {}, "score_positive");
    // A unique index made by CREATE UNIQUE INDEX is named (SQLite gives only the columns).
    c.execute("CREATE TABLE tags (name TEXT, kind TEXT); CREATE UNIQUE INDEX tags_by_name_kind ON tags (name, kind)");
    c.execute("INSERT INTO tags VALUES ('a', 'b')");
    expect([&] { c.execute("INSERT INTO tags VALUES ('a', 'b')"); }, ConstraintKind::unique, "tags", {"name", "kind"},
           "tags_by_name_kind");
    // A unique index on an expression has no columns: SQLite names the index, and so does the error.
    c.execute("CREATE UNIQUE INDEX tags_by_lower_name ON tags (lower(name))");
    expect([&] { c.execute("INSERT INTO tags VALUES ('A', 'c')"); }, ConstraintKind::unique, "tags", {}, "tags_by_lower_name");
    // Nothing was written by the failed statements.
    CHECK(repo.one(from<User>() | select(count())) == 1);
}

TEST_CASE("transactions commit, roll back on exceptions, and nest as savepoints") {
    TempDb db;
    Repo repo = canonical(db);
    auto count_users = [&] { return repo.one(from<User>() | select(count())); };

    auto id = repo.transaction([&](Repo& r) { return r.insert(make_user("A", "a@x")).id; });
    CHECK(id > 0);
    CHECK(count_users() == 1);

    CHECK_THROWS_AS(repo.transaction([&](Repo& r) {
                        r.insert(make_user("B", "b@x"));
                        throw std::runtime_error("changed my mind");
                    }),
                    std::runtime_error);
    CHECK(count_users() == 1);
    CHECK(repo.session().depth() == 0);

    // A failed statement inside a savepoint leaves the outer transaction usable.
    repo.transaction([&](Repo& r) {
        r.insert(make_user("C", "c@x"));
        CHECK_THROWS_AS(r.transaction([&](Repo& inner) {
                            inner.insert(make_user("D", "d@x"));
                            inner.insert(make_user("C again", "c@x"));  // unique violation
                        }),
                        ConstraintError);
        r.insert(make_user("E", "e@x"));
    });
    CHECK(count_users() == 3);  // A, C, E: D went with its savepoint
    CHECK_FALSE(repo.one_or_none(from<User>() | where(col(&User::email) == std::string("d@x"))));

    // SQLite transactions are serializable; asking for less is refused before anything runs.
    TxOptions read_committed;
    read_committed.isolation = Isolation::read_committed;
    CHECK_THROWS_AS(repo.transaction([](Repo&) {}, read_committed), UnsupportedFeature);
    CHECK(repo.session().depth() == 0);
}

// SQLite rolls a whole transaction back on some errors (here a column declared ON CONFLICT
// ROLLBACK): nothing may then run in autocommit as if it were still part of the transaction.
TEST_CASE("a transaction SQLite ended by itself refuses every later statement instead of running it in autocommit") {
    TempDb db;
    Repo repo(db.url);
    repo.session().connection().execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE ON CONFLICT ROLLBACK, "
        "age INTEGER NOT NULL, active INTEGER NOT NULL, inserted_at TEXT NOT NULL)");
    repo.insert(make_user("kept", "kept@x"));
    auto emails = [&] { return repo.all(from<User>() | order_by(asc(col(&User::email))) | select(col(&User::email))); };

    SUBCASE("a failure caught inside the transaction") {
        CHECK_THROWS_AS(repo.transaction([&](Repo& tx) {
                            tx.insert(make_user("before", "before@x"));
                            CHECK_THROWS_AS(tx.insert(make_user("dup", "kept@x")), ConstraintError);
                            CHECK(tx.transaction_ended());
                            tx.insert(make_user("after", "after@x"));  // refused, not autocommitted
                        }),
                        TransactionAborted);
    }
    SUBCASE("a failure caught around a nested transaction; then COMMIT is refused too") {
        CHECK_THROWS_AS(repo.transaction([&](Repo& tx) {
                            tx.insert(make_user("before", "before@x"));
                            CHECK_THROWS_AS(tx.transaction([&](Repo& inner) { inner.insert(make_user("dup", "kept@x")); }),
                                            ConstraintError);
                            try {
                                tx.all(from<User>());
                                FAIL("a statement ran after the transaction ended");
                            } catch (const TransactionAborted& e) {
                                CHECK(e.sql().find("SELECT") != std::string::npos);  // the statement refused
                            }
                        }),
                        TransactionAborted);
    }
    SUBCASE("a changeset write rethrows the violation instead of returning it as a field error") {
        CHECK_THROWS_AS(repo.transaction([&](Repo& tx) {
                            tx.insert(make_user("before", "before@x"));
                            (void)tx.insert(change(make_user("dup", "kept@x")) | unique_constraint(&User::email));
                        }),
                        ConstraintError);
    }
    SUBCASE("a nested Multi rethrows instead of reporting a failed step the caller could carry on from") {
        CHECK_THROWS_AS(repo.transaction([&](Repo& tx) {
                            tx.insert(make_user("before", "before@x"));
                            (void)tx.transaction(Multi() | multi::insert("dup", make_user("dup", "kept@x")));
                            tx.insert(make_user("after", "after@x"));
                        }),
                        ConstraintError);
    }
    CHECK(emails() == std::vector<std::string>{"kept@x"});
    CHECK(repo.session().depth() == 0);
    repo.insert(make_user("next", "next@x"));  // the Repo is usable again
    CHECK(emails().size() == 2);
}

TEST_CASE("the second execution of a shape renders and prepares nothing") {
    TempDb db;
    Repo repo = canonical(db);
    for (int i = 0; i < 3; ++i) repo.insert(make_user("u" + std::to_string(i), std::to_string(i) + "@x", 20 + i));
    const auto before = repo.cache_stats();
    for (int age = 0; age < 30; ++age) {
        auto rows = repo.all(from<User>() | where(col(&User::age) > age) | order_by(col(&User::id)) | limit(10));
        CHECK(rows.size() == static_cast<std::size_t>(age < 20 ? 3 : std::max(0, 22 - age)));
    }
    const auto after = repo.cache_stats();
    CHECK(after.misses == before.misses + 1);
    CHECK(after.hits == before.hits + 29);
}

TEST_CASE("a parameter keeps the type of its value in CASE branches, functions and beside other types") {
    TempDb db;
    Repo repo = canonical(db);
    parameters_keep_their_types(repo);
}

TEST_CASE("insert, get, update and remove prepare once per type, then bind the row directly") {
    TempDb db;
    Repo repo = canonical(db);
    check_fixed_statements(repo);
}

struct Child {
    std::int64_t id = 0;
    std::int64_t parent_id = 0;
};
BOOST_HANA_ADAPT_STRUCT(Child, id, parent_id);
QUARRY_TABLE(Child, "children", &Child::id);

TEST_CASE("an autocommit write that fails as it commits (a deferred foreign key) throws; it returns no row") {
    TempDb db;
    Repo repo(db.url);
    repo.session().connection().execute(
        "CREATE TABLE parents (id INTEGER PRIMARY KEY); CREATE TABLE children (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)");
    Child orphan;
    orphan.parent_id = 42;
    CHECK_THROWS_AS(repo.insert(orphan), ConstraintError);
    orphan.id = 7;
    CHECK_THROWS_AS(repo.upsert(orphan, &Child::id), ConstraintError);
    CHECK(repo.count(from<Child>()) == 0);
    repo.session().connection().execute("INSERT INTO parents VALUES (42)");
    CHECK(repo.upsert(orphan, &Child::id).id == 7);  // an upsert by key writes the key as given
    CHECK(repo.insert(orphan).id == 8);              // insert leaves the key to the database
}

TEST_CASE("update_all and delete_all change exactly the rows the query selects") {
    TempDb db;
    Repo repo = canonical(db);
    check_bulk_writes(repo);
}

TEST_CASE("upsert inserts, or replaces the row it conflicts with, and returns the row as stored") {
    TempDb db;
    Repo repo = canonical(db);
    check_upsert(repo);
    CHECK(repo.to_sql(upsert(make_user("a", "b"), &User::email)).sql ==
          "INSERT INTO \"users\" (\"name\", \"email\", \"age\", \"active\", \"inserted_at\") VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (\"email\") DO UPDATE SET \"name\" = EXCLUDED.\"name\", \"age\" = EXCLUDED.\"age\", "
          "\"active\" = EXCLUDED.\"active\", \"inserted_at\" = EXCLUDED.\"inserted_at\" RETURNING \"id\", "
          "\"name\", \"email\", \"age\", \"active\", \"inserted_at\"");
}

TEST_CASE("the statement cache is bounded and evicts the least recently used statement") {
    Repo repo("sqlite::memory:", 2);
    repo.session().connection().execute(canonical_schema_sqlite);
    auto q1 = from<User>() | where(col(&User::age) > 1);
    auto q2 = from<User>() | where(col(&User::age) < 1);
    auto q3 = from<User>() | where(col(&User::age) == 1);
    repo.all(q1);
    repo.all(q2);
    repo.all(q1);  // hit; q2 is now the oldest
    repo.all(q3);  // evicts q2
    CHECK(repo.cache_stats().size == 2);
    const auto s = repo.cache_stats();
    repo.all(q1);
    CHECK(repo.cache_stats().hits == s.hits + 1);
    repo.all(q2);
    CHECK(repo.cache_stats().misses == s.misses + 1);
}

TEST_CASE("a statement cached before a schema change still runs after it") {
    TempDb db;
    Repo repo = canonical(db);
    repo.insert(make_user("A", "a@x"));
    auto q = from<User>() | where(col(&User::age) > 0);
    CHECK(repo.all(q).size() == 1);
    repo.session().connection().execute("CREATE INDEX users_age ON users(age)");
    CHECK(repo.all(q).size() == 1);
    CHECK(repo.cache_stats().hits >= 1);
}

TEST_CASE("exists, count and aggregates respect limit, offset and distinct") {
    TempDb db;
    Repo repo = canonical(db);
    for (int i = 0; i < 10; ++i) repo.insert(make_user("u" + std::to_string(i), std::to_string(i) + "@x", 20 + i % 5));
    CHECK(repo.exists(from<User>() | where(col(&User::age) == 24)));
    CHECK_FALSE(repo.exists(from<User>() | where(col(&User::age) > 99)));
    CHECK(repo.count(from<User>()) == 10);
    CHECK(repo.count(from<User>() | limit(3)) == 3);
    CHECK(repo.count(from<User>() | offset(8)) == 2);
    CHECK(repo.count(from<User>() | select(col(&User::age)) | distinct()) == 5);
    CHECK(repo.sum(from<User>(), &User::age) == std::optional<std::int64_t>(2 * (20 + 21 + 22 + 23 + 24)));
    CHECK(repo.sum(from<User>() | order_by(col(&User::id)) | limit(2), &User::age) == std::optional<std::int64_t>(41));
    CHECK(repo.avg(from<User>(), &User::age) == std::optional<double>(22.0));
    CHECK(repo.min(from<User>(), &User::age) == std::optional<int>(20));
    CHECK(repo.max(from<User>() | where(col(&User::age) < 23), &User::age) == std::optional<int>(22));
    CHECK_FALSE(repo.max(from<User>() | where(col(&User::age) > 99), &User::age));
    CHECK(repo.explain(from<User>() | where(col(&User::id) == 3)).find("users") != std::string::npos);
    CHECK(repo.get_by<User>(col(&User::email) == std::string("3@x"))->name == "u3");
    CHECK_THROWS_AS(repo.get_by<User>(col(&User::age) == 20), MultipleResults);
}

TEST_CASE("raw SQL binds every argument and maps rows like any query") {
    TempDb db;
    Repo repo = canonical(db);
    repo.insert(make_user("Ada", "ada@x", 36));
    repo.insert(make_user("Bob", "bob@x", 17));
    auto rows = repo.query<std::tuple<std::string, int>>("SELECT name, age FROM users WHERE age > ? ORDER BY name", 10);
    REQUIRE(rows.size() == 2);
    CHECK(std::get<0>(rows[0]) == "Ada");
    auto users = repo.query<User>("SELECT * FROM users WHERE name = ?", "Bob");
    REQUIRE(users.size() == 1);
    CHECK(users[0].age == 17);
    // A hostile argument is a value, never SQL.
    CHECK(repo.query<std::string>("SELECT name FROM users WHERE name = ?", "x' OR '1'='1").empty());
    CHECK(repo.query<std::string>("SELECT 'what' || '\?\?' WHERE ? = 1", 1) == std::vector<std::string>{"what?"});
    CHECK(repo.execute_sql("UPDATE users SET age = age + ? WHERE age < ?", 1, 18) == 1);
    CHECK_THROWS_AS(repo.query<int>("SELECT ? + ?", 1), QueryError);
    // The count is checked on every run of a SQL text, not only when it is first prepared.
    CHECK(repo.query<int>("SELECT ? * ?", 6, 7) == std::vector<int>{42});
    CHECK_THROWS_AS(repo.query<int>("SELECT ? * ?", 6), QueryError);
    CHECK_THROWS_AS(repo.query<int>("SELECT ? * ?", 6, 7, 8), QueryError);
    CHECK(repo.query<int>("SELECT ? * ?", 2, 3) == std::vector<int>{6});
}

TEST_CASE("insert_all chunks under the parameter limit, and is all or nothing") {
    TempDb db;
    Repo repo = canonical(db);
    std::vector<User> many;
    for (int i = 0; i < 20000; ++i) many.push_back(make_user("n" + std::to_string(i), "m" + std::to_string(i) + "@x", i % 90));
    CHECK(repo.insert_all(many) == 20000);  // 5 columns a row: at most 6553 rows per statement on SQLite
    CHECK(repo.count(from<User>()) == 20000);
    std::vector<User> clash;
    for (int i = 0; i < 10000; ++i) clash.push_back(make_user("c", "c" + std::to_string(i) + "@x"));
    clash.push_back(make_user("dup", "m5@x"));  // in the second chunk: the first must not stay
    CHECK_THROWS_AS(repo.insert_all(clash), ConstraintError);
    CHECK(repo.count(from<User>()) == 20000);
    auto back = repo.insert_all_returning(std::vector<User>{make_user("r1", "r1@x"), make_user("r2", "r2@x")});
    REQUIRE(back.size() == 2);
    CHECK(back[1].id == back[0].id + 1);
    CHECK(back[1].email == "r2@x");
    CHECK(repo.insert_all(std::vector<User>{}) == 0);
}

TEST_CASE("rollback_with ends the transaction and hands its value to the caller") {
    TempDb db;
    Repo repo = canonical(db);
    try {
        repo.transaction([&](Repo& r) {
            r.insert(make_user("A", "a@x"));
            rollback_with(std::string("out of stock"));
        });
        FAIL("expected Rolledback");
    } catch (const Rolledback<std::string>& r) {
        CHECK(r.value == "out of stock");
    }
    CHECK(repo.count(from<User>()) == 0);
}

TEST_CASE("telemetry reports one event per statement: SQL, table, rows, timings, cache hit, failure") {
    TempDb db;
    Repo repo = canonical(db);
    std::vector<QueryEvent> events;
    std::vector<std::string> sqls;
    repo.set_telemetry([&](const QueryEvent& e) {
        events.push_back(e);
        sqls.emplace_back(e.sql);  // the view is only valid during the call
    });
    repo.insert(make_user("A", "a@x"));
    repo.insert(make_user("B", "b@x"));
    auto q = from<User>() | where(col(&User::age) > 1);
    CHECK(repo.all(q).size() == 2);
    CHECK(repo.all(q).size() == 2);
    CHECK_THROWS_AS(repo.insert(make_user("A2", "a@x")), ConstraintError);
    repo.execute_sql("UPDATE users SET age = age + ?", 1);
    REQUIRE(events.size() == 6);
    CHECK_FALSE(events[0].cache_hit);
    CHECK(events[0].prepare.count() > 0);
    CHECK(events[0].rows == 1);  // the RETURNING row
    CHECK(sqls[0].find("INSERT INTO \"users\"") == 0);
    CHECK(events[1].cache_hit);
    CHECK(events[1].prepare.count() == 0);
    CHECK(events[2].source == "users");
    CHECK(events[2].params == 1);
    CHECK(events[2].rows == 2);
    CHECK_FALSE(events[2].cache_hit);
    CHECK(events[3].cache_hit);
    CHECK(events[3].execute.count() > 0);
    CHECK(events[4].failed);
    CHECK_FALSE(events[3].failed);
    CHECK(events[5].source.empty());
    CHECK(events[5].rows == 2);
    CHECK(events[5].total() >= events[5].execute);
    repo.set_telemetry({});
    repo.all(q);
    CHECK(events.size() == 6);
    // The ready-made sink logs only statements slower than its threshold.
    repo.set_telemetry(stderr_logger(std::chrono::hours(1)));
    repo.all(q);
}

TEST_CASE("telemetry reports transaction control statements, and a stream as one event when it ends") {
    TempDb db;
    Repo repo = canonical(db);
    for (int i = 0; i < 5; ++i) repo.insert(make_user("u" + std::to_string(i), std::to_string(i) + "@x", i));
    std::vector<std::string> sqls;
    std::vector<QueryEvent> events;
    repo.set_telemetry([&](const QueryEvent& e) {
        events.push_back(e);
        sqls.emplace_back(e.sql);
    });
    repo.transaction([](Repo& r) {
        r.transaction([](Repo& inner) { inner.execute_sql("UPDATE users SET age = age + 1"); });
    });
    CHECK(sqls == std::vector<std::string>{"BEGIN IMMEDIATE", "SAVEPOINT quarry_savepoint_1", "UPDATE users SET age = age + 1",
                                           "RELEASE SAVEPOINT quarry_savepoint_1", "COMMIT"});
    CHECK_THROWS_AS(repo.transaction([](Repo&) { throw std::runtime_error("no"); }), std::runtime_error);
    CHECK(sqls.back() == "ROLLBACK");
    events.clear();
    sqls.clear();
    int read = 0;
    for (const User& u : repo.stream(from<User>() | where(col(&User::age) > 2))) read += u.age > 2;
    REQUIRE(events.size() == 1);
    CHECK(read == 3);
    CHECK(events[0].rows == 3);
    CHECK(events[0].params == 1);
    CHECK(events[0].source == "users");
    CHECK(sqls[0].find("SELECT") == 0);
    CHECK_FALSE(events[0].failed);
    {
        auto s = repo.stream(from<User>());
        CHECK(s.begin()->age >= 1);  // stopped early: reported when the stream goes
        CHECK(events.size() == 1);
    }
    REQUIRE(events.size() == 2);
    CHECK(events[1].rows == 1);
}

TEST_CASE("stream reads rows lazily, stops early cleanly, and works inside and outside transactions") {
    TempDb db;
    Repo repo = canonical(db);
    for (int i = 0; i < 50; ++i) repo.insert(make_user("s" + std::to_string(i), std::to_string(i) + "@s", i));
    auto q = from<User>() | where(col(&User::age) >= 10) | order_by(col(&User::age));
    int expected = 10;
    for (const User& u : repo.stream(q)) CHECK(u.age == expected++);
    CHECK(expected == 50);
    {
        auto s = repo.stream(q);
        auto it = s.begin();
        CHECK(it->age == 10);
        ++it;
        CHECK(it->age == 11);
        // Other statements run while the stream is open.
        CHECK(repo.get<User>(it->id)->age == 11);
    }  // abandoned half-way: the cursor closes
    repo.transaction([&](Repo& r) {
        int n = 0;
        for (const User& u : r.stream(q)) n += u.age >= 10;
        CHECK(n == 40);
    });
    CHECK(repo.session().depth() == 0);
    static_assert(std::ranges::input_range<Stream<User>>);
    static_assert(std::ranges::view<Stream<User>>);
    auto names = repo.stream(from<User>() | where(col(&User::age) < 3) | order_by(col(&User::age)) | select(col(&User::name)));
    std::vector<std::string> got;
    std::ranges::copy(names, std::back_inserter(got));
    CHECK(got == std::vector<std::string>{"s0", "s1", "s2"});
}

// A Repo moves; a copy would share its session, which is not thread-safe.
static_assert(!std::is_copy_constructible_v<Repo> && !std::is_copy_assignable_v<Repo>);
static_assert(std::is_move_constructible_v<Repo> && std::is_move_assignable_v<Repo>);

TEST_CASE("a stream outlives the Repo it came from, and the transaction it was opened in") {
    TempDb db;
    auto q = from<User>() | order_by(col(&User::age));
    auto opened = [&] {
        Repo repo = canonical(db);
        for (int i = 0; i < 3; ++i) repo.insert(make_user("o" + std::to_string(i), std::to_string(i) + "@o", i));
        return repo.stream(q);
    }();  // the Repo is gone; its session stays until the stream is done with it
    std::vector<int> ages;
    for (const User& u : opened) ages.push_back(u.age);
    CHECK(ages == std::vector<int>{0, 1, 2});

    Repo repo(db.url);
    auto kept = repo.transaction([&](Repo& tx) {
        tx.insert(make_user("o3", "3@o", 3));
        return tx.stream(q);
    });
    ages.clear();
    for (const User& u : kept) ages.push_back(u.age);
    CHECK(ages == std::vector<int>{0, 1, 2, 3});
    CHECK(repo.session().depth() == 0);
}

TEST_CASE("SQLite: a table locked by this connection's own open stream is a DatabaseError, not a transient DatabaseBusy") {
    TempDb db;
    Repo repo = canonical(db);
    for (int i = 0; i < 3; ++i) repo.insert(make_user("l" + std::to_string(i), std::to_string(i) + "@l", i));
    {
        auto s = repo.stream(from<User>() | order_by(col(&User::age)));
        auto it = s.begin();
        REQUIRE(it != s.end());
        try {
            repo.execute_sql("DROP TABLE users");
            FAIL("the table was dropped under an open stream");
        } catch (const DatabaseBusy& e) {
            FAIL("reported as transient: " << std::string(e.what()));
        } catch (const DatabaseError& e) {
            CHECK_FALSE(e.is_transient());
            CHECK(std::string(e.what()).find("open Stream") != std::string::npos);
        }
        ++it;
        CHECK(it->age == 1);  // the stream reads on
    }
    CHECK(repo.count(from<User>()) == 3);  // nothing was dropped
    CHECK_NOTHROW(repo.execute_sql("DROP TABLE users"));  // once the stream is done, it can be
}

TEST_CASE("streaming one million rows stays in bounded memory") {
    TempDb db;
    Repo repo = canonical(db);
    repo.execute_sql(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) "
        "INSERT INTO users (id, name, email, age, active, inserted_at) "
        "SELECT x, 'user number ' || x, 'user' || x || '@example.com', x % 90, x % 2, '2024-01-01T00:00:00.000000Z' FROM n");
    const std::size_t before = resident_bytes();
    std::size_t peak = before;
    std::int64_t rows = 0, id_sum = 0;
    for (const User& u : repo.stream(from<User>())) {
        ++rows;
        id_sum += u.id;
        if (rows % 100000 == 0) peak = std::max(peak, resident_bytes());
    }
    CHECK(rows == 1000000);
    CHECK(id_sum == 500000500000);
    const double grew_mb = static_cast<double>(peak - before) / (1024.0 * 1024.0);
    MESSAGE("streaming 1,000,000 rows grew the resident set by ", grew_mb, " MiB");
    if (!address_sanitized) CHECK(grew_mb < 16.0);  // the rows as a std::vector<User> would take over 100 MiB
}

TEST_CASE("SQLite options in the URL; a database locked by another writer is a transient DatabaseBusy") {
    TempDb db;
    CHECK_THROWS_AS(Repo(db.url + "?busy_timeout=abc"), InvalidUrl);
    CHECK_THROWS_AS(Repo(db.url + "?journal=off"), InvalidUrl);
    Repo writer = canonical(db);
    Repo other(db.url + "?busy_timeout=50");
    Repo reader(db.url + "?mode=ro");
    writer.session().begin();  // BEGIN IMMEDIATE: holds the write lock
    writer.insert(make_user("A", "a@x"));
    try {
        other.insert(make_user("B", "b@x"));
        FAIL("expected DatabaseBusy");
    } catch (const DatabaseBusy& e) {
        CHECK(e.is_transient());
        CHECK(e.code() == "SQLITE_BUSY");
    }
    CHECK(reader.count(from<User>()) == 0);  // WAL: readers see the last commit, unblocked
    writer.session().commit();
    CHECK(reader.count(from<User>()) == 1);
    CHECK_THROWS_AS(reader.insert(make_user("C", "c@x")), DatabaseError);
    other.insert(make_user("B", "b@x"));
    CHECK(writer.count(from<User>()) == 2);
}


TEST_CASE("SQLite: a stream's read snapshot; a statement timeout bounds lock waits; a failed step ends a stream") {
    TempDb db;
    Repo a = canonical(db);
    Repo b(db.url);
    for (int i = 1; i <= 5; ++i) a.insert(make_user("u" + std::to_string(i), std::to_string(i) + "@s", i));
    {
        // While a stream reads, its connection sees one snapshot. A write that would need a newer
        // one cannot succeed before the stream ends: not a DatabaseBusy to retry, but an error
        // that says what holds the snapshot.
        auto s = a.stream(from<User>());
        REQUIRE(s.begin() != std::default_sentinel);  // the first row is read: the snapshot is taken
        b.insert(make_user("other", "other@s"));
        try {
            a.insert(make_user("mine", "mine@s"));
            FAIL("expected a DatabaseError");
        } catch (const DatabaseError& e) {
            CHECK_FALSE(e.is_transient());
            CHECK(std::string(e.what()).find("a Stream is still open on this connection") != std::string::npos);
        }
    }
    a.insert(make_user("mine", "mine@s"));  // the stream ended: the write goes through
    CHECK(a.count(from<User>()) == 7);

    // Waiting for another connection's write lock stops at the statement timeout, not at the
    // busy timeout (5 s): the progress handler does not run while SQLite waits for a lock.
    b.session().connection().execute("BEGIN IMMEDIATE");
    a.session().set_statement_timeout(std::chrono::milliseconds(100));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(a.insert(make_user("late", "late@s")), StatementTimeout);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    b.session().connection().execute("ROLLBACK");
    a.insert(make_user("late", "late@s"));  // the lock is free: no timeout
    a.session().set_statement_timeout(std::chrono::milliseconds(0));

    // A step that fails (an integer overflow computed for the third row) ends the stream: it
    // neither starts again from the first row nor leaves the last row behind.
    // (In rowid order, ages 1 to 5: ordering by age would compute every row before the first.)
    auto failing = a.stream(from<User>() | where(col(&User::age) >= 1) |
                            select(raw<std::int64_t>("CASE WHEN ? = 3 THEN abs(-9223372036854775807 - 1) ELSE ? END",
                                                     col(&User::age), col(&User::age))));
    std::vector<std::int64_t> seen;
    int errors = 0;
    for (auto it = failing.begin(); it != std::default_sentinel;) {
        seen.push_back(*it);
        try {
            ++it;
        } catch (const DatabaseError&) {
            ++errors;
        }
    }
    CHECK(seen == std::vector<std::int64_t>{1, 2});
    CHECK(errors == 1);
}

TEST_CASE("SQLite: raw SQL's row counts, comments and empty statements; a file that is not a database") {
    TempDb db;
    Repo repo = canonical(db);
    repo.insert(make_user("a", "a@x"));
    repo.insert(make_user("b", "b@x"));
    CHECK(repo.execute_sql("UPDATE users SET age = age") == 2);
    CHECK(repo.execute_sql("SELECT 1") == 0);  // was the UPDATE's 2
    CHECK(repo.execute_sql("CREATE TABLE z (x INTEGER)") == 0);
    CHECK(repo.execute_sql("INSERT INTO z VALUES (1); -- one row") == 1);
    CHECK(repo.query<std::int64_t>("SELECT 1; -- a comment after the statement") == std::vector<std::int64_t>{1});
    CHECK_THROWS_WITH_AS(repo.execute_sql("SELECT 1; SELECT 2"), doctest::Contains("more than one statement"), QueryError);
    CHECK_THROWS_WITH_AS(repo.execute_sql("-- nothing"), doctest::Contains("no SQL statement"), QueryError);
    CHECK_THROWS_AS(repo.execute_sql(""), QueryError);

    const auto junk = db.dir / "junk.db";
    {
        std::ofstream out(junk, std::ios::binary);
        out << std::string(4096, 'j');
    }
    CHECK_THROWS_WITH_AS(Repo("sqlite:" + junk.string()), doctest::Contains("cannot open SQLite database"), ConnectionError);
}

TEST_CASE("connections opening one new SQLite file at once all succeed (switching it to WAL waits within the busy timeout)") {
    // Two migration runners starting together hit this: SQLite answers the WAL switch of a file
    // another connection is using with SQLITE_BUSY at once, without its busy handler.
    int failures = 0;
    std::string first_failure;
    for (int round = 0; round < 20; ++round) {
        TempDb db;
        std::vector<std::thread> openers;
        std::mutex m;
        for (int t = 0; t < 6; ++t)
            openers.emplace_back([&] {
                try {
                    Repo repo(db.url);
                    repo.execute_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)");
                    repo.execute_sql("INSERT INTO t VALUES (1)");
                } catch (const std::exception& e) {
                    std::lock_guard lock(m);
                    if (failures++ == 0) first_failure = e.what();
                }
            });
        for (auto& t : openers) t.join();
        if (failures == 0) CHECK(Repo(db.url).query<std::int64_t>("SELECT count(*) FROM t").at(0) == 6);
    }
    CHECK_MESSAGE(failures == 0, first_failure);
}

TEST_CASE("the WAL switch waits no longer than busy_timeout, and a connection that fails to open leaks nothing") {
    TempDb db;
    const std::string path = db.url.substr(7);
    const auto open_fds = [] {
        return std::distance(std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{});
    };
    const auto fds = open_fds();
    sqlite3* raw = nullptr;  // a file in the default journal mode, read by another connection
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "CREATE TABLE t (x INTEGER); BEGIN; SELECT count(*) FROM t", nullptr, nullptr, nullptr) == SQLITE_OK);
    for (int i = 0; i < 20; ++i) CHECK_THROWS_AS(Repo(db.url + "?busy_timeout=0"), DatabaseBusy);  // tried once
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(Repo(db.url + "?busy_timeout=300"), DatabaseBusy);
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= std::chrono::milliseconds(300));
    CHECK(took < std::chrono::seconds(3));
    REQUIRE(sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    {
        Repo repo(db.url + "?busy_timeout=0");
        CHECK(repo.query<std::string>("PRAGMA journal_mode").at(0) == "wal");
    }
    sqlite3_close(raw);
    // SQLite defers closing a file while another connection of the process holds locks on it;
    // with every connection closed, none of the 21 failed opens may have left a handle open.
    CHECK(open_fds() == fds);
}
TEST_CASE("raw SQL is one statement; a row must have exactly the columns its C++ type expects") {
    TempDb db;
    Repo repo = canonical(db);
    CHECK_THROWS_AS(repo.execute_sql("CREATE TABLE a (x INT); CREATE TABLE b (y INT)"), QueryError);
    CHECK(repo.query<std::string>("SELECT name FROM sqlite_master WHERE name = 'a'").empty());  // nothing ran
    CHECK_THROWS_AS(repo.query<int>("SELECT 7, 2"), DecodeError);
    CHECK_THROWS_AS((repo.query<std::tuple<int, int, int>>("SELECT 7, 2")), DecodeError);
    CHECK(repo.query<int>("SELECT 7;") == std::vector<int>{7});  // a trailing semicolon is fine
}

TEST_CASE("transaction options belong to the outermost transaction") {
    TempDb db;
    Repo repo = canonical(db);
    TxOptions ro;
    ro.read_only = true;
    repo.transaction([&](Repo& r) { CHECK_THROWS_AS(r.transaction([](Repo&) {}, ro), QueryError); });
    CHECK(repo.session().depth() == 0);
}

// ---- changesets -----------------------------------------------------------------------------

namespace {
Repo with_accounts(const TempDb& db) {
    Repo repo = canonical(db);
    repo.session().connection().execute(account_schema_sqlite);
    return repo;
}
}  // namespace

TEST_CASE("changesets: unique (inline and index), check and foreign key violations become field errors") {
    TempDb db;
    Repo repo = with_accounts(db);
    changeset_checks::constraints_become_field_errors(repo);
}

TEST_CASE("changesets: an invalid changeset runs no statement and writes nothing") {
    TempDb db;
    Repo repo = with_accounts(db);
    changeset_checks::invalid_changesets_write_nothing(repo);
}

TEST_CASE("changesets: a refused write inside a transaction leaves the transaction usable") {
    TempDb db;
    Repo repo = with_accounts(db);
    changeset_checks::violations_inside_a_transaction_leave_it_usable(repo);
}

TEST_CASE("changesets: update writes only the changed columns; a deleted row is StaleEntry") {
    TempDb db;
    Repo repo = with_accounts(db);
    changeset_checks::updates_write_only_changed_columns(repo);
}

TEST_CASE("changesets: unsafe_validate_unique queries before the write") {
    TempDb db;
    Repo repo = with_accounts(db);
    changeset_checks::unsafe_validate_unique_checks_before_writing(repo);
}

// ---- schema behaviours ------------------------------------------------------------------------

namespace {
Repo with_notes(const TempDb& db) {
    Repo repo = canonical(db);
    repo.session().connection().execute(note_schema_sqlite);
    return repo;
}
}  // namespace

TEST_CASE("behaviours: timestamps are set by insert, update, changesets, insert_all and update_all") {
    TempDb db;
    Repo repo = with_notes(db);
    behaviour_checks::timestamps_are_set_on_every_write(repo);
}

TEST_CASE("behaviours: soft delete scopes every query, join and subquery; restore; hard delete only when asked") {
    TempDb db;
    Repo repo = with_notes(db);
    behaviour_checks::soft_delete_scopes_every_query(repo);
}

TEST_CASE("behaviours: optimistic locking makes a lost update StaleEntry") {
    TempDb db;
    Repo repo = with_notes(db);
    behaviour_checks::optimistic_locking_detects_lost_updates(repo);
}

TEST_CASE("behaviours: of two concurrent updates from one version, exactly one is StaleEntry") {
    TempDb db;
    Repo setup = with_notes(db);
    Repo a(db.url), b(db.url);
    behaviour_checks::concurrent_updates_one_stale(setup, a, b);
}

TEST_CASE("behaviours: hooks run in the write's transaction and may veto it") {
    TempDb db;
    Repo repo = with_notes(db);
    behaviour_checks::hooks_run_in_the_write_transaction(repo);
}

TEST_CASE("behaviours: virtual fields are never stored; read-only fields never written") {
    TempDb db;
    Repo repo = with_notes(db);
    behaviour_checks::virtual_and_read_only_fields(repo);
}

// ---- associations ---------------------------------------------------------------------------

namespace {
Repo with_articles(const TempDb& db) {
    Repo repo(db.url);
    repo.session().connection().execute(assoc_schema_sqlite);
    return repo;
}
}  // namespace

TEST_CASE("associations: nested preloads run one query per level, filtered and ordered, soft-deleted rows left out") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::preloads_run_one_query_per_level(repo);
}

TEST_CASE("associations: the top N children per parent, and has_one as the first by the preload's order") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::top_n_per_owner(repo);
}

TEST_CASE("associations: has_one and limited has_many preloads of more owners than SQLite binds at once go in chunks") {
    TempDb db;
    Repo repo = with_articles(db);
    // 32,766 keys fill a chunk: limit_per's own parameter must leave room for itself.
    std::vector<Article> rows(32'766);
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i].title = "a" + std::to_string(i);
    repo.transaction([&](Repo& tx) { tx.insert_all(rows); });
    auto articles = repo.all(from<Article>() | order_by(asc(col(&Article::id))));
    REQUIRE(articles.size() == 32'766);
    repo.insert(Comment{.article_id = articles.back().id, .body = "last", .rank = 1});
    repo.preload(articles, &Article::top_comment, preload(&Article::comments).limit(2));
    REQUIRE(articles.back().top_comment);
    CHECK(articles.back().top_comment->body == "last");
    CHECK(articles.back().comments.size() == 1);
    CHECK_FALSE(articles.front().top_comment);
}

TEST_CASE("associations: a preload that fails leaves every row's fields as they were, not half loaded") {
    TempDb db;
    Repo repo = with_articles(db);
    const Article a = repo.insert(Article{.id = 0, .writer_id = {}, .title = "a"});
    const Article b = repo.insert(Article{.id = 0, .writer_id = {}, .title = "b"});
    repo.insert(Comment{.article_id = a.id, .body = "on a", .rank = 1});
    repo.insert(Comment{.article_id = b.id, .body = "on b", .rank = 2});
    auto articles = repo.all(from<Article>() | order_by(asc(col(&Article::id))));
    repo.preload(articles, &Article::comments);
    REQUIRE(articles[1].comments.size() == 1);
    // The first spec loads, the second fails when it runs: both fields keep what they held.
    auto failing = preload(&Article::comments, from<Comment>() | where(raw<bool>("no_such_column = 1")));
    CHECK_THROWS_AS(repo.preload(articles, &Article::top_comment, failing), DatabaseError);
    CHECK_FALSE(articles[0].top_comment);
    REQUIRE(articles[0].comments.size() == 1);
    CHECK(articles[0].comments[0].body == "on a");
    CHECK(articles[1].comments.at(0).body == "on b");
}

TEST_CASE("associations: a NULL foreign key loads nothing; preloading one row") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::belongs_to_with_null_keys_and_single_rows(repo);
}

TEST_CASE("associations: composite keys in has_many, belongs_to, top N, queries and joins") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::composite_keys(repo);
}

TEST_CASE("associations: queries and joins through belongs_to, has_many and many_to_many") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::queries_and_joins_through_associations(repo);
}

TEST_CASE("associations: assoc_constraint and no_assoc_constraint become field errors; insert_or_get") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::association_constraints_and_insert_or_get(repo);
}

TEST_CASE("associations: nested changesets (cast_assoc from JSON and forms, put_assoc) write in one transaction") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::nested_changesets(repo);
}

TEST_CASE("associations: limit_per under update, delete and union; soft delete under right joins; NULL belongs_to") {
    TempDb db;
    Repo repo = with_articles(db);
    assoc_checks::limit_per_and_scopes_in_every_position(repo);
}

TEST_CASE("associations: many_to_many with a composite key") {
    TempDb db;
    Repo repo = with_articles(db);
    repo.session().connection().execute(reader_schema);
    assoc_checks::many_to_many_composite(repo);
}
