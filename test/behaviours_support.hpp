// SPDX-License-Identifier: MIT
// Schema behaviours, shared by the SQLite and PostgreSQL tests: timestamps, soft delete,
// optimistic locking, lifecycle hooks, virtual and read-only fields.
#pragma once
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <quarry/changeset.hpp>

#include "repo_support.hpp"

struct Note {
    std::int64_t id = 0;
    std::int64_t user_id = 0;
    std::string body{};
    int lock = 1;
    timestamp inserted_at{};
    timestamp updated_at{};
    std::optional<timestamp> deleted_at{};
    std::int64_t body_length = 0;        // read-only: a generated column
    std::vector<std::string> tags{};     // virtual: no column, no SQL type
};
BOOST_HANA_ADAPT_STRUCT(Note, id, user_id, body, lock, inserted_at, updated_at, deleted_at, body_length, tags);
QUARRY_TABLE(Note, "notes", &Note::id);
QUARRY_COLUMNS(Note, quarry::field(&Note::lock).lock_version(), quarry::field(&Note::inserted_at).inserted_at(),
               quarry::field(&Note::updated_at).updated_at(), quarry::field(&Note::deleted_at).soft_delete(),
               quarry::field(&Note::body_length).read_only(), quarry::field(&Note::tags).virtual_field());

// What the hooks did, written by them through the Repo.
struct Audit {
    std::int64_t id = 0;
    std::int64_t note_id = 0;
    std::string action{};
};
BOOST_HANA_ADAPT_STRUCT(Audit, id, note_id, action);
QUARRY_TABLE(Audit, "audits", &Audit::id);

// before_insert trims the body; after_insert and after_update write an audit row; a body of
// "forbidden" is vetoed on update; before_delete refuses notes marked "keep".
template <>
struct quarry::hooks<Note> {
    static void before_insert(Repo&, Note& n) {
        while (!n.body.empty() && n.body.back() == ' ') n.body.pop_back();
    }
    static void after_insert(Repo& r, const Note& n) { r.insert(Audit{0, n.id, "insert"}); }
    static void before_update(Repo& r, Note& n) {
        r.insert(Audit{0, n.id, "before update"});  // rolled back with the update when vetoed
        if (n.body == "forbidden") throw Veto("is not allowed", "body");
    }
    static void after_update(Repo& r, const Note& n) { r.insert(Audit{0, n.id, "update v" + std::to_string(n.lock)}); }
    static void before_delete(Repo&, const Note& n) {
        if (n.body == "keep") throw Veto("this note is kept");
    }
};

inline constexpr const char* note_schema_sqlite =
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT NOT NULL, "
    "lock INTEGER NOT NULL, inserted_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT, "
    "body_length INTEGER GENERATED ALWAYS AS (length(body)) STORED);"
    "CREATE TABLE audits (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL, action TEXT NOT NULL);";
inline constexpr const char* note_schema_postgres =
    "CREATE TABLE notes (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id), body text NOT NULL, "
    "lock integer NOT NULL, inserted_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz, "
    "body_length bigint GENERATED ALWAYS AS (length(body)) STORED);"
    "CREATE TABLE audits (id bigserial PRIMARY KEY, note_id bigint NOT NULL, action text NOT NULL);";

