// SPDX-License-Identifier: MIT
// Migrations on SQLite files (migrations_support.hpp), and what only SQLite needs: the table
// rebuild keeps every row, index, trigger and foreign key.
#include <doctest/doctest.h>

#include <filesystem>

#include "migrations_support.hpp"

using namespace mt;

namespace {

struct LiteDb final : MigDb {
    std::string path;
    explicit LiteDb(const char* tag) {
        path = (std::filesystem::temp_directory_path() / ("quarry_mig_" + std::string(tag) + "_" + std::to_string(::getpid()) + ".db")).string();
        wipe();
    }
    ~LiteDb() override { wipe(); }
    void wipe() {
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    }
    std::unique_ptr<core::Session> open() override { return std::make_unique<core::Session>(core::connect("sqlite:" + path)); }
    bool pg() const override { return false; }
};

}  // namespace

TEST_CASE("migrations: create table with every type and option, up and down") { LiteDb db("create"); check_create_table_up_and_down(db); }
TEST_CASE("migrations: add, rename, modify columns and constraints, rename table, and back") { LiteDb db("alter"); check_alter_steps_up_and_down(db); }
TEST_CASE("migrations: dropping constraints, columns and indexes, with explicit down") { LiteDb db("drop"); check_constraints_and_columns_removed(db); }
TEST_CASE("migrations: reversible drop table, if (not) exists, references added later, index methods") { LiteDb db("more"); check_more_steps(db); }
TEST_CASE("migrations: a column added with a reference, and back") { LiteDb db("addref"); check_added_reference(db); }
TEST_CASE("migrations: up, down, up gives the same schema dump; redo") { LiteDb db("trip"); check_round_trip_dump(db); }
TEST_CASE("migrations: a migration failing halfway leaves no trace") { LiteDb db("fail"); check_failure_leaves_no_trace(db); }
TEST_CASE("migrations: redo is all or nothing: a re-apply that fails leaves the migration applied") { LiteDb db("redo"); check_redo_all_or_nothing(db); }
TEST_CASE("migrations: two runners at once apply each migration exactly once") { LiteDb db("race"); check_concurrent_runners(db); }
TEST_CASE("migrations: edited, missing and irreversible migrations are reported") { LiteDb db("edit"); check_edited_and_irreversible(db); }
TEST_CASE("migrations: dry run shows the SQL and changes nothing") { LiteDb db("dry"); check_dry_run(db); }
TEST_CASE("migrations: SQL-file migrations through the same runner") { LiteDb db("files"); check_sql_files(db); }
TEST_CASE("migrations: bad identifiers and values are quoted or refused") { LiteDb db("bad"); check_bad_input(db); }

