// SPDX-License-Identifier: MIT
// Multi: the step list (shared, immutable), the results map, and the runner: prechecks before
// the transaction, then each step in order, the first failure unwinding the transaction.
#include "quarry/multi.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace quarry {

namespace multi {

const std::any& Results::at(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw QueryError("multi: no step named \"" + std::string(name) + "\" has run");
    return it->second;
}

void Results::add(std::string name, std::any value) {
    if (values_.contains(name)) throw QueryError("multi: two steps are named \"" + name + "\"");
    order_.push_back(name);
    values_.emplace(std::move(name), std::move(value));
}

namespace {
// A type's name as C++ spells it ("User", not the mangled "4User").
std::string readable(const std::type_info& t) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
    return status == 0 && name ? std::string(name.get()) : std::string(t.name());
}
}  // namespace

void Results::mismatch(std::string_view name, const std::type_info& held, const std::type_info& wanted) {
    throw QueryError("multi: the result of step \"" + std::string(name) + "\" is " +
                     (held == typeid(void) ? std::string("nothing") : readable(held)) + ", not " + readable(wanted));
}

}  // namespace multi

Multi Multi::then(multi::Step step) const {
    if (step.name.empty()) throw QueryError("multi: a step needs a name");
    for (const Node* n = last_.get(); n; n = n->previous.get())
        if (n->step.name == step.name) throw QueryError("multi: two steps are named \"" + step.name + "\"");
    Multi out;
    out.last_ = std::make_shared<const Node>(Node{std::move(step), last_});
    out.size_ = size_ + 1;
    return out;
}

Multi Multi::append(const Multi& other) const {
    Multi out = *this;
    for (const multi::Step* s : other.steps()) out = out.then(*s);
    return out;
}

std::vector<const multi::Step*> Multi::steps() const {
    std::vector<const multi::Step*> out;
    out.reserve(size_);
    for (const Node* n = last_.get(); n; n = n->previous.get()) out.push_back(&n->step);
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<std::string> Multi::names() const {
    std::vector<std::string> out;
    for (const auto* s : steps()) out.push_back(s->name);
    return out;
}

std::string Multi::describe() const {
    std::string out;
    std::size_t i = 0;
    for (const auto* s : steps()) {
        out += std::to_string(++i) + ". " + s->kind + " " + s->name;
        if (!s->detail.empty()) out += " (" + s->detail + ")";
        out += '\n';
    }
    return out;
}

std::string MultiResult::describe() const {
    if (ok()) return "all " + std::to_string(results_.size()) + " steps done";
    std::string out = "step \"" + failed_step_ + "\"";
    if (!failed_kind_.empty()) out += " (" + failed_kind_ + ")";
    out += " failed: ";
    if (!errors_.empty()) {
        for (std::size_t i = 0; i < errors_.size(); ++i) {
            if (i) out += "; ";
            if (!errors_[i].field.empty()) out += errors_[i].field + " ";
            out += errors_[i].text();
        }
    } else if (exception_) {
        try {
            std::rethrow_exception(exception_);
        } catch (const std::exception& e) {
            out += e.what();
        } catch (...) {
            out += "an exception that is not a std::exception";
        }
    } else if (const auto* text = std::any_cast<std::string>(&error_value_)) {
        out += *text;
    } else if (const auto* chars = std::any_cast<const char*>(&error_value_)) {
        out += *chars;
    } else {
        out += std::string("an error value of type ") + error_value_.type().name();
    }
    out += " (after " + std::to_string(results_.size()) + " step(s) done and rolled back)";
    return out;
}

namespace {

struct Unwind {};  // rolls the transaction back once a step has failed

bool retried_by_transaction(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const SerializationFailure&) {
        return true;
    } catch (const Deadlock&) {
        return true;
    } catch (const CircuitOpen&) {
        return false;
    } catch (const ConnectionError& c) {
        return c.is_transient();
    } catch (...) {
        return false;
    }
}

}  // namespace

