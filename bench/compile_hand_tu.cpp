// SPDX-License-Identifier: MIT
// Compile-time probe: the same R1–R8, hand-written (the baseline of bench/compile_time.sh).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hand_written.hpp"

struct User {
    std::int64_t id = 0;
    std::string name, email;
    int age = 0;
    bool active = false;
    std::chrono::sys_time<std::chrono::microseconds> inserted_at{};
};
struct Post {
    std::int64_t id = 0, user_id = 0;
    std::string title;
    std::optional<std::string> body;
    bool published = false;
    int views = 0;
    std::chrono::sys_time<std::chrono::microseconds> inserted_at{};
};

std::vector<hand::Out> render_all(const User& u, const std::vector<std::int64_t>& ids, std::int64_t t) {
    std::vector<hand::Out> out;
    std::vector<quarry::core::Value> scratch;
    for (bool pg : {false, true}) {
        hand::Out o1(pg), o2(pg), o3(pg), o4(pg), o5(pg), o6(pg), o7(pg), o8(pg);
        hand::r1(o1);
        hand::r2(o2, ids, scratch);
        hand::r3(o3);
        hand::r4(o4);
        hand::r5(o5, u);
        hand::r6(o6);
        hand::r7(o7, t);
        hand::r8(o8, u);
        for (auto* o : {&o1, &o2, &o3, &o4, &o5, &o6, &o7, &o8}) out.push_back(std::move(*o));
    }
    return out;
}
