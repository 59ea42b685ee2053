// SPDX-License-Identifier: MIT
// A thread-safe pool of sessions (connections with their statement caches), as HikariCP and
// db_connection do it: bounded size, acquire timeout, health checks, lifetimes, eviction of
// broken connections, leak reports, backpressure, metrics (docs/production.md).
//
//   quarry::Pool pool("postgres://app@db/app", {.max_size = 16});
//   quarry::Repo repo(pool);               // every call checks a session out and back in
//   auto lease = pool.acquire();           // or hold one yourself
//   lease->run_sql("SELECT 1", {});
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "quarry/core/session.hpp"
#include "quarry/errors.hpp"

namespace quarry {

// Where a call came from, for leak reports. (std::source_location is not usable with clang 14
// on libstdc++ 12; these builtins are, on both compilers.)
struct CallSite {
    const char* file = "";
    unsigned line = 0;
    const char* function = "";
    static constexpr CallSite here(const char* f = __builtin_FILE(), unsigned l = __builtin_LINE(),
                                   const char* fn = __builtin_FUNCTION()) noexcept {
        return {f, l, fn};
    }
};

// What the pool holds right now; carried by PoolTimeout and PoolOverloaded.
struct PoolState {
    std::size_t total = 0;    // connections open (in use + idle)
    std::size_t in_use = 0;
    std::size_t idle = 0;
    std::size_t waiting = 0;  // acquirers waiting for a connection
    std::string last_connect_error;  // empty when the last connect succeeded
    bool circuit_open = false;       // connects failed repeatedly: new connections are not tried now
    std::string describe() const;
};

// No connection became free within the acquire timeout.
class PoolTimeout : public Error {
public:
    PoolTimeout(std::string message, PoolState state) : Error(std::move(message)), state_(std::move(state)) {}
    const PoolState& state() const noexcept { return state_; }
    bool is_transient() const noexcept override { return true; }

private:
    PoolState state_;
};

// Waits have stayed above the target for a whole interval (or the wait queue is full): new
// requests fail at once instead of queueing behind ones that will time out anyway.
class PoolOverloaded : public Error {
public:
    PoolOverloaded(std::string message, PoolState state) : Error(std::move(message)), state_(std::move(state)) {}
    const PoolState& state() const noexcept { return state_; }
    bool is_transient() const noexcept override { return true; }

private:
    PoolState state_;
};

// A connection held longer than PoolOptions::leak_threshold: where it was acquired.
struct LeakReport {
    std::string where;  // file:line (function)
    std::chrono::milliseconds held{};
};

struct PoolOptions {
    std::size_t min_size = 0;   // kept open (and reopened) by the housekeeper
    std::size_t max_size = 10;
    std::chrono::milliseconds acquire_timeout{5000};
    // PostgreSQL: a connect that has not finished after this long fails (libpq's
    // connect_timeout, whole seconds, at least 2), unless the URL sets connect_timeout itself.
    std::chrono::milliseconds connect_timeout{5000};
    // A connection idle longer than this is pinged before it is handed out.
    std::chrono::milliseconds health_check_after{500};
    // Connections are closed after this long (each a little earlier, by up to `lifetime_jitter`,
    // so they do not all reconnect at once); 0: forever.
    std::chrono::milliseconds max_lifetime{30 * 60 * 1000};
    double lifetime_jitter = 0.1;
    // Idle connections beyond min_size are closed after this long; 0: never.
    std::chrono::milliseconds idle_timeout{10 * 60 * 1000};
    // A lease held longer than this is reported once to on_leak (0: off).
    std::chrono::milliseconds leak_threshold{0};
    std::function<void(const LeakReport&)> on_leak{};  // default: a line on stderr
    // Backpressure: at most this many acquirers wait; and when every acquire for a whole
    // `overload_interval` waited longer than `overload_target`, new ones that would wait fail
    // with PoolOverloaded until a wait is short again (CoDel's rule).
    std::size_t max_waiters = 10000;
    std::chrono::milliseconds overload_target{0};  // 0: off
    std::chrono::milliseconds overload_interval{1000};
    // Circuit breaker: after this many failed connects in a row (0: off), a request that needs
    // a new connection fails at once with CircuitOpen instead of trying again; after a pause
    // (doubling from breaker_cooldown up to breaker_max_cooldown) one trial connect is let
    // through, and its success closes the breaker.
    int breaker_threshold = 3;
    std::chrono::milliseconds breaker_cooldown{100};
    std::chrono::milliseconds breaker_max_cooldown{500};
    // Writer mode (for SQLite): writes and write transactions of a Repo on this pool take
    // turns, one at a time, waiting at most acquire_timeout (PoolTimeout), so no writer of this
    // process waits on SQLite's lock or sees SQLITE_BUSY; reads run beside them in parallel.
    bool single_writer = false;
    std::chrono::milliseconds housekeeping_interval{250};
    std::size_t statement_cache = 256;  // per connection
    std::chrono::milliseconds statement_timeout{0};  // per statement, on every connection (0: none)
    // Called on each new connection before it is used (SET statements, PRAGMAs).
    std::function<void(core::Session&)> on_connect{};
};

// Counters since the pool opened, and acquire-time percentiles.
struct PoolMetrics {
    PoolState state;
    std::uint64_t acquired = 0, timeouts = 0, overloaded = 0;
    std::uint64_t created = 0, closed = 0, broken = 0, failed_health_checks = 0, connect_failures = 0, leaks = 0;
    std::uint64_t breaker_trips = 0, circuit_rejections = 0;
    std::chrono::microseconds acquire_p50{}, acquire_p99{}, acquire_max{};
};

class Pool;

// One session checked out of a pool, returned when the lease ends. A session left inside a
// transaction is rolled back; a broken one is closed and replaced, never handed out again.
class Lease {
public:
    Lease() = default;
    Lease(Lease&& o) noexcept : pool_(o.pool_), slot_(o.slot_) { o.pool_ = nullptr; o.slot_ = nullptr; }
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    core::Session& session() const noexcept;
    core::Session& operator*() const noexcept { return session(); }
    core::Session* operator->() const noexcept { return &session(); }
    explicit operator bool() const noexcept { return slot_ != nullptr; }
    void release() noexcept;

private:
    friend class Pool;
    struct Slot;
    Lease(Pool* p, Slot* s) : pool_(p), slot_(s) {}
    Pool* pool_ = nullptr;
    Slot* slot_ = nullptr;
};

class Pool {
public:
    // Opens one connection at once (a bad URL or an unreachable database fails here), then up
    // to min_size in the background.
    explicit Pool(std::string url, PoolOptions options = {});
    // Connections made by `connect` (a test can wrap or break them).
    Pool(std::function<std::unique_ptr<core::Connection>()> connect, PoolOptions options = {});
    // Leases still out: waits up to acquire_timeout for them to come back, then
    // stops the program with a message (docs/production.md, "Lifetime").
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // A session: an idle one (pinged first if it idled long), a new one while below max_size,
    // or the first one released within the acquire timeout. PoolTimeout / PoolOverloaded
    // otherwise.
    Lease acquire(CallSite where = CallSite::here());
    Lease acquire(std::chrono::milliseconds timeout, CallSite where = CallSite::here());

