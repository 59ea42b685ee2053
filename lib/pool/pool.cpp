// SPDX-License-Identifier: MIT
// The pool: one mutex and one condition variable guard the slots; connecting, pinging and
// closing happen outside the lock. A housekeeper thread closes expired and idle connections,
// tops the pool up to min_size and reports leaks.
#include "quarry/pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "pool/pool_support.hpp"

namespace quarry {

using Clock = std::chrono::steady_clock;

struct Lease::Slot {
    std::unique_ptr<core::Session> session;
    Clock::time_point created, expires, last_used, acquired_at;
    CallSite where;  // formatted only for a leak report
    std::thread::id holder;  // the thread it was handed to (a Pool destroyed with it out says whose)
    bool in_use = false;
    bool leak_reported = false;
    bool suspect = false;  // another connection broke since this one was last used: ping it first
    std::uint64_t telemetry_version = 0;
};

std::string PoolState::describe() const {
    std::string s = "pool: " + std::to_string(total) + " open, " + std::to_string(in_use) + " in use, " + std::to_string(idle) +
                    " idle, " + std::to_string(waiting) + " waiting";
    if (circuit_open) s += "; circuit open";
    if (!last_connect_error.empty()) s += "; last connect error: " + last_connect_error;
    return s;
}

using pool_support::healthy;
using pool_support::Histogram;
using pool_support::out_of_transaction;
using pool_support::site;
using pool_support::with_connect_timeout;

struct Pool::Impl {
    std::function<std::unique_ptr<core::Connection>()> connect;
    PoolOptions o;
    const core::Dialect* dialect = nullptr;

    mutable std::mutex m;
    // Acquirers waiting, oldest first. A returned connection is handed to the oldest directly
    // (no barging: a newcomer never takes it from under a waiter), and room freed by a closed
    // connection goes to the oldest too, so waits are first come, first served.
    struct Waiter {
        std::condition_variable cv;
        Lease::Slot* slot = nullptr;  // handed over
        bool room = false;            // may open a connection
    };
    std::deque<Waiter*> waiters;
    std::condition_variable wake_keeper;
    std::vector<std::unique_ptr<Lease::Slot>> slots;  // every open connection
    std::deque<Lease::Slot*> idle;                    // most recently used at the back
    std::size_t connecting = 0;                       // connects in flight (they count as open)
    std::size_t waiting = 0;
    bool closed = false;
    std::string last_connect_error;
    std::mt19937_64 rng{std::random_device{}()};
    // Backpressure (CoDel): since when every completed acquire waited longer than the target.
    std::optional<Clock::time_point> above_since;
    bool overloaded = false;
    // Circuit breaker: connects that failed in a row; while open, connects wait for `retry_at`,
    // and then one trial goes (the others keep failing fast until it succeeds).
    int failures_in_row = 0;
    int trips_in_row = 0;
    Clock::time_point retry_at{};
    bool trial_in_flight = false;
    core::TelemetrySink sink;
    std::uint64_t telemetry_version = 0;
    PoolMetrics counters;
    Histogram acquire_times;
    std::thread keeper;
    // single_writer: whether a turn is out. (A condition variable, not std::timed_mutex: its
    // timed lock is pthread_mutex_clocklock, which ThreadSanitizer 14 does not see.)
    std::mutex gate_m;
    std::condition_variable gate_free;
    bool writing = false;
    // pin(): the sandbox's session, whose thread holds the turn, and how many leases it has.
    Lease::Slot* pinned = nullptr;
    std::atomic<bool> is_pinned{false};  // pinned != nullptr, read without the lock
    int pinned_base_depth = 0;
    std::thread::id turn_owner{};
    int turn_leases = 0;
    std::condition_variable turn_free;

    PoolState state_locked() const {
        PoolState s;
        s.total = slots.size() + connecting;
        s.idle = idle.size();
        s.in_use = slots.size() - idle.size();
        s.waiting = waiting;
        s.last_connect_error = last_connect_error;
        s.circuit_open = circuit_open();
        return s;
    }

