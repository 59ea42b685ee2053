// SPDX-License-Identifier: MIT
// Migrations on the test PostgreSQL (migrations_support.hpp), each test in a private schema,
// and what only PostgreSQL has: concurrent index builds outside a transaction.
#include <doctest/doctest.h>

#include "migrations_support.hpp"
#include "pg_env.hpp"

using namespace mt;

namespace {

struct PgDb final : MigDb {
    std::string conninfo;
    PgScratch scratch;
    std::string schema;
    explicit PgDb(const std::string& c) : conninfo(c), scratch(c, "SELECT 1") {
        schema = pqxx::nontransaction(scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>();
    }
    std::unique_ptr<core::Session> open() override {
        auto s = std::make_unique<core::Session>(core::connect(conninfo));
        s->connection().execute("SET search_path TO " + schema);
        return s;
    }
    bool pg() const override { return true; }
};

#define PG_MIGRATION_TEST(name, fn)              \
    TEST_CASE(name) {                            \
        auto c = test_pg_conninfo();             \
        if (!c) return;                          \
        PgDb db(*c);                             \
        fn(db);                                  \
    }

}  // namespace

PG_MIGRATION_TEST("migrations (PostgreSQL): create table with every type and option, up and down", check_create_table_up_and_down)
PG_MIGRATION_TEST("migrations (PostgreSQL): add, rename, modify columns and constraints, rename table, and back", check_alter_steps_up_and_down)
PG_MIGRATION_TEST("migrations (PostgreSQL): dropping constraints, columns and indexes, with explicit down", check_constraints_and_columns_removed)
PG_MIGRATION_TEST("migrations (PostgreSQL): reversible drop table, if (not) exists, references added later, index methods", check_more_steps)
PG_MIGRATION_TEST("migrations (PostgreSQL): a column added with a reference, and back", check_added_reference)
PG_MIGRATION_TEST("migrations (PostgreSQL): up, down, up gives the same schema dump; redo", check_round_trip_dump)
PG_MIGRATION_TEST("migrations (PostgreSQL): a migration failing halfway leaves no trace", check_failure_leaves_no_trace)
PG_MIGRATION_TEST("migrations (PostgreSQL): redo is all or nothing: a re-apply that fails leaves the migration applied", check_redo_all_or_nothing)
PG_MIGRATION_TEST("migrations (PostgreSQL): two runners at once apply each migration exactly once", check_concurrent_runners)
PG_MIGRATION_TEST("migrations (PostgreSQL): edited, missing and irreversible migrations are reported", check_edited_and_irreversible)
PG_MIGRATION_TEST("migrations (PostgreSQL): dry run shows the SQL and changes nothing", check_dry_run)
PG_MIGRATION_TEST("migrations (PostgreSQL): SQL-file migrations through the same runner", check_sql_files)
PG_MIGRATION_TEST("migrations (PostgreSQL): bad identifiers and values are quoted or refused", check_bad_input)

TEST_CASE("migrations (PostgreSQL): CREATE INDEX CONCURRENTLY runs outside a transaction, and says so") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), Migration(2, "concurrent_index", [](Plan& p) {
                                  p.create_index("authors", {"name"}).concurrently();
                              })};
    Migrator m(*s, ms);
    std::vector<bool> tx;
    m.migrate({.on_event = [&](const MigrationEvent& e) {
        if (e.kind == MigrationEvent::Kind::started) tx.push_back(e.transactional);
    }});
    CHECK(tx == std::vector<bool>{true, false});
    CHECK(has_index(*s, true, "authors_name_index"));
    CHECK(one(*s, "SELECT CAST(indisvalid AS text) FROM pg_index WHERE indexrelid = to_regclass('authors_name_index')") == "true");
    m.rollback();
    CHECK_FALSE(has_index(*s, true, "authors_name_index"));

    // A failed concurrent build leaves no INVALID index behind.
    exec(*s, "INSERT INTO authors (name, email) VALUES ('a', '1'), ('a', '2')");
    Migrator bad(*s, {create_authors(), Migration(3, "unique_names", [](Plan& p) {
                          p.create_index("authors", {"name"}).unique().concurrently();
                      })});
    CHECK_THROWS_WITH_AS(bad.migrate(), doctest::Contains("outside a transaction"), MigrationError);
    CHECK_FALSE(has_index(*s, true, "authors_name_index"));
    // Mixing it with transactional steps is refused before anything runs.
    Migrator mixed(*s, {create_authors(), Migration(4, "mixed", [](Plan& p) {
                            p.create_index("authors", {"email"}).concurrently();
                            p.create_table("other", [](Table& t) { t.id(); });
                        })});
    CHECK_THROWS_WITH_AS(mixed.migrate(), doctest::Contains("mixes concurrent index steps"), MigrationError);
    CHECK_FALSE(has_table(*s, "other"));
}

