// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string_view>

#include "quarry/core/mix.hpp"

namespace quarry::util {

using core::mix;
using core::mix_step;

inline std::uint64_t hash_bytes(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h ^ s.size();
}

}  // namespace quarry::util
