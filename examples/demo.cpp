// SPDX-License-Identifier: MIT
// quarry demo: query fragments defined in a data layer, refined in a service layer, rendered
// for SQLite and PostgreSQL, and run on an embedded SQLite file.
//
//   quarry-demo [path.db]
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <quarry/quarry.hpp>

// ---- schema --------------------------------------------------------------------------------

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
    int views = 0;
};
BOOST_HANA_ADAPT_STRUCT(Post, id, user_id, title, views);
QUARRY_TABLE(Post, "posts", &Post::id);

using namespace quarry;

// ---- data layer: reusable fragments ---------------------------------------------------------

namespace users_data {
Query<User> active() { return from<User>() | where(col(&User::active) == true); }
Query<User> adults(Query<User> q) { return q | where(col(&User::age) >= 18); }
Query<User> named_like(Query<User> q, const std::string& prefix) {
    return q | where(like(col(&User::name), escape_like(prefix) + "%"));
}
}  // namespace users_data

// ---- service layer: refines what the data layer returns --------------------------------------

namespace user_service {
Query<User> newest_active_adults(int n) {
    return users_data::adults(users_data::active()) | order_by(desc(col(&User::inserted_at)), asc(col(&User::id))) | limit(n);
}
auto prolific_authors(int min_views) {
    return from<User>() | join<Post>(col(&Post::user_id) == col(&User::id)) | group_by(col(&User::id), col(&User::name)) |
           having(sum(col(&Post::views)) >= min_views) | order_by(desc(sum(col(&Post::views)))) |
           select(col(&User::name), count(col(&Post::id)), sum(col(&Post::views)));
}
}  // namespace user_service

// ---- a tiny runner on the raw SQLite API (the Repo arrives with issue 3) ---------------------

namespace {

std::string iso8601(std::int64_t micros) {
    auto tp = timestamp(std::chrono::microseconds(micros));
    auto day = std::chrono::floor<std::chrono::days>(tp);
    std::chrono::year_month_day ymd(day);
    std::chrono::hh_mm_ss hms(tp - day);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()), (long long)hms.hours().count(), (long long)hms.minutes().count(),
                  (long long)hms.seconds().count(), (long long)hms.subseconds().count());
    return buf;
}

void check(int rc, sqlite3* db, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

void bind(sqlite3_stmt* st, int i, const Value& v) {
    switch (v.kind) {
        case ValueKind::null: sqlite3_bind_null(st, i); break;
        case ValueKind::boolean:
        case ValueKind::integer: sqlite3_bind_int64(st, i, v.i); break;
        case ValueKind::real: sqlite3_bind_double(st, i, v.d); break;
        case ValueKind::text: sqlite3_bind_text(st, i, v.s, static_cast<int>(v.size), SQLITE_TRANSIENT); break;
        case ValueKind::blob: sqlite3_bind_blob(st, i, v.s, static_cast<int>(v.size), SQLITE_TRANSIENT); break;
        case ValueKind::timestamp: {
            auto s = iso8601(v.i);
            sqlite3_bind_text(st, i, s.c_str(), -1, SQLITE_TRANSIENT);
            break;
        }
        case ValueKind::array: throw std::runtime_error("SQLite takes expanded IN lists, not arrays");
    }
}

std::string show_params(const std::vector<Value>& ps) {
    std::string s;
    for (std::size_t i = 0; i < ps.size(); ++i) {
        const Value& v = ps[i];
        s += i ? ", " : "";
        switch (v.kind) {
            case ValueKind::text: s += "'" + std::string(v.text()) + "'"; break;
            case ValueKind::boolean: s += v.i ? "true" : "false"; break;
            case ValueKind::timestamp: s += iso8601(v.i); break;
            case ValueKind::array: s += "{" + std::to_string(v.size) + " items}"; break;
            case ValueKind::null: s += "NULL"; break;
            case ValueKind::real: s += std::to_string(v.d); break;
            default: s += std::to_string(v.i);
        }
    }
    return s;
}

int run(sqlite3* db, const Rendered& r, bool print_rows = true) {
    sqlite3_stmt* st = nullptr;
    check(sqlite3_prepare_v2(db, r.sql.c_str(), -1, &st, nullptr), db, "prepare");
    for (std::size_t i = 0; i < r.params.size(); ++i) bind(st, static_cast<int>(i + 1), r.params[i]);
    int rows = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ++rows;
        if (!print_rows) continue;
        std::printf("    ");
        for (int c = 0; c < sqlite3_column_count(st); ++c) {
            const unsigned char* t = sqlite3_column_text(st, c);
            std::printf("%s%s", c ? " | " : "", t ? reinterpret_cast<const char*>(t) : "NULL");
        }
        std::printf("\n");
    }
    check(rc, db, "step");
    sqlite3_finalize(st);
    return rows;
}

