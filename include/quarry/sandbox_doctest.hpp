// SPDX-License-Identifier: MIT
// doctest integration of the test sandbox: test cases that run inside a sandbox on the Repo
// named once for the test program.
//
//   // in main, or in a doctest listener, before the tests run:
//   quarry::testing::use_repo(repo);
//
//   QUARRY_TEST_CASE("signing up twice is refused") {
//       repo.insert(...);              // rolled back when the test case ends, however it ends
//   }
#pragma once
#include <doctest/doctest.h>

#include "quarry/repo.hpp"
#include "quarry/sandbox.hpp"

namespace quarry::testing {

namespace detail {
inline Repo*& sandbox_repo() noexcept {
    static Repo* repo = nullptr;
    return repo;
}
}  // namespace detail

// The Repo the sandboxed test cases run on (a Repo on its own session or on a pool).
inline void use_repo(Repo& repo) noexcept { detail::sandbox_repo() = &repo; }

// The fixture: a Sandbox on that Repo for the whole test case.
template <class R = Repo>
struct SandboxCase {
    SandboxCase() : sandbox_(repo_or_fail()) {}

private:
    static R& repo_or_fail() {
        R* r = detail::sandbox_repo();
        if (!r) throw QueryError("quarry::testing::use_repo(repo) was not called before a QUARRY_TEST_CASE ran");
        return *r;
    }
    Sandbox sandbox_;
};

}  // namespace quarry::testing

#define QUARRY_TEST_CASE(name) TEST_CASE_FIXTURE(::quarry::testing::SandboxCase<>, name)
