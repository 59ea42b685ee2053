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
//
// On a Repo over a Pool, the sandbox holds one connection and the pool hands it to every
// acquire, one thread at a time (shared mode): threads a test starts see its writes and take
// turns on its connection (docs/testing.md). With doctest: quarry/sandbox_doctest.hpp.
#pragma once
#include "quarry/core/session.hpp"
#include "quarry/errors.hpp"
#include "quarry/pool.hpp"

namespace quarry::testing {

class Sandbox {
public:
    // A Repo (on its own session or on a pool), a Pool, or a core::Session.
    template <class R>
        requires requires(R& r) {
            { r.session() } -> std::same_as<core::Session&>;
            { r.pool() } -> std::same_as<Pool*>;
        }
    explicit Sandbox(R& repo) {
        if (repo.in_transaction()) throw QueryError("a sandbox must start outside any transaction");
        if (Pool* p = repo.pool()) start(*p);
        else start(repo.session());
    }
    explicit Sandbox(Pool& pool) { start(pool); }
    explicit Sandbox(core::Session& s) { start(s); }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;
    ~Sandbox() {
        // Waits (up to the acquire timeout) for the threads still using the connection; join
        // them before the sandbox ends.
        if (pool_) pool_->unpin();
        s_->guard_statements_at(-1);
        s_->set_sandbox_depth(0);
        while (s_->depth() > depth_) s_->rollback();
    }

private:
    void start(core::Session& s) {
        s_ = &s;
        depth_ = s.depth();
        if (depth_ != 0) throw QueryError("a sandbox must start outside any transaction");
        s.begin();
        s.set_sandbox_depth(depth_ + 1);
        // PostgreSQL aborts a transaction on any error: each statement of the test gets a
        // savepoint, so that a failing one (a test of a constraint) behaves as in autocommit.
        if (s.dialect().name() == "postgres") s.guard_statements_at(depth_ + 1);
    }
    void start(Pool& pool) {
        if (pool.pinned()) throw QueryError("this pool is in a sandbox already (one sandbox per pool at a time)");
        lease_ = pool.acquire();
        start(lease_.session());
        try {
            pool.pin(lease_);
        } catch (...) {
            s_->guard_statements_at(-1);
            s_->set_sandbox_depth(0);
            s_->rollback();
            throw;
        }
        pool_ = &pool;
    }
    core::Session* s_ = nullptr;
    int depth_ = 0;
    Pool* pool_ = nullptr;
    Lease lease_;  // declared last: returned to the pool after the rollback
};

}  // namespace quarry::testing
