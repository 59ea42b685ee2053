// SPDX-License-Identifier: MIT
// Migrations, shared by the SQLite and PostgreSQL tests: every DSL step up and down against
// the live schema, round trips to an identical dump, failures that leave no trace, concurrent
// runners, edited and irreversible migrations, dry runs, SQL files.
#pragma once
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <quarry/migrator.hpp>

namespace mt {

using namespace quarry;
using namespace quarry::migrate;

// A database for migration tests: sessions on it, and which kind it is.
struct MigDb {
    virtual ~MigDb() = default;
    virtual std::unique_ptr<core::Session> open() = 0;  // a new connection to the same database
    virtual bool pg() const = 0;
};

inline std::vector<std::vector<std::string>> rows(core::Session& s, const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    core::StatementRun run(s, s.run_sql(sql, {}));
    while (run.step()) {
        auto& r = out.emplace_back();
        for (std::uint32_t i = 0; i < run.row().size(); ++i)
            r.push_back(run.row().is_null(i) ? "NULL" : std::string(run.row().text(i)));
    }
    return out;
}
inline std::string one(core::Session& s, const std::string& sql) {
    auto r = rows(s, sql);
    REQUIRE_MESSAGE(r.size() == 1, sql);
    return r[0][0];
}
inline void exec(core::Session& s, const std::string& sql) { s.connection().execute(sql); }

inline bool has_table(core::Session& s, const std::string& t) {
    const auto ts = list_tables(s);
    return std::find(ts.begin(), ts.end(), t) != ts.end();
}
inline const ColumnInfo* find_col(const std::vector<ColumnInfo>& cols, const std::string& name) {
    for (const auto& c : cols)
        if (c.name == name) return &c;
    return nullptr;
}
inline bool has_index(core::Session& s, bool pg, const std::string& name) {
    const std::string sql = pg ? "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname = '" + name + "'"
                               : "SELECT name FROM sqlite_schema WHERE type = 'index' AND name = '" + name + "'";
    return !rows(s, sql).empty();
}
// Runs `sql`, expecting the database to refuse it (a constraint), inside a savepoint so a
// PostgreSQL session stays usable.
inline bool refused(core::Session& s, const std::string& sql) {
    s.begin();
    bool failed = false;
    try {
        exec(s, sql);
    } catch (const DatabaseError&) {
        failed = true;
    }
    s.rollback();
    return failed;
}

inline Migration create_authors() {
    return Migration(1, "create_authors", [](Plan& m) {
        m.create_table("authors", [](Table& t) {
            t.id();
            t.add("name", type::string(80)).null(false);
            t.add("email", type::text()).null(false).unique();
            t.add("karma", type::integer()).null(false).default_to(0);
            t.add("ratio", type::real()).default_to(0.5);
            t.add("active", type::boolean()).null(false).default_to(true);
            t.add("motto", type::text()).default_to("it's a \\ \"test\"");
            t.add("born", type::date());
            t.add("balance", type::decimal(10, 2));
            t.add("avatar", type::binary());
            t.add("token", type::uuid());
            t.add("prefs", type::json());
            t.check("authors_karma_check", "karma >= 0");
            t.timestamps();
        });
    });
}
inline Migration create_books() {
    return Migration(2, "create_books", [](Plan& m) {
        m.create_table("books", [](Table& t) {
            t.id();
            t.add("author_id", type::bigint()).null(false).references("authors", "id", Action::cascade);
            t.add("title", type::text()).null(false);
            t.add("isbn", type::string(20));
        });
        m.create_index("books", {"author_id", "title"}).unique();
        // Quoted: SQLite's RENAME COLUMN re-quotes the identifiers it rewrites in stored SQL, and
        // check_alter_steps renames isbn and back, then compares dumps.
        m.create_index("books", {"isbn"}).where("\"isbn\" IS NOT NULL").name("books_isbn_present");
        m.create_expression_index("books", "books_lower_title", {"lower(title)"});
    });
}
inline Migration create_tags() {
    return Migration(3, "create_book_tags", [](Plan& m) {
        m.create_table("book_tags", [](Table& t) {
            t.add("book_id", type::bigint()).null(false).references("books", "id", Action::cascade);
            t.add("tag", type::text()).null(false);
            t.primary_key({"book_id", "tag"});
        });
    });
}

// ---- checks ----------------------------------------------------------------------------------

inline void check_create_table_up_and_down(MigDb& db) {
    auto s = db.open();
    Migrator m(*s, {create_authors(), create_books(), create_tags()});
    const auto runs = m.migrate();
    REQUIRE(runs.size() == 3);
    CHECK(runs[0].version == 1);

    const auto cols = describe_table(*s, "authors");
    REQUIRE(cols.size() == 14);
    CHECK(find_col(cols, "id")->primary_key == 1);
    CHECK(find_col(cols, "id")->generated);
    CHECK_FALSE(find_col(cols, "name")->nullable);
    CHECK(find_col(cols, "ratio")->nullable);
    CHECK(find_col(cols, "karma")->has_default);
    CHECK(find_col(cols, "name")->type == (db.pg() ? "character varying(80)" : "VARCHAR(80)"));
    CHECK(find_col(cols, "balance")->type == (db.pg() ? "numeric(10,2)" : "NUMERIC(10, 2)"));

    // Defaults land as written, quotes and backslashes included; the timestamps default to now.
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    CHECK(one(*s, "SELECT motto FROM authors") == "it's a \\ \"test\"");
    CHECK(one(*s, "SELECT CAST(karma AS TEXT) FROM authors") == "0");
    CHECK(one(*s, "SELECT CAST(active AS TEXT) FROM authors") == (db.pg() ? "true" : "1"));
    const std::string inserted = one(*s, "SELECT CAST(inserted_at AS TEXT) FROM authors");
    CHECK(inserted.substr(0, 2) == "20");
    if (!db.pg()) CHECK(inserted.size() == 27);  // 2024-01-01T00:00:00.000000Z: quarry's own format
    // Constraints hold: unique, check, not null, foreign key with cascade, composite key.
    CHECK(refused(*s, "INSERT INTO authors (name, email) VALUES ('Bob', 'ann@x')"));
    CHECK(refused(*s, "INSERT INTO authors (name, email, karma) VALUES ('Bob', 'bob@x', -1)"));
    CHECK(refused(*s, "INSERT INTO authors (email) VALUES ('c@x')"));
    CHECK(refused(*s, "INSERT INTO books (author_id, title) VALUES (999, 'x')"));
    exec(*s, "INSERT INTO books (author_id, title) VALUES ((SELECT id FROM authors), 'Dune')");
    CHECK(refused(*s, "INSERT INTO books (author_id, title) VALUES ((SELECT id FROM authors), 'Dune')"));
    exec(*s, "INSERT INTO book_tags (book_id, tag) VALUES ((SELECT id FROM books), 'scifi')");
    CHECK(refused(*s, "INSERT INTO book_tags (book_id, tag) VALUES ((SELECT id FROM books), 'scifi')"));
    CHECK(has_index(*s, db.pg(), "books_author_id_title_index"));
    CHECK(has_index(*s, db.pg(), "books_isbn_present"));
    CHECK(has_index(*s, db.pg(), "books_lower_title"));
    CHECK(refused(*s, "INSERT INTO books (author_id, title) VALUES ((SELECT id FROM authors), 'DUNE') ; "
                      "INSERT INTO books (author_id, title) VALUES ((SELECT id FROM authors), 'Dune')"));
    exec(*s, "DELETE FROM authors");
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM book_tags") == "0");

    // Down: in reverse order, each table gone with its indexes.
    const auto back = m.rollback({.steps = 3});
    REQUIRE(back.size() == 3);
    CHECK(back[0].version == 3);
    CHECK_FALSE(has_table(*s, "authors"));
    CHECK_FALSE(has_table(*s, "books"));
    CHECK_FALSE(has_index(*s, db.pg(), "books_isbn_present"));
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM schema_migrations") == "0");
}

inline void check_alter_steps_up_and_down(MigDb& db) {
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), create_books()};
    ms.push_back(Migration(10, "alter_books", [](Plan& m) {
        m.alter_table("books", [](Alter& a) {
            a.add("pages", type::integer()).null(false).default_to(1);
            a.add("subtitle", type::text());
            a.rename("isbn", "isbn13");
            a.modify("title", type::string(200), false, Default(Default::Kind::text, 0, 0, "untitled"),
                     Column("title", type::text(), false));
            a.check("books_pages_positive", "pages > 0");
            a.unique({"subtitle"});
        });
        m.rename_table("books", "volumes");
    }));
    Migrator m(*s, ms);
    m.migrate({.to = 2});
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    exec(*s, "INSERT INTO books (author_id, title, isbn) VALUES ((SELECT id FROM authors), 'Dune', '978')");
    const std::string before = dump_schema(*s);

    m.migrate();
    CHECK_FALSE(has_table(*s, "books"));
    REQUIRE(has_table(*s, "volumes"));
    const auto cols = describe_table(*s, "volumes");
    REQUIRE(find_col(cols, "pages"));
    CHECK_FALSE(find_col(cols, "pages")->nullable);
    CHECK(find_col(cols, "isbn13"));
    CHECK_FALSE(find_col(cols, "isbn"));
    CHECK(find_col(cols, "title")->type == (db.pg() ? "character varying(200)" : "VARCHAR(200)"));
    CHECK(one(*s, "SELECT title || ':' || CAST(pages AS TEXT) || ':' || isbn13 FROM volumes") == "Dune:1:978");
    CHECK(refused(*s, "UPDATE volumes SET pages = 0"));
    exec(*s, "INSERT INTO volumes (author_id, subtitle) VALUES ((SELECT id FROM authors), 'II')");
    CHECK(one(*s, "SELECT title FROM volumes WHERE subtitle = 'II'") == "untitled");
    CHECK(refused(*s, "INSERT INTO volumes (author_id, subtitle) VALUES ((SELECT id FROM authors), 'II')"));
    // The foreign key and the indexes survived (SQLite: through the table rebuilds).
    CHECK(refused(*s, "INSERT INTO volumes (author_id, title) VALUES (999, 'x')"));
    CHECK(has_index(*s, db.pg(), "books_author_id_title_index"));
    CHECK(has_index(*s, db.pg(), "books_lower_title"));
    exec(*s, "DELETE FROM volumes WHERE subtitle = 'II'");

    // Down: the schema is as it was, and the row is still there.
    m.rollback();
    CHECK(dump_schema(*s) == before);
    CHECK(one(*s, "SELECT title || ':' || isbn FROM books") == "Dune:978");
}