    bool circuit_open() const {  // lock held
        return o.breaker_threshold > 0 && failures_in_row >= o.breaker_threshold;
    }
    // Whether a connect may be tried now: `no`, `yes`, or `trial` (the breaker is open and this
    // is its one trial; the caller must report its outcome with trial = true).
    enum class Connect { no, yes, trial };
    Connect may_connect() {  // lock held
        if (!circuit_open()) return Connect::yes;
        if (trial_in_flight || Clock::now() < retry_at) return Connect::no;
        trial_in_flight = true;
        return Connect::trial;
    }
    void connect_result(bool ok, bool trial) {  // lock held
        if (trial) trial_in_flight = false;
        if (ok) {
            failures_in_row = trips_in_row = 0;
            last_connect_error.clear();
            return;
        }
        ++counters.connect_failures;
        const bool was_open = circuit_open();
        ++failures_in_row;
        if (!circuit_open()) return;
        // The pause starts when the breaker opens and grows with each failed trial; connects
        // that were already under way when it opened do not push it further.
        if (was_open && !trial) return;
        if (!was_open) ++counters.breaker_trips;
        const auto pause = std::min<std::chrono::milliseconds>(o.breaker_max_cooldown, o.breaker_cooldown * (std::int64_t{1} << std::min(trips_in_row, 20)));
        ++trips_in_row;
        retry_at = Clock::now() + pause;
    }
    CircuitOpen circuit_error() {  // lock held
        ++counters.circuit_rejections;
        return CircuitOpen("pool: the database is unreachable (" + std::to_string(failures_in_row) +
                           " connects failed in a row), not trying again for now; " + state_locked().describe());
    }

    // A new session, made outside the lock. Null (with last_connect_error set) when the
    // database could not be reached; other errors propagate. `trial`: the breaker's trial.
    std::unique_ptr<Lease::Slot> open_slot(bool trial = false) {
        std::unique_ptr<Lease::Slot> slot;
        try {
            slot = std::make_unique<Lease::Slot>();
            slot->session = std::make_unique<core::Session>(connect(), o.statement_cache);
            if (o.statement_timeout.count() > 0) slot->session->set_statement_timeout(o.statement_timeout);
            if (o.on_connect) o.on_connect(*slot->session);
        } catch (const std::exception& e) {
            std::lock_guard lock(m);
            last_connect_error = e.what();
            connect_result(false, trial);
            // A database that cannot be reached may come back; a malformed URL, an option the
            // database refuses or a failing on_connect will not: the caller sees that error.
            const auto* lost = dynamic_cast<const ConnectionError*>(&e);
            if (!lost || !lost->is_transient()) throw;
            return nullptr;
        } catch (...) {
            std::lock_guard lock(m);
            last_connect_error = "a connect or on_connect failed with an exception that is not a std::exception";
            connect_result(false, trial);
            throw;
        }
        std::lock_guard lock(m);
        connect_result(true, trial);
        const auto now = Clock::now();
        slot->created = slot->last_used = now;
        if (o.max_lifetime.count() > 0) {
            std::uniform_real_distribution<double> jitter(0, std::clamp(o.lifetime_jitter, 0.0, 1.0));
            const auto life = std::chrono::duration<double, std::milli>(static_cast<double>(o.max_lifetime.count()) * (1 - jitter(rng)));
            slot->expires = now + std::chrono::duration_cast<Clock::duration>(life);
        } else {
            slot->expires = Clock::time_point::max();
        }
        ++counters.created;
        return slot;
    }

    // Removes `s` from the pool (the lock is held); the caller destroys the returned session
    // after unlocking.
    std::unique_ptr<Lease::Slot> take_out(Lease::Slot* s) {
        std::erase(idle, s);
        const auto it = std::find_if(slots.begin(), slots.end(), [&](const auto& p) { return p.get() == s; });
        std::unique_ptr<Lease::Slot> owned = std::move(*it);
        slots.erase(it);
        ++counters.closed;
        offer_room();
        return owned;
    }

    // Room for one more connection: the oldest waiter may open it.
    void offer_room() {  // lock held
        if (waiters.empty()) return;
        Waiter* w = waiters.front();
        waiters.pop_front();
        w->room = true;
        w->cv.notify_one();
    }
    // A free connection: to the oldest waiter, or back to the idle list.
    void offer(Lease::Slot* s) {  // lock held
        if (!waiters.empty()) {
            Waiter* w = waiters.front();
            waiters.pop_front();
            s->in_use = true;
            w->slot = s;
            w->cv.notify_one();
            return;
        }
        s->in_use = false;
        idle.push_back(s);
    }

    void apply_telemetry(Lease::Slot& s) {  // lock held
        if (s.telemetry_version != telemetry_version) {
            s.session->set_telemetry(sink);
            s.telemetry_version = telemetry_version;
        }
    }