TEST_CASE("migrations (PostgreSQL): a dry run creates nothing, not even schema_migrations") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    auto s = db.open();
    Migrator m(*s, {create_authors()});
    CHECK(m.migrate({.dry_run = true}).size() == 1);
    CHECK(list_tables(*s).empty());
}

TEST_CASE("migrations (PostgreSQL): modify a key or identity column; concurrent drops on the way down") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), create_books(), create_tags()};
    // book_tags' key column made wider (it stays NOT NULL: it is in the key); authors.id is an identity.
    ms.push_back(Migration(4, "widen", [](Plan& p) {
        p.alter_table("book_tags", [](Alter& a) { a.modify("tag", type::string(100)); });
        p.alter_table("authors", [](Alter& a) { a.modify("id", type::bigint(), false); });
    }));
    ms.push_back(Migration::up_down(
        5, "concurrent_down", [](Plan& p) { p.execute("SELECT 1", "SELECT 1"); },
        [](Plan& p) { p.drop_index("books_isbn_present", true); }));
    Migrator m(*s, ms);
    m.migrate();
    CHECK(find_col(describe_table(*s, "book_tags"), "tag")->type == "character varying(100)");
    CHECK_FALSE(find_col(describe_table(*s, "book_tags"), "tag")->nullable);
    std::vector<bool> tx;
    m.rollback({.on_event = [&](const MigrationEvent& e) {
        if (e.kind == MigrationEvent::Kind::started) tx.push_back(e.transactional);
    }});
    CHECK(tx == std::vector<bool>{false});
    CHECK_FALSE(has_index(*s, true, "books_isbn_present"));
    // A concurrent build that fails because a valid index of that name exists leaves it alone.
    Migrator again(*s, {create_authors(), create_books(), create_tags(), ms[3], Migration(6, "dup", [](Plan& p) {
                            p.create_index("books", {"title"}).name("books_lower_title").concurrently();
                        })});
    CHECK_THROWS_AS(again.migrate(), MigrationError);
    CHECK(has_index(*s, true, "books_lower_title"));
}

TEST_CASE("migrations (PostgreSQL): a no-transaction SQL migration runs its statements one by one; quotes, comments and "
          "dollar quotes stay whole") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    auto s = db.open();
    const std::string up = "-- quarry:no-transaction\n"
                           "CREATE TABLE t (a text, b text);\n"
                           "/* a comment; with a semicolon /* nested; */ still a comment; */\n"
                           "INSERT INTO t VALUES ('it''s; one', E'back\\'slash; still one'), ($q$dollar; quoted$q$, $$x;y$$); -- and; this\n"
                           "CREATE INDEX CONCURRENTLY \"t; a\" ON t (a);\n"
                           "CREATE INDEX CONCURRENTLY t_b ON t (b);\n"
                           "CREATE FUNCTION t_count() RETURNS bigint LANGUAGE sql AS $body$ SELECT count(*) FROM t; $body$;\n"
                           // Semicolons inside parentheses end nothing (as in psql).
                           "CREATE TABLE r (x int);\n"
                           "CREATE RULE r_fan AS ON INSERT TO r DO ALSO (INSERT INTO t VALUES ('r', 'r'); DELETE FROM t WHERE a = 'r');\n";
    const std::string down = "-- quarry:no-transaction\nDROP TABLE r;\nDROP FUNCTION t_count();\nDROP INDEX CONCURRENTLY t_b;\n"
                             "DROP INDEX CONCURRENTLY \"t; a\";\nDROP TABLE t;";
    Migrator m(*s, {Migration::sql(1, "split", up, down, false)});
    std::vector<std::string> statements;
    m.migrate({.on_event = [&](const MigrationEvent& e) {
        if (e.kind == MigrationEvent::Kind::statement) statements.push_back(e.sql);
    }});
    CHECK(statements.size() == 7);
    CHECK(has_index(*s, true, "t; a"));
    CHECK(has_index(*s, true, "t_b"));
    CHECK(one(*s, "SELECT t_count()") == "2");
    CHECK(one(*s, "SELECT string_agg(a || '|' || b, ',' ORDER BY a) FROM t") == "dollar; quoted|x;y,it's; one|back'slash; still one");
    m.rollback();
    CHECK_FALSE(has_table(*s, "t"));
    // An unterminated quote is refused before anything runs, naming the migration.
    Migrator bad(*s, {Migration::sql(2, "unterminated", "-- quarry:no-transaction\nCREATE TABLE u (x int);\nSELECT 'oops;\n",
                                     std::nullopt, false)});
    CHECK_THROWS_WITH_AS(bad.migrate(), doctest::Contains("2 \"unterminated\""), MigrationError);
    CHECK_FALSE(has_table(*s, "u"));
}

