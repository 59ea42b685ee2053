// SPDX-License-Identifier: MIT
// Query values kept in statics, and queries built in static destructors, work during program
// exit: schema tables and dialects are never destroyed. (The ASan stage catches a regression
// as a heap-use-after-free; the exit status fails the test.)
#include <cstdio>
#include <cstdlib>

#include "schema.hpp"

using namespace quarry;

namespace {
struct RendersAtExit {
    ~RendersAtExit() {
        auto q = from<User>() | where(col(&User::age) > 1) | limit(2);
        auto r = to_sql(q, sqlite());
        if (r.sql.find(R"("age" > ?)") == std::string::npos) std::_Exit(1);
        std::fprintf(stderr, "rendered during exit: %s\n", r.sql.c_str());
    }
};
RendersAtExit renders_at_exit;  // constructed before any schema table: destroyed after them
const auto kept_in_a_static = from<Post>() | where(col(&Post::views) > 3);
}  // namespace

int main() {
    auto r = to_sql(kept_in_a_static, postgres());
    std::printf("%s\n", r.sql.c_str());
    return r.sql.ends_with(R"(WHERE "views" > $1)") ? 0 : 1;
}
