// SPDX-License-Identifier: MIT
// Test fixtures: a factory builds valid rows from defaults, with a sequence number for what must
// be unique, lets a test override any field, and inserts through a changeset (so the schema's
// validations and constraints apply, as they would to real input).
//
//   quarry::testing::Factory<User> users([](std::int64_t n) {
//       return User{.name = "user " + std::to_string(n), .email = "user" + std::to_string(n) + "@example.com", .age = 30};
//   });
//   User minor = users.build([](User& u) { u.age = 17; });   // not stored
//   User saved = users.insert(repo);                         // stored, generated fields filled
//   auto ten = users.insert_many(repo, 10);
//
// With validations: Factory<User> users(defaults, [](Changeset<User> cs) { return cs | validate_...; });
// an invalid fixture is ChangesetInvalid naming the fields, not a row that could never exist.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "quarry/changeset.hpp"
#include "quarry/repo.hpp"

namespace quarry::testing {

template <class T>
class Factory {
public:
    using Defaults = std::function<T(std::int64_t n)>;
    using Validate = std::function<Changeset<T>(Changeset<T>)>;

    explicit Factory(Defaults defaults, Validate validate = {})
        : defaults_(std::move(defaults)), validate_(std::move(validate)), next_(std::make_shared<std::atomic<std::int64_t>>(1)) {}

    // The next sequence number (1, 2, ...; shared by copies of this factory, thread-safe).
    std::int64_t sequence() const { return next_->fetch_add(1); }

    // A row from the defaults with the next sequence number, then `override` applied. Not stored.
    template <class Override = void (*)(T&)>
    T build(Override&& override = [](T&) {}) const {
        T row = defaults_(sequence());
        override(row);
        return row;
    }
    // The same, inserted: the row as stored. ChangesetInvalid when it fails the validations
    // (or a declared constraint).
    template <class Override = void (*)(T&)>
    T insert(Repo& repo, Override&& override = [](T&) {}) const {
        const T row = build(std::forward<Override>(override));
        // Every column is input (validations check changes), over the row's own defaults.
        Changeset<T> cs = change(T{});
        quarry::detail::for_each_column<T>([&](auto mp, const char*) { cs.force_change(mp, row.*mp); });
        if (validate_) cs = validate_(std::move(cs));
        return repo.insert(std::move(cs)).value();
    }
    template <class Override = void (*)(T&)>
    std::vector<T> insert_many(Repo& repo, std::size_t n, Override&& override = [](T&) {}) const {
        std::vector<T> out;
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) out.push_back(insert(repo, override));
        return out;
    }

private:
    Defaults defaults_;
    Validate validate_;
    std::shared_ptr<std::atomic<std::int64_t>> next_;
};

}  // namespace quarry::testing
