// SPDX-License-Identifier: MIT
// DESIGN §6 R1–R8 as quarry values, shared by the render benchmark and the compile-time TU.
#pragma once
#include "../test/schema.hpp"

namespace workloads {
using namespace quarry;

inline auto r1() {
    return from<User>() | where(col(&User::active) == true) | order_by(desc(col(&User::inserted_at))) | limit(10) |
           select(col(&User::id), col(&User::name), col(&User::email));
}
inline auto r2(const std::vector<std::int64_t>& ids) {
    return from<User>() | where(col(&User::age) >= 18) | where(col(&User::age) < 65) |
           where(like(col(&User::name), "a%") || like(col(&User::email), "%@example.com")) |
           where(in(col(&User::id), ids)) | where(col(&User::active) == true) |
           order_by(asc(col(&User::name)), desc(col(&User::id))) | limit(20) | offset(40);
}
inline auto r3() {
    return from<User>() | join<Post>(col(&Post::user_id) == col(&User::id)) | where(col(&Post::published) == true) |
           group_by(col(&User::id), col(&User::name)) | having(count(col(&Post::id)) > 5) |
           order_by(desc(count(col(&Post::id)))) | limit(10) | select(col(&User::id), col(&User::name), count(col(&Post::id)));
}
inline auto r4() {
    return from<User>() |
           where(in(col(&User::id), from<Post>() | where(col(&Post::views) > 100) | select(col(&Post::user_id)))) |
           where(col(&User::active) == true);
}
inline auto r5(const User& u) {
    return insert(u, fields(&User::name, &User::email, &User::age, &User::active)) | returning(col(&User::id));
}
inline auto r6() {
    return update_all(from<User>() | where(col(&User::id) == 7), set(&User::name, "Grace"), set(&User::age, 40));
}
inline auto r7(timestamp t) {
    return delete_all(from<User>() | where(col(&User::active) == false) | where(col(&User::inserted_at) < t));
}
inline auto r8(const User& u) {
    return insert(u, fields(&User::email, &User::name)) | on_conflict(&User::email).replace(&User::name);
}

}  // namespace workloads