namespace behaviour_checks {

using namespace quarry;

inline Note note(std::int64_t user, std::string body) {
    Note n;
    n.user_id = user;
    n.body = std::move(body);
    return n;
}

inline std::vector<std::string> audit_trail(Repo& repo, std::int64_t note_id) {
    return repo.all(from<Audit>() | where(col(&Audit::note_id) == note_id) | order_by(asc(col(&Audit::id))) |
                    select(col(&Audit::action)));
}

inline void timestamps_are_set_on_every_write(Repo& repo) {
    const User u = repo.insert(make_user("ts", "ts@x"));
    const auto before = detail::now();
    Note a = repo.insert(note(u.id, "a"));
    const auto after_insert = detail::now();
    CHECK(a.inserted_at >= before);
    CHECK(a.inserted_at <= after_insert);
    CHECK(a.updated_at == a.inserted_at);

    // An explicit timestamp is kept (an import, a fixture).
    Note old = note(u.id, "old");
    old.inserted_at = timestamp(std::chrono::microseconds(1'000'000));
    CHECK(repo.insert(old).inserted_at == old.inserted_at);

    a.body = "a2";
    repo.update(a);
    Note a2 = *repo.get<Note>(a.id);
    CHECK(a2.inserted_at == a.inserted_at);
    CHECK(a2.updated_at >= after_insert);

    auto saved = repo.update(change(a2).put_change(&Note::body, std::string("a3"))).value();
    CHECK(saved.updated_at >= a2.updated_at);
    CHECK(saved.inserted_at == a.inserted_at);

    const auto before_bulk = detail::now();
    repo.insert_all(std::vector<Note>{note(u.id, "b1"), note(u.id, "b2")});
    for (const Note& n : repo.all(from<Note>() | where(like(col(&Note::body), "b%")))) {
        CHECK(n.inserted_at >= before_bulk);
        CHECK(n.updated_at == n.inserted_at);
    }
    const auto before_update_all = detail::now();
    CHECK(repo.update_all(from<Note>() | where(like(col(&Note::body), "b%")), set(&Note::body, "bulk")) == 2);
    for (const Note& n : repo.all(from<Note>() | where(col(&Note::body) == "bulk"))) {
        CHECK(n.updated_at >= before_update_all);
        CHECK(n.inserted_at < before_update_all);
    }
    // One instant per write: an upserted new row's two stamps agree, as a soft delete's do.
    const Note upserted = repo.upsert(note(u.id, "upserted"), &Note::id);
    CHECK(upserted.updated_at == upserted.inserted_at);
    repo.remove(upserted);
    const Note removed = *repo.one_or_none(from<Note>() | with_deleted() | where(col(&Note::id) == upserted.id));
    REQUIRE(removed.deleted_at.has_value());
    CHECK(removed.updated_at == *removed.deleted_at);
}

inline void soft_delete_scopes_every_query(Repo& repo) {
    const User u = repo.insert(make_user("sd", "sd@x"));
    Note keep = repo.insert(note(u.id, "live"));
    Note gone = repo.insert(note(u.id, "gone"));
    repo.remove(gone);
    // The row is still there, with deleted_at set, and every query leaves it out.
    CHECK(repo.count(from<Note>()) == 1);
    CHECK(!repo.get<Note>(gone.id));
    CHECK(!repo.exists(from<Note>() | where(col(&Note::id) == gone.id)));
    CHECK(repo.count(from<Note>() | with_deleted()) == 2);
    auto trash = repo.all(from<Note>() | only_deleted());
    REQUIRE(trash.size() == 1);
    CHECK(trash[0].id == gone.id);
    CHECK(trash[0].deleted_at.has_value());
    // Every way of reading: one, get_by, aggregates, streams.
    CHECK(repo.one(from<Note>()).id == keep.id);
    CHECK(!repo.get_by<Note>(col(&Note::id) == gone.id));
    CHECK(repo.max(from<Note>(), &Note::id) == keep.id);
    std::size_t streamed = 0;
    for (const Note& n : repo.stream(from<Note>())) streamed += n.id == keep.id ? 1 : 100;
    CHECK(streamed == 1);
    // Joins and subqueries too.
    CHECK(repo.count(from<User>() | join<Note>(col(&Note::user_id) == col(&User::id))) == 1);
    CHECK(repo.count(from<User>() | left_join<Note>(col(&Note::user_id) == col(&User::id)) |
                     where(col(&User::id) == u.id)) == 1);
    CHECK(repo.count(from<User>() | where(in(col(&User::id), from<Note>() | where(col(&Note::body) == "gone") |
                                                                  select(col(&Note::user_id))))) == 0);
    // update_all and delete_all see live rows only; delete_all deletes softly.
    CHECK(repo.update_all(from<Note>(), set(&Note::body, "touched")) == 1);
    CHECK(repo.delete_all(from<Note>() | where(col(&Note::id) == keep.id)) == 1);
    CHECK(repo.count(from<Note>()) == 0);
    CHECK(repo.count(from<Note>() | only_deleted()) == 2);
    // Removing a deleted row finds nothing; restore brings it back.
    CHECK_THROWS(repo.remove(gone));
    repo.restore(*repo.one_or_none(from<Note>() | with_deleted() | where(col(&Note::id) == gone.id)));
    CHECK(repo.get<Note>(gone.id).has_value());
    CHECK(!repo.get<Note>(gone.id)->deleted_at);
    // Hard delete only when asked.
    Note restored = *repo.get<Note>(gone.id);
    repo.hard_delete(restored);
    CHECK(repo.count(from<Note>() | with_deleted()) == 1);
    CHECK(repo.hard_delete_all(from<Note>() | with_deleted()) == 1);
    CHECK(repo.count(from<Note>() | with_deleted()) == 0);
    // An OR in update_all stays inside the soft-delete filter; a RIGHT JOIN keeps its rows.
    Note x = repo.insert(note(u.id, "x"));
    Note y = repo.insert(note(u.id, "y"));
    repo.remove(y);
    CHECK(repo.update_all(from<Note>() | where(col(&Note::body) == "x" || col(&Note::body) == "y"), set(&Note::body, "z")) == 1);
    CHECK(repo.count(from<Note>() | with_deleted() | where(col(&Note::body) == "z")) == 1);
    const User lonely = repo.insert(make_user("lonely", "lonely@x"));
    repo.remove(repo.insert(note(lonely.id, "only deleted")));
    CHECK(repo.count(from<Note>() | right_join<User>(col(&Note::user_id) == col(&User::id)) |
                     where(col(&User::id) == lonely.id)) == 1);
    // hard_delete_all purges deleted rows too, unless the query scopes itself.
    CHECK(repo.hard_delete_all(from<Note>() | where(is_not_null(col(&Note::deleted_at)))) == 2);
    CHECK(repo.hard_delete_all(from<Note>() | only_deleted()) == 0);
    repo.hard_delete(*repo.get<Note>(x.id));
    // The filter is in the SQL, qualified when the query needs it.
    CHECK(repo.to_sql(from<Note>()).sql.find(R"(WHERE "deleted_at" IS NULL)") != std::string::npos);
    CHECK(repo.to_sql(from<Note>() | where(col(&Note::body) == "x" || col(&Note::body) == "y")).sql.find(
              R"(WHERE ("body" = )") != std::string::npos);
    CHECK(repo.to_sql(from<User>() | join<Note>(col(&Note::user_id) == col(&User::id))).sql.find(
              R"(ON "notes"."user_id" = "users"."id" AND "notes"."deleted_at" IS NULL)") != std::string::npos);
}

inline void optimistic_locking_detects_lost_updates(Repo& repo) {
    const User u = repo.insert(make_user("ol", "ol@x"));
    Note n = repo.insert(note(u.id, "v1"));
    CHECK(n.lock == 1);
    Note mine = n, theirs = n;
    mine.body = "mine";
    repo.update(mine);
    CHECK(repo.get<Note>(n.id)->lock == 2);
    theirs.body = "theirs";
    CHECK_THROWS_AS(repo.update(theirs), StaleEntry);
    CHECK_THROWS_AS(repo.remove(theirs), StaleEntry);
    CHECK(repo.get<Note>(n.id)->body == "mine");
    // A changeset update returns the new version; one from the old version is stale.
    Note fresh = *repo.get<Note>(n.id);
    Note next = repo.update(change(fresh).put_change(&Note::body, std::string("again"))).value();
    CHECK(next.lock == 3);
    CHECK_THROWS_AS(repo.update(change(fresh).put_change(&Note::body, std::string("late"))), StaleEntry);
    // A form rendered at an older version, applied to the row as reloaded now: the version the
    // changeset carries is the one checked, so the stale form loses instead of overwriting.
    const Note reloaded = *repo.get<Note>(n.id);
    CHECK_THROWS_AS(repo.update(change(reloaded).put_change(&Note::body, std::string("stale form")).put_change(&Note::lock, 1)),
                    StaleEntry);
    CHECK(repo.get<Note>(n.id)->body == "again");
    // The same for a delete: a form that carries an older version does not delete the row.
    CHECK_THROWS_AS(repo.remove(change(reloaded).put_change(&Note::lock, 1)), StaleEntry);
    CHECK(repo.get<Note>(n.id).has_value());
    // A refused changeset comes back as it went: no updated_at change added on the way.
    auto refused = repo.update(change(reloaded).put_change(&Note::body, std::string("x")).add_error("body", "nope"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.changeset().changed_fields() == std::vector<std::string>{"body"});
    // An upsert over the row keeps counting versions, and its insertion time.
    Note stale = fresh;
    stale.body = "upserted";
    Note up = repo.upsert(stale, &Note::id);
    CHECK(up.lock == 4);
    CHECK(up.body == "upserted");
    CHECK(up.inserted_at == n.inserted_at);
    // ... and leaves a soft-deleted row deleted.
    repo.remove(up);
    Note revived = up;
    revived.lock = 5;
    revived.deleted_at.reset();
    CHECK(repo.upsert(revived, &Note::id).deleted_at.has_value());
}

// Two writers update the same row from the same version at once: exactly one wins.
inline void concurrent_updates_one_stale(Repo& setup, Repo& a, Repo& b) {
    const User u = setup.insert(make_user("cc", "cc@x"));
    Note n = setup.insert(note(u.id, "start"));
    std::atomic<int> stale{0}, saved{0}, ready{0};
    auto writer = [&](Repo& repo, std::string body) {
        auto cs = change(n).put_change(&Note::body, std::move(body));
        ready.fetch_add(1);
        while (ready.load() < 2) std::this_thread::yield();
        try {
            repo.transaction([&](Repo& r) { (void)r.update(cs).value(); });
            saved.fetch_add(1);
        } catch (const StaleEntry&) {
            stale.fetch_add(1);
        }
    };
    std::thread t1(writer, std::ref(a), "one"), t2(writer, std::ref(b), "two");
    t1.join();
    t2.join();
    CHECK(saved.load() == 1);
    CHECK(stale.load() == 1);
    CHECK(setup.get<Note>(n.id)->lock == 2);
}

inline void hooks_run_in_the_write_transaction(Repo& repo) {
    const User u = repo.insert(make_user("hk", "hk@x"));
    Note n = repo.insert(note(u.id, "trim me   "));
    CHECK(n.body == "trim me");
    CHECK(audit_trail(repo, n.id) == std::vector<std::string>{"insert"});
    n.body = "edited";
    repo.update(n);
    // after_update sees the row as stored: its new lock version.
    CHECK(audit_trail(repo, n.id) == std::vector<std::string>{"insert", "before update", "update v2"});

    // A veto rolls back the write and what the hooks wrote.
    Note current = *repo.get<Note>(n.id);
    Note bad = current;
    bad.body = "forbidden";
    CHECK_THROWS_AS(repo.update(bad), Veto);
    CHECK(repo.get<Note>(n.id)->body == "edited");
    CHECK(audit_trail(repo, n.id).size() == 3);
    // Through a changeset, a veto is a field error.
    auto refused = repo.update(change(current).put_change(&Note::body, std::string("forbidden")));
    CHECK(refused.changeset().error_map() == ErrorMap{{"body", {"is not allowed"}}});
    CHECK(refused.errors()[0].validation == "veto");
    CHECK(audit_trail(repo, n.id).size() == 3);
    // Inside an outer transaction, the veto leaves the outer work alone.
    repo.transaction([&](Repo& r) {
        r.insert(Audit{0, n.id, "outer"});
        CHECK_THROWS_AS(r.update(bad), Veto);
    });
    CHECK(audit_trail(repo, n.id).back() == "outer");
    Note kept = repo.insert(note(u.id, "keep"));
    CHECK_THROWS_AS(repo.remove(kept), Veto);
    CHECK(repo.get<Note>(kept.id).has_value());
}

inline void virtual_and_read_only_fields(Repo& repo) {
    const User u = repo.insert(make_user("vf", "vf@x"));
    Note n = note(u.id, "hello");
    n.tags = {"x", "y"};
    n.body_length = 99;  // read-only: not written
    Note stored = repo.insert(n);
    CHECK(stored.body_length == 5);  // the database computed it
    CHECK(stored.tags.empty());      // virtual: never read
    const std::string sql = repo.to_sql(from<Note>()).sql;
    CHECK(sql.find("tags") == std::string::npos);
    CHECK(repo.to_sql(insert(n)).sql.find("body_length") == std::string::npos);
    stored.body = "hello world";
    stored.body_length = 1;
    repo.update(stored);
    CHECK(repo.get<Note>(stored.id)->body_length == 11);
    // A changeset casts a virtual field like any other.
    auto cs = cast(Note{}, std::map<std::string, std::string>{{"body", "x"}}, &Note::body) |
              validate_change(&Note::body, [](const std::string& b) -> std::optional<std::string> {
                  if (b.size() < 2) return "is too short";
                  return std::nullopt;
              });
    CHECK(!cs.valid());
    // A change to a virtual field alone writes nothing.
    Note fresh = *repo.get<Note>(stored.id);
    auto only_virtual = change(fresh).put_change(&Note::tags, std::vector<std::string>{"z"});
    auto result = repo.update(only_virtual);
    REQUIRE(result.ok());
    CHECK(result->lock == fresh.lock);
}

}  // namespace behaviour_checks