    // `queued`: this acquire waited for a release. One that found a connection at once says
    // nothing about the queue while others still wait (it barged in); with nobody waiting, the
    // queue is empty and the overload is over.
    void record_wait(Clock::duration waited, bool queued) {  // lock held
        acquire_times.add(std::chrono::duration_cast<std::chrono::microseconds>(waited));
        ++counters.acquired;
        if (o.overload_target.count() <= 0) return;
        if (!queued && waiting > 0) return;
        const auto now = Clock::now();
        if (queued && waited > o.overload_target) {
            if (!above_since) above_since = now;
            else if (now - *above_since >= o.overload_interval) overloaded = true;
        } else {
            above_since.reset();
            overloaded = false;
        }
    }

    void housekeeping();

    // A Pool destroyed while a Lease (or a Stream, a Sandbox, an acquire in flight) still uses
    // it would leave that holder with freed memory. Holders get the acquire timeout to finish;
    // then the program stops with a message naming where the oldest lease was taken, as
    // std::thread's destructor does. (A lease may have moved to another thread since it was
    // taken, so even one taken by this thread is waited for.)
    void wait_until_drained() noexcept {
        std::unique_lock lock(m);
        const auto deadline = Clock::now() + o.acquire_timeout;
        for (;;) {
            const Lease::Slot* out = nullptr;
            for (const auto& s : slots)
                if (s->in_use && (!out || s->acquired_at < out->acquired_at)) out = s.get();
            if (!out && connecting == 0 && waiting == 0) return;
            if (Clock::now() >= deadline) {
                std::fprintf(stderr,
                             "quarry: a Pool was destroyed while %zu of its connections were still in use (the oldest "
                             "taken at %s, by %s); a Lease, Stream or Sandbox must end before its Pool; stopping\n",
                             slots.size() - idle.size(), out ? site(out->where).c_str() : "an acquire in flight",
                             out && out->holder == std::this_thread::get_id() ? "this thread" : "another thread");
                std::terminate();
            }
            std::condition_variable pause;  // only a timer: leases come back through give_back
            pause.wait_for(lock, std::chrono::milliseconds(5));
        }
    }
};

Pool::Pool(std::string url, PoolOptions options)
    : Pool([url = with_connect_timeout(std::move(url), options.connect_timeout)] { return core::connect(url); }, std::move(options)) {}

Pool::Pool(std::function<std::unique_ptr<core::Connection>()> connect, PoolOptions options) : impl_(std::make_unique<Impl>()) {
    auto& im = *impl_;
    im.connect = std::move(connect);
    im.o = std::move(options);
    if (im.o.max_size == 0) throw Error("pool: max_size must be at least 1");
    im.o.min_size = std::min(im.o.min_size, im.o.max_size);
    // The first connection: proves the URL, tells the dialect.
    auto first = im.open_slot();
    if (!first) throw ConnectionError("pool: cannot open a connection: " + im.last_connect_error);
    im.dialect = &first->session->dialect();
    if (first->session->connection().private_database()) {
        // Every connection to an in-memory SQLite database opens one of its own: a second
        // connection, or the first one reopened, would not see its tables and rows.
        if (im.o.max_size > 1)
            throw InvalidUrl("pool: every connection to an in-memory SQLite database is a separate database, so a pool of " +
                             std::to_string(im.o.max_size) +
                             " would not share tables or rows; use max_size = 1 (its one connection is then kept for the "
                             "pool's life), or a database file");
        im.o.min_size = 1;
        im.o.max_lifetime = std::chrono::milliseconds(0);
        im.o.idle_timeout = std::chrono::milliseconds(0);
        first->expires = Clock::time_point::max();
    }
    im.idle.push_back(first.get());
    im.slots.push_back(std::move(first));
    im.keeper = std::thread([this] { impl_->housekeeping(); });
}

Pool::~Pool() {
    close();
    impl_->wait_until_drained();
    impl_->wake_keeper.notify_all();
    if (impl_->keeper.joinable()) impl_->keeper.join();
}

void Pool::close() {
    std::vector<std::unique_ptr<Lease::Slot>> closing;
    {
        std::lock_guard lock(impl_->m);
        impl_->closed = true;
        while (!impl_->idle.empty()) closing.push_back(impl_->take_out(impl_->idle.back()));
        for (auto* w : impl_->waiters) w->cv.notify_one();
        impl_->waiters.clear();
        impl_->wake_keeper.notify_all();
    }
}

const core::Dialect& Pool::dialect() const noexcept { return *impl_->dialect; }

const PoolOptions& Pool::options() const noexcept { return impl_->o; }

void Pool::pin(Lease& lease) {
    auto& im = *impl_;
    if (lease.pool_ != this) throw Error("pool: pin() takes a lease of this pool");
    std::lock_guard lock(im.m);
    if (im.pinned) throw Error("pool: already pinned (one sandbox at a time)");
    im.pinned = lease.slot_;
    im.pinned_base_depth = lease.session().depth();
    im.is_pinned.store(true, std::memory_order_release);
}

bool Pool::pinned() const noexcept { return impl_->is_pinned.load(std::memory_order_acquire); }

void Pool::unpin() noexcept {
    auto& im = *impl_;
    std::unique_lock lock(im.m);
    // A lease still out on the sandbox's connection: the thread ending the sandbox holds it (a
    // Stream declared before the sandbox), or another thread outlived the test. Waiting for
    // the first would never end; for the second, a while.
    const bool own = im.turn_leases > 0 && im.turn_owner == std::this_thread::get_id();
    if (own || !im.turn_free.wait_for(lock, im.o.acquire_timeout, [&] { return im.turn_leases == 0; })) {
        std::fprintf(stderr,
                     "quarry: a test sandbox ended while %s still held its connection (a Stream or Lease that outlives the "
                     "sandbox, or a thread not joined before it ends); stopping\n",
                     own ? "this thread" : "another thread");
        std::terminate();
    }
    im.pinned = nullptr;
    im.is_pinned.store(false, std::memory_order_release);
    im.turn_free.notify_all();
}

Pool::WriteTurn Pool::write_turn() {
    auto& im = *impl_;
    // In a sandbox every thread takes turns on its one connection already, a transaction included.
    // A second turn would deadlock: a thread holding the connection (a Stream) that then writes
    // would wait for the write turn while the turn's holder waits for the connection.
    if (!im.o.single_writer || im.is_pinned.load(std::memory_order_acquire)) return {};
    std::unique_lock gate(im.gate_m);
    if (!im.gate_free.wait_for(gate, im.o.acquire_timeout, [&] { return !im.writing; })) {
        gate.unlock();
        std::lock_guard lock(im.m);
        ++im.counters.timeouts;
        const auto st = im.state_locked();
        throw PoolTimeout("pool: no turn to write within " + std::to_string(im.o.acquire_timeout.count()) +
                              " ms (single_writer: another write or transaction held it); " + st.describe(),
                          st);
    }
    im.writing = true;
    return WriteTurn(this);
}

void Pool::WriteTurn::release() noexcept {
    if (!pool_) return;
    auto& im = *pool_->impl_;
    {
        std::lock_guard gate(im.gate_m);
        im.writing = false;
    }
    im.gate_free.notify_one();
    pool_ = nullptr;
}

PoolState Pool::state() const {
    std::lock_guard lock(impl_->m);
    return impl_->state_locked();
}

PoolMetrics Pool::metrics() const {
    std::lock_guard lock(impl_->m);
    PoolMetrics out = impl_->counters;
    out.state = impl_->state_locked();
    out.acquire_p50 = impl_->acquire_times.percentile(0.5);
    out.acquire_p99 = impl_->acquire_times.percentile(0.99);
    out.acquire_max = impl_->acquire_times.max();
    return out;
}

void Pool::set_telemetry(core::TelemetrySink sink) {
    std::lock_guard lock(impl_->m);
    impl_->sink = std::move(sink);
    ++impl_->telemetry_version;
}

Lease Pool::acquire(CallSite where) { return acquire(impl_->o.acquire_timeout, where); }

Lease Pool::acquire(std::chrono::milliseconds timeout, CallSite where) {
    auto& im = *impl_;
    const auto start = Clock::now();
    const auto deadline = start + timeout;
    bool queued = false;
    std::unique_lock lock(im.m);
    auto hand_out = [&](Lease::Slot* s) {  // lock held
        s->in_use = true;
        s->acquired_at = Clock::now();
        s->where = where;
        s->leak_reported = false;
        s->holder = std::this_thread::get_id();
        im.apply_telemetry(*s);
        im.record_wait(s->acquired_at - start, queued);
        return Lease(this, s);
    };
    auto timed_out = [&] {  // lock held
        ++im.counters.timeouts;
        const auto st = im.state_locked();
        return PoolTimeout("pool: no connection within " + std::to_string(timeout.count()) + " ms; " + st.describe(), st);
    };
    if (im.pinned) {
        const auto me = std::this_thread::get_id();
        if (!im.turn_free.wait_until(lock, deadline, [&] { return !im.pinned || im.turn_leases == 0 || im.turn_owner == me; }))
            throw PoolTimeout("pool: the sandbox's connection stayed in use by another thread for " + std::to_string(timeout.count()) +
                                  " ms (shared sandbox mode: threads take turns)",
                              im.state_locked());
        if (im.pinned) {
            im.turn_owner = me;
            ++im.turn_leases;
            return Lease(this, im.pinned);
        }
    }
    for (;;) {
        if (im.closed) throw Error("pool: closed");
        if (!im.idle.empty()) {
            Lease::Slot* s = im.idle.back();
            im.idle.pop_back();
            const auto now = Clock::now();
            if (now >= s->expires) {
                auto dead = im.take_out(s);
                lock.unlock();
                dead.reset();
                lock.lock();
                continue;
            }
            s->in_use = true;  // out of the idle list while it is checked
            s->acquired_at = now;  // for the leak scan: this caller's, not the previous holder's
            s->where = where;
            s->holder = std::this_thread::get_id();
            s->leak_reported = false;
            if (s->suspect || now - s->last_used > im.o.health_check_after) {
                s->suspect = false;
                lock.unlock();
                bool ok = healthy(*s->session);
                if (ok) {
                    try {
                        s->session->connection().execute("SELECT 1");
                    } catch (const std::exception&) {
                        ok = false;
                    }
                }
                lock.lock();
                if (!ok) {
                    ++im.counters.failed_health_checks;
                    auto dead = im.take_out(s);
                    lock.unlock();
                    dead.reset();
                    lock.lock();
                    continue;
                }
            }
            return hand_out(s);
        }
        if (im.slots.size() + im.connecting < im.o.max_size) {
            // The breaker is open: fail fast, unless connections in use may come back. The room
            // this acquire leaves goes to the next waiter, who decides for itself.
            const auto connect = im.may_connect();
            if (connect == Impl::Connect::no) {
                if (im.slots.empty() && im.connecting == 0) {
                    im.offer_room();
                    throw im.circuit_error();
                }
                if (Clock::now() >= deadline) {
                    im.offer_room();
                    throw timed_out();
                }
                std::condition_variable pause;  // only a timer: wait for a release or the trial
                pause.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(10)));
                continue;
            }
            ++im.connecting;
            lock.unlock();
            std::unique_ptr<Lease::Slot> fresh;
            try {
                fresh = im.open_slot(connect == Impl::Connect::trial);
            } catch (...) {  // an error retrying cannot mend: give the room back, tell the caller
                lock.lock();
                --im.connecting;
                im.offer_room();
                throw;
            }
            lock.lock();
            --im.connecting;
            if (fresh) {
                Lease::Slot* s = fresh.get();
                im.slots.push_back(std::move(fresh));
                return hand_out(s);
            }
            im.offer_room();  // the room this connect held is free again
            if (im.circuit_open() && im.slots.empty()) throw im.circuit_error();
            if (Clock::now() >= deadline) throw timed_out();
            // The database is unreachable: back off before the next attempt (the condition
            // variable is only a timer here).
            std::condition_variable pause;
            pause.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
            continue;
        }
        if (im.overloaded || im.waiting >= im.o.max_waiters) {
            ++im.counters.overloaded;
            throw PoolOverloaded(std::string("pool: overloaded (") +
                                     (im.overloaded ? "waits stayed above the target" : "the wait queue is full") + "); " +
                                     im.state_locked().describe(),
                                 im.state_locked());
        }
        ++im.waiting;
        queued = true;
        Impl::Waiter w;
        im.waiters.push_back(&w);
        w.cv.wait_until(lock, deadline, [&] { return w.slot || w.room || im.closed; });
        --im.waiting;
        std::erase(im.waiters, &w);
        if (w.slot) return hand_out(w.slot);  // handed over, perhaps just as the deadline passed: take it
        if (w.room || im.closed) continue;
        throw timed_out();
    }
}

