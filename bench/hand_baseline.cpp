// SPDX-License-Identifier: MIT
#include "hand_baseline.hpp"

#include "../test/schema.hpp"

namespace hand {

template <int N>
Out render(bool pg, const Inputs& in) {
    Out o(pg);
    if constexpr (N == 1) r1(o);
    else if constexpr (N == 2) r2(o, in.ids, in.scratch);
    else if constexpr (N == 3) r3(o);
    else if constexpr (N == 4) r4(o);
    else if constexpr (N == 5) r5(o, in.user);
    else if constexpr (N == 6) r6(o);
    else if constexpr (N == 7) r7(o, in.micros);
    else r8(o, in.user);
    return o;
}

template Out render<1>(bool, const Inputs&);
template Out render<2>(bool, const Inputs&);
template Out render<3>(bool, const Inputs&);
template Out render<4>(bool, const Inputs&);
template Out render<5>(bool, const Inputs&);
template Out render<6>(bool, const Inputs&);
template Out render<7>(bool, const Inputs&);
template Out render<8>(bool, const Inputs&);

}  // namespace hand
