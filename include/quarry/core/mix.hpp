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

// One cheap, order-sensitive step of a running key: a 64x64->128-bit multiply folded to 64 bits.
// Per op of a clause; the node's key then goes through mix() once, in Lowerer::finish.
[[gnu::always_inline]] inline std::uint64_t mix_step(std::uint64_t h, std::uint64_t x) noexcept {
    __extension__ using u128 = unsigned __int128;
    const u128 m = static_cast<u128>(h ^ x) * 0x9fb21c651e98df25ull;
    return static_cast<std::uint64_t>(m) ^ static_cast<std::uint64_t>(m >> 64);
}

}  // namespace quarry::core
