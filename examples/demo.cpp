// SPDX-License-Identifier: MIT
// quarry demo: query fragments defined in a data layer, refined in a service layer, rendered
// for SQLite and PostgreSQL, and run through a quarry::Repo on an embedded SQLite file.
//
//   quarry-demo [path.db]
#include <chrono>
#include <concepts>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <quarry/migrator.hpp>
#include <quarry/quarry.hpp>
#include <quarry/repo.hpp>  // the Repo is opt-in: quarry.hpp alone only builds and renders

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

// ---- migrations: the schema, versioned (`quarry status` / `rollback` work on the demo's file) --

std::vector<Migration> demo_migrations() {
    using namespace quarry::migrate;
    return {
        Migration(20240301090000, "create_users", [](Plan& m) {
            m.create_table("users", [](Table& t) {
                t.id();
                t.add("name", type::text()).null(false);
                t.add("email", type::text()).null(false).unique();
                t.add("age", type::integer()).null(false);
                t.add("active", type::boolean()).null(false).default_to(false);
                t.add("inserted_at", type::timestamp()).null(false).default_to(default_now());
            });
        }),
        Migration(20240301090100, "create_posts", [](Plan& m) {
            m.create_table("posts", [](Table& t) {
                t.id();
                t.add("user_id", type::bigint()).null(false).references("users", "id", Action::cascade);
                t.add("title", type::text()).null(false);
                t.add("views", type::integer()).null(false).default_to(0);
            });
            m.create_index("posts", {"user_id"});
        }),
    };
}

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

// ---- printing ---------------------------------------------------------------------------------