inline void check_constraints_and_columns_removed(MigDb& db) {
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), create_books()};
    ms.push_back(Migration::up_down(
        11, "drop_things",
        [](Plan& m) {
            m.alter_table("authors", [](Alter& a) {
                a.drop_constraint("authors_karma_check");
                a.remove("motto");
                a.remove("email");  // takes its unique constraint with it
            });
            m.drop_index("books_isbn_present");
        },
        [](Plan& m) {
            m.create_index("books", {"isbn"}).where("isbn IS NOT NULL").name("books_isbn_present");
            m.alter_table("authors", [](Alter& a) {
                a.add("email", type::text()).null(false).default_to("").unique();
                a.add("motto", type::text());
                a.check("authors_karma_check", "karma >= 0");
            });
        }));
    Migrator m(*s, ms);
    m.migrate({.to = 2});
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    exec(*s, "INSERT INTO books (author_id, title) VALUES ((SELECT id FROM authors), 'Dune')");
    m.migrate();
    const auto cols = describe_table(*s, "authors");
    CHECK_FALSE(find_col(cols, "motto"));
    CHECK_FALSE(find_col(cols, "email"));
    exec(*s, "UPDATE authors SET karma = -5");  // the check is gone
    CHECK_FALSE(has_index(*s, db.pg(), "books_isbn_present"));
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM books") == "1");  // no cascade fired
    CHECK(refused(*s, "INSERT INTO books (author_id, title) VALUES (999, 'x')"));
    exec(*s, "UPDATE authors SET karma = 5");
    m.rollback();
    CHECK(find_col(describe_table(*s, "authors"), "email"));
    CHECK(has_index(*s, db.pg(), "books_isbn_present"));
    CHECK(refused(*s, "UPDATE authors SET karma = -5"));
}

