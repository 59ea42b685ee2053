// SPDX-License-Identifier: MIT
// The Repo's router on a pool: which pool a call runs on (a replica for a plain read outside a
// transaction, the primary otherwise), and when a failed call runs again (DESIGN §5: a read
// always, a write only when it provably took no effect; never a COMMIT in doubt).
#include <thread>

#include "quarry/repo.hpp"

namespace quarry {

namespace {

// Whether a statement only reads: no INSERT/UPDATE/DELETE (a CTE may hold one) and no row lock,
// anywhere in its chain or its subqueries.
bool only_reads(const core::Node& statement) {
    for (const core::Node* n = &statement; n; n = n->parent) {
        switch (n->kind) {
            case core::Clause::insert:
            case core::Clause::update:
            case core::Clause::delete_:
            case core::Clause::lock:
                return false;
            default:
                break;
        }
        for (const auto& sub : n->subs())
            if (sub && !only_reads(*sub)) return false;
    }
    return true;
}

// Whether running the call again is safe and may succeed.
bool worth_retrying(const std::exception& e, detail::Access access) {
    if (access == detail::Access::raw) return false;  // quarry cannot know what raw SQL did before it failed
    if (dynamic_cast<const CircuitOpen*>(&e) || dynamic_cast<const InvalidUrl*>(&e)) return false;  // stop hammering
    if (const auto* lost = dynamic_cast<const ConnectionError*>(&e))
        return access == detail::Access::read || lost->not_applied();
    // The database rolled the statement back: it took no effect.
    return dynamic_cast<const SerializationFailure*>(&e) || dynamic_cast<const Deadlock*>(&e) ||
           dynamic_cast<const DatabaseBusy*>(&e);
}

thread_local detail::TxBinding* innermost_binding = nullptr;

}  // namespace

namespace detail {

TxBinding::TxBinding(const Pool* pool, core::Session& session, std::shared_ptr<void> keeper) noexcept
    : pool_(pool), session_(&session), keeper_(std::move(keeper)), outer_(innermost_binding) {
    innermost_binding = this;
}
TxBinding::~TxBinding() { innermost_binding = outer_; }

core::Session* bound_session(const Pool* pool) noexcept {
    for (const TxBinding* b = innermost_binding; b; b = b->outer_)
        if (b->pool_ == pool) return b->session_;
    return nullptr;
}

std::shared_ptr<void> bound_keeper(const Pool* pool) noexcept {
    for (const TxBinding* b = innermost_binding; b; b = b->outer_)
        if (b->pool_ == pool) return b->keeper_;
    return nullptr;
}

}  // namespace detail

void Repo::routed(detail::Access access, const core::Node* statement, detail::SessionFn f) {
    if (core::Session* held = detail::bound_session(pool_)) {  // inside this thread's transaction
        f(*held);
        return;
    }
    if (pool_->pinned()) {  // a test sandbox: its one connection, no retries
        Lease lease = pool_->acquire();
        if (lease->guards_statements()) guarded(lease.session(), f);
        else f(lease.session());
        return;
    }
    // A "read" with a statement may still write (INSERT ... RETURNING through all()) or lock:
    // then it is a write, for routing and for retries.
    if (access == detail::Access::read && statement && !only_reads(*statement)) access = detail::Access::write;
    // In a test sandbox the replicas cannot see the sandbox's writes: everything on the primary.
    bool replica_allowed = replicas_ && access == detail::Access::read && !pool_->pinned();
    for (int attempt = 0;; ++attempt) {
        if (replica_allowed) {
            if (auto pick = replicas_->acquire_read()) {
                try {
                    if (!written_ || replicas_->caught_up(pick->index, pick->lease.session(), written_->load())) {
                        f(pick->lease.session());
                        return;
                    }
                } catch (const ConnectionError& e) {
                    replicas_->failed(pick->index, e.what());
                    replica_allowed = false;  // this read goes to the primary now
                } catch (const Error& e) {
                    // A replica can cancel a read that conflicts with replay (40001), or be too
                    // busy: the primary serves it. Anything else is the caller's to see.
                    if (!e.is_transient()) throw;
                    replica_allowed = false;
                }
                if (!replica_allowed) {
                    --attempt;  // the fall back is not a retry
                    continue;
                }
            }
        }
        try {
            auto turn = access != detail::Access::read ? pool_->write_turn() : Pool::WriteTurn();
            Lease lease = pool_->acquire();
            f(lease.session());
            if (written_ && access != detail::Access::read) note_write(lease.session());
            return;
        } catch (const std::exception& e) {
            if (attempt >= options_.statement_retries || !worth_retrying(e, access)) throw;
        }
        std::this_thread::sleep_for(core::retry_pause(attempt));
    }
}

void Repo::guarded(core::Session& s, detail::SessionFn f) {
    s.begin();
    try {
        f(s);
    } catch (...) {
        s.rollback();
        throw;
    }
    s.commit();
}

detail::SessionUse Repo::use_for_read(const core::Node& statement) {
    if (core::Session* held = detail::bound_session(pool_)) return detail::SessionUse(*held, detail::bound_keeper(pool_));
    if (replicas_ && only_reads(statement) && !pool_->pinned())
        if (auto pick = replicas_->acquire_read()) {
            try {
                if (!written_ || replicas_->caught_up(pick->index, pick->lease.session(), written_->load()))
                    return detail::SessionUse(std::move(pick->lease));
            } catch (const ConnectionError& e) {
                replicas_->failed(pick->index, e.what());
            } catch (const Error& e) {
                // As for routed reads: a replica busy or cancelling (40001) leaves the read to the
                // primary; anything else is the caller's to see.
                if (!e.is_transient()) throw;
            }
        }
    return detail::SessionUse(pool_->acquire());
}

void Repo::note_write(core::Session& s) noexcept {
    // Best effort: the write is done whatever happens here. A connection lost right after it
    // leaves the position unknown, and a replica may serve the next read before it has the write.
    std::uint64_t at = 0;
    try {
        at = wal_position(s);
    } catch (const std::exception&) {
        return;
    }
    std::uint64_t seen = written_->load();
    while (at > seen && !written_->compare_exchange_weak(seen, at)) {
    }
}

}  // namespace quarry