void Pool::give_back(Lease::Slot* s) noexcept {
    auto& im = *impl_;
    {
        std::unique_lock lock(im.m);
        if (s == im.pinned) {
            if (im.turn_leases > 1) {
                --im.turn_leases;
                return;
            }
            // The turn's last lease: what its thread left open is rolled back (outside the lock:
            // a round trip, and telemetry), then the turn goes to the next thread.
            const int base = im.pinned_base_depth;
            lock.unlock();
            while (s->session->depth() > base) s->session->rollback();
            lock.lock();
            --im.turn_leases;
            im.turn_owner = {};
            im.turn_free.notify_all();
            return;
        }
    }
    // Outside the lock: end a transaction the holder left open, and see whether the
    // connection survived.
    while (s->session->depth() > 0) s->session->rollback();
    const bool ok = healthy(*s->session);
    bool clean = ok && out_of_transaction(*s->session);
    // A statement timeout the holder set on its session is not the next holder's.
    if (clean && s->session->statement_timeout() != im.o.statement_timeout) {
        try {
            s->session->set_statement_timeout(im.o.statement_timeout);
        } catch (...) {
            clean = false;
        }
    }
    std::unique_lock lock(im.m);
    const auto now = Clock::now();
    if (!clean || im.closed || now >= s->expires) {
        if (!ok) {
            // The server may have gone away for the others too: ping each before its next use.
            ++im.counters.broken;
            for (auto* i : im.idle) i->suspect = true;
        }
        auto dead = im.take_out(s);
        lock.unlock();
        dead.reset();
        return;
    }
    s->last_used = now;
    im.offer(s);
}

