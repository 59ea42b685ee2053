// SPDX-License-Identifier: MIT
// DESIGN §3: composition semantics, persistence and shape keys.
#include <doctest/doctest.h>

#include <set>
#include <unordered_map>

#include "schema.hpp"
#include "support.hpp"

using namespace quarry;

namespace {
std::string sql(const auto& q, const Dialect& d = sqlite()) { return to_sql(q, d).sql; }
std::string params(const auto& q, const Dialect& d = sqlite()) { return format_params(to_sql(q, d).params); }
const std::string all_users = R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users")";
}  // namespace

TEST_CASE("piping never mutates: 1,000 refinements leave the base value's SQL unchanged") {
    auto base = from<User>() | where(col(&User::active) == true);
    const auto before = to_sql(base, postgres());
    std::vector<Query<User>> derived;
    for (int i = 0; i < 1000; ++i) derived.push_back(base | where(col(&User::age) > i) | limit(i + 1));
    const auto after = to_sql(base, postgres());
    CHECK(after.sql == before.sql);
    CHECK(format_params(after.params) == "true");
    for (int i = 0; i < 1000; i += 97) {
        auto r = to_sql(derived[i], postgres());
        CHECK(format_params(r.params) == "true, " + std::to_string(i) + ", " + std::to_string(i + 1));
    }
}

TEST_CASE("a refinement shares its base: one new node per pipe, pointing at the base") {
    auto base = from<User>() | where(col(&User::active) == true);
    auto refined = base | limit(3);
    CHECK(refined.node()->parent == base.node().get());
    CHECK(from<User>().node().get() == from<User>().node().get());  // one shared root per schema
}

TEST_CASE("a pipe that writes into its base's storage does so only when nobody else can see the base") {
    auto base = from<User>() | where(col(&User::name) == std::string("ada"));
    const auto copy = base;                                    // a second owner
    const auto rendered = to_sql(base, postgres());            // a third (it keeps the value alive)
    auto refined = std::move(base) | where(col(&User::age) > 3) | limit(2);
    CHECK(sql(copy) == all_users + R"( WHERE "name" = ?)");
    CHECK(rendered.sql == all_users + R"( WHERE "name" = $1)");
    CHECK(rendered.params[0].text() == "ada");
    CHECK(sql(refined) == all_users + R"( WHERE "name" = ? AND "age" > ? LIMIT ?)");
    // A unique value refined in place keeps every earlier node intact for what was rendered.
    auto unique = from<User>() | where(col(&User::name) == std::string("grace"));
    std::vector<Value> ps;
    core::render_into(*unique.node(), sqlite(), nullptr, ps);
    auto longer = std::move(unique) | order_by(col(&User::id)) | limit(1);
    CHECK(ps[0].text() == "grace");
    CHECK(params(longer) == "'grace', 1");
}

TEST_CASE("a query value is one stable type that library code can take and return") {
    auto adults = [](Query<User> q) -> Query<User> { return q | where(col(&User::age) >= 18); };
    auto recent = [](Query<User> q) -> Query<User> { return q | order_by(desc(col(&User::inserted_at))) | limit(10); };
    auto q = recent(adults(from<User>() | where(col(&User::active) == true)));
    CHECK(sql(q) == all_users + R"( WHERE "active" = ? AND "age" >= ? ORDER BY "inserted_at" DESC LIMIT ?)");
}

TEST_CASE("where is AND-ed and or_where is OR-ed against everything before it") {
    auto q = from<User>() | where(col(&User::age) > 1) | where(col(&User::age) < 9) | or_where(col(&User::name) == "a") |
             where(col(&User::active) == true);
    CHECK(sql(q) == all_users + R"( WHERE (("age" > ? AND "age" < ?) OR "name" = ?) AND "active" = ?)");
}

TEST_CASE("having and or_having compose like where") {
    auto q = from<Post>() | group_by(col(&Post::user_id)) | having(count() > 1) | or_having(sum(col(&Post::views)) > 100) |
             select(col(&Post::user_id));
    CHECK(sql(q) == R"(SELECT "user_id" FROM "posts" GROUP BY "user_id" HAVING COUNT(*) > ? OR SUM("views") > ?)");
}