MultiResult run_multi(Repo& repo, const Multi& workflow, const TxOptions& options) {
    MultiResult out;
    const auto steps = workflow.steps();
    auto failed = [&](const multi::Step& s) {
        out.failed_step_ = s.name;
        out.failed_kind_ = s.kind;
    };
    // Invalid changesets fail before the transaction: the database is not touched.
    for (const auto* s : steps) {
        if (!s->precheck) continue;
        std::any invalid;
        auto errors = s->precheck(invalid);
        if (errors.empty()) continue;
        failed(*s);
        out.errors_ = std::move(errors);
        out.invalid_ = std::move(invalid);
        return out;
    }
    // Where the running attempt is: the step (by name and kind: a merged step's workflow is gone
    // once its merge returns) and whether every step has run (then only COMMIT can fail). A
    // transient error a retry will take is remembered by identity, so that when the retries
    // run out the report names its step, and a failure of the next BEGIN is not blamed on it.
    std::string current_name, current_kind;
    bool body_done = false;
    std::exception_ptr retried;
    std::string retried_name, retried_kind;
    std::function<void(Repo&, const std::vector<const multi::Step*>&)> run_steps = [&](Repo& r, const std::vector<const multi::Step*>& list) {
        for (const auto* s : list) {
            current_name = s->name;
            current_kind = s->kind;
            std::any invalid;
            std::vector<FieldError> errors;
            std::any value;
            try {
                if (s->merge) {
                    const Multi sub = s->merge(r, out.results_);
                    out.results_.add(s->name, std::any(sub.size()));
                    run_steps(r, sub.steps());
                    continue;
                }
                if (s->precheck) errors = s->precheck(invalid);
                if (errors.empty()) value = s->run(r, out.results_, invalid, errors);
            } catch (const Unwind&) {
                throw;
            } catch (const multi::StepFailed& f) {
                failed(*s);
                out.error_value_ = f.value;
                throw Unwind{};
            } catch (...) {
                auto e = std::current_exception();
                if (retried && e == retried) throw;  // from a merged step, recorded there
                if (options.retries > 0 && retried_by_transaction(e)) {  // Repo::transaction runs it all again
                    retried = e;
                    retried_name = s->name;
                    retried_kind = s->kind;
                    throw;
                }
                failed(*s);
                out.exception_ = e;
                throw Unwind{};
            }
            if (!errors.empty() || invalid.has_value()) {
                failed(*s);
                out.errors_ = std::move(errors);
                out.invalid_ = std::move(invalid);
                throw Unwind{};
            }
            try {
                out.results_.add(s->name, std::move(value));
            } catch (...) {  // a merged step reusing a name
                failed(*s);
                out.exception_ = std::current_exception();
                throw Unwind{};
            }
        }
    };
    try {
        repo.transaction([&](Repo& r) {
            out.results_ = multi::Results{};  // a retry starts over
            current_name.clear();
            current_kind.clear();
            body_done = false;
            run_steps(r, steps);
            body_done = true;
        }, options);
    } catch (const Unwind&) {
        // Recorded; the transaction is rolled back.
    } catch (...) {
        auto e = std::current_exception();
        out.exception_ = e;
        if (retried && e == retried) {
            // A step's transient error, after the retries ran out.
            out.failed_step_ = retried_name;
            out.failed_kind_ = retried_kind;
        } else if (body_done) {
            out.failed_step_ = "commit";  // a deferred constraint, InDoubt
        } else if (!current_name.empty() && !retried) {
            out.failed_step_ = current_name;
            out.failed_kind_ = current_kind;
        } else {
            out.failed_step_ = "begin";  // no connection, BEGIN refused (a retry's included)
            out.results_ = multi::Results{};
        }
    }
    // A nested workflow whose failure made the database end the outer transaction (SQLite can):
    // the outer writes are gone, so it is not a failure the caller may carry on from.
    if (out.exception_ && repo.transaction_ended()) std::rethrow_exception(out.exception_);
    return out;
}

}  // namespace quarry