inline void check_more_steps(MigDb& db) {
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), create_books()};
    ms.push_back(Migration(13, "more", [](Plan& m) {
        // Reversible drops: the definitions recreate them on the way down (indexes first).
        auto index = [](std::string name, std::vector<std::string> cols, bool unique, std::string where) {
            Index ix;
            ix.table = "books";
            ix.name = std::move(name);
            ix.columns = std::move(cols);
            ix.unique_ = unique;
            ix.where_ = std::move(where);
            return ix;
        };
        m.drop_index(index("books_author_id_title_index", {"author_id", "title"}, true, ""));
        m.drop_index(index("books_isbn_present", {"isbn"}, false, "\"isbn\" IS NOT NULL"));
        Index lower = index("books_lower_title", {}, false, "");
        lower.expressions = {"lower(title)"};
        m.drop_index(lower);
        m.drop_table("books", [](Table& t) {
            t.id();
            t.add("author_id", type::bigint()).null(false).references("authors", "id", Action::cascade);
            t.add("title", type::text()).null(false);
            t.add("isbn", type::string(20));
        });
        m.create_table("books", [](Table& t) {
            t.if_not_exists();
            t.id();
        });
        m.alter_table("books", [](Alter& a) {
            a.add("editor_id", type::bigint()).references("authors", "id", Action::set_null, Action::cascade);
        });
        m.create_index("books", {"editor_id"}).using_method("btree");
    }));
    Migrator m(*s, ms);
    m.migrate({.to = 2});
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    const std::string before = dump_schema(*s);
    if (!db.pg()) {  // index access methods are PostgreSQL's
        CHECK_THROWS_WITH_AS(m.migrate(), doctest::Contains("USING btree"), MigrationError);
        CHECK(dump_schema(*s) == before);
        return;
    }
    m.migrate();
    const auto cols = describe_table(*s, "books");
    CHECK(cols.size() == 2);
    exec(*s, "INSERT INTO books (editor_id) VALUES ((SELECT id FROM authors))");
    CHECK(refused(*s, "INSERT INTO books (editor_id) VALUES (999)"));
    exec(*s, "DELETE FROM authors");  // ON DELETE SET NULL
    CHECK(one(*s, "SELECT CAST(editor_id IS NULL AS text) FROM books") == "true");
    m.rollback();
    CHECK(dump_schema(*s) == before);
}