    const core::Dialect& dialect() const noexcept;
    const PoolOptions& options() const noexcept;
    // With single_writer: the turn to write, held until the returned value goes (PoolTimeout
    // after acquire_timeout). Without: an empty turn, at once.
    class WriteTurn {
    public:
        WriteTurn() = default;
        WriteTurn(WriteTurn&& o) noexcept : pool_(o.pool_) { o.pool_ = nullptr; }
        WriteTurn& operator=(WriteTurn&& o) noexcept {
            if (this != &o) {
                release();
                pool_ = o.pool_;
                o.pool_ = nullptr;
            }
            return *this;
        }
        ~WriteTurn() { release(); }
        void release() noexcept;

    private:
        friend class Pool;
        explicit WriteTurn(Pool* p) noexcept : pool_(p) {}
        Pool* pool_ = nullptr;
    };
    WriteTurn write_turn();
    PoolState state() const;
    PoolMetrics metrics() const;
    // Every session, new and idle, reports to `sink` (see Session::set_telemetry).
    void set_telemetry(core::TelemetrySink sink);
    // Closes idle connections and refuses new acquires; leases out close when returned.
    void close();

    // For the test sandbox (quarry/sandbox.hpp): from pin(lease) until unpin(), every acquire
    // returns `lease`'s session, to one thread at a time (the others wait their turn within
    // their acquire timeout; the thread holding it may acquire again). When the outermost of a
    // thread's leases on it returns, what that thread left open is rolled back to the depth the
    // session had at pin(). unpin() waits for the turn.
    void pin(Lease& lease);
    void unpin() noexcept;
    bool pinned() const noexcept;

private:
    friend class Lease;
    struct Impl;
    void give_back(Lease::Slot* s) noexcept;
    std::unique_ptr<Impl> impl_;
};

// ---- read replicas ---------------------------------------------------------------------------

struct ReplicaOptions {
    enum class Balance : std::uint8_t { round_robin, least_busy };
    Balance balance = Balance::round_robin;
    PoolOptions pool{};  // each replica's pool
    // A replica out of rotation (it failed, or could not be reached) is tried this often, and
    // is back in rotation as soon as a connection to it answers.
    std::chrono::milliseconds probe_interval{200};
    // Read-your-writes (PostgreSQL): a read goes to a replica only once it has replayed every
    // commit made through the Repo so far; the read waits up to max_replay_wait for that, then
    // goes to the primary instead. Costs a round trip after each write outside a transaction and
    // each commit, and one per read while a replica is behind.
    bool read_your_writes = false;
    std::chrono::milliseconds max_replay_wait{100};
    // Every replica in rotation busy (no free connection, and none may be opened): the read waits
    // this long for the first of them, then runs on the primary. (Not each replica pool's
    // acquire_timeout: a read would wait that long for every busy replica in turn.)
    std::chrono::milliseconds busy_wait{50};
};

struct ReplicaStatus {
    std::string url;  // as given
    bool in_rotation = false;
    std::string last_error;  // why it was taken out (empty while in rotation)
    PoolState pool;          // empty while no connection could be made
};

// Pools on read replicas (hot standbys), for Repo(primary, replicas): reads outside a
// transaction go to a replica in rotation; a replica that fails is taken out and its reads go
// to the primary until a probe finds it answering again (docs/production.md).
class Replicas {
public:
    // Replicas that cannot be reached now start out of rotation (a malformed URL is InvalidUrl).
    explicit Replicas(std::vector<std::string> urls, ReplicaOptions options = {});
    ~Replicas();
    Replicas(const Replicas&) = delete;
    Replicas& operator=(const Replicas&) = delete;

    std::vector<ReplicaStatus> status() const;
    const ReplicaOptions& options() const noexcept;

    // For the Repo's router. A session on a replica in rotation (by the balance rule), or none.
    struct Pick {
        Lease lease;
        std::size_t index = 0;
    };
    std::optional<Pick> acquire_read();
    // Replica `index` failed with a connection error: out of rotation until a probe succeeds.
    void failed(std::size_t index, const std::string& why);
    // Whether replica `index` has replayed the primary's WAL up to `position` (PostgreSQL LSN),
    // waiting up to max_replay_wait for it.
    bool caught_up(std::size_t index, core::Session& s, std::uint64_t position);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The primary's current WAL position (PostgreSQL; 0 elsewhere): a commit made on `s` before
// this call is at or below it.
std::uint64_t wal_position(core::Session& s);

}  // namespace quarry