void Pool::Impl::housekeeping() {
    std::unique_lock lock(m);
    while (!closed) {
        wake_keeper.wait_for(lock, o.housekeeping_interval);
        if (closed) break;
        const auto now = Clock::now();
        // Expired idle connections, and idle ones beyond min_size that idled too long.
        std::vector<std::unique_ptr<Lease::Slot>> dead;
        for (std::size_t i = 0; i < idle.size();) {
            Lease::Slot* s = idle[i];
            const bool expired = now >= s->expires;
            const bool too_idle = o.idle_timeout.count() > 0 && now - s->last_used > o.idle_timeout && slots.size() > o.min_size;
            if (expired || too_idle) dead.push_back(take_out(s));
            else ++i;
        }
        // Leaks: leases held past the threshold, reported once each.
        std::vector<LeakReport> leaks;
        if (o.leak_threshold.count() > 0)
            for (auto& s : slots)
                if (s->in_use && !s->leak_reported && now - s->acquired_at > o.leak_threshold) {
                    s->leak_reported = true;
                    ++counters.leaks;
                    leaks.push_back({site(s->where), std::chrono::duration_cast<std::chrono::milliseconds>(now - s->acquired_at)});
                }
        // Topping up waits while the breaker is open: acquirers make its trial connects.
        const std::size_t missing =
            !circuit_open() && slots.size() + connecting < o.min_size ? o.min_size - slots.size() - connecting : 0;
        connecting += missing;
        lock.unlock();
        dead.clear();
        for (const auto& l : leaks) {
            if (o.on_leak) o.on_leak(l);
            else std::fprintf(stderr, "quarry: a pooled connection has been held for %lld ms, acquired at %s\n",
                              static_cast<long long>(l.held.count()), l.where.c_str());
        }
        std::vector<std::unique_ptr<Lease::Slot>> fresh;
        for (std::size_t k = 0; k < missing; ++k) {
            try {
                fresh.push_back(open_slot());
            } catch (const std::exception&) {  // recorded as the last connect error
            }
        }
        lock.lock();
        connecting -= missing;
        for (auto& f : fresh)
            if (f) {
                if (closed) break;
                Lease::Slot* s = f.get();
                slots.push_back(std::move(f));
                s->last_used = Clock::now();
                offer(s);
            }
    }
}

Lease& Lease::operator=(Lease&& o) noexcept {
    if (this != &o) {
        release();
        pool_ = o.pool_;
        slot_ = o.slot_;
        o.pool_ = nullptr;
        o.slot_ = nullptr;
    }
    return *this;
}

core::Session& Lease::session() const noexcept { return *slot_->session; }

void Lease::release() noexcept {
    if (!slot_) return;
    pool_->give_back(slot_);
    pool_ = nullptr;
    slot_ = nullptr;
}

}  // namespace quarry
