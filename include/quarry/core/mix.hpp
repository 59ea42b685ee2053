// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>

namespace quarry::core {

// Order-sensitive 64-bit combiner (a murmur3 finaliser over the running state): shape keys.
inline std::uint64_t mix(std::uint64_t h, std::uint64_t x) noexcept {
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

}  // namespace quarry::core
