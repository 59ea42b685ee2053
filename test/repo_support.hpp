// SPDX-License-Identifier: MIT
// Helpers shared by the Repo tests of both databases.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

#include <doctest/doctest.h>
#include <quarry/repo.hpp>

#include "schema.hpp"

// A valid user row; inserted_at is a fixed instant with microseconds.
inline User make_user(std::string name, std::string email, int age = 30) {
    User u;
    u.name = std::move(name);
    u.email = std::move(email);
    u.age = age;
    u.active = true;
    u.inserted_at = timestamp(std::chrono::microseconds(1'700'000'000'123'456));
    return u;
}

// AddressSanitizer keeps freed memory in quarantine, so a resident-set bound means nothing there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool address_sanitized = true;
#else
inline constexpr bool address_sanitized = false;
#endif
#else
inline constexpr bool address_sanitized = false;
#endif

// Resident set size of this process, in bytes (for the streaming memory bounds).
inline std::size_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return static_cast<std::size_t>(resident) * 4096;
}

// The Repo's own statements (insert, get, update, remove) are prepared once per type and shape,
// then run with the row's values bound directly; NULL in an optional column is a statement of
// its own. Shared by both databases' tests.
inline void check_fixed_statements(quarry::Repo& repo) {
    User a = repo.insert(make_user("a", "a@x", 1));
    const auto inserted = repo.cache_stats();
    User b = repo.insert(make_user("b", "b@x", 2));
    User c = repo.insert(make_user("c", "c@x", 3));
    CHECK(repo.cache_stats().misses == inserted.misses);
    CHECK(repo.cache_stats().hits == inserted.hits + 2);
    CHECK(b.id != c.id);
    CHECK(c.name == "c");
    CHECK(c.inserted_at == make_user("", "").inserted_at);

    CHECK(repo.get<User>(a.id)->email == "a@x");
    const auto got = repo.cache_stats();
    CHECK(repo.get<User>(b.id)->email == "b@x");
    CHECK(!repo.get<User>(c.id + 100));
    CHECK(repo.cache_stats().misses == got.misses);
    CHECK(repo.get<User>(static_cast<int>(c.id))->name == "c");  // another key type binds as the query would

    b.age = 40;
    repo.update(b);
    const auto updated = repo.cache_stats();
    c.name = "C";
    repo.update(c);
    CHECK(repo.cache_stats().misses == updated.misses);
    CHECK(repo.get<User>(b.id)->age == 40);
    CHECK(repo.get<User>(c.id)->name == "C");
    CHECK(repo.get<User>(a.id)->age == 1);  // only the row with that key changed

    repo.remove(a);
    const auto removed = repo.cache_stats();
    repo.remove(b);
    CHECK(repo.cache_stats().misses == removed.misses);
    CHECK(!repo.get<User>(b.id));
    CHECK_THROWS_AS(repo.remove(b), quarry::NoResults);
    CHECK_THROWS_AS(repo.update(b), quarry::NoResults);

    Post p;
    p.user_id = c.id;
    p.title = "t";
    const Post without = repo.insert(p);
    p.body = "text";
    const Post with = repo.insert(p);
    CHECK(!repo.get<Post>(without.id)->body);
    CHECK(repo.get<Post>(with.id)->body == "text");
    Post cleared = with;
    cleared.body.reset();
    repo.update(cleared);
    CHECK(!repo.get<Post>(with.id)->body);
}

// Repo::upsert inserts, or updates the row it conflicts with, and returns the row as stored.
inline void check_upsert(quarry::Repo& repo) {
    User u = make_user("first", "same@x", 20);
    const User stored = repo.upsert(u, &User::email);
    u.name = "second";
    u.age = 21;
    const User replaced = repo.upsert(u, &User::email);
    CHECK(replaced.id == stored.id);
    CHECK(replaced.name == "second");
    CHECK(replaced.age == 21);
    CHECK(repo.count(quarry::from<User>()) == 1);
    const User other = repo.upsert(make_user("other", "other@x"), &User::email);
    CHECK(other.id != stored.id);
    CHECK(repo.count(quarry::from<User>()) == 2);
    // By primary key: an existing id is replaced whole.
    User again = replaced;
    again.email = "changed@x";
    CHECK(repo.upsert(again, &User::id).email == "changed@x");
    CHECK(repo.get<User>(replaced.id)->email == "changed@x");
    // A conflict the target does not name is still a ConstraintError, and changes nothing.
    User clash = make_user("clash", "other@x");
    clash.id = again.id;
    CHECK_THROWS_AS(repo.upsert(clash, &User::id), quarry::ConstraintError);
    CHECK(repo.get<User>(again.id)->email == "changed@x");
}

// Repo::update_all and Repo::delete_all change exactly the rows the query selects.
inline void check_bulk_writes(quarry::Repo& repo) {
    using quarry::col;
    using quarry::from;
    for (int i = 0; i < 4; ++i) repo.insert(make_user("b" + std::to_string(i), std::to_string(i) + "@bulk", i));
    CHECK(repo.update_all(from<User>() | where(col(&User::age) >= 2), quarry::set(&User::active, false)) == 2);
    CHECK(repo.count(from<User>() | where(col(&User::active) == false)) == 2);
    CHECK(repo.update_all(from<User>() | where(col(&User::age) > 99), quarry::set(&User::active, false)) == 0);
    CHECK(repo.delete_all(from<User>() | where(col(&User::active) == false)) == 2);
    CHECK(repo.count(from<User>()) == 2);
    CHECK(repo.delete_all(from<User>()) == 2);
    CHECK(repo.count(from<User>()) == 0);
}

// A parameter means the value the caller bound, whatever SQL position it lands in. PostgreSQL
// types an untyped parameter from its context: a number in a CASE branch becomes text (and
// sorts as text), a real beside an integer column becomes an integer (and fails to parse).
inline void parameters_keep_their_types(quarry::Repo& repo) {
    using namespace quarry;
    User young = repo.insert(make_user("young", "y@x", 17));
    User old = repo.insert(make_user("old", "o@x", 30));
    auto ids = [&](auto q) {
        std::vector<std::int64_t> out;
        for (const User& u : repo.all(q)) out.push_back(u.id);
        return out;
    };
    // A real beside an integer column compares as a real.
    CHECK(ids(from<User>() | where(col(&User::age) > 17.5)) == std::vector{old.id});
    CHECK(ids(from<User>() | where(col(&User::age) + 0.5 > 30)) == std::vector{old.id});
    CHECK(ids(from<User>() | where(between(col(&User::age), 16.5, 17.5))) == std::vector{young.id});
    // CASE branches of numbers order as numbers: 9 before 10.
    CHECK(ids(from<User>() | order_by(case_when(col(&User::age) > 20, 10).else_(9))) == std::vector{young.id, old.id});
    // ... add up as numbers, and a CASE of booleans is a condition.
    CHECK(repo.one(from<User>() | select(sum(case_when(col(&User::active), 1).else_(0)))) == 2);
    CHECK(ids(from<User>() | where(case_when(col(&User::age) > 20, true).else_(false))) == std::vector{old.id});
    // Functions of parameters alone, and a parameter that is a whole select item.
    CHECK(repo.one(from<User>() | where(col(&User::id) == old.id) | select(coalesce(as_expr(std::optional<int>{}), 7) + 1)) == 8);
    CHECK(repo.one(from<User>() | where(col(&User::id) == old.id) | select(greatest(as_expr(2.5), 1.0))) == 2.5);
    CHECK(repo.one(from<User>() | where(col(&User::id) == old.id) | select(as_expr(std::int64_t{5}) + 6)) == 11);
    const timestamp t = make_user("", "").inserted_at;
    CHECK(repo.one(from<User>() | where(col(&User::id) == old.id) |
                   select(case_when(col(&User::age) > 20, t + std::chrono::seconds(1)).else_(t))) ==
          t + std::chrono::seconds(1));
    repo.execute(delete_all(from<User>()));
}
