// SPDX-License-Identifier: MIT
// Hostile identifiers and values: rendered safely (quoted or bound) or rejected with a typed
// error. A value never appears in SQL text.
#include <doctest/doctest.h>

#include "schema.hpp"
#include "support.hpp"

struct Counter {
    std::int64_t id = 0;
};
BOOST_HANA_ADAPT_STRUCT(Counter, id);
QUARRY_TABLE(Counter, "counters", &Counter::id);

struct Pair {
    std::int64_t a = 0;
    std::int64_t b = 0;
};
BOOST_HANA_ADAPT_STRUCT(Pair, a, b);
QUARRY_TABLE(Pair, "pair");

using namespace quarry;

namespace {
const std::vector<std::string> hostile_values = {
    "'; DROP TABLE users; --", "\"quoted\"", "back\\slash", std::string("nul\0byte", 8), "\xff\xfe invalid utf-8",
    "50% off_now", "$1", "?", "?1", ":name", "@p", "\n\r\t", "é漢字🙂"};
}

TEST_CASE("hostile values are bound parameters and never reach the SQL text") {
    for (const auto& v : hostile_values) {
        INFO("value: ", v);
        auto q = from<User>() | where(col(&User::name) == v) | where(like(col(&User::email), v)) |
                 where(col(&User::name).in({v, v + "x"}));
        for (const Dialect* d : {&sqlite(), &postgres()}) {
            auto r = to_sql(q, *d);
            if (v.size() > 2) CHECK(r.sql.find(v) == std::string::npos);  // "$1" and "?" are placeholders
            CHECK(r.params[0].kind == ValueKind::text);
            CHECK(r.params[0].text() == v);  // byte for byte, NULs included
            CHECK(r.params[1].text() == v);
        }
        CHECK(to_sql(q, sqlite()).sql == R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users" WHERE "name" = ? AND "email" LIKE ? ESCAPE '\' AND "name" IN (?, ?))");
        CHECK(to_sql(q, postgres()).sql == R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users" WHERE "name" = $1 AND "email" LIKE $2 ESCAPE '\' AND "name" = ANY($3))");
    }
}

TEST_CASE("hostile values in inserts, updates and upserts are parameters") {
    User u;
    u.name = "Robert'); DROP TABLE students;--";
    u.email = std::string("a\0b", 3);
    for (const Dialect* d : {&sqlite(), &postgres()}) {
        auto ins = to_sql(insert(u) | on_conflict(&User::email).replace(&User::name), *d);
        CHECK(ins.sql.find("Robert") == std::string::npos);
        CHECK(ins.params[0].text() == u.name);
        CHECK(ins.params[1].text() == u.email);
        auto upd = to_sql(update_all(from<User>() | where(col(&User::email) == u.email), set(&User::name, u.name)), *d);
        CHECK(upd.sql.find("Robert") == std::string::npos);
    }
}

TEST_CASE("escape_like makes % and _ and backslash match literally") {
    CHECK(escape_like("100%_\\x") == "100\\%\\_\\\\x");
    CHECK(escape_like("plain") == "plain");
    auto r = to_sql(from<User>() | where(like(col(&User::name), "%" + escape_like("5%_") + "%")), sqlite());
    CHECK(format_params(r.params) == R"('%5\%\_%')");
    CHECK(r.sql.ends_with(R"("name" LIKE ? ESCAPE '\')"));
}

TEST_CASE("identifiers with quotes are quoted with the quote doubled") {
    auto a = alias<User>("we\"ird");
    auto r = to_sql(from(a) | join(alias<User>("x y"), a(&User::id) == alias<User>("x y")(&User::id)) |
                        select(a(&User::name).as("na\"me")),
                    postgres());
    CHECK(r.sql == R"(SELECT "we""ird"."name" AS "na""me" FROM "users" AS "we""ird" INNER JOIN "users" AS "x y" ON "we""ird"."id" = "x y"."id")");
}

TEST_CASE("identifiers that can never be valid are rejected with QueryError") {
    CHECK_THROWS_AS(from(alias<User>("")), QueryError);
    CHECK_THROWS_AS(from(alias<User>(std::string("a\0b", 3))), QueryError);
    CHECK_THROWS_AS(from(alias<User>("\xc3\x28")), QueryError);          // invalid UTF-8
    CHECK_THROWS_AS(from(alias<User>("\xed\xa0\x80")), QueryError);      // a UTF-16 surrogate
    CHECK_THROWS_AS(from(alias<User>("\xc0\xaf")), QueryError);          // overlong '/'
    CHECK_THROWS_AS(from<User>() | select(col(&User::id).as(std::string("x\0", 2))), QueryError);
    CHECK_THROWS_AS(from<User>() | with_cte("", from<User>()), QueryError);
    CHECK_NOTHROW(from(alias<User>("ünïcödé")));
}

