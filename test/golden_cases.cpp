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