inline void check_added_reference(MigDb& db) {
    // A column added with a reference: in place on both databases (SQLite: ADD COLUMN with REFERENCES).
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), create_books()};
    ms.push_back(Migration(14, "editor", [](Plan& m) {
        m.alter_table("books", [](Alter& a) { a.add("editor_id", type::bigint()).references("authors", "id", Action::set_null); });
        m.drop_table_if_exists("never_there");
    }));
    Migrator m(*s, ms);
    m.migrate({.to = 2});
    const std::string before = dump_schema(*s);
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    exec(*s, "INSERT INTO books (author_id, title) VALUES ((SELECT id FROM authors), 'Dune')");
    m.migrate();
    exec(*s, "UPDATE books SET editor_id = (SELECT id FROM authors)");
    CHECK(refused(*s, "UPDATE books SET editor_id = 999"));
    CHECK(rows(*s, db.pg() ? "SELECT conname FROM pg_constraint WHERE conname = 'books_editor_id_fkey'"
                           : "SELECT \"table\" FROM pragma_foreign_key_list('books') WHERE \"from\" = 'editor_id'").size() == 1);
    CHECK_THROWS_WITH_AS(m.rollback(), doctest::Contains("cannot be rolled back"), MigrationError);  // drop_table_if_exists
    Migrator back(*s, {create_authors(), create_books(), Migration(14, "editor", [](Plan& p) {
                           p.alter_table("books", [](Alter& a) { a.add("editor_id", type::bigint()).references("authors", "id", Action::set_null); });
                       })});
    back.rollback({.allow_edited = true});
    CHECK(dump_schema(*s) == before);
    CHECK(one(*s, "SELECT title FROM books") == "Dune");
}

