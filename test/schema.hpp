// SPDX-License-Identifier: MIT
// The canonical schema of DESIGN §6, shared by the tests and benchmarks.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <quarry/quarry.hpp>

using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

struct User {
    std::int64_t id = 0;
    std::string name;
    std::string email;
    int age = 0;
    bool active = false;
    timestamp inserted_at{};
};
BOOST_HANA_ADAPT_STRUCT(User, id, name, email, age, active, inserted_at);
QUARRY_TABLE(User, "users", &User::id);

struct Post {
    std::int64_t id = 0;
    std::int64_t user_id = 0;
    std::string title;
    std::optional<std::string> body;
    bool published = false;
    int views = 0;
    timestamp inserted_at{};
};
BOOST_HANA_ADAPT_STRUCT(Post, id, user_id, title, body, published, views, inserted_at);
QUARRY_TABLE(Post, "posts", &Post::id);

// DDL for both databases, used by the acceptance tests.
inline constexpr const char* canonical_schema_sqlite =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, "
    "age INTEGER NOT NULL, active INTEGER NOT NULL, inserted_at TEXT NOT NULL);"
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), "
    "title TEXT NOT NULL, body TEXT, published INTEGER NOT NULL, views INTEGER NOT NULL, inserted_at TEXT NOT NULL);";

inline constexpr const char* canonical_schema_postgres =
    "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, "
    "age integer NOT NULL, active boolean NOT NULL, inserted_at timestamptz NOT NULL);"
    "CREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id), "
    "title text NOT NULL, body text, published boolean NOT NULL, views integer NOT NULL, inserted_at timestamptz NOT NULL);";
