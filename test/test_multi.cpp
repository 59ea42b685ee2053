// SPDX-License-Identifier: MIT
// Multi on SQLite and PostgreSQL: every step kind succeeds and results flow between steps; each
// kind fails in turn, leaving the database as it was, with the step's name and reason; merge,
// append, prepend; names are unique; invalid changesets fail before the transaction.
#include <doctest/doctest.h>

#include <filesystem>

#include <quarry/multi.hpp>

#include "pg_env.hpp"
#include "schema.hpp"

using namespace quarry;

namespace {

User user(const std::string& name) {
    return User{.name = name, .email = name + "@example.com", .age = 30, .active = true, .inserted_at = {}};
}

Changeset<User> signup(const std::string& name, const std::string& email) {
    return cast(User{.id = 0, .name = "", .email = "", .age = 30, .active = true, .inserted_at = {}}, {{"name", name}, {"email", email}}, &User::name, &User::email) |
           validate_required(&User::name, &User::email) | unique_constraint(&User::email);
}

// The rows of both tables, for "the database is unchanged".
std::pair<std::int64_t, std::int64_t> rows(Repo& repo) { return {repo.count(from<User>()), repo.count(from<Post>())}; }

void check_multi(Repo& repo) {
    repo.execute(delete_all(from<Post>()));
    repo.execute(delete_all(from<User>()));
    const User existing = repo.insert(user("existing"));

    SUBCASE("every kind of step, results flowing from one to the next") {
        const auto workflow = Multi()                                                                  //
                              | multi::insert("ada", signup("Ada", "ada@example.com"))               //
                              | multi::insert("post", [](const multi::Results& r) {                   // built from "ada"
                                    return Post{.user_id = r.get<User>("ada").id, .title = "hello", .body = {}, .views = 1};
                                })                                                                     //
                              | multi::update("renamed", [](const multi::Results& r) {
                                    return change(r.get<User>("ada")).change(&User::name, std::string("Ada L."));
                                })                                                                     //
                              | multi::insert_all("more", std::vector<User>{user("b"), user("c")})    //
                              | multi::update_all("aged", from<User>() | where(col(&User::name) == "b"), set(&User::age, 31))  //
                              | multi::one("b", from<User>() | where(col(&User::name) == "b"))        //
                              | multi::all("everyone", from<User>() | order_by(col(&User::id)))      //
                              | multi::exists("has_posts", from<Post>())                               //
                              | multi::put("answer", 42)                                               //
                              | multi::run("count", [](Repo& r, const multi::Results& res) {
                                    return r.count(from<User>()) + res.get<int>("answer");
                                })                                                                     //
                              | multi::delete_all("gone", from<User>() | where(col(&User::name) == "c"))  //
                              | multi::remove("unposted", [](const multi::Results& r) { return r.get<Post>("post"); });
        CHECK(workflow.size() == 12);
        auto out = repo.transaction(workflow);
        REQUIRE_MESSAGE(out.ok(), out.describe());
        const auto& r = out.results();
        CHECK(r.names() == workflow.names());
        CHECK(r.get<User>("ada").email == "ada@example.com");
        CHECK(r.get<User>("renamed").name == "Ada L.");
        CHECK(r.get<std::int64_t>("more") == 2);
        CHECK(r.get<std::int64_t>("aged") == 1);
        CHECK(r.get<User>("b").age == 31);
        CHECK(r.get<std::vector<User>>("everyone").size() == 4);
        CHECK(r.get<bool>("has_posts"));
        CHECK(r.get<std::int64_t>("count") == 4 + 42);
        CHECK(r.get<std::int64_t>("gone") == 1);
        CHECK(r.get<Post>("unposted").title == "hello");
        CHECK(out.describe() == "all 12 steps done");
        // Committed.
        CHECK(rows(repo) == std::pair<std::int64_t, std::int64_t>{3, 0});
        CHECK(repo.get<User>(r.get<User>("ada").id)->name == "Ada L.");
        // A wrong type or a missing name is a QueryError naming the step.
        CHECK_THROWS_WITH_AS(r.get<int>("ada"), "multi: the result of step \"ada\" is User, not int", QueryError);
        CHECK_THROWS_AS(r.get<User>("nobody"), QueryError);
    }

    SUBCASE("each kind of step fails in turn: the database is unchanged, the report names the step") {
        const auto before = rows(repo);
        const auto first = Multi() | multi::insert("first", user("first")) | multi::put("note", std::string("kept"));
        struct Case {
            const char* name;
            Multi failing;
            std::string kind;
        };
        const std::vector<Case> cases = {
            {"insert, unique constraint", Multi() | multi::insert("x", signup("Dup", existing.email)), "insert"},
            {"insert, invalid before the transaction", Multi() | multi::insert("x", signup("", "")), "insert"},
            {"update of a missing row", Multi() | multi::update("x", User{.id = existing.id + 1000, .name = "n", .email = "n@x"}), "update"},
            {"delete of a missing row", Multi() | multi::remove("x", User{.id = existing.id + 1000, .name = "", .email = "", .age = 0, .active = false, .inserted_at = {}}), "delete"},
            {"insert_all with a duplicate", Multi() | multi::insert_all("x", std::vector<User>{user("u1"), user("existing")}), "insert_all"},
            {"update_all breaking a constraint", Multi() | multi::update_all("x", from<User>(), set(&User::email, std::string("same@x"))),
             "update_all"},
            {"one without a row", Multi() | multi::one("x", from<User>() | where(col(&User::name) == "nobody")), "one"},
            {"run that throws", Multi() | multi::run("x", [](Repo&, const multi::Results&) -> int { throw std::runtime_error("boom"); }), "run"},
            {"run that fails", Multi() | multi::run("x", [](Repo&, const multi::Results&) -> int { multi::fail(std::string("no stock")); }), "run"},
            {"error", Multi() | multi::error("x", std::string("forced")), "error"},
        };
        for (const auto& c : cases) {
            const std::string name = c.name;
            CAPTURE(name);
            auto out = repo.transaction(first.append(c.failing));
            INFO(out.describe());
            REQUIRE_FALSE(out.ok());
            CHECK(out.failed_step() == "x");
            CHECK(out.describe().find("step \"x\" (" + c.kind + ") failed") == 0);
            CHECK(rows(repo) == before);  // rolled back
            const bool precheck = std::string(c.name).find("before the transaction") != std::string::npos;
            // The steps before it, done and rolled back (none ran for an invalid changeset).
            CHECK(out.results().size() == (precheck ? 0u : 2u));
            if (!precheck) CHECK(out.results().get<std::string>("note") == "kept");
        }
        auto invalid = repo.transaction(Multi() | multi::insert("x", signup("Dup", existing.email)));
        REQUIRE(invalid.changeset<User>() != nullptr);
        CHECK(invalid.errors().at(0).field == "email");  // the constraint became a field error
        CHECK(invalid.changeset<User>()->errors().at(0).validation == "unique");
        auto forced = repo.transaction(Multi() | multi::error("x", std::string("forced")));
        CHECK(std::any_cast<std::string>(forced.error_value()) == "forced");
        auto thrown = repo.transaction(Multi() | multi::one("x", from<User>() | where(col(&User::name) == "nobody")));
        CHECK_THROWS_AS(std::rethrow_exception(thrown.exception()), NoResults);
    }

    SUBCASE("merge: steps built from the results so far; append and prepend; names are unique") {
        const auto make_posts = [](Repo&, const multi::Results& r) {
            Multi more;
            for (int i = 0; i < r.get<int>("how_many"); ++i)
                more = more | multi::insert("post" + std::to_string(i), Post{.user_id = r.get<User>("author").id, .title = "p" + std::to_string(i), .body = {}});
            return more;
        };
        const auto head = Multi() | multi::put("how_many", 3) | multi::insert("author", user("author"));
        const auto tail = Multi() | multi::merge("posts", make_posts) | multi::run("total", [](Repo& r, const multi::Results&) {
                              return r.count(from<Post>());
                          });
        auto out = repo.transaction(head.append(tail));
        REQUIRE_MESSAGE(out.ok(), out.describe());
        CHECK(out.results().get<std::int64_t>("total") == 3);
        CHECK(out.results().get<Post>("post2").title == "p2");
        CHECK(tail.prepend(head).names() == head.append(tail).names());
        CHECK(head.append(tail).describe().starts_with("1. put how_many\n2. insert author (users)\n3. merge posts\n"));
        // Duplicate names: when the workflow is built, and when a merge brings one in.
        CHECK_THROWS_AS(head | multi::put("author", 1), QueryError);
        CHECK_THROWS_AS(head.append(head), QueryError);
        const auto clash = Multi() | multi::put("author", 1) |
                           multi::merge("again", [](Repo&, const multi::Results&) { return Multi() | multi::put("author", 0); });
        const auto before = rows(repo);
        auto failed = repo.transaction(clash);
        CHECK_FALSE(failed.ok());
        CHECK(failed.failed_step() == "author");  // the merged step that reused the name
        INFO(failed.describe());
        CHECK(failed.describe().find("two steps are named \"author\"") != std::string::npos);
        CHECK(rows(repo) == before);
        // A persistent value: building on `head` left it as it was.
        CHECK(head.size() == 2);
    }

    SUBCASE("with retries, a transient error in a step runs the workflow again from the start; when they run out it names the step") {
        int attempts = 0;
        const auto flaky = Multi() | multi::insert("row", user("retried")) |
                           multi::run("flaky", [&attempts](Repo&, const multi::Results& r) {
                               if (++attempts < 3) throw SerializationFailure("could not serialize (test)", "", "40001");
                               return r.size();
                           });
        auto out = repo.transaction(flaky, {.retries = 5});
        REQUIRE_MESSAGE(out.ok(), out.describe());
        CHECK(attempts == 3);
        CHECK(out.results().get<std::size_t>("flaky") == 1);  // only this attempt's results
        CHECK(repo.count(from<User>() | where(col(&User::name) == "retried")) == 1);  // the earlier attempts rolled back
        attempts = -100;  // never succeeds within 2 retries
        const auto again = Multi() | multi::insert("row", user("retried again")) | multi::merge("rest", [&](Repo&, const multi::Results&) {
                               return Multi() | multi::run("flaky", [&attempts](Repo&, const multi::Results&) -> int {
                                          if (++attempts < 3) throw SerializationFailure("could not serialize (test)", "", "40001");
                                          return 0;
                                      });
                           });
        auto exhausted = repo.transaction(again, {.retries = 2});
        CHECK_FALSE(exhausted.ok());
        CHECK(exhausted.failed_step() == "flaky");
        CHECK_THROWS_AS(std::rethrow_exception(exhausted.exception()), SerializationFailure);
        CHECK(repo.count(from<User>() | where(col(&User::name) == "retried again")) == 0);
    }

    SUBCASE("inside a transaction a workflow is a savepoint: its failure leaves the outer transaction usable") {
        repo.transaction([&](Repo& tx) {
            tx.insert(user("outer"));
            auto out = tx.transaction(Multi() | multi::insert("x", user("inner")) | multi::error("stop", 1));
            CHECK_FALSE(out.ok());
            CHECK(tx.count(from<User>() | where(col(&User::name) == "inner")) == 0);
            CHECK(tx.count(from<User>() | where(col(&User::name) == "outer")) == 1);
        });
        CHECK(repo.count(from<User>() | where(col(&User::name) == "outer")) == 1);
    }
}

}  // namespace

TEST_CASE("Multi on SQLite") {
    const auto path = std::filesystem::temp_directory_path() / ("quarry_multi_" + std::to_string(::getpid()) + ".db");
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + ext);
    {
        Repo repo("sqlite:" + path.string());
        repo.session().connection().execute(canonical_schema_sqlite);
        check_multi(repo);
    }
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + ext);
}

TEST_CASE("Multi on PostgreSQL") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgScratch scratch(*conninfo, canonical_schema_postgres);
    Repo repo(*conninfo);
    repo.session().connection().execute("SET search_path TO " + scratch.schema());
    check_multi(repo);
}