inline void check_round_trip_dump(MigDb& db) {
    auto s = db.open();
    std::vector<Migration> ms{create_authors(), create_books(), create_tags()};
    ms.push_back(Migration(12, "reshape", [](Plan& m) {
        m.alter_table("authors", [](Alter& a) {
            a.add("nick", type::string(30)).unique();
            a.remove("ratio", type::real(), true);
            a.modify("karma", type::bigint(), false, Default(Default::Kind::integer, 10), Column("karma", type::integer(), false, Default(Default::Kind::integer, 0)));
            a.foreign_key({"karma"}, "authors", {"id"}, Action::no_action, Action::no_action, "authors_karma_author");
        });
        m.alter_table("authors", [](Alter& a) { a.drop_constraint(Constraint(ConstraintType::foreign_key, "authors_karma_author", {"karma"}, {}, Reference{"authors", {"id"}})); });
        m.execute("CREATE VIEW author_names AS SELECT name FROM authors", "DROP VIEW author_names");
    }));
    Migrator m(*s, ms);
    m.migrate();
    const std::string up = dump_schema(*s);
    CHECK(up.find("author_names") != std::string::npos);
    m.rollback({.to = 0});
    const std::string down = dump_schema(*s);
    CHECK(down.find("authors") == std::string::npos);
    m.migrate();
    CHECK(dump_schema(*s) == up);
    m.rollback({.steps = 1});
    m.migrate();
    CHECK(dump_schema(*s) == up);
    // redo: down and up again, same schema, the version recorded once.
    const auto r = m.redo(2);
    CHECK(r.size() == 4);
    CHECK(dump_schema(*s) == up);
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM schema_migrations") == "4");
}

// redo is all or nothing: when the re-apply fails, the rolled-back half is undone too.
inline void check_redo_all_or_nothing(MigDb& db) {
    auto s = db.open();
    // Fails only once its down has run (which leaves a marker table behind).
    const std::string fail_after_down =
        db.pg() ? "DO $$ BEGIN IF to_regclass('redo_marker') IS NOT NULL THEN RAISE EXCEPTION 'second apply'; END IF; END $$"
                : "SELECT abs(-9223372036854775807 - 1) FROM sqlite_schema WHERE name = 'redo_marker'";  // integer overflow
    Migrator m(*s, {create_authors(), Migration::up_down(
                                          31, "fails_when_redone",
                                          [&](Plan& p) {
                                              p.create_table("redone", [](Table& t) { t.id(); });
                                              p.execute(fail_after_down);
                                          },
                                          [](Plan& p) {
                                              p.execute("CREATE TABLE redo_marker (x INTEGER)");
                                              p.drop_table("redone");
                                          })});
    m.migrate();
    const std::string before = dump_schema(*s);
    CHECK_THROWS_AS(m.redo(1), MigrationError);
    CHECK(has_table(*s, "redone"));
    CHECK_FALSE(has_table(*s, "redo_marker"));
    CHECK(dump_schema(*s) == before);
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM schema_migrations WHERE version = 31") == "1");
}

inline void check_failure_leaves_no_trace(MigDb& db) {
    auto s = db.open();
    std::vector<Migration> ms{create_authors()};
    ms.push_back(Migration(20, "half_done", [](Plan& m) {
        m.create_table("drafts", [](Table& t) { t.id(); });
        m.alter_table("authors", [](Alter& a) { a.modify("name", type::text(), true); });
        m.execute("INSERT INTO authors (name, email) VALUES ('x', 'x@x')");
        m.execute("INSERT INTO no_such_table VALUES (1)");
    }));
    ms.push_back(Migration(21, "never_reached", [](Plan& m) { m.create_table("later", [](Table& t) { t.id(); }); }));
    Migrator m(*s, ms);
    m.migrate({.to = 1});
    exec(*s, "INSERT INTO authors (name, email) VALUES ('Ann', 'ann@x')");
    const std::string before = dump_schema(*s);
    std::string what;
    try {
        m.migrate();
    } catch (const MigrationError& e) {
        what = e.what();
        CHECK(e.version() == 20);
        bool nested_db_error = false;
        try {
            std::rethrow_if_nested(e);
        } catch (const DatabaseError&) {
            nested_db_error = true;
        }
        CHECK(nested_db_error);
    }
    CHECK(what.find("half_done") != std::string::npos);
    CHECK(what.find("no_such_table") != std::string::npos);
    CHECK(dump_schema(*s) == before);
    CHECK_FALSE(has_table(*s, "drafts"));
    CHECK_FALSE(has_table(*s, "later"));
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM authors") == "1");
    CHECK(one(*s, "SELECT CAST(max(version) AS TEXT) FROM schema_migrations") == "1");
    CHECK(s->depth() == 0);
    // The session is usable, and the runner can go on once the migration is fixed.
    ms[1] = Migration(20, "half_done", [](Plan& p) { p.create_table("drafts", [](Table& t) { t.id(); }); });
    Migrator fixed(*s, ms);
    CHECK(fixed.migrate().size() == 2);
}