TEST_CASE("order_by, group_by and joins append; prepend_order_by goes first") {
    auto q = from<Post>() | order_by(col(&Post::id)) | group_by(col(&Post::id)) | group_by(col(&Post::title)) |
             order_by(desc(col(&Post::views))) | prepend_order_by(col(&Post::title)) | select(col(&Post::id));
    CHECK(sql(q) == R"(SELECT "id" FROM "posts" GROUP BY "id", "title" ORDER BY "title" ASC, "id" ASC, "views" DESC)");
}

TEST_CASE("limit, offset and lock are replaced: the last one wins") {
    auto q = from<User>() | limit(1) | offset(2) | for_share() | limit(3) | offset(4) | for_update(LockWait::nowait);
    CHECK(sql(q, postgres()) == all_users + " LIMIT $1 OFFSET $2 FOR UPDATE NOWAIT");
    CHECK(params(q, postgres()) == "3, 4");
}

TEST_CASE("distinct applied twice is still one DISTINCT") {
    auto q = from<User>() | distinct() | select(col(&User::name)) | distinct();
    CHECK(sql(q) == R"(SELECT DISTINCT "name" FROM "users")");
}

TEST_CASE("exclude resets each clause") {
    auto q = from<User>() | where(col(&User::age) > 1) | group_by(col(&User::age)) | having(count() > 1) |
             order_by(col(&User::id)) | limit(1) | offset(1) | distinct() | for_update();
    auto cleared = q | exclude<clause::where>() | exclude<clause::group_by>() | exclude<clause::having>() |
                   exclude<clause::order_by>() | exclude<clause::limit>() | exclude<clause::offset>() |
                   exclude<clause::distinct>() | exclude<clause::lock>();
    CHECK(sql(cleared, postgres()) == all_users);
}

TEST_CASE("parameters are numbered in the clause order of the SQL, not in call order") {
    auto q = from<User>() | limit(5) | where(col(&User::age) > 20) | order_by(desc(col(&User::age) * 3)) |
             select(as(col(&User::age) + 100, "a")) | offset(9);
    CHECK(sql(q, postgres()) ==
          R"(SELECT "age" + $1 AS "a" FROM "users" WHERE "age" > $2 ORDER BY "age" * $3 DESC LIMIT $4 OFFSET $5)");
    CHECK(params(q, postgres()) == "100, 20, 3, 5, 9");
}

TEST_CASE("a CTE in the WITH clause is numbered before the SELECT list") {
    struct Cte {};
    auto body = from<User>() | where(col(&User::age) > 50) | select(col(&User::id));
    auto q = from<User>() | where(col(&User::age) < 10) | with_cte("old", body) | select(as(col(&User::age) + 1, "n"));
    CHECK(params(q, postgres()) == "50, 1, 10");
}

TEST_CASE("one value renders to every dialect") {
    auto q = from<User>() | where(col(&User::active) == true) | where(col(&User::id).in({1, 2}));
    CHECK(sql(q, sqlite()) == all_users + R"( WHERE "active" = ? AND "id" IN (?, ?))");
    CHECK(sql(q, postgres()) == all_users + R"( WHERE "active" = $1 AND "id" = ANY($2))");
}

TEST_CASE("the same shape with other values has the same shape key") {
    auto make = [](int age, std::string name, int n) {
        return from<User>() | where(col(&User::age) > age) | where(col(&User::name) == name) | limit(n);
    };
    CHECK(make(1, "a", 3).shape() == make(99, "zzz", 1).shape());
    CHECK(make(1, "a", 3).shape() != (make(1, "a", 3) | offset(1)).shape());
    CHECK((from<User>() | where(col(&User::age) > 1)).shape() != (from<User>() | where(col(&User::age) < 1)).shape());
    CHECK((from<User>() | where(col(&User::age) > 1)).shape() != (from<User>() | where(col(&User::id) > 1)).shape());
    CHECK((from<User>() | order_by(col(&User::age))).shape() != (from<User>() | order_by(desc(col(&User::age)))).shape());
}

