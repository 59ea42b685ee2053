// SPDX-License-Identifier: MIT
// Migration edge cases on SQLite (each found by review): what a table rebuild must keep, what
// the CREATE TABLE tokenizer must not confuse, checksums, SQL-file versions, failures mid-run.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "migrations_support.hpp"

using namespace mt;

namespace {
std::unique_ptr<core::Session> mem() { return std::make_unique<core::Session>(core::connect("sqlite::memory:")); }
Migration raw(std::int64_t v, std::string up) { return Migration::sql(v, "raw" + std::to_string(v), std::move(up), std::nullopt); }
// A migration that forces a rebuild of `table` (SQLite adds a CHECK only by rebuilding).
Migration add_check(std::int64_t v, std::string table) {
    return Migration(v, "check" + std::to_string(v), [table](Plan& p) {
        p.alter_table(table, [](Alter& a) { a.check("chk_1", "1 = 1"); });
    });
}
}  // namespace

TEST_CASE("migrations (SQLite): a rebuild keeps AUTOINCREMENT from reusing ids") {
    auto s = mem();
    Migrator(*s, {raw(1, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")}).migrate();
    exec(*s, "INSERT INTO t (v) VALUES ('a'), ('b'), ('c')");
    exec(*s, "DELETE FROM t WHERE id = 3");
    Migrator(*s, {raw(1, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)"), add_check(2, "t")}).migrate();
    exec(*s, "INSERT INTO t (v) VALUES ('d')");
    CHECK(one(*s, "SELECT CAST(max(id) AS TEXT) FROM t") == "4");  // AUTOINCREMENT never reuses 3
}

TEST_CASE("migrations (SQLite): a table a view reads can be rebuilt") {
    auto s = mem();
    const Migration m1 = raw(1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE VIEW tv AS SELECT v FROM t");
    Migrator(*s, {m1}).migrate();
    CHECK_NOTHROW(Migrator(*s, {m1, add_check(2, "t")}).migrate());
}

TEST_CASE("migrations (SQLite): a table another table's trigger writes can be rebuilt") {
    auto s = mem();
    const Migration m1 = raw(1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u (x TEXT);"
                                "CREATE TRIGGER u_ins AFTER INSERT ON u BEGIN INSERT INTO t (v) VALUES (NEW.x); END");
    Migrator(*s, {m1}).migrate();
    CHECK_NOTHROW(Migrator(*s, {m1, add_check(2, "t")}).migrate());
}

TEST_CASE("migrations (SQLite): a trailing -- comment does not swallow an added column") {
    auto s = mem();
    const Migration m1 = raw(1, "CREATE TABLE t (\n  id INTEGER PRIMARY KEY,\n  v TEXT -- the value\n)");
    Migrator(*s, {m1}).migrate();
    const Migration m2(2, "add_w", [](Plan& p) {
        p.alter_table("t", [](Alter& a) { a.add("w", type::timestamp()).default_to(default_now()); });  // forces a rebuild
    });
    exec(*s, "INSERT INTO t (v) VALUES ('x')");
    Migrator(*s, {m1, m2}).migrate();  // "succeeds"
    CHECK(find_col(describe_table(*s, "t"), "w") != nullptr);
    CHECK(one(*s, "SELECT v FROM t") == "x");
}

TEST_CASE("migrations (SQLite): a '(' in an index name does not break removing a column") {
    auto s = mem();
    const Migration m1(1, "t", [](Plan& p) {
        p.create_table("t", [](Table& t) { t.add("a", type::text()); t.add("b(c", type::text()); });
        p.create_index("t", {"b(c"});  // default name t_b(c_index
    });
    const Migration m2(2, "drop_a", [](Plan& p) { p.alter_table("t", [](Alter& a) { a.remove("a", type::text()); }); });
    Migrator(*s, {m1}).migrate();
    CHECK_NOTHROW(Migrator(*s, {m1, m2}).migrate());
}

TEST_CASE("migrations: a column named \"x REFERENCES y\" can be added with a reference") {
    auto s = mem();
    const Migration m1(1, "p", [](Plan& p) { p.create_table("p", [](Table& t) { t.id(); }); p.create_table("c", [](Table& t) { t.id(); }); });
    const Migration m2(2, "fk", [](Plan& p) {
        p.alter_table("c", [](Alter& a) { a.add("x REFERENCES y", type::bigint()).references("p"); });
    });
    CHECK_NOTHROW(Migrator(*s, {m1, m2}).migrate());
}

TEST_CASE("migrations: the checksum sees every digit of a real default") {
    auto mk = [](double d) {
        return Migration(1, "t", [d](Plan& p) { p.create_table("t", [d](Table& t) { t.add("r", type::real()).default_to(d); }); });
    };
    CHECK(mk(0.1).checksum() != mk(0.1000004).checksum());
    CHECK(mk(1e-9).checksum() != mk(0.0).checksum());
}

TEST_CASE("migrations: 01_a and 1_c are one version, refused") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("quarry_review_sql_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    for (const char* d : {"01_a", "10_b", "1_c"}) {
        fs::create_directories(dir / d);
        std::ofstream(dir / d / "up.sql") << "SELECT 1";
    }
    CHECK_THROWS_AS(load_sql_migrations(dir.string()), MigrationError);
    fs::remove_all(dir);
}

TEST_CASE("migrations (SQLite): a migration whose definition throws keeps the ones completed before it") {
    auto s = mem();
    const Migration ok(1, "ok", [](Plan& p) { p.create_table("a", [](Table& t) { t.id(); }); });
    const Migration bad(2, "bad", [](Plan& p) { p.create_table("b", [](Table& t) { t.add("x", type::raw("int;")); }); });
    CHECK_THROWS(Migrator(*s, {ok, bad}).migrate());
    CHECK(has_table(*s, "a"));  // a step failure would have kept migration 1 (runner.cpp:344)
    // Same with a listener that throws when migration 2 starts.
    auto s2 = mem();
    const Migration ok2(2, "ok2", [](Plan& p) { p.create_table("b", [](Table& t) { t.id(); }); });
    MigrateOptions o;
    o.on_event = [](const MigrationEvent& e) { if (e.kind == MigrationEvent::Kind::started && e.version == 2) throw std::runtime_error("stop"); };
    CHECK_THROWS(Migrator(*s2, {ok, ok2}).migrate(o));
    CHECK(has_table(*s2, "a"));
}

TEST_CASE("migrations (SQLite): removing a column keeps a check named like it") {
    auto s = mem();
    const Migration m1(1, "t", [](Plan& p) {
        p.create_table("t", [](Table& t) {
            t.add("qty", type::integer());
            t.add("price", type::integer());
            t.check("price", "qty > 0");  // named like a column, about another one
        });
    });
    const Migration m2(2, "drop_price", [](Plan& p) { p.alter_table("t", [](Alter& a) { a.remove("price", type::integer()); }); });
    Migrator(*s, {m1, m2}).migrate();
    CHECK(refused(*s, "INSERT INTO t (qty) VALUES (-1)"));
}

TEST_CASE("migrations (SQLite): removing a column keeps indexes and checks that call a function of the same name") {
    auto s = mem();
    const Migration m1 = raw(1, "CREATE TABLE events (id INTEGER PRIMARY KEY, date TEXT, created_at TEXT, "
                                "CHECK (date(created_at) > '2000-01-01'));"
                                "CREATE INDEX events_day ON events (date (created_at));"
                                "CREATE INDEX events_date ON events (date);");
    const Migration m2(2, "drop_date", [](Plan& p) { p.alter_table("events", [](Alter& a) { a.remove("date", type::text()); }); });
    Migrator(*s, {m1, m2}).migrate();
    CHECK(has_index(*s, false, "events_day"));
    CHECK_FALSE(has_index(*s, false, "events_date"));  // this one was on the column
    CHECK(refused(*s, "INSERT INTO events (created_at) VALUES ('1999-01-01')"));
}

TEST_CASE("migrations: a down.sql of comments only is no down migration: rollback refuses it") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("quarry_blank_down_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "1_scratch");
    std::ofstream(dir / "1_scratch" / "up.sql") << "CREATE TABLE scratch (x INTEGER);\n";
    std::ofstream(dir / "1_scratch" / "down.sql") << "-- undoes up.sql\n/* not yet\n written */\n\n";
    auto s = mem();
    Migrator m(*s, load_sql_migrations(dir.string()));
    m.migrate();
    CHECK_THROWS_WITH_AS(m.rollback(), doctest::Contains("cannot be rolled back"), MigrationError);
    CHECK(has_table(*s, "scratch"));
    // An editor's byte order mark neither reaches the database nor hides the first line's marker.
    fs::create_directories(dir / "2_bom");
    std::ofstream(dir / "2_bom" / "up.sql") << "\xEF\xBB\xBF-- quarry:no-transaction\nCREATE TABLE bom (x INTEGER);\n";
    const auto loaded = load_sql_migrations(dir.string());
    REQUIRE(loaded.size() == 2);
    CHECK_FALSE(loaded[1].transactional(true));
    Migrator(*s, loaded).migrate();
    CHECK(has_table(*s, "bom"));
    fs::remove_all(dir);
}

TEST_CASE("migrations (SQLite): dropping a named inline constraint removes that clause, not a look-alike") {
    auto s = mem();
    const Migration m1 = raw(1, "CREATE TABLE t (n INTEGER DEFAULT 'CONSTRAINT pos CHECK (n > 0)' CONSTRAINT pos CHECK (n > 0))");
    const Migration m2(2, "drop", [](Plan& p) { p.alter_table("t", [](Alter& a) { a.drop_constraint("pos"); }); });
    Migrator(*s, {m1, m2}).migrate();
    exec(*s, "INSERT INTO t DEFAULT VALUES");
    CHECK(one(*s, "SELECT n FROM t") == "CONSTRAINT pos CHECK (n > 0)");
    CHECK_FALSE(refused(*s, "INSERT INTO t VALUES (-1)"));
}

TEST_CASE("migrations (SQLite): strings and commas in checks, WITHOUT ROWID, STRICT and generated columns survive a rebuild") {
    auto s = mem();
    const Migration m1 = raw(1,
        "CREATE TABLE t (k TEXT PRIMARY KEY, s TEXT CHECK (s IN ('a,b', 'c)')), g TEXT GENERATED ALWAYS AS (k || s) STORED,"
        " [we\"ird] INTEGER, \"q\"\"(,\" TEXT) WITHOUT ROWID, STRICT");
    Migrator(*s, {m1}).migrate();
    exec(*s, "INSERT INTO t (k, s, [we\"ird], \"q\"\"(,\") VALUES ('x', 'a,b', 1, 'z')");
    Migrator(*s, {m1, add_check(2, "t")}).migrate();
    CHECK(one(*s, "SELECT g || \"q\"\"(,\" FROM t") == "xa,bz");
    CHECK(refused(*s, "INSERT INTO t (k, s) VALUES ('y', 'b')"));
}
