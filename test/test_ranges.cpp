// SPDX-License-Identifier: MIT
// Streams as range-v3 views (opt-in header quarry/ranges.hpp).
#include <doctest/doctest.h>

#include <quarry/ranges.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include "repo_support.hpp"

using namespace quarry;

static_assert(ranges::view_<Stream<User>>);
static_assert(ranges::input_range<Stream<User>>);

TEST_CASE("a stream composes with range-v3 views and stops reading when they stop") {
    Repo repo("sqlite::memory:");
    repo.session().connection().execute(canonical_schema_sqlite);
    for (int i = 0; i < 20; ++i) repo.insert(make_user("u" + std::to_string(i), std::to_string(i) + "@x", i));
    auto names = repo.stream(from<User>() | order_by(col(&User::age))) |
                 ranges::views::filter([](const User& u) { return u.age % 2 == 1; }) |
                 ranges::views::transform([](const User& u) { return u.name; }) | ranges::views::take(3) |
                 ranges::to<std::vector<std::string>>();
    CHECK(names == std::vector<std::string>{"u1", "u3", "u5"});
}