inline void check_concurrent_runners(MigDb& db) {
    // Every migration counts its own application; two runners race through all of them.
    std::vector<Migration> ms;
    ms.push_back(Migration(1, "counter", [](Plan& m) {
        m.create_table("applied_log", [](Table& t) { t.add("version", type::bigint()).null(false); });
    }));
    const std::string pause = db.pg() ? "SELECT pg_sleep(0.05)"
                                      : "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
                                        "SELECT count(*) FROM c";
    for (int v = 2; v <= 8; ++v)
        ms.push_back(Migration(v, "step_" + std::to_string(v), [v, pause](Plan& m) {
            m.execute(pause, "SELECT 1");
            m.execute("INSERT INTO applied_log (version) VALUES (" + std::to_string(v) + ")", "SELECT 1");
        }));
    std::atomic<int> applied{0}, failures{0};
    std::vector<std::thread> runners;
    for (int r = 0; r < 2; ++r)
        runners.emplace_back([&] {
            try {
                auto s = db.open();
                Migrator m(*s, ms);
                applied += static_cast<int>(m.migrate().size());
            } catch (const std::exception& e) {
                MESSAGE(std::string(e.what()));
                ++failures;
            }
        });
    for (auto& t : runners) t.join();
    CHECK(failures == 0);
    CHECK(applied == 8);
    auto s = db.open();
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM applied_log") == "7");
    CHECK(one(*s, "SELECT CAST(count(DISTINCT version) AS TEXT) FROM applied_log") == "7");
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM schema_migrations") == "8");
}

inline void check_edited_and_irreversible(MigDb& db) {
    auto s = db.open();
    Migrator m(*s, {create_authors(), create_books()});
    m.migrate();
    // The same versions, one of them edited.
    auto edited = Migration(2, "create_books", [](Plan& p) { p.create_table("books", [](Table& t) { t.id(); }); });
    Migrator m2(*s, {create_authors(), edited, Migration(3, "raw", [](Plan& p) { p.execute("CREATE TABLE raw_t (x INTEGER)"); })});
    const auto st = m2.status();
    REQUIRE(st.size() == 3);
    CHECK(st[0].state == MigrationState::applied);
    CHECK(st[1].state == MigrationState::edited);
    CHECK(st[2].state == MigrationState::pending);
    CHECK_THROWS_WITH_AS(m2.migrate(), doctest::Contains("were edited after they ran"), MigrationError);
    CHECK_FALSE(has_table(*s, "raw_t"));
    CHECK(m2.migrate({.allow_edited = true}).size() == 1);
    // Rolling back the raw step (no down SQL) and the edited one: refused before anything runs.
    CHECK_THROWS_WITH_AS(m2.rollback({.steps = 2, .allow_edited = true}), doctest::Contains("cannot be rolled back"), MigrationError);
    CHECK(has_table(*s, "raw_t"));
    CHECK(one(*s, "SELECT CAST(count(*) AS TEXT) FROM schema_migrations") == "3");
    // A recorded migration the code no longer has is "missing", and cannot be rolled back.
    Migrator m3(*s, {create_authors()});
    CHECK(m3.status().back().state == MigrationState::missing);
    CHECK_THROWS_AS(m3.rollback(), MigrationError);
    // Duplicate versions are refused up front.
    CHECK_THROWS_AS(Migrator(*s, {create_authors(), create_authors()}), MigrationError);
}

inline void check_dry_run(MigDb& db) {
    auto s = db.open();
    Migrator m(*s, {create_authors(), create_books()});
    m.migrate({.to = 1});
    const std::string before = dump_schema(*s);
    std::vector<std::string> seen;
    const auto runs = m.migrate({.dry_run = true, .on_event = [&](const MigrationEvent& e) {
                                     if (e.kind == MigrationEvent::Kind::statement) seen.push_back(e.sql);
                                 }});
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].sql.size() == (db.pg() ? 4u : 5u));  // SQLite: and its foreign key check
    CHECK(runs[0].sql[0].find("CREATE TABLE \"books\"") == 0);
    CHECK(seen.size() >= 4);
    CHECK(dump_schema(*s) == before);
    CHECK(m.status()[1].state == MigrationState::pending);
    // Rendered for either dialect without such a database.
    const auto pg = render_migrations({create_authors(), create_books()}, core::postgres());
    CHECK(pg[0].sql[0].find("GENERATED BY DEFAULT AS IDENTITY") != std::string::npos);
    const auto lite = render_migrations({create_authors(), create_books()}, core::sqlite());
    CHECK(lite[0].sql[0].find("INTEGER PRIMARY KEY") != std::string::npos);
}

