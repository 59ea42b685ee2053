// SPDX-License-Identifier: MIT
// Read replicas: one pool per replica, a rotation of the healthy ones, and a prober thread that
// brings failed ones back. Reads that find no replica in rotation go to the primary (the Repo's
// router does that), so a replica's failure costs a retry, never a failed read.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "quarry/pool.hpp"

namespace quarry {

using Clock = std::chrono::steady_clock;

namespace {

// "16/B374D848" -> 0x16B374D848; 0 for NULL or anything else.
std::uint64_t parse_lsn(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return 0;
    auto hex = [](std::string_view h) {
        std::uint64_t v = 0;
        for (char c : h) {
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return std::uint64_t{0};
            v = v * 16 + static_cast<std::uint64_t>(d);
        }
        return v;
    };
    return hex(text.substr(0, slash)) << 32 | hex(text.substr(slash + 1));
}

std::uint64_t lsn_of(core::Session& s, std::string_view sql) {
    core::StatementRun run(s, s.run_sql(sql, {}));
    if (!run.step() || run.row().is_null(0)) return 0;
    return parse_lsn(run.row().text(0));
}

}  // namespace

std::uint64_t wal_position(core::Session& s) {
    if (s.dialect().name() != "postgres") return 0;
    // The insert position: at or past the end of every commit record, also with asynchronous
    // commit (the write position can still be short of it then).
    return lsn_of(s, "SELECT pg_current_wal_insert_lsn()::text");
}

struct Replicas::Impl {
    struct Replica {
        std::string url;
        std::unique_ptr<Pool> pool;  // null until a connection could be made
        std::atomic<bool> in_rotation{false};
        std::atomic<std::uint64_t> replayed{0};  // highest replay position seen
        std::string last_error;                   // guarded by Impl::m
    };
    ReplicaOptions o;
    std::vector<std::unique_ptr<Replica>> replicas;
    std::atomic<std::size_t> next{0};
    mutable std::mutex m;
    std::condition_variable wake;
    bool stopping = false;
    std::thread prober;

    // Opens the replica's pool if it has none, then checks that a connection answers.
    // `at_start`: a malformed URL is the caller's error (later it cannot change).
    bool probe(Replica& r, bool at_start) {
        try {
            if (!r.pool) {
                auto pool = std::make_unique<Pool>(r.url, o.pool);
                std::lock_guard lock(m);
                r.pool = std::move(pool);
            }
            auto lease = r.pool->acquire(std::chrono::milliseconds(std::max<std::int64_t>(o.probe_interval.count(), 100)));
            lease->connection().execute("SELECT 1");
            return true;
        } catch (const InvalidUrl&) {
            if (at_start) throw;
            return false;
        } catch (const std::exception& e) {
            std::lock_guard lock(m);
            r.last_error = e.what();
            return false;
        }
    }

    void probe_loop() {
        std::unique_lock lock(m);
        while (!stopping) {
            wake.wait_for(lock, o.probe_interval);
            if (stopping) break;
            for (auto& r : replicas) {
                if (r->in_rotation.load()) continue;
                lock.unlock();
                const bool ok = probe(*r, false);
                lock.lock();
                if (ok) {
                    r->last_error.clear();
                    r->in_rotation.store(true);
                }
                if (stopping) break;
            }
        }
    }
};

Replicas::Replicas(std::vector<std::string> urls, ReplicaOptions options) : impl_(std::make_unique<Impl>()) {
    auto& im = *impl_;
    im.o = std::move(options);
    for (auto& url : urls) {
        auto r = std::make_unique<Impl::Replica>();
        r->url = std::move(url);
        im.replicas.push_back(std::move(r));
    }
    for (auto& r : im.replicas)
        if (im.probe(*r, true)) r->in_rotation.store(true);
    im.prober = std::thread([this] { impl_->probe_loop(); });
}

Replicas::~Replicas() {
    {
        std::lock_guard lock(impl_->m);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    impl_->prober.join();
}

const ReplicaOptions& Replicas::options() const noexcept { return impl_->o; }

std::vector<ReplicaStatus> Replicas::status() const {
    std::lock_guard lock(impl_->m);
    std::vector<ReplicaStatus> out;
    for (const auto& r : impl_->replicas) {
        ReplicaStatus st;
        st.url = r->url;
        st.in_rotation = r->in_rotation.load();
        if (!st.in_rotation) st.last_error = r->last_error;
        if (r->pool) st.pool = r->pool->state();
        out.push_back(std::move(st));
    }
    return out;
}

std::optional<Replicas::Pick> Replicas::acquire_read() {
    auto& im = *impl_;
    const std::size_t n = im.replicas.size();
    if (n == 0) return std::nullopt;
    // The order to try them in: least busy first, or round robin from the next one.
    std::vector<std::size_t> order;
    order.reserve(n);
    const std::size_t start = im.next.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < n; ++k)
        if (im.replicas[(start + k) % n]->in_rotation.load(std::memory_order_acquire)) order.push_back((start + k) % n);
    if (im.o.balance == ReplicaOptions::Balance::least_busy) {
        std::vector<std::size_t> busy(n);
        for (auto i : order) busy[i] = im.replicas[i]->pool->state().in_use;
        std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return busy[a] < busy[b]; });
    }
    // A replica with a connection free now, in that order; when all are busy, the first one for
    // busy_wait; then none (the primary serves the read).
    auto try_one = [&](std::size_t i, std::chrono::milliseconds wait) -> std::optional<Pick> {
        try {
            return Pick{im.replicas[i]->pool->acquire(wait), i};
        } catch (const PoolTimeout& e) {
            // Busy, not broken, unless its connects fail: the replica stays in rotation only when
            // it is merely busy.
            if (!e.state().last_connect_error.empty()) failed(i, e.what());
        } catch (const PoolOverloaded&) {
            // Busy: as above.
        } catch (const std::exception& e) {
            failed(i, e.what());
        }
        return std::nullopt;
    };
    for (auto i : order)
        if (auto pick = try_one(i, std::chrono::milliseconds(0))) return pick;
    for (auto i : order)
        if (im.o.busy_wait.count() > 0 && im.replicas[i]->in_rotation.load(std::memory_order_acquire))
            return try_one(i, im.o.busy_wait);
    return std::nullopt;
}

void Replicas::failed(std::size_t index, const std::string& why) {
    auto& r = *impl_->replicas.at(index);
    std::lock_guard lock(impl_->m);
    r.last_error = why;
    r.in_rotation.store(false);
    r.replayed.store(0);  // it may come back as another server (re-cloned): ask it again
}

bool Replicas::caught_up(std::size_t index, core::Session& s, std::uint64_t position) {
    auto& r = *impl_->replicas.at(index);
    if (position == 0 || r.replayed.load(std::memory_order_acquire) >= position) return true;
    if (s.dialect().name() != "postgres") return true;
    const auto deadline = Clock::now() + impl_->o.max_replay_wait;
    for (;;) {
        // NULL (0) when the server is not a standby: it cannot promise to have the write.
        const std::uint64_t replayed = lsn_of(s, "SELECT pg_last_wal_replay_lsn()::text");
        std::uint64_t seen = r.replayed.load();
        while (replayed > seen && !r.replayed.compare_exchange_weak(seen, replayed)) {
        }
        if (replayed >= position) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace quarry
