// SPDX-License-Identifier: MIT
// Golden statements: expected SQL text and parameters per dialect, side by side. The same list
// is prepared by a real SQLite and a real PostgreSQL in the acceptance tests.
#include <tuple>

#include "schema.hpp"
#include "support.hpp"

using namespace quarry;

namespace {

// A CTE / subquery shape: its table name is the CTE's name.
struct ActiveUser {
    std::int64_t id = 0;
    std::string name;
};
struct Tree {
    std::int64_t id = 0;
};
struct PostStats {
    std::int64_t user_id = 0;
    std::int64_t posts = 0;
};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(ActiveUser, id, name);
QUARRY_TABLE(ActiveUser, "active_users");
BOOST_HANA_ADAPT_STRUCT(Tree, id);
QUARRY_TABLE(Tree, "tree");
BOOST_HANA_ADAPT_STRUCT(PostStats, user_id, posts);
QUARRY_TABLE(PostStats, "post_stats");

// A schema whose field names differ from its columns, with a database-filled column: it maps
// onto the canonical users table.
namespace {
struct Member {
    std::int64_t key = 0;
    std::string display_name;
    std::string mail;
    int age = 0;
    bool active = false;
    timestamp joined{};
};
}  // namespace
BOOST_HANA_ADAPT_STRUCT(Member, key, display_name, mail, age, active, joined);
QUARRY_COLUMNS(Member, quarry::field(&Member::key).named("id").supplied(), quarry::field(&Member::display_name).named("name"),
               quarry::field(&Member::mail).named("email"), quarry::field(&Member::joined).named("inserted_at").generated());
QUARRY_TABLE(Member, "users", &Member::key);

namespace {

const timestamp t0 = timestamp(std::chrono::microseconds(1700000000000000));

User sample_user() {
    User u;
    u.id = 7;
    u.name = "Ada";
    u.email = "ada@example.com";
    u.age = 36;
    u.active = true;
    u.inserted_at = t0;
    return u;
}

template <class Q>
std::function<core::NodePtr()> q(Q make) {
    return [make] { return make().node(); };
}

auto users() { return from<User>(); }
auto posts() { return from<Post>(); }

}  // namespace

// clang-format off
const std::vector<GoldenCase>& golden_cases() {
    static const std::vector<GoldenCase> cases = {
#include "golden_cases.inc"
    };
    return cases;
}
// clang-format on
