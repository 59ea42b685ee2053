// SPDX-License-Identifier: MIT
// Files written by `quarry new migration` and `quarry new project`.
#include <filesystem>
#include <fstream>

#include "cli/templates.hpp"
#include "quarry/migration.hpp"

namespace quarry::cli {

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << text;
    if (!out) throw MigrationError("cannot write " + p.string());
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

const char* const project_meson = R"(project('@NAME@', 'cpp',
  version : '0.1.0',
  meson_version : '>= 1.0.0',
  default_options : ['cpp_std=c++20', 'warning_level=3'])

quarry = dependency('quarry')

# The schema and the migrations, shared by the program, its database tool and its tests.
core = static_library('@NAME@-core', 'src/migrations.cpp', dependencies : quarry)
core_dep = declare_dependency(link_with : core, dependencies : quarry, include_directories : include_directories('src'))

executable('@NAME@', 'src/main.cpp', dependencies : core_dep)
# The quarry command line with this project's migrations: ./@NAME@-db migrate, status, rollback ...
executable('@NAME@-db', 'src/db.cpp', dependencies : core_dep)

test('items', executable('test-items', 'tests/test_items.cpp', dependencies : core_dep))
)";

const char* const project_schema = R"(// The tables of @NAME@, as plain structs.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <quarry/quarry.hpp>

namespace app {

struct Item {
    std::int64_t id = 0;
    std::string name{};
    int quantity = 0;
    std::optional<std::string> note{};
    std::chrono::sys_time<std::chrono::microseconds> inserted_at{};
    std::chrono::sys_time<std::chrono::microseconds> updated_at{};
};

}  // namespace app

BOOST_HANA_ADAPT_STRUCT(app::Item, id, name, quantity, note, inserted_at, updated_at);
QUARRY_TABLE(app::Item, "items", &app::Item::id);
QUARRY_COLUMNS(app::Item, quarry::field(&app::Item::inserted_at).inserted_at(),
               quarry::field(&app::Item::updated_at).updated_at());
)";

const char* const project_migrations_hpp = R"(// The migrations of @NAME@, in version order (add new ones to migrations.cpp).
#pragma once
#include <vector>

#include <quarry/migration.hpp>

namespace app {
std::vector<quarry::Migration> migrations();
}
)";

const char* const project_migrations_cpp = R"(#include "migrations.hpp"

namespace app {

using namespace quarry::migrate;

std::vector<quarry::Migration> migrations() {
    return {
        quarry::Migration(@VERSION@, "create_items", [](Plan& m) {
            m.create_table("items", [](Table& t) {
                t.id();
                t.add("name", type::string(200)).null(false);
                t.add("quantity", type::integer()).null(false).default_to(0);
                t.add("note", type::text());
                t.check("items_quantity_not_negative", "quantity >= 0");
                t.timestamps();
            });
            m.create_index("items", {"name"}).unique();
        }),
    };
}

}  // namespace app
)";

const char* const project_main = R"(// @NAME@: migrates its database, then adds and lists items.
#include <cstdio>

#include <quarry/migrator.hpp>
#include <quarry/repo.hpp>

#include "migrations.hpp"
#include "schema.hpp"

int main(int argc, char** argv) {
    const std::string url = argc > 1 ? argv[1] : "sqlite:@NAME@.db";
    quarry::Repo repo(url);
    quarry::Migrator(repo.session(), app::migrations()).migrate();
    using namespace quarry;
    if (repo.count(from<app::Item>()) == 0) repo.insert(app::Item{.name = "first item", .quantity = 1});
    for (const auto& item : repo.all(from<app::Item>() | order_by(asc(col(&app::Item::id)))))
        std::printf("%lld  %s  x%d\n", static_cast<long long>(item.id), item.name.c_str(), item.quantity);
}
)";

const char* const project_db = R"(// The quarry command line with @NAME@'s migrations: migrate, rollback, status, dump, gen model ...
#include <quarry/cli.hpp>

#include "migrations.hpp"

int main(int argc, char** argv) { return quarry::cli::main(argc, argv, app::migrations()); }
)";

const char* const project_test = R"(// Tests of @NAME@ against a real, migrated SQLite database. Each test runs in a sandbox:
// what it writes is rolled back at its end, so tests never see each other's rows.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <quarry/migrator.hpp>
#include <quarry/repo.hpp>
#include <quarry/sandbox.hpp>

#include "migrations.hpp"
#include "schema.hpp"

using namespace quarry;