TEST_CASE("migrations (PostgreSQL): modify drops the old default before changing the type, which could not cast it") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    auto s = db.open();
    Migrator m(*s, {Migration::sql(1, "t", "CREATE TABLE t (id int PRIMARY KEY, c text NOT NULL DEFAULT '0')", "DROP TABLE t"),
                    Migration(2, "retype", [](Plan& p) {
                        p.alter_table("t", [](Alter& a) { a.modify("c", type::integer(), false, Default(Default::Kind::integer, 5)); });
                    })});
    m.migrate();
    exec(*s, "INSERT INTO t (id) VALUES (1)");
    CHECK(one(*s, "SELECT c FROM t") == "5");
    CHECK(find_col(describe_table(*s, "t"), "c")->type == "integer");
}

TEST_CASE("migrations (PostgreSQL): refused behind PgBouncer in transaction mode (pgbouncer=true), where their lock would leak") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    // quarry reads the flag on the client side: a direct connection marked as pooled is refused
    // the same way (the faults stage runs this through a real PgBouncer too).
    auto pooled = std::make_unique<core::Session>(core::connect(*c + " pgbouncer=true"));
    pooled->connection().execute("SET search_path TO " + db.schema);
    Migrator m(*pooled, {create_authors()});
    CHECK_THROWS_AS(m.migrate(), MigrationError);
    CHECK_THROWS_AS(m.rollback(), MigrationError);
    CHECK_THROWS_AS(m.redo(1), MigrationError);
    auto s = db.open();
    CHECK(one(*s, "SELECT CAST(to_regclass('schema_migrations') IS NULL AS TEXT)") == "true");
    CHECK(one(*s, "SELECT CAST(to_regclass('authors') IS NULL AS TEXT)") == "true");
    CHECK(Migrator(*s, {create_authors()}).migrate().size() == 1);  // directly, it runs
}

TEST_CASE("migrations (PostgreSQL): a dump loads into an empty schema and dumps the same: keys before the references "
          "to them, generated columns, collations") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb from(*c), into(*c);
    auto s = from.open();
    // "comments" sorts before "posts": its foreign key must still come after posts' key.
    s->connection().execute(
        "CREATE TABLE posts (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, title text NOT NULL, "
        "shout text GENERATED ALWAYS AS (upper(title)) STORED, code text COLLATE \"C\" NOT NULL UNIQUE);"
        "CREATE TABLE comments (id bigint PRIMARY KEY, post_id bigint NOT NULL REFERENCES posts(id), body text)");
    const std::string dump = dump_schema(*s);
    CHECK(dump.find("GENERATED ALWAYS AS (upper(title)) STORED") != std::string::npos);
    CHECK(dump.find("COLLATE \"C\"") != std::string::npos);
    auto t = into.open();
    REQUIRE_NOTHROW(t->connection().execute(dump));
    CHECK(dump_schema(*t) == dump);
}

TEST_CASE("migrations (PostgreSQL): modify keeps a column's collation, up and down") {
    auto c = test_pg_conninfo();
    if (!c) return;
    PgDb db(*c);
    auto s = db.open();
    exec(*s, "CREATE TABLE coded (code text COLLATE \"C\" NOT NULL, n integer)");
    const auto collation = [&] {
        return one(*s, "SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema() "
                       "AND table_name = 'coded' AND column_name = 'code'");
    };
    Migrator m(*s, {Migration(1, "widen", [](Plan& p) {
                   p.alter_table("coded", [](Alter& a) {
                       a.modify("code", type::string(20), false, {}, Column("code", type::text(), false));
                       a.modify("n", type::bigint(), true, {}, Column("n", type::integer(), true));  // no collation to keep
                   });
               })});
    m.migrate();
    CHECK(collation() == "C");
    m.rollback();
    CHECK(collation() == "C");
}
