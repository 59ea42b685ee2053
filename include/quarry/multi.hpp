// SPDX-License-Identifier: MIT
// Multi: a transactional workflow as a value. Named steps run in order in one transaction;
// each sees the results of the steps before it; the first that fails rolls everything back and
// is reported by name, with what had been done before it (docs/multi.md).
//
//   auto signup = quarry::Multi()
//       | multi::insert("user", user_changeset)
//       | multi::insert("profile", [](const multi::Results& r) {
//             return Profile{.user_id = r.get<User>("user").id};
//         })
//       | multi::run("welcome", [](Repo& repo, const multi::Results& r) { return queue_mail(repo, r.get<User>("user")); });
//   auto outcome = repo.transaction(signup);
//   if (!outcome) log(outcome.describe());     // step "user" failed: email has already been taken
//
// A Multi is immutable and cheap to copy: steps are shared, and `|` returns a new value. Step
// names are unique: a duplicate is a QueryError when it is added. Changeset steps are checked
// before the transaction begins: an invalid one fails without touching the database.
#pragma once
#include <any>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "quarry/changeset.hpp"
#include "quarry/repo.hpp"

namespace quarry {

class Multi;

namespace multi {

// The results of the steps run so far, by name.
class Results {
public:
    bool contains(std::string_view name) const { return values_.find(name) != values_.end(); }
    // The result of step `name` as a T: a QueryError names the step when there is none or it is
    // of another type (the message names both types).
    template <class T>
    const T& get(std::string_view name) const {
        const std::any& v = at(name);
        if (const T* p = std::any_cast<T>(&v)) return *p;
        mismatch(name, v.type(), typeid(T));
    }
    const std::any& at(std::string_view name) const;
    // In the order the steps ran.
    const std::vector<std::string>& names() const noexcept { return order_; }
    std::size_t size() const noexcept { return order_.size(); }

    void add(std::string name, std::any value);  // QueryError when the name is taken

private:
    [[noreturn]] static void mismatch(std::string_view name, const std::type_info& held, const std::type_info& wanted);
    std::map<std::string, std::any, std::less<>> values_;
    std::vector<std::string> order_;
};

// Inside a `run` step: fail the workflow with `value` as the error (instead of throwing one).
struct StepFailed {
    std::any value;
};
template <class V>
[[noreturn]] void fail(V value) {
    throw StepFailed{std::any(std::move(value))};
}

// One step, type-erased. `kind` and `detail` describe it for logs.
struct Step {
    std::string name;
    std::string kind;    // insert, update, delete, insert_all, update_all, delete_all, one, all, exists, run, put, error, merge
    std::string detail;  // the table, or what the value is
    // Before the transaction: the errors of an invalid changeset (empty when fine).
    std::function<std::vector<FieldError>(std::any& invalid)> precheck;
    // In the transaction: the step's result. An invalid changeset (the database refused it)
    // sets `invalid` and returns an empty any.
    std::function<std::any(Repo&, const Results&, std::any& invalid, std::vector<FieldError>& errors)> run;
    // A merge: the workflow to run in its place.
    std::function<Multi(Repo&, const Results&)> merge;
};

}  // namespace multi

class Multi {
public:
    Multi() = default;

    // A new workflow with `step` last (QueryError when its name is taken).
    Multi then(multi::Step step) const;
    // This workflow's steps, then `other`'s (QueryError on a name both use).
    Multi append(const Multi& other) const;
    // `other`'s steps, then this workflow's.
    Multi prepend(const Multi& other) const { return other.append(*this); }

    std::vector<std::string> names() const;
    std::vector<const multi::Step*> steps() const;  // in order
    std::size_t size() const noexcept { return size_; }
    // One line per step, for logs: "1. insert user (users)".
    std::string describe() const;

private:
    struct Node {
        multi::Step step;
        std::shared_ptr<const Node> previous;
    };
    std::shared_ptr<const Node> last_;
    std::size_t size_ = 0;
};

// What running a workflow gave: every step's result, or the step that failed, why, and the
// results of the steps before it (the transaction was rolled back).
class MultiResult {
public:
    bool ok() const noexcept { return failed_step_.empty(); }
    explicit operator bool() const noexcept { return ok(); }
    const multi::Results& results() const noexcept { return results_; }