namespace {
Repo& test_repo() {
    static Repo repo("sqlite::memory:");
    static const bool migrated = (Migrator(repo.session(), app::migrations()).migrate(), true);
    (void)migrated;
    return repo;
}
}  // namespace

TEST_CASE("an item is stored with its timestamps") {
    Repo& repo = test_repo();
    testing::Sandbox sandbox(repo);
    const auto stored = repo.insert(app::Item{.name = "bolt", .quantity = 3});
    CHECK(stored.id > 0);
    CHECK(stored.inserted_at.time_since_epoch().count() > 0);
    CHECK(repo.count(from<app::Item>()) == 1);
}

TEST_CASE("the sandbox left nothing behind, and the unique name is enforced") {
    Repo& repo = test_repo();
    testing::Sandbox sandbox(repo);
    CHECK(repo.count(from<app::Item>()) == 0);
    repo.insert(app::Item{.name = "nut"});
    CHECK_THROWS_AS(repo.insert(app::Item{.name = "nut"}), ConstraintError);
}
)";

const char* const project_readme = R"(# @NAME@

A project using [quarry](https://example.invalid/quarry): schemas in `src/schema.hpp`,
migrations in `src/migrations.cpp` (C++) or `migrations/<version>_<name>/up.sql` (SQL).

```sh
meson setup build && meson compile -C build
./build/@NAME@-db migrate      # or: status, rollback, redo, dump, gen model --table items
./build/@NAME@                 # runs the program on sqlite:@NAME@.db
meson test -C build            # tests, each in a sandbox
```
)";

}  // namespace

std::string new_migration(const std::string& dir, const std::string& name, bool cpp, std::int64_t version) {
    const std::string base = std::to_string(version) + "_" + name;
    if (cpp) {
        const fs::path p = fs::path(dir) / (base + ".hpp");
        if (fs::exists(p)) throw MigrationError(p.string() + " already exists");
        write(p, "// Migration " + base + ": add `migration_" + base + "()` to your list of migrations.\n"
                 "#pragma once\n#include <quarry/migration.hpp>\n\n"
                 "inline quarry::Migration migration_" + base + "() {\n"
                 "    using namespace quarry::migrate;\n"
                 "    return quarry::Migration(" + std::to_string(version) + ", \"" + name + "\", [](Plan& m) {\n"
                 "        // m.create_table(\"things\", [](Table& t) { t.id(); t.add(\"name\", type::text()).null(false); });\n"
                 "        (void)m;\n"
                 "    });\n}\n");
        return p.string();
    }
    const fs::path d = fs::path(dir) / base;
    if (fs::exists(d)) throw MigrationError(d.string() + " already exists");
    write(d / "up.sql", "-- " + base + ": the change. Runs in a transaction with its schema_migrations row.\n"
                        "-- Put `-- quarry:no-transaction` on the first line for CREATE INDEX CONCURRENTLY.\n");
    write(d / "down.sql", "-- " + base + ": undoes up.sql. While it holds only comments, the migration cannot be\n"
                          "-- rolled back: `rollback` refuses it instead of reporting a rollback that changed nothing.\n");
    return d.string();
}

std::vector<std::string> new_project(const std::string& name, std::int64_t version) {
    // "myapp/" (as tab completion types it) names the project myapp.
    fs::path root(name);
    if (!root.has_filename()) root = root.parent_path();
    const std::string base = root.filename().string();
    if (base.empty() || base == "." || base == "..")
        throw MigrationError("\"" + name + "\" does not name a project: give a directory name, e.g. myapp");
    if (fs::exists(root)) throw MigrationError("\"" + name + "\" already exists");
    auto fill = [&](const char* t) { return replace_all(replace_all(t, "@NAME@", base), "@VERSION@", std::to_string(version)); };
    const std::pair<const char*, const char*> files[] = {
        {"meson.build", project_meson},          {"README.md", project_readme},
        {"src/schema.hpp", project_schema},      {"src/migrations.hpp", project_migrations_hpp},
        {"src/migrations.cpp", project_migrations_cpp}, {"src/main.cpp", project_main},
        {"src/db.cpp", project_db},              {"tests/test_items.cpp", project_test},
        {"migrations/.gitkeep", ""},             {".gitignore", "build/\n*.db\n*.db-wal\n*.db-shm\n"},
    };
    std::vector<std::string> written;
    for (const auto& [path, text] : files) {
        write(root / path, fill(text));
        written.push_back((root / path).string());
    }
    return written;
}

}  // namespace quarry::cli
