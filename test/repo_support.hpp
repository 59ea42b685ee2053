// SPDX-License-Identifier: MIT
// Helpers shared by the Repo tests of both databases.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

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
