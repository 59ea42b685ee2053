// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string_view>

namespace quarry::util {

// Order-sensitive 64-bit combiner (a murmur3 finaliser over the running state).
inline std::uint64_t mix(std::uint64_t h, std::uint64_t x) noexcept {
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

inline std::uint64_t hash_bytes(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h ^ s.size();
}

}  // namespace quarry::util