inline void check_sql_files(MigDb& db) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("quarry_sqlmig_" + std::to_string(::getpid()) + (db.pg() ? "_pg" : "_lite"));
    fs::remove_all(dir);
    auto write = [&](const std::string& sub, const std::string& file, const std::string& text) {
        fs::create_directories(dir / sub);
        std::ofstream(dir / sub / file) << text;
    };
    write("20240101000000_create_notes", "up.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\nINSERT INTO notes VALUES (1, 'a;b');");
    write("20240101000000_create_notes", "down.sql", "DROP TABLE notes;");
    write("20240102000000_add_title", "up.sql", "ALTER TABLE notes ADD COLUMN title TEXT;");
    auto ms = load_sql_migrations(dir.string());
    REQUIRE(ms.size() == 2);
    CHECK(ms[0].name() == "create_notes");
    auto s = db.open();
    Migrator m(*s, ms);
    CHECK(m.migrate().size() == 2);
    CHECK(one(*s, "SELECT body FROM notes") == "a;b");
    CHECK_THROWS_WITH_AS(m.rollback(), doctest::Contains("add_title"), MigrationError);  // no down.sql
    write("20240102000000_add_title", "down.sql", "ALTER TABLE notes DROP COLUMN title;");
    Migrator m2(*s, load_sql_migrations(dir.string()));
    CHECK(m2.status()[1].state == MigrationState::edited);  // down.sql is part of what ran
    CHECK(m2.rollback({.steps = 2, .allow_edited = true}).size() == 2);
    CHECK_FALSE(has_table(*s, "notes"));
    write("bad-name", "up.sql", "SELECT 1");
    CHECK_THROWS_WITH_AS(load_sql_migrations(dir.string()), doctest::Contains("<version>_<name>"), MigrationError);
    fs::remove_all(dir);
}

inline void check_bad_input(MigDb& db) {
    auto s = db.open();
    // Identifiers with quotes are quoted; string defaults with quotes stay literals.
    Migrator m(*s, {Migration(1, "odd", [](Plan& p) {
                   p.create_table("we\"ird", [](Table& t) {
                       t.add("col'\"x", type::text()).default_to("'); DROP TABLE x; --");
                   });
               })});
    m.migrate();
    exec(*s, "INSERT INTO \"we\"\"ird\" DEFAULT VALUES");
    CHECK(one(*s, "SELECT \"col'\"\"x\" FROM \"we\"\"ird\"") == "'); DROP TABLE x; --");
    // A NUL byte or invalid UTF-8 never reaches SQL: MigrationError before anything runs.
    for (const std::string& bad : {std::string("a\0b", 3), std::string("\xff\xfe")}) {
        Migrator b(*s, {Migration(5, "bad", [bad](Plan& p) {
                       p.create_table("t_bad", [&](Table& t) { t.add("c", type::text()).default_to(bad); });
                   })});
        CHECK_THROWS_AS(b.migrate(), MigrationError);
        CHECK_FALSE(has_table(*s, "t_bad"));
    }
    CHECK_THROWS_AS(type::raw("text; DROP TABLE x"), MigrationError);
    CHECK_THROWS_AS(Migration(0, "zero", [](Plan&) {}), MigrationError);
    // A step the database cannot do is a MigrationError naming it, with nothing applied.
    Migrator u(*s, {Migration(6, "unsupported", [](Plan& p) {
                   p.create_table("t_excl", [](Table& t) {
                       t.add("r", type::integer());
                       t.exclude("t_excl_r", "btree (r WITH =)");
                   });
               })});
    if (!db.pg()) {
        CHECK_THROWS_WITH_AS(u.migrate(), doctest::Contains("exclusion"), MigrationError);
        CHECK_FALSE(has_table(*s, "t_excl"));
    } else {
        u.migrate();
        exec(*s, "INSERT INTO t_excl VALUES (1)");
        CHECK(refused(*s, "INSERT INTO t_excl VALUES (1)"));
        u.rollback();
        CHECK_FALSE(has_table(*s, "t_excl"));
    }
}

}  // namespace mt