TEST_CASE("a clause built in two passes and the same clause built through a Lowerer get the same keys") {
    // Typed pipes count and then write their node; the Repo's run-time statements go through a
    // Lowerer. One set of rules (core::ShapeKey) serves both, so equal SQL gives equal keys.
    auto e = (like(col(&User::name), "a%") || col(&User::email) == std::string("x")) &&
             in(col(&User::id), std::vector<std::int64_t>{1, 2, 3}) && col(&User::age) > 3;
    auto base = from<User>();
    auto typed = base | where(e);
    core::Lowerer l;
    e.lower(l);
    l.end_expr();
    const core::NodePtr lowered = l.finish(core::Clause::where, base.node());
    CHECK(lowered->shape == typed.node()->shape);
    CHECK(lowered->lengths == typed.node()->lengths);
    CHECK(core::cache_key(*lowered, sqlite()) == core::cache_key(*typed.node(), sqlite()));
    CHECK(to_sql(typed, postgres()).sql == to_sql(Query<User>(lowered), postgres()).sql);

    // The other routes: a column of an aliased source, a raw fragment's text, a blob value, a
    // subquery, and a select-list alias.
    auto u = alias<User>("u");
    auto posters = from<Post>() | where(col(&Post::views) > 1) | select(col(&Post::user_id));
    auto e2 = in(u(&User::id), posters) &&
              raw<bool>("length(?) > length(?)", u(&User::name), std::vector<std::byte>{std::byte{1}, std::byte{0}});
    auto base2 = from(u);
    auto typed2 = base2 | where(e2) | select(u(&User::name).as("who"));
    core::Lowerer lw;
    e2.lower(lw);
    lw.end_expr();
    core::NodePtr lowered2 = lw.finish(core::Clause::where, base2.node());
    core::Lowerer ls;
    u(&User::name).as("who").lower(ls);
    ls.end_expr();
    lowered2 = ls.finish(core::Clause::select, lowered2);
    CHECK(lowered2->shape == typed2.node()->shape);
    CHECK(lowered2->lengths == typed2.node()->lengths);
    for (const Dialect* d : {&sqlite(), &postgres()}) {
        CHECK(core::cache_key(*lowered2, *d) == core::cache_key(*typed2.node(), *d));
        CHECK(core::render(lowered2, *d).sql == core::render(typed2.node(), *d).sql);
    }
}

TEST_CASE("IN-list lengths change the SQLite key but not the PostgreSQL key") {
    auto a = from<User>() | where(col(&User::id).in({1, 2}));
    auto b = from<User>() | where(col(&User::id).in({1, 2, 3}));
    auto c = from<User>() | where(col(&User::id).in({7, 8}));
    CHECK(core::cache_key(*a.node(), sqlite()) != core::cache_key(*b.node(), sqlite()));
    CHECK(core::cache_key(*a.node(), sqlite()) == core::cache_key(*c.node(), sqlite()));
    CHECK(core::cache_key(*a.node(), postgres()) == core::cache_key(*b.node(), postgres()));
}

TEST_CASE("a parameter plan replays other values of its shape, IN lists and subqueries included") {
    auto make = [](int age, std::vector<std::int64_t> ids, std::string name) {
        auto sub = from<Post>() | where(col(&Post::title) == name) | select(col(&Post::user_id));
        return from<User>() | where(in(col(&User::id), ids)) | where(col(&User::age) > age) |
               where(in(col(&User::id), sub)) | order_by(col(&User::name)) | limit(age);
    };
    for (const Dialect* d : {&sqlite(), &postgres()}) {
        INFO(d->name());
        auto first = make(30, {1, 2, 3}, "x");
        core::ParamPlan plan;
        std::vector<Value> ignored;
        core::render_into(*first.node(), *d, nullptr, ignored, &plan);
        REQUIRE(plan.usable);
        // Same shape on both dialects when the list has the same length; on PostgreSQL any length.
        for (auto second : {make(41, {7, 8, 9}, "long title"), make(5, {4, 5, 6}, "")}) {
            REQUIRE(core::cache_key(*second.node(), *d) == core::cache_key(*first.node(), *d));
            std::vector<Value> replayed;
            REQUIRE(core::collect_params(*second.node(), plan, replayed));
            CHECK(format_params(replayed) == params(second, *d));
        }
        if (d == &postgres()) {
            auto longer = make(1, {1, 2, 3, 4, 5, 6, 7}, "y");
            std::vector<Value> replayed;
            REQUIRE(core::collect_params(*longer.node(), plan, replayed));
            CHECK(format_params(replayed) == params(longer, *d));
        }
    }
}