TEST_CASE("a column name from a request must exist: no identifier is spliced") {
    CHECK_THROWS_AS(column<User>("name; DROP TABLE users"), QueryError);
    CHECK_THROWS_AS(column<User>("\"name\""), QueryError);
    CHECK_NOTHROW(column<User>("email"));
}

TEST_CASE("a raw fragment must have one ? per argument; ?? is a literal question mark") {
    CHECK_THROWS_AS(raw<bool>("a = ? AND b = ?", 1), QueryError);
    CHECK_THROWS_AS(raw<bool>("a = 1", 1), QueryError);
    auto r = to_sql(from<User>() | where(raw<bool>("? ?? 'x'", col(&User::name))), postgres());
    CHECK(r.sql.ends_with(R"(WHERE "name" ? 'x')"));
    CHECK(r.params.empty());
}

TEST_CASE("negative limits and offsets are rejected") {
    CHECK_THROWS_AS(from<User>() | limit(-1), QueryError);
    CHECK_THROWS_AS(from<User>() | offset(-5), QueryError);
}

TEST_CASE("comparing with an empty std::optional is a QueryError naming is_null, not a filter that matches nothing") {
    const std::optional<int> none, some = 30;
    const std::optional<std::string> no_name;
    CHECK_THROWS_WITH_AS(from<User>() | where(col(&User::age) == none), doctest::Contains("is_null"), QueryError);
    CHECK_THROWS_AS(from<User>() | where(col(&User::age) != none), QueryError);
    CHECK_THROWS_AS(from<User>() | where(none < col(&User::age)), QueryError);
    CHECK_THROWS_AS(from<User>() | where(col(&User::name) == no_name), QueryError);
    CHECK_THROWS_AS(from<User>() | where(between(col(&User::age), none, 40)), QueryError);
    // A present optional binds its value; an optional written into a row still writes NULL.
    CHECK(to_sql(from<User>() | where(col(&User::age) == some), sqlite()).params.size() == 1);
    CHECK(to_sql(from<User>() | where(between(col(&User::age), some, 40)), sqlite()).params.size() == 2);
    CHECK(to_sql(update_all(from<Post>(), set(&Post::body, std::optional<std::string>{})), sqlite()).sql ==
          "UPDATE \"posts\" SET \"body\" = ?");
}

TEST_CASE("window frame offsets are kept whole or refused, never cut to fit") {
    CHECK_THROWS_AS(preceding(-1), QueryError);
    CHECK_THROWS_AS(following(std::int64_t{1} << 32), QueryError);
    const auto widest = std::int64_t{0xffffffff};
    auto q = from<Post>() | select(over(sum(col(&Post::views)), window(window_order(col(&Post::id)))
                                                                    .with_frame(rows_between(preceding(widest), following(65536)))));
    CHECK(to_sql(q, postgres()).sql.find("ROWS BETWEEN 4294967295 PRECEDING AND 65536 FOLLOWING") != std::string::npos);
}

TEST_CASE("a column of a table missing at run time is a QueryError when rendered") {
    // outer() waives the compile-time scope check (for correlated subqueries); render checks.
    auto q = from<User>() | where(raw<bool>("? > 1", outer(column<Post>("views"))));
    CHECK_THROWS_AS(to_sql(q, sqlite()), QueryError);
    auto aliased = from<User>() | where(alias<User>("nobody")(&User::id) == 1) | join<Post>(col(&Post::user_id) == col(&User::id));
    CHECK_THROWS_AS(to_sql(aliased, sqlite()), QueryError);
}

TEST_CASE("a statement over the dialect's parameter limit is a QueryError naming the limit") {
    std::vector<User> many(7000);
    auto stmt = insert_all(many);  // 5 parameters a row: 35,000
    try {
        (void)to_sql(stmt, sqlite());
        FAIL("expected QueryError");
    } catch (const QueryError& e) {
        CHECK(std::string(e.what()).find("32766") != std::string::npos);
    }
    CHECK(to_sql(stmt, postgres()).params.size() == 35000);
    CHECK_THROWS_AS(insert_all(std::vector<User>{}), QueryError);
}