TEST_CASE("migrations (SQLite): the table rebuild keeps rows, indexes, triggers and foreign keys") {
    LiteDb db("rebuild");
    auto s = db.open();
    Migrator m(*s, {create_authors(), create_books(), create_tags(), Migration(4, "audit_trigger", [](Plan& p) {
                        p.create_table("audit", [](Table& t) { t.add("msg", type::text()); });
                        // "Books": SQLite keeps a trigger's table name as its ON clause spells it.
                        p.execute("CREATE TRIGGER books_audit AFTER INSERT ON Books BEGIN INSERT INTO audit VALUES (NEW.title); END",
                                  "DROP TRIGGER books_audit");
                    })});
    m.migrate();
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    for (int i = 0; i < 500; ++i)
        exec(*s, "INSERT INTO books (author_id, title, isbn) VALUES (1, 'b" + std::to_string(i) + "', '" + std::to_string(i) + "')");
    exec(*s, "INSERT INTO book_tags SELECT id, 'x' FROM books");
    const auto indexes = rows(*s, "SELECT name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger') AND tbl_name = 'books' COLLATE NOCASE ORDER BY name");

    // Rebuild "books" (referenced by book_tags with ON DELETE CASCADE, referencing authors).
    Migrator m2(*s, {create_authors(), create_books(), create_tags(), m.migrations()[3], Migration(5, "retitle", [](Plan& p) {
                         p.alter_table("books", [](Alter& a) {
                             a.modify("title", type::string(300), false, {}, Column("title", type::text(), false));
                             a.check("books_title_nonempty", "length(title) > 0");
                         });
                     })});
    m2.migrate();
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM books") == "500");
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM book_tags") == "500");  // the DROP did not cascade
    CHECK(one(*s, "SELECT title FROM books WHERE id = 7") == "b6");
    CHECK(rows(*s, "SELECT name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger') AND tbl_name = 'books' COLLATE NOCASE ORDER BY name") == indexes);
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM pragma_foreign_key_list('books')") == "1");
    CHECK(rows(*s, "SELECT * FROM pragma_foreign_key_check").empty());
    CHECK(one(*s, "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys") == "1");  // restored
    exec(*s, "INSERT INTO books (author_id, title) VALUES (1, 'new')");
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM audit WHERE msg = 'new'") == "1");  // trigger recreated
    CHECK(refused(*s, "INSERT INTO books (author_id, title) VALUES (1, '')"));
    CHECK(refused(*s, "INSERT INTO books (author_id, title) VALUES (42, 'orphan')"));
    exec(*s, "DELETE FROM books WHERE title = 'b1'");  // the cascade still works
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM book_tags") == "499");

    // A row left without its parent before the run does not block a migration; a migration
    // that leaves more such rows is refused, and leaves everything as it was.
    exec(*s, "PRAGMA foreign_keys = OFF");
    exec(*s, "INSERT INTO books (author_id, title) VALUES (77, 'dangling')");
    exec(*s, "PRAGMA foreign_keys = ON");
    std::vector<Migration> all{create_authors(), create_books(), create_tags(), m.migrations()[3], m2.migrations()[4],
                               Migration(6, "more", [](Plan& p) {
                                   p.alter_table("books", [](Alter& a) { a.modify("isbn", type::string(40), true); });
                               })};
    Migrator m3(*s, all);
    CHECK_NOTHROW(m3.migrate());
    const std::string before = dump_schema(*s);
    const std::string authors = one(*s, "SELECT CAST(count(*) AS TEXT) FROM authors");
    all.push_back(Migration::sql(7, "orphans", "DELETE FROM authors WHERE id = 1", std::nullopt));
    Migrator m4(*s, all);
    CHECK_THROWS_WITH_AS(m4.migrate(), doctest::Contains("7 \"orphans\": foreign key check failed"), MigrationError);
    CHECK(dump_schema(*s) == before);
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM authors") == authors);
}

#include <quarry/sandbox.hpp>

TEST_CASE("sandbox: what a test writes is rolled back, inner transactions are savepoints") {
    LiteDb db("sandbox");
    auto s = db.open();
    Migrator(*s, {create_authors()}).migrate();
    {
        quarry::testing::Sandbox sandbox(*s);
        exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
        s->begin();  // a transaction inside the test: a savepoint
        exec(*s, "INSERT INTO authors (name, email) VALUES ('Bob', 'bob@x')");
        s->rollback();
        CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM authors") == "1");
        s->begin();  // left open by a test that throws: the sandbox ends it too
    }
    CHECK(s->depth() == 0);
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM authors") == "0");
    s->begin();
    CHECK_THROWS_AS(quarry::testing::Sandbox{*s}, QueryError);
    s->rollback();
}

