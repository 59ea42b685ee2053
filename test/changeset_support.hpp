// SPDX-License-Identifier: MIT
// Changeset writes, shared by the SQLite and PostgreSQL tests: each constraint kind comes back
// as a field error, nothing is written for an invalid changeset, updates write only the changed
// columns, a stale row is StaleEntry.
#pragma once
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <quarry/changeset.hpp>

#include "repo_support.hpp"

struct Account {
    std::int64_t id = 0;
    std::string email{};                    // UNIQUE inline (SQLite names no constraint)
    std::string handle{};                   // CREATE UNIQUE INDEX accounts_handle_index
    int age = 0;                            // CONSTRAINT age_not_negative CHECK (age >= 0)
    std::optional<std::int64_t> owner_id{};  // REFERENCES users(id)
};
BOOST_HANA_ADAPT_STRUCT(Account, id, email, handle, age, owner_id);
QUARRY_TABLE(Account, "accounts", &Account::id);

inline constexpr const char* account_schema_sqlite =
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, handle TEXT NOT NULL, "
    "age INTEGER NOT NULL CONSTRAINT age_not_negative CHECK (age >= 0), owner_id INTEGER REFERENCES users(id));"
    "CREATE UNIQUE INDEX accounts_handle_index ON accounts (handle);";
inline constexpr const char* account_schema_postgres =
    "CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, handle text NOT NULL, "
    "age integer NOT NULL CONSTRAINT age_not_negative CHECK (age >= 0), owner_id bigint REFERENCES users(id));"
    "CREATE UNIQUE INDEX accounts_handle_index ON accounts (handle);";