TEST_CASE("a value that reaches one node twice gets no usable plan, and collects nothing from it") {
    auto base = from<User>() | where(col(&User::age) > 18);
    auto q = base | where(exists(base | select(col(&User::id))));
    core::ParamPlan plan;
    std::vector<Value> full;
    core::render_into(*q.node(), sqlite(), nullptr, full, &plan);
    CHECK(full.size() == 2);
    CHECK_FALSE(plan.usable);
    std::vector<Value> replayed;
    CHECK_FALSE(core::collect_params(*q.node(), plan, replayed));
    CHECK(replayed.empty());
}

TEST_CASE("no two golden statements with different SQL share a cache key") {
    for (const Dialect* d : {&sqlite(), &postgres()}) {
        std::unordered_map<std::uint64_t, std::string> seen;
        for (const auto& c : golden_cases()) {
            auto node = c.build();
            std::string text;
            try {
                text = core::render(node, *d).sql;
            } catch (const QueryError&) {
                continue;
            }
            auto key = core::cache_key(*node, *d);
            CHECK(key == core::cache_key(*c.build(), *d));  // deterministic
            auto [it, fresh] = seen.emplace(key, text);
            INFO("case: ", c.name);
            CHECK((fresh || it->second == text));
        }
    }
}

TEST_CASE("a second select after exclude<clause::select> replaces the row type") {
    auto q = from<User>() | select(col(&User::id)) | exclude<clause::select>() | select(col(&User::name), col(&User::age));
    static_assert(std::is_same_v<decltype(q)::row_type, std::tuple<std::string, int>>);
    CHECK(sql(q) == R"(SELECT "name", "age" FROM "users")");
}

TEST_CASE("select of a struct types the rows as that struct") {
    struct Summary {
        std::string name;
        std::int64_t posts;
    };
    auto q = from<User>() | join<Post>(col(&Post::user_id) == col(&User::id)) | group_by(col(&User::name)) |
             select_as<Summary>(col(&User::name), count(col(&Post::id)));
    static_assert(std::is_same_v<decltype(q)::row_type, Summary>);
    CHECK(sql(q) == R"(SELECT "users"."name", COUNT("posts"."id") FROM "users" INNER JOIN "posts" ON "posts"."user_id" = "users"."id" GROUP BY "users"."name")");
}

TEST_CASE("a search form with optional fields builds its filter and ordering at run time") {
    struct Form {
        std::optional<std::string> name;
        std::optional<int> min_age;
        std::optional<std::string> sort;
    };
    auto search = [](const Form& f) {
        filter<User> where_;
        if (f.name) where_ &= like(col(&User::name), escape_like(*f.name) + "%");
        if (f.min_age) where_ &= col(&User::age) >= *f.min_age;
        ordering<User> order;
        if (f.sort) order.then(asc(column<User>(*f.sort)));
        return from<User>() | where(where_) | order | limit(20);
    };
    CHECK(sql(search({})) == all_users + " LIMIT ?");
    CHECK(sql(search({"a_b", 30, "email"})) ==
          all_users + R"( WHERE "name" LIKE ? ESCAPE '\' AND "age" >= ? ORDER BY "email" ASC LIMIT ?)");
    CHECK(params(search({"a_b", 30, "email"})) == R"('a\_b%', 30, 20)");
    CHECK_THROWS_AS(search({std::nullopt, std::nullopt, std::string("password; DROP TABLE users")}), QueryError);
}