    // After a failure: the step's name, and exactly one of the reasons below.
    const std::string& failed_step() const noexcept { return failed_step_; }
    // An invalid changeset (before the transaction, or refused by a constraint): its errors,
    // and the changeset itself.
    const std::vector<FieldError>& errors() const noexcept { return errors_; }
    template <class T>
    const Changeset<T>* changeset() const noexcept {
        return std::any_cast<Changeset<T>>(&invalid_);
    }
    // The value of an `error` step or of multi::fail in a `run` step.
    const std::any& error_value() const noexcept { return error_value_; }
    // An exception a step threw (a database error, a StaleEntry, anything else).
    std::exception_ptr exception() const noexcept { return exception_; }
    // "step \"user\" (insert) failed: email has already been taken"; "all 3 steps done".
    std::string describe() const;

private:
    friend MultiResult run_multi(Repo&, const Multi&, const TxOptions&);
    multi::Results results_;
    std::string failed_step_, failed_kind_;
    std::vector<FieldError> errors_;
    std::any invalid_;
    std::any error_value_;
    std::exception_ptr exception_;
};

// Runs the workflow in a transaction (a savepoint inside one); see Repo::transaction(Multi).
MultiResult run_multi(Repo& repo, const Multi& workflow, const TxOptions& options = {});

inline MultiResult Repo::transaction(const Multi& workflow, const TxOptions& options) {
    return run_multi(*this, workflow, options);
}

namespace multi {

namespace detail {

template <class F, class... A>
concept callable_with = std::invocable<F&, A...>;

// A row, a changeset, or a function of the results so far giving either.
template <class V>
auto produce(const V& v, const Results& r) -> decltype(auto) {
    if constexpr (callable_with<const V, const Results&>) return v(r);
    else return (v);
}

template <class X>
struct changeset_of {
    using type = void;
};
template <class T>
struct changeset_of<Changeset<T>> {
    using type = T;
};

template <class T>
std::vector<FieldError> errors_of(const Changeset<T>& cs, std::any& invalid) {
    if (cs.valid()) return {};
    invalid = cs;
    return cs.errors();
}

// insert / update / remove of a row or a changeset (or a function giving one).
template <class V, class Write>
Step write_step(std::string name, const char* kind, V input, Write write) {
    using Made = std::remove_cvref_t<decltype(produce(std::declval<const V&>(), std::declval<const Results&>()))>;
    using T = std::conditional_t<std::is_void_v<typename changeset_of<Made>::type>, Made, typename changeset_of<Made>::type>;
    static_assert(quarry::schema<T>, "quarry: a Multi write step takes a row, a changeset or a function giving one");
    auto shared = std::make_shared<const V>(std::move(input));  // shared by copies of the workflow: only read
    Step s;
    s.name = std::move(name);
    s.kind = kind;
    s.detail = table_info<T>().name;
    if constexpr (!callable_with<const V, const Results&> && !std::is_same_v<Made, T>)
        s.precheck = [shared](std::any& invalid) { return errors_of(*shared, invalid); };
    s.run = [shared, write](Repo& repo, const Results& r, std::any& invalid, std::vector<FieldError>& errors) -> std::any {
        decltype(auto) made = produce(*shared, r);
        if constexpr (std::is_same_v<Made, T>) {
            return std::any(write(repo, made));
        } else {
            auto result = write(repo, made);
            if (result.ok()) return std::any(std::move(result).value());
            invalid = result.changeset();
            errors = result.errors();
            return {};
        }
    };
    return s;
}

}  // namespace detail

// INSERT a row or a changeset (or what a function of the results so far gives); its result is
// the stored row.
template <class V>
Step insert(std::string name, V input) {
    return detail::write_step(std::move(name), "insert", std::move(input), [](Repo& repo, const auto& v) { return repo.insert(v); });
}
// UPDATE by primary key; its result is the row as stored (new updated_at and lock version).
template <class V>
Step update(std::string name, V input) {
    return detail::write_step(std::move(name), "update", std::move(input), [](Repo& repo, const auto& v) {
        return repo.update(v);  // the row as stored: a later step updating it carries its new version
    });
}
// DELETE by primary key; its result is the row as it was deleted.
template <class V>
Step remove(std::string name, V input) {
    return detail::write_step(std::move(name), "delete", std::move(input), [](Repo& repo, const auto& v) {
        return repo.remove(v);
    });
}
// INSERT many rows; the result is how many (std::int64_t).
template <class T>
Step insert_all(std::string name, std::vector<T> rows) {
    Step s;
    s.name = std::move(name);
    s.kind = "insert_all";
    s.detail = table_info<T>().name + ", " + std::to_string(rows.size()) + " rows";
    auto shared = std::make_shared<const std::vector<T>>(std::move(rows));
    s.run = [shared](Repo& repo, const Results&, std::any&, std::vector<FieldError>&) { return std::any(repo.insert_all(*shared)); };
    return s;
}
// A write statement value (update_all(...), delete_all(...)); the result is the rows changed
// (std::int64_t).
template <schema T, class R>
Step execute(std::string name, Statement<T, R> statement, const char* kind = "execute") {
    Step s;
    s.name = std::move(name);
    s.kind = kind;
    s.detail = table_info<T>().name;
    s.run = [statement](Repo& repo, const Results&, std::any&, std::vector<FieldError>&) { return std::any(repo.execute(statement)); };
    return s;
}
template <class R, class S, class... A>
Step update_all(std::string name, const Query<R, S>& q, A... assigns) {
    return execute(std::move(name), quarry::update_all(q, std::move(assigns)...), "update_all");
}
template <class R, class S>
Step delete_all(std::string name, const Query<R, S>& q) {
    return execute(std::move(name), quarry::delete_all(q), "delete_all");
}

namespace detail {
template <class Read>
Step read_step(std::string name, const char* kind, Read read) {
    Step s;
    s.name = std::move(name);
    s.kind = kind;
    s.run = [read = std::move(read)](Repo& repo, const Results&, std::any&, std::vector<FieldError>&) { return std::any(read(repo)); };
    return s;
}
}  // namespace detail

// Reads: exactly one row (NoResults / MultipleResults fail the step), every row
// (std::vector<row>), whether any row exists (bool).
template <class Q>
Step one(std::string name, Q q) {
    return detail::read_step(std::move(name), "one", [q = std::move(q)](Repo& repo) { return repo.one(q); });
}
template <class Q>
Step all(std::string name, Q q) {
    return detail::read_step(std::move(name), "all", [q = std::move(q)](Repo& repo) { return repo.all(q); });
}
template <class Q>
Step exists(std::string name, Q q) {
    return detail::read_step(std::move(name), "exists", [q = std::move(q)](Repo& repo) { return repo.exists(q); });
}

// fn(repo, results) -> V: anything; its return value is the result (void: none stored but the
// name). Fails the workflow by throwing, or with multi::fail(value). fn is called as const (a
// workflow is a value that several threads may run).
template <class F>
Step run(std::string name, F fn) {
    Step s;
    s.name = std::move(name);
    s.kind = "run";
    // Called as const: a workflow may run on several threads at once.
    s.run = [fn = std::move(fn)](Repo& repo, const Results& r, std::any&, std::vector<FieldError>&) -> std::any {
        if constexpr (std::is_void_v<std::invoke_result_t<const F&, Repo&, const Results&>>) {
            fn(repo, r);
            return std::any();
        } else {
            return std::any(fn(repo, r));
        }
    };
    return s;
}
// A value as the step's result.
template <class V>
Step put(std::string name, V value) {
    Step s;
    s.name = std::move(name);
    s.kind = "put";
    s.run = [value = std::move(value)](Repo&, const Results&, std::any&, std::vector<FieldError>&) { return std::any(value); };
    return s;
}
// Fails the workflow here, with `value` as the error.
template <class V>
Step error(std::string name, V value) {
    Step s;
    s.name = std::move(name);
    s.kind = "error";
    s.run = [value = std::move(value)](Repo&, const Results&, std::any&, std::vector<FieldError>&) -> std::any {
        throw StepFailed{std::any(value)};
    };
    return s;
}
// fn(repo, results) -> Multi, built when the workflow reaches this point; its steps run here.
// The merge itself is named too (its result: the merged workflow's step count).
template <class F>
Step merge(std::string name, F fn) {
    Step s;
    s.name = std::move(name);
    s.kind = "merge";
    s.merge = std::move(fn);
    return s;
}

}  // namespace multi

inline Multi operator|(const Multi& m, multi::Step step) { return m.then(std::move(step)); }

}  // namespace quarry
