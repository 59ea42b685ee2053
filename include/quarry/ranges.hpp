// SPDX-License-Identifier: MIT
// Opt-in range-v3 interop (range-v3 costs about 2 s of compile time per TU: DESIGN §7):
//   #include <quarry/ranges.hpp>
//   for (auto& name : repo.stream(q) | ranges::views::transform(&User::name)) ...
#pragma once
#include <range/v3/range/concepts.hpp>

#include "quarry/repo.hpp"

template <class R>
inline constexpr bool ranges::enable_view<quarry::Stream<R>> = true;
