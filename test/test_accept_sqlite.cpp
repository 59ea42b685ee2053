// SPDX-License-Identifier: MIT
// Every golden statement is accepted by a real SQLite: prepared against the canonical schema,
// with exactly as many parameters as quarry rendered.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include "schema.hpp"
#include "support.hpp"

namespace {

struct Db {
    sqlite3* db = nullptr;
    Db() {
        REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
        char* err = nullptr;
        REQUIRE_MESSAGE(sqlite3_exec(db, canonical_schema_sqlite, nullptr, nullptr, &err) == SQLITE_OK, (err ? err : ""));
    }
    ~Db() { sqlite3_close(db); }
};

}  // namespace

TEST_CASE("SQLite prepares every golden statement with the rendered parameter count") {
    Db db;
    int prepared = 0;
    for (const auto& c : golden_cases()) {
        if (c.sqlite.sql.starts_with("!")) continue;
        INFO("case: ", c.name);
        auto r = quarry::core::render(c.build(), quarry::sqlite());
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v2(db.db, r.sql.c_str(), static_cast<int>(r.sql.size()), &stmt, nullptr);
        CHECK_MESSAGE(rc == SQLITE_OK, sqlite3_errmsg(db.db), "\n", r.sql);
        if (rc == SQLITE_OK) {
            CHECK(sqlite3_bind_parameter_count(stmt) == static_cast<int>(r.params.size()));
            ++prepared;
        }
        sqlite3_finalize(stmt);
    }
    CHECK(prepared >= 75);
}

// Behaviour, not text: what the rendered statements return from a few rows.
namespace {

using namespace quarry;

// Users 1-4 aged 10, 20, 30, 40; user 1 wrote two posts and user 2 one.
struct Rows : Db {
    Rows() {
        char* err = nullptr;
        REQUIRE_MESSAGE(sqlite3_exec(db,
                                     "INSERT INTO users VALUES (1, 'a', 'a@x', 10, 1, ''), (2, 'b', 'b@x', 20, 1, ''), "
                                     "(3, 'c', 'c@x', 30, 0, ''), (4, 'd', 'd@x', 40, 0, '');"
                                     "INSERT INTO posts VALUES (1, 1, 't', NULL, 1, 5, ''), (2, 1, 't', NULL, 0, 7, ''), "
                                     "(3, 2, 't', NULL, 1, 9, '');",
                                     nullptr, nullptr, &err) == SQLITE_OK,
                        (err ? err : ""));
    }
    // The first column of every row, in the order returned.
    template <class Q>
    std::vector<std::int64_t> column(const Q& q) {
        auto r = to_sql(q, sqlite());
        INFO(r.sql);
        sqlite3_stmt* stmt = nullptr;
        REQUIRE_MESSAGE(sqlite3_prepare_v2(db, r.sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK, sqlite3_errmsg(db));
        for (std::size_t k = 0; k < r.params.size(); ++k) {
            const Value& v = r.params[k];
            const int at = static_cast<int>(k + 1);
            if (v.kind == ValueKind::integer || v.kind == ValueKind::boolean) sqlite3_bind_int64(stmt, at, v.i);
            else if (v.kind == ValueKind::text) sqlite3_bind_text(stmt, at, v.s, static_cast<int>(v.size), SQLITE_TRANSIENT);
            else FAIL("no binding for this parameter kind in the test");
        }
        std::vector<std::int64_t> out;
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(sqlite3_column_int64(stmt, 0));
        CHECK_MESSAGE(rc == SQLITE_DONE, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return out;
    }
};

using ids = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("a raw fragment keeps its own meaning as the operand of a tighter operator") {
    Rows db;
    auto users = from<User>() | order_by(col(&User::id));
    CHECK(db.column(users | select(raw<int>("? + 1", col(&User::age)) * 2)) == ids{22, 42, 62, 82});
    auto one_or_two = raw<bool>("? = 1 OR ? = 2", col(&User::id), col(&User::id));
    CHECK(db.column(users | where(one_or_two) | where(col(&User::age) > 15) | select(col(&User::id))) == ids{2});
    CHECK(db.column(users | where(!one_or_two) | select(col(&User::id))) == ids{3, 4});
}

TEST_CASE("where(true) or an empty filter before or_where keeps every row: TRUE OR x is TRUE") {
    Rows db;
    auto users = from<User>() | order_by(col(&User::id));
    const ids all{1, 2, 3, 4};
    CHECK(db.column(users | where(true) | or_where(col(&User::id) == 1) | select(col(&User::id))) == all);
    CHECK(db.column(users | where(filter<User>{}) | or_where(col(&User::id) == 1) | select(col(&User::id))) == all);
    // TRUE AND x is x, and an OR after that is an ordinary OR.
    CHECK(db.column(users | where(true) | where(col(&User::id) == 1) | or_where(col(&User::id) == 4) |
                    select(col(&User::id))) == ids{1, 4});
    // Without where(true), or_where is the first condition (documented).
    CHECK(db.column(users | or_where(col(&User::id) == 1) | select(col(&User::id))) == ids{1});
    // having composes the same way.
    auto per_user = from<Post>() | group_by(col(&Post::user_id)) | order_by(col(&Post::user_id));
    CHECK(db.column(per_user | having(filter<Post>{}) | or_having(count() > 1) | select(col(&Post::user_id))) == ids{1, 2});
}

TEST_CASE("set operations apply in pipe order on SQLite") {
    Rows db;
    auto id_is = [](std::int64_t n) { return from<User>() | where(col(&User::id) == n) | select(col(&User::id)); };
    auto two_or_three = from<User>() | where(col(&User::id) == 2 || col(&User::id) == 3) | select(col(&User::id));
    // (1 ∪ 2) ∩ {2, 3} = {2}; read as 1 ∪ (2 ∩ {2, 3}) it would be {1, 2}.
    CHECK(db.column(id_is(1) | union_(id_is(2)) | intersect(two_or_three) | order_by(col(&User::id))) == ids{2});
    // ({2, 3} ∩ 2) ∪ 1 = {1, 2}.
    CHECK(db.column(two_or_three | intersect(id_is(2)) | union_(id_is(1)) | order_by(col(&User::id))) == ids{1, 2});
}