namespace {
std::string cell(const std::string& s) { return s; }
std::string cell(bool b) { return b ? "true" : "false"; }
template <std::integral I>
std::string cell(I i) { return std::to_string(i); }
std::string cell(timestamp t) { return core::format_timestamp(t.time_since_epoch().count()); }
template <class T>
std::string cell(const std::optional<T>& v) { return v ? cell(*v) : "NULL"; }

std::string line(const User& u) {
    return cell(u.id) + " | " + u.name + " | " + u.email + " | " + cell(u.age) + " | " + cell(u.active) + " | " +
           cell(u.inserted_at);
}
template <class... V>
std::string line(const std::tuple<V...>& row) {
    std::string out;
    const char* sep = "";
    std::apply([&](const auto&... v) { ((out += sep + cell(v), sep = " | "), ...); }, row);
    return out;
}

std::string show(const Value& v) {
    switch (v.kind) {
        case ValueKind::null: return "NULL";
        case ValueKind::boolean: return v.i ? "true" : "false";
        case ValueKind::integer: return std::to_string(v.i);
        case ValueKind::text: return "'" + std::string(v.text()) + "'";
        case ValueKind::timestamp: return core::format_timestamp(v.i);
        default: return std::string(core::to_string(v.kind));
    }
}

// The statement as each dialect renders it (nothing runs).
template <class Q>
void show_sql(const char* title, const Q& q) {
    std::printf("\n== %s\n", title);
    for (auto [label, dialect] : {std::pair{"postgres:", &postgres()}, std::pair{"sqlite:", &sqlite()}}) {
        Rendered r = to_sql(q, *dialect);
        std::string params;
        for (const Value& v : r.params) params += (params.empty() ? "" : ", ") + show(v);
        std::printf("  %-9s %s\n            params: [%s]\n", label, r.sql.c_str(), params.c_str());
    }
}

// ... then run on the Repo's SQLite file, rows mapped to the query's row type.
template <class Q>
void show_and_run(Repo& repo, const char* title, const Q& q) {
    show_sql(title, q);
    auto rows = repo.all(q);  // std::vector<User>, or of tuples for a select
    std::printf("  rows on SQLite:\n");
    for (const auto& row : rows) std::printf("    %s\n", line(row).c_str());
    std::printf("  (%zu rows)\n", rows.size());
}

}  // namespace

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "quarry-demo.db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
    try {
        Repo repo("sqlite:" + path);
        std::printf("quarry demo on SQLite file %s\n", path.c_str());
        Migrator(repo.session(), demo_migrations()).migrate({.on_event = [](const MigrationEvent& e) {
            if (e.kind == MigrationEvent::Kind::finished) std::printf("  migrated %lld %s\n", static_cast<long long>(e.version), e.name.c_str());
        }});

        // Inserts return the row as stored: the id the database generated is filled in.
        const char* names[] = {"Ada", "Grace", "Linus", "Barbara", "Ken", "Edsger", "Frances", "Alan_ish"};
        const timestamp newest = std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + std::chrono::hours{9};
        std::vector<User> seed;
        for (int i = 0; i < 8; ++i)
            seed.push_back(User{.name = names[i], .email = std::string(names[i]) + "@example.com", .age = 15 + i * 7,
                                .active = i % 3 != 0, .inserted_at = newest - std::chrono::days{i}});
        show_sql("repo.insert(user) runs this, once per user", insert(seed[0]) | returning_all());
        std::vector<User> users = repo.transaction([&](Repo& tx) {
            std::vector<User> stored;
            for (const User& u : seed) stored.push_back(tx.insert(u));
            return stored;
        });
        std::printf("  8 users inserted in one transaction; generated ids:");
        for (const User& u : users) std::printf(" %s=%lld", u.name.c_str(), static_cast<long long>(u.id));
        std::vector<Post> posts;
        for (int i = 0; i < 8; ++i)
            for (int p = 0; p < i % 4; ++p)
                posts.push_back(Post{.user_id = users[i].id, .title = "Post " + std::to_string(p) + " by " + names[i],
                                     .views = (i + 1) * (p + 3) * 10});
        posts = repo.insert_all_returning(posts);  // one multi-row INSERT ... RETURNING
        std::printf("\n  %zu posts inserted by one statement; ids %lld to %lld\n", posts.size(),
                    static_cast<long long>(posts.front().id), static_cast<long long>(posts.back().id));

        // The data layer's fragment, unchanged by everything refined from it below.
        auto active = users_data::active();
        show_and_run(repo, "data layer: active users", active);
        show_and_run(repo, "service layer: the 3 newest active adults", user_service::newest_active_adults(3));
        show_and_run(repo, "service layer: names starting with a literal 'Alan_' (LIKE wildcards escaped)",
                     users_data::named_like(from<User>(), "Alan_"));
        show_and_run(repo, "authors with at least 100 views in total", user_service::prolific_authors(100));
        show_and_run(repo, "the data-layer fragment is still what it was", active);

        std::printf("\n== count and exists run the query as a subquery\n");
        std::printf("  count(all users) = %lld, count(active adults) = %lld\n", static_cast<long long>(repo.count(from<User>())),
                    static_cast<long long>(repo.count(users_data::adults(active))));
        std::printf("  count(newest_active_adults(3)) = %lld (the limit counts)\n",
                    static_cast<long long>(repo.count(user_service::newest_active_adults(3))));
        std::printf("  exists(names like 'Zed%%') = %s\n", cell(repo.exists(users_data::named_like(from<User>(), "Zed"))).c_str());

        std::printf("\n== stream: adults by age, one row at a time, in constant memory\n");
        for (const User& u : repo.stream(users_data::adults(from<User>()) | order_by(asc(col(&User::age)))))
            std::printf("    %s (%d)\n", u.name.c_str(), u.age);

        std::printf("\n== a transaction with a nested one (a savepoint) that fails\n");
        repo.transaction([&](Repo& tx) {
            tx.insert(Post{.user_id = users[1].id, .title = "Written before the savepoint", .views = 1});
            try {
                tx.transaction([&](Repo& inner) {  // nested: SAVEPOINT, not BEGIN
                    inner.insert(User{.name = "Hedy", .email = "Hedy@example.com", .age = 40, .inserted_at = newest});
                    inner.insert(User{.name = "Ada again", .email = "Ada@example.com", .age = 40, .inserted_at = newest});
                });
            } catch (const ConstraintError& e) {
                std::string columns;
                for (const std::string& c : e.columns()) columns += (columns.empty() ? "" : ", ") + c;
                std::printf("  savepoint rolled back: ConstraintError kind=%s table=%s columns=[%s] code=%s\n",
                            std::string(to_string(e.kind())).c_str(), e.table().c_str(), columns.c_str(), e.code().c_str());
            }
            tx.insert(Post{.user_id = users[1].id, .title = "Written after the savepoint failed", .views = 1});
            std::printf("  the outer transaction is still usable (depth %d) and commits\n", tx.session().depth());
        });
        std::printf("  Hedy exists: %s; posts by Grace: %lld\n",
                    cell(repo.exists(from<User>() | where(col(&User::name) == "Hedy"))).c_str(),
                    static_cast<long long>(repo.count(from<Post>() | where(col(&Post::user_id) == users[1].id))));

        std::printf("\n== structure of the service query (the printer):\n%s\n",
                    describe(user_service::newest_active_adults(3)).c_str());
        try {
            (void)to_sql(active | for_update(LockWait::skip_locked), sqlite());
        } catch (const UnsupportedFeature& e) {
            std::printf("\n== a feature SQLite lacks is an error, never dropped:\n  %s\n", e.what());
        }

        // Same shape, other parameters: bound to the statement prepared the first time.
        const CacheStats before = repo.cache_stats();
        for (int n = 1; n <= 5; ++n) repo.all(user_service::newest_active_adults(n));
        const CacheStats after = repo.cache_stats();
        std::printf("\n== statement cache\n  newest_active_adults(1..5): %s hits, %s misses\n", cell(after.hits - before.hits).c_str(),
                    cell(after.misses - before.misses).c_str());
        std::printf("  whole run: %s hits, %s misses, %zu statements held\n", cell(after.hits).c_str(),
                    cell(after.misses).c_str(), after.size);
    } catch (const Error& e) {
        std::fprintf(stderr, "demo failed: %s\n", e.what());
        return 1;
    }
    return 0;
}