namespace changeset_checks {

using Input = std::map<std::string, std::string>;

// The signup form: cast, validated, every constraint of the table declared.
inline quarry::Changeset<Account> signup(Input in) {
    using namespace quarry;
    return cast(Account{}, in, &Account::email, &Account::handle, &Account::age, &Account::owner_id) |
           validate_required(&Account::email, &Account::handle) | unique_constraint(&Account::email) |
           unique_constraint(&Account::handle) | check_constraint(&Account::age, "age_not_negative") |
           foreign_key_constraint(&Account::owner_id);
}

inline std::int64_t accounts(quarry::Repo& repo) { return repo.count(quarry::from<Account>()); }

// Every statement the Repo runs from now on, as SQL text.
struct Recorder {
    std::vector<std::string> sql;
    explicit Recorder(quarry::Repo& repo) {
        repo.set_telemetry([this](const quarry::QueryEvent& e) { sql.emplace_back(e.sql); });
    }
};

inline void constraints_become_field_errors(quarry::Repo& repo) {
    using namespace quarry;
    const User owner = repo.insert(make_user("owner", "owner@x"));
    auto first = repo.insert(signup({{"email", "a@x"}, {"handle", "a"}, {"age", "30"}, {"owner_id", std::to_string(owner.id)}}));
    REQUIRE(first.ok());
    CHECK(first->id > 0);
    CHECK(first->owner_id == owner.id);

    auto taken_email = repo.insert(signup({{"email", "a@x"}, {"handle", "b"}}));
    CHECK(taken_email.changeset().error_map() == ErrorMap{{"email", {"has already been taken"}}});
    CHECK(taken_email.errors()[0].validation == "unique");
    auto taken_handle = repo.insert(signup({{"email", "b@x"}, {"handle", "a"}}));
    CHECK(taken_handle.changeset().error_map() == ErrorMap{{"handle", {"has already been taken"}}});
    auto negative = repo.insert(signup({{"email", "c@x"}, {"handle", "c"}, {"age", "-1"}}));
    CHECK(negative.changeset().error_map() == ErrorMap{{"age", {"is invalid"}}});
    CHECK(negative.errors()[0].validation == "check");
    auto orphan = repo.insert(signup({{"email", "d@x"}, {"handle", "d"}, {"owner_id", std::to_string(owner.id + 1000)}}));
    CHECK(orphan.changeset().error_map() == ErrorMap{{"owner_id", {"does not exist"}}});
    CHECK(orphan.errors()[0].validation == "foreign_key");
    CHECK(orphan.changeset().action() == "insert");
    CHECK(accounts(repo) == 1);

    // A violation nobody declared stays an exception.
    auto undeclared = cast(Account{}, Input{{"email", "a@x"}, {"handle", "z"}}, &Account::email, &Account::handle);
    CHECK_THROWS_AS(repo.insert(undeclared), ConstraintError);
    CHECK(accounts(repo) == 1);

    // value() of a refused write is ChangesetInvalid, with the errors.
    try {
        (void)repo.insert(signup({{"email", "a@x"}, {"handle", "y"}})).value();
        FAIL("expected ChangesetInvalid");
    } catch (const ChangesetInvalid& e) {
        CHECK(e.errors().size() == 1);
        CHECK(std::string(e.what()).find("email has already been taken") != std::string::npos);
    }
}

inline void invalid_changesets_write_nothing(quarry::Repo& repo) {
    using namespace quarry;
    Recorder seen(repo);
    auto bad = repo.insert(signup({{"email", ""}, {"handle", "h"}, {"age", "old"}}));
    CHECK(!bad.ok());
    CHECK(bad.changeset().error_map() == ErrorMap{{"age", {"is invalid"}}, {"email", {"can't be blank"}}});
    CHECK(seen.sql.empty());
    repo.set_telemetry({});
    CHECK(accounts(repo) == 0);
}

// PostgreSQL aborts a transaction on any failed statement: the write runs in a savepoint, so the
// transaction goes on after a refused changeset.
inline void violations_inside_a_transaction_leave_it_usable(quarry::Repo& repo) {
    using namespace quarry;
    repo.transaction([&](Repo& r) {
        REQUIRE(r.insert(signup({{"email", "t@x"}, {"handle", "t"}})).ok());
        auto dup = r.insert(signup({{"email", "t@x"}, {"handle", "u"}}));
        CHECK(dup.changeset().error_map() == ErrorMap{{"email", {"has already been taken"}}});
        CHECK(r.insert(signup({{"email", "u@x"}, {"handle", "u"}})).ok());
    });
    CHECK(accounts(repo) == 2);
}

inline void updates_write_only_changed_columns(quarry::Repo& repo) {
    using namespace quarry;
    Account a = repo.insert(signup({{"email", "p@x"}, {"handle", "p"}, {"age", "20"}})).value();
    Account b = repo.insert(signup({{"email", "q@x"}, {"handle", "q"}, {"age", "20"}})).value();
    auto edit = [](const Account& from, Input in) {
        return cast(from, in, &Account::email, &Account::handle, &Account::age) | unique_constraint(&Account::email) |
               unique_constraint(&Account::handle) | check_constraint(&Account::age, "age_not_negative") |
               validate_number(&Account::age, {.lt = 200});
    };
    {
        Recorder seen(repo);
        auto saved = repo.update(edit(a, {{"email", "p@x"}, {"age", "21"}}));  // the email is unchanged
        REQUIRE(saved.ok());
        CHECK(saved->age == 21);
        CHECK(saved->email == "p@x");
        REQUIRE(seen.sql.size() == 1);
        CHECK(seen.sql[0].find(R"(SET "age" = )") != std::string::npos);
        CHECK(seen.sql[0].find(R"("email" =)") == std::string::npos);
        CHECK(seen.sql[0].find(R"("handle" =)") == std::string::npos);
        seen.sql.clear();
        // Nothing changed: nothing runs, the data comes back.
        auto same = repo.update(edit(*saved, {{"age", "21"}}));
        CHECK(same.ok());
        CHECK(same->age == 21);
        CHECK(seen.sql.empty());
        // Invalid: nothing runs.
        CHECK(!repo.update(edit(*saved, {{"age", "500"}})).ok());
        CHECK(seen.sql.empty());
        repo.set_telemetry({});
    }
    auto clash = repo.update(edit(b, {{"handle", "p"}}));
    CHECK(clash.changeset().error_map() == ErrorMap{{"handle", {"has already been taken"}}});
    CHECK(clash.changeset().action() == "update");
    CHECK(repo.get<Account>(b.id)->handle == "q");

    // A row deleted since it was read.
    auto gone = edit(b, {{"age", "30"}});
    REQUIRE(repo.remove(change(b)).ok());
    CHECK_THROWS_AS(repo.update(gone), StaleEntry);
    CHECK_THROWS_AS(repo.remove(change(b)), StaleEntry);
    CHECK(accounts(repo) == 1);
}

// unsafe_validate_unique asks the database before the write; a row never conflicts with itself.
inline void unsafe_validate_unique_checks_before_writing(quarry::Repo& repo) {
    using namespace quarry;
    Account a = repo.insert(signup({{"email", "v@x"}, {"handle", "v"}})).value();
    Account b = repo.insert(signup({{"email", "w@x"}, {"handle", "w"}})).value();
    auto taken = signup({{"email", "v@x"}, {"handle", "new"}}) | unsafe_validate_unique(&Account::email, repo);
    CHECK(taken.error_map() == ErrorMap{{"email", {"has already been taken"}}});
    CHECK(taken.errors()[0].validation == "unsafe_unique");
    auto own = cast(a, Input{{"email", "v@x"}, {"handle", "v2"}}, &Account::email, &Account::handle) |
               unsafe_validate_unique(&Account::handle, repo);
    CHECK(own.valid());
    auto other = cast(a, Input{{"handle", "w"}}, &Account::handle) | unsafe_validate_unique(&Account::handle, repo);
    CHECK(other.error_map() == ErrorMap{{"handle", {"has already been taken"}}});
    (void)b;
}

}  // namespace changeset_checks
