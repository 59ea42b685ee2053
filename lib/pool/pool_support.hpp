// SPDX-License-Identifier: MIT
// The pool's small helpers: acquire-time percentiles, call sites, and the checks a connection
// passes on its way back into the pool.
#pragma once
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>

#include "quarry/pool.hpp"

namespace quarry::pool_support {

// Acquire times in log-spaced buckets (four per power of two of microseconds).
class Histogram {
public:
    void add(std::chrono::microseconds d) {
        const double us = static_cast<double>(std::max<std::int64_t>(d.count(), 0)) + 1;
        const auto i = std::min<std::size_t>(buckets_.size() - 1, static_cast<std::size_t>(std::log2(us) * 4));
        ++buckets_[i];
        ++n_;
        max_ = std::max(max_, d);
    }
    std::chrono::microseconds percentile(double p) const {
        if (n_ == 0) return {};
        const auto want = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(n_)));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            seen += buckets_[i];
            if (seen >= want)
                return std::min(max_, std::chrono::microseconds(static_cast<std::int64_t>(std::exp2(static_cast<double>(i + 1) / 4))));
        }
        return max_;
    }
    std::chrono::microseconds max() const { return max_; }

private:
    std::array<std::uint64_t, 160> buckets_{};
    std::uint64_t n_ = 0;
    std::chrono::microseconds max_{};
};

// "file:line (function)", for leak and lifetime reports.
std::string site(const CallSite& w);

// Whether the connection answers; false rather than an exception.
bool healthy(core::Session& s) noexcept;

// Whether the connection holds no transaction, after rolling back one the holder began in raw
// SQL (execute_sql("BEGIN")), which the Session does not count.
bool out_of_transaction(core::Session& s) noexcept;

// The URL with libpq's connect_timeout added, unless it is not PostgreSQL's or sets one.
std::string with_connect_timeout(std::string url, std::chrono::milliseconds t);

}  // namespace quarry::pool_support