TEST_CASE("unsupported features name the dialect and the feature") {
    try {
        (void)to_sql(from<User>() | for_update(LockWait::skip_locked), sqlite());
        FAIL("expected UnsupportedFeature");
    } catch (const UnsupportedFeature& e) {
        CHECK(e.dialect() == "sqlite");
        CHECK(e.feature().find("FOR UPDATE") != std::string::npos);
    }
    // SQLite has neither INTERSECT ALL nor EXCEPT ALL: refused, not rendered into a syntax error.
    auto ids = from<User>() | select(col(&User::id));
    auto authors = from<Post>() | select(col(&Post::user_id));
    try {
        (void)to_sql(ids | intersect_all(authors), sqlite());
        FAIL("expected UnsupportedFeature");
    } catch (const UnsupportedFeature& e) {
        CHECK(std::string(e.what()) == "sqlite does not support INTERSECT ALL");
    }
    try {
        (void)to_sql(ids | union_(authors) | except_all(authors), sqlite());
        FAIL("expected UnsupportedFeature");
    } catch (const UnsupportedFeature& e) {
        CHECK(e.dialect() == "sqlite");
        CHECK(e.feature() == "EXCEPT ALL");
    }
    CHECK_NOTHROW(to_sql(ids | intersect_all(authors) | except_all(authors), postgres()));
}

TEST_CASE("a subquery whose select does not match its schema is a QueryError") {
    auto bad = from_query<Pair>(from<User>() | select(col(&User::id)));  // one column for a two-column shape
    CHECK_THROWS_AS(to_sql(bad, sqlite()), QueryError);
    auto good = from_query<Pair>(from<User>() | select(col(&User::id), col(&User::id) + 1));
    CHECK(to_sql(good, sqlite()).sql ==
          R"(SELECT "pair"."a", "pair"."b" FROM (SELECT "users"."id" AS "a", "users"."id" + ? AS "b" FROM "users") AS "pair")");
}

TEST_CASE("a column assigned twice in one SET list is a QueryError on both dialects") {
    auto twice = update_all(from<User>(), inc(&User::age, 1)) | also_set(set(&User::age, 0));
    CHECK_THROWS_AS(to_sql(twice, sqlite()), QueryError);
    CHECK_THROWS_AS(to_sql(twice, postgres()), QueryError);
    User u;
    auto upsert_twice = insert(u) | on_conflict(&User::email).do_update(set(&User::name, "a"), set(&User::name, excluded(&User::name)));
    CHECK_THROWS_AS(to_sql(upsert_twice, postgres()), QueryError);
    CHECK_NOTHROW(to_sql(update_all(from<User>(), inc(&User::age, 1)) | also_set(set(&User::name, "x")), postgres()));
}

TEST_CASE("first() on a DISTINCT select that leaves out the key is a QueryError, not SQL PostgreSQL rejects") {
    CHECK_THROWS_AS(to_sql(from<User>() | distinct() | select(col(&User::email)) | first(), postgres()), QueryError);
    CHECK_NOTHROW(to_sql(from<User>() | distinct() | select(col(&User::email)) | order_by(col(&User::email)) | first(), postgres()));
}

TEST_CASE("two sources answering to one name are a QueryError: alias one of them") {
    CHECK_THROWS_AS(to_sql(from<User>() | join<User>(col(&User::id) == col(&User::age)), sqlite()), QueryError);
    CHECK_THROWS_AS(to_sql(from<User>() | join(alias<User>("USERS"), col(&User::id) == alias<User>("USERS")(&User::age)), sqlite()),
                    QueryError);  // SQLite compares names ASCII case-insensitively
    CHECK_NOTHROW(to_sql(from<User>() | join(alias<User>("boss"), col(&User::id) == alias<User>("boss")(&User::age)), sqlite()));
}

TEST_CASE("a plain column of a table present only under two aliases is a QueryError naming both") {
    auto q = from(alias<User>("u")) | join(alias<User>("v"), alias<User>("u")(&User::id) == alias<User>("v")(&User::id)) |
             where(col(&User::age) > 3);
    for (const auto* d : {&sqlite(), &postgres()})
        CHECK_THROWS_WITH_AS(to_sql(q, *d), doctest::Contains("could be u.age or v.age"), QueryError);
    // Named, it is fine; with one alias only, a plain column is that alias's.
    CHECK_NOTHROW(to_sql(from(alias<User>("u")) | join(alias<User>("v"), alias<User>("u")(&User::id) == alias<User>("v")(&User::id)) |
                             where(alias<User>("v")(&User::age) > 3), sqlite()));
    CHECK(to_sql(from(alias<User>("u")) | join<Post>(col(&Post::user_id) == col(&User::id)), sqlite()).sql.find(
              "ON \"posts\".\"user_id\" = \"u\".\"id\"") != std::string::npos);
}

TEST_CASE("several rows with nothing to write cannot be one DEFAULT VALUES statement") {
    CHECK(to_sql(insert(Counter{}), sqlite()).sql == R"(INSERT INTO "counters" DEFAULT VALUES)");
    CHECK_THROWS_AS(to_sql(insert_all(std::vector<Counter>(3)), postgres()), QueryError);
}