template <class Q>
void show_and_run(sqlite3* db, const char* title, const Q& q) {
    std::printf("\n== %s\n", title);
    auto pg = to_sql(q, postgres());
    auto lite = to_sql(q, sqlite());
    std::printf("  postgres: %s\n            params: [%s]\n", pg.sql.c_str(), show_params(pg.params).c_str());
    std::printf("  sqlite:   %s\n            params: [%s]\n", lite.sql.c_str(), show_params(lite.params).c_str());
    std::printf("  rows on SQLite:\n");
    int n = run(db, lite);
    std::printf("  (%d rows)\n", n);
}

}  // namespace

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "quarry-demo.db";
    std::remove(path);
    sqlite3* db = nullptr;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        std::fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    try {
        check(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
                           "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,"
                           " age INTEGER NOT NULL, active INTEGER NOT NULL, inserted_at TEXT NOT NULL);"
                           "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
                           " title TEXT NOT NULL, views INTEGER NOT NULL);",
                           nullptr, nullptr, nullptr),
              db, "schema");
        std::printf("quarry demo on SQLite file %s\n", path);

        // Inserts are values too: rendered once per shape, bound per row.
        const char* names[] = {"Ada", "Grace", "Linus", "Barbara", "Ken", "Edsger", "Frances", "Alan_ish"};
        auto now = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (int i = 0; i < 8; ++i) {
            User u;
            u.name = names[i];
            u.email = std::string(names[i]) + "@example.com";
            u.age = 15 + i * 7;
            u.active = i % 3 != 0;
            u.inserted_at = now - std::chrono::hours(24 * i);
            run(db, to_sql(insert(u), sqlite()), false);
            for (int p = 0; p < i % 4; ++p) {
                Post post;
                post.user_id = i + 1;
                post.title = "Post " + std::to_string(p) + " by " + names[i];
                post.views = (i + 1) * (p + 3) * 10;
                run(db, to_sql(insert(post), sqlite()), false);
            }
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
        std::printf("seeded 8 users and their posts; the insert statement renders as:\n  %s\n",
                    to_sql(insert(User{}), sqlite()).sql.c_str());

        // The data layer's fragment, unchanged by everything refined from it below.
        auto active = users_data::active();
        show_and_run(db, "data layer: active users", active);
        show_and_run(db, "service layer: the 3 newest active adults", user_service::newest_active_adults(3));
        show_and_run(db, "service layer: names starting with a literal 'Alan_' (LIKE wildcards escaped)",
                     users_data::named_like(from<User>(), "Alan_"));
        show_and_run(db, "authors with at least 100 views in total", user_service::prolific_authors(100));
        show_and_run(db, "the data-layer fragment is still what it was", active);

        std::printf("\n== structure of the service query (the printer):\n%s\n",
                    describe(user_service::newest_active_adults(3)).c_str());
        try {
            (void)to_sql(active | for_update(LockWait::skip_locked), sqlite());
        } catch (const UnsupportedFeature& e) {
            std::printf("\n== a feature SQLite lacks is an error, never dropped:\n  %s\n", e.what());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "demo failed: %s\n", e.what());
        sqlite3_close(db);
        return 1;
    }
    sqlite3_close(db);
    return 0;
}
