// SPDX-License-Identifier: MIT
// Which session a Repo call runs on: its access kind, the session a pooled transaction binds to
// its thread, and a checked-out session for one call (lib/repo/routing.cpp). Part of
// quarry/repo.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <type_traits>

#include "quarry/core/session.hpp"
#include "quarry/pool.hpp"

namespace quarry::detail {

// What a Repo call does, for routing and retries: reads may go to a replica and always run
// again after a transient failure; writes go to the primary and run again only when the
// failure proves they took no effect.
// Raw SQL is a write that is never run again: quarry cannot tell what it did before failing.
enum class Access : std::uint8_t { read, write, raw };

// A reference to a callable taking a session, so the router's loop lives in lib/, not in every
// caller's instantiation.
class SessionFn {
public:
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, SessionFn>)
    explicit SessionFn(F& f) noexcept : ctx_(&f), call_([](void* c, core::Session& s) { (*static_cast<F*>(c))(s); }) {}
    void operator()(core::Session& s) const { call_(ctx_, s); }

private:
    void* ctx_;
    void (*call_)(void*, core::Session&);
};

// The session a pooled transaction holds on this thread. As in Ecto, a call on any Repo over
// that pool made by this thread inside the transaction runs on it (so it is part of the
// transaction), never on a second connection. Defined in lib/repo/routing.cpp.
core::Session* bound_session(const Pool* pool) noexcept;
// What keeps that session checked out (the transaction's lease, shared with the streams opened
// in it); null outside a transaction.
std::shared_ptr<void> bound_keeper(const Pool* pool) noexcept;
class TxBinding {
public:
    TxBinding(const Pool* pool, core::Session& session, std::shared_ptr<void> keeper) noexcept;
    ~TxBinding();
    TxBinding(const TxBinding&) = delete;
    TxBinding& operator=(const TxBinding&) = delete;

private:
    friend core::Session* bound_session(const Pool* pool) noexcept;
    friend std::shared_ptr<void> bound_keeper(const Pool* pool) noexcept;
    const Pool* pool_;
    core::Session* session_;
    std::shared_ptr<void> keeper_;
    TxBinding* outer_;
};

// The session a Repo call runs on: the Repo's own, or a pool's, checked out for the call.
class SessionUse {
public:
    // `keeper` keeps `s` alive and checked out (a Repo's own session, a transaction's lease): a
    // use (a stream) may outlive the Repo or the transaction it came from.
    SessionUse(core::Session& s, std::shared_ptr<void> keeper) noexcept : keeper_(std::move(keeper)), s_(&s) {}
    explicit SessionUse(Lease l) noexcept : lease_(std::move(l)), s_(&lease_.session()) {}
    core::Session& operator*() const noexcept { return *s_; }
    core::Session* operator->() const noexcept { return s_; }

private:
    Lease lease_;
    std::shared_ptr<void> keeper_;
    core::Session* s_;
};

}  // namespace quarry::detail