TEST_CASE("filters can be OR-ed and nested inside other expressions") {
    filter<User> f;
    f |= col(&User::age) < 10;
    f |= col(&User::age) > 90;
    auto q = from<User>() | where(f && col(&User::active) == true);
    CHECK(sql(q) == all_users + R"( WHERE ("age" < ? OR "age" > ?) AND "active" = ?)");
}

TEST_CASE("the printer shows structure with explicit parentheses") {
    auto q = from<User>() | where((col(&User::age) < 10 || col(&User::age) > 90) && col(&User::active) == true) | limit(5);
    CHECK(describe(q) == "from \"users\"\n"
                         "| where ((\"users\".\"age\" < $1) OR (\"users\".\"age\" > $2)) AND (\"users\".\"active\" = $3)\n"
                         "| limit $4\n"
                         "-- params: $1 = 10::integer, $2 = 90::integer, $3 = true::boolean, $4 = 5::integer");
}

TEST_CASE("an AND group OR-ed with a later or_where gets explicit parentheses") {
    auto q = from<User>() | where(col(&User::age) > 1 && col(&User::active) == true) | or_where(col(&User::id) == 3);
    CHECK(sql(q) == all_users + R"( WHERE ("age" > ? AND "active" = ?) OR "id" = ?)");
    auto r = from<User>() | where(col(&User::age) > 1) | where(col(&User::id) > 2 && col(&User::id) < 9);
    CHECK(sql(r) == all_users + R"( WHERE "age" > ? AND "id" > ? AND "id" < ?)");
}

TEST_CASE("a correlated subquery on the same table needs an alias, and works with one") {
    auto shadowed = from<Post>() | where(col(&Post::views) == subquery(from<Post>() | where(col(&Post::user_id) == outer(col(&Post::user_id))) |
                                                                         select(max(col(&Post::views)))));
    CHECK_THROWS_AS(to_sql(shadowed, sqlite()), QueryError);
    auto o = alias<Post>("o");
    auto best = from(o) | where(o(&Post::views) == subquery(from<Post>() | where(col(&Post::user_id) == outer(o(&Post::user_id))) |
                                                            select(max(col(&Post::views)))));
    CHECK(sql(best, postgres()) ==
          R"(SELECT "o"."id", "o"."user_id", "o"."title", "o"."body", "o"."published", "o"."views", "o"."inserted_at" FROM "posts" AS "o" WHERE "o"."views" = (SELECT MAX("posts"."views") FROM "posts" WHERE "posts"."user_id" = "o"."user_id"))");
    CHECK_THROWS_AS(to_sql(from<User>() | where(raw<bool>("? > 0", outer(col(&User::age)))), sqlite()), QueryError);
}

TEST_CASE("a run-time filter of 200,000 terms and a chain of 200,000 pipes render without deep recursion") {
    // Column-to-column terms: 200,000 parameters would exceed every dialect's limit.
    filter<User> f;
    for (int i = 0; i < 200000; ++i) f |= col(&User::age) == col(&User::id);
    auto r = to_sql(from<User>() | where(f), postgres());
    CHECK(r.sql.size() > 200000 * 15);
    CHECK(r.sql.find("(") == std::string::npos);  // one flat OR chain
    auto q = from<User>() | where(col(&User::age) == 1);
    for (int i = 0; i < 200000; ++i) q = q | where(col(&User::age) != col(&User::id));
    auto r2 = to_sql(q, postgres());
    CHECK(r2.params.size() == 1);
    CHECK(r2.sql.ends_with(R"("age" <> "id" AND "age" <> "id")"));
}

TEST_CASE("expressions nested beyond the depth limit are a QueryError, not a stack overflow") {
    filter<User> f;
    f &= col(&User::age) > 1;
    for (int i = 0; i < 2500; ++i) {
        filter<User> g;
        g &= !f;
        f = g;
    }
    CHECK_THROWS_AS(to_sql(from<User>() | where(f), sqlite()), QueryError);
}
