// SPDX-License-Identifier: MIT
// DESIGN §6 R1–R8: build the value and render SQL text + parameters per iteration, beside a
// hand-written baseline in the same binary (compiled in a TU of its own, hand_baseline.cpp). Names: render/<R>/<dialect>/<quarry|quarry_cached|hand>.
// quarry_cached is the statement-cache hit path: build the value, take its cache key and collect
// the parameters, without producing text.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <map>
#include <unordered_map>

#include "hand_baseline.hpp"
#include "workloads.hpp"

namespace {

using quarry::core::Dialect;

const std::vector<std::int64_t> ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
const timestamp t0 = timestamp(std::chrono::microseconds(1700000000000000));

User sample() {
    User u;
    u.name = "Ada";
    u.email = "ada@example.com";
    u.age = 36;
    u.active = true;
    return u;
}
const User u = sample();

using Build = std::function<quarry::core::NodePtr()>;

struct Workload {
    const char* name;
    Build build;
    hand::Out (*hand)(bool, const hand::Inputs&);
};

const std::vector<Workload>& workload_list() {
    static const std::vector<Workload> w = {
        {"R1", [] { return workloads::r1().node(); }, hand::render<1>},
        {"R2", [] { return workloads::r2(ids).node(); }, hand::render<2>},
        {"R3", [] { return workloads::r3().node(); }, hand::render<3>},
        {"R4", [] { return workloads::r4().node(); }, hand::render<4>},
        {"R5", [] { return workloads::r5(u).node(); }, hand::render<5>},
        {"R6", [] { return workloads::r6().node(); }, hand::render<6>},
        {"R7", [] { return workloads::r7(t0).node(); }, hand::render<7>},
        {"R8", [] { return workloads::r8(u).node(); }, hand::render<8>},
    };
    return w;
}

// The builders are called directly (not through std::function) in the timed loops.
template <int N>
auto build_direct() {
    if constexpr (N == 1) return workloads::r1();
    else if constexpr (N == 2) return workloads::r2(ids);
    else if constexpr (N == 3) return workloads::r3();
    else if constexpr (N == 4) return workloads::r4();
    else if constexpr (N == 5) return workloads::r5(u);
    else if constexpr (N == 6) return workloads::r6();
    else if constexpr (N == 7) return workloads::r7(t0);
    else return workloads::r8(u);
}


template <int N>
void bm_quarry(benchmark::State& st, const Dialect* d) {
    for (auto _ : st) {
        auto q = build_direct<N>();
        auto r = quarry::to_sql(q, *d);
        benchmark::DoNotOptimize(r.sql.data());
        benchmark::DoNotOptimize(r.params.data());
    }
}

// What a statement cache does on a hit: look the key up and bind the parameters through the
// plan recorded when the shape was first rendered. The lookup is part of the measured loop.
template <int N>
void bm_cached(benchmark::State& st, const Dialect* d) {
    std::unordered_map<std::uint64_t, quarry::core::ParamPlan> plans;
    std::vector<quarry::core::Value> params;
    {
        auto q = build_direct<N>();
        quarry::core::render_into(*q.node(), *d, nullptr, params, &plans[quarry::core::cache_key(*q.node(), *d)]);
    }
    for (auto _ : st) {
        auto q = build_direct<N>();
        auto hit = plans.find(quarry::core::cache_key(*q.node(), *d));
        params.clear();
        if (hit == plans.end() || !quarry::core::collect_params(*q.node(), hit->second, params)) {
            st.SkipWithError("cache miss on a shape already seen");
            break;
        }
        benchmark::DoNotOptimize(params.data());
    }
}

template <int N>
void bm_hand(benchmark::State& st, const Dialect* d) {
    const bool pg = d == &quarry::postgres();
    std::vector<quarry::core::Value> scratch;
    scratch.reserve(16);
    const hand::Inputs in{ids, scratch, u, t0.time_since_epoch().count()};
    for (auto _ : st) {
        hand::Out o = hand::render<N>(pg, in);
        benchmark::DoNotOptimize(o.sql.data());
        benchmark::DoNotOptimize(o.params.data());
    }
}

// The baseline must emit exactly quarry's SQL, or the ratio means nothing.
bool baseline_matches() {
    bool ok = true;
    for (const auto& w : workload_list()) {
        for (const Dialect* d : {&quarry::sqlite(), &quarry::postgres()}) {
            auto r = quarry::core::render(w.build(), *d);
            std::vector<quarry::core::Value> scratch;
            hand::Out o = w.hand(d == &quarry::postgres(), {ids, scratch, u, t0.time_since_epoch().count()});
            if (o.sql != r.sql || o.params.size() != r.params.size()) {
                std::fprintf(stderr, "baseline differs on %s/%s:\n  quarry: %s\n  hand:   %s\n", w.name,
                             std::string(d->name()).c_str(), r.sql.c_str(), o.sql.c_str());
                ok = false;
            }
        }
    }
    return ok;
}

// QUARRY_BENCH_ITERATIONS=N runs each benchmark exactly N times, once: what bench/instructions.sh
// needs to divide callgrind's count by.
template <int N>
void register_one() {
    const char* fixed = std::getenv("QUARRY_BENCH_ITERATIONS");
    for (const Dialect* d : {&quarry::sqlite(), &quarry::postgres()}) {
        std::string base = "render/R" + std::to_string(N) + "/" + std::string(d->name()) + "/";
        for (auto* b : {benchmark::RegisterBenchmark((base + "quarry").c_str(), bm_quarry<N>, d),
                        benchmark::RegisterBenchmark((base + "quarry_cached").c_str(), bm_cached<N>, d),
                        benchmark::RegisterBenchmark((base + "hand").c_str(), bm_hand<N>, d)})
            if (fixed) b->Iterations(std::atoll(fixed));
    }
}

// Prints quarry / hand-written per query and the geometric means after the usual output.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs)
            if (r.run_type == Run::RT_Iteration || r.aggregate_name == "median")
                times_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\n%-22s %10s %10s %10s %8s %8s\n", "query/dialect", "hand ns", "quarry ns", "cached ns", "ratio", "cached");
        double log_sum = 0, log_sum_cached = 0, worst = 0, worst_cached = 0;
        int n = 0;
        for (int q = 1; q <= 8; ++q) {
            for (const char* d : {"sqlite", "postgres"}) {
                std::string base = "render/R" + std::to_string(q) + "/" + d + "/";
                double h = times_[base + "hand"], x = times_[base + "quarry"], c = times_[base + "quarry_cached"];
                if (h <= 0 || x <= 0) continue;
                std::printf("%-22s %10.1f %10.1f %10.1f %7.2fx %7.2fx\n", (base.substr(7, base.size() - 8)).c_str(), h, x, c, x / h, c / h);
                log_sum += std::log(x / h);
                log_sum_cached += std::log(c / h);
                worst = std::max(worst, x / h);
                worst_cached = std::max(worst_cached, c / h);
                ++n;
            }
        }
        if (n)
            std::printf("geometric mean: %.2fx (target <= 2.5x), worst: %.2fx (target <= 3.0x); cached path geomean %.2fx, worst %.2fx (target <= 1.5x)\n",
                        std::exp(log_sum / n), worst, std::exp(log_sum_cached / n), worst_cached);
    }

private:
    std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
    if (!baseline_matches()) return 1;
    register_one<1>();
    register_one<2>();
    register_one<3>();
    register_one<4>();
    register_one<5>();
    register_one<6>();
    register_one<7>();
    register_one<8>();
    benchmark::Initialize(&argc, argv);
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
}