TEST_CASE("migrations: the SQLite dump keeps tables named like sqlite's own, leaves out FTS5 shadow tables, and loads back") {
    LiteDb from("dumpnames"), into("dumpnames2");
    auto s = from.open();
    s->connection().execute(
        "CREATE TABLE sqlitebrowser_notes (id INTEGER PRIMARY KEY, body TEXT);"
        "CREATE TABLE SQLiteCache (k TEXT PRIMARY KEY, v BLOB);"
        "CREATE VIRTUAL TABLE docs USING fts5(body)");
    const std::string dump = dump_schema(*s);
    CHECK(dump.find("sqlitebrowser_notes") != std::string::npos);
    CHECK(dump.find("SQLiteCache") != std::string::npos);
    CHECK(dump.find("docs_config") == std::string::npos);
    auto t = into.open();
    REQUIRE_NOTHROW(t->connection().execute(dump));
    CHECK(dump_schema(*t) == dump);
    CHECK(list_tables(*t) == list_tables(*s));
}

TEST_CASE("migrations (SQLite): modify keeps a primary key NOT NULL and an INTEGER PRIMARY KEY the rowid") {
    LiteDb db("modifykey");
    auto s = db.open();
    Migrator m(*s, {Migration(1, "tables", [](Plan& p) {
                       p.create_table("pairs", [](Table& t) {
                           t.add("a", type::string(10));
                           t.add("b", type::string(10));
                           t.primary_key({"a", "b"});
                       });
                       p.create_table("things", [](Table& t) {
                           t.id();
                           t.add("v", type::text());
                       });
                   }),
                   Migration(2, "modify", [](Plan& p) {
                       p.alter_table("pairs", [](Alter& a) { a.modify("a", type::string(20), true); });
                       p.alter_table("things", [](Alter& a) { a.modify("id", type::bigint(), false); });
                   })});
    m.migrate();
    // A column of the table's primary key stays NOT NULL, whatever modify says.
    CHECK_THROWS_AS(exec(*s, "INSERT INTO pairs VALUES (NULL, 'x')"), ConstraintError);
    // Still the rowid: SQLite fills it in.
    exec(*s, "INSERT INTO things (v) VALUES ('a'), ('b')");
    CHECK(one(*s, "SELECT group_concat(id) FROM things") == "1,2");
    // A rowid cannot become text: refused, and nothing changes.
    Migrator text(*s, {m.migrations()[0], m.migrations()[1], Migration(3, "to_text", [](Plan& p) {
                                                                 p.alter_table("things", [](Alter& a) { a.modify("id", type::text(), false); });
                                                             })});
    CHECK_THROWS_WITH_AS(text.migrate(), doctest::Contains("rowid"), MigrationError);
    exec(*s, "INSERT INTO things (v) VALUES ('c')");
    CHECK(one(*s, "SELECT group_concat(id) FROM things") == "1,2,3");
}

TEST_CASE("migrations (SQLite): removing an indexed column (a rebuild) that a view or trigger uses is refused, as DROP COLUMN is") {
    LiteDb db("removeused");
    auto s = db.open();
    exec(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT); CREATE INDEX t_a ON t (a); CREATE INDEX t_b ON t (b);"
             "CREATE VIEW v AS SELECT id, a FROM t; CREATE TABLE log (m TEXT);"
             "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (NEW.b); END");
    auto remove = [&](int version, const char* column) {
        Migrator m(*s, {Migration(version, std::string("remove_") + column, [column](Plan& p) {
                           p.alter_table("t", [column](Alter& a) { a.remove(column); });
                       })});
        return m.migrate();
    };
    CHECK_THROWS_WITH_AS(remove(1, "a"), doctest::Contains("view \"v\" uses it"), MigrationError);
    CHECK_THROWS_WITH_AS(remove(2, "b"), doctest::Contains("trigger \"tr\" uses it"), MigrationError);
    exec(*s, "INSERT INTO t (a, b) VALUES ('x', 'y')");
    CHECK(one(*s, "SELECT a FROM v") == "x");  // nothing changed
    exec(*s, "DROP VIEW v");
    CHECK_NOTHROW(remove(3, "a"));
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM pragma_table_info('t') WHERE name = 'a'") == "0");
}
