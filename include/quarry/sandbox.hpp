// SPDX-License-Identifier: MIT
// The test sandbox: everything a test writes through the Repo is rolled back when the guard
// goes out of scope, however the test ends. Transactions the test opens become savepoints and
// behave as they would outside (a failed inner transaction rolls back only itself).
//
//   TEST_CASE("orders are totalled") {
//       quarry::testing::Sandbox sandbox(repo);   // BEGIN
//       repo.insert(Order{...});
//       ...
//   }                                             // ROLLBACK: nothing left behind
#pragma once
#include "quarry/core/session.hpp"
#include "quarry/errors.hpp"

namespace quarry::testing {

class Sandbox {
public:
    // Anything with session() (a Repo) or a core::Session.
    template <class R>
        requires requires(R& r) { { r.session() } -> std::same_as<core::Session&>; }
    explicit Sandbox(R& repo) : Sandbox(repo.session()) {}
    explicit Sandbox(core::Session& s) : s_(s), depth_(s.depth()) {
        if (depth_ != 0) throw QueryError("a sandbox must start outside any transaction");
        s_.begin();
    }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;
    ~Sandbox() {
        while (s_.depth() > depth_) s_.rollback();
    }

private:
    core::Session& s_;
    int depth_;
};

}  // namespace quarry::testing
