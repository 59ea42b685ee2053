// SPDX-License-Identifier: MIT
// The render benchmark's entry into the hand-written baseline. The baseline is compiled in a
// translation unit of its own (hand_baseline.cpp): whether the compiler inlines its appends
// must not depend on how much quarry code shares its TU. It did, by a fifth of R1's count.
#pragma once
#include <cstdint>
#include <vector>

#include "hand_written.hpp"

struct User;

namespace hand {

struct Inputs {
    const std::vector<std::int64_t>& ids;  // R2's IN list
    std::vector<Value>& scratch;           // R2's array parameter on PostgreSQL
    const User& user;                      // R5, R8
    std::int64_t micros;                   // R7
};

// R<N> for SQLite (pg false) or PostgreSQL: its SQL text and parameters.
template <int N>
Out render(bool pg, const Inputs& in);

}  // namespace hand
