// SPDX-License-Identifier: MIT
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace quarry {

// Root of quarry's error family: every failure a user can act on derives from it.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    // True when retrying the same operation may succeed (deadlock, serialization failure, lost link).
    virtual bool is_transient() const noexcept { return false; }
};

// An invalid composition or value, found while building or rendering a query value.
class QueryError : public Error {
public:
    using Error::Error;
};

// A construct the target dialect cannot express; never silently dropped.
class UnsupportedFeature : public QueryError {
public:
    UnsupportedFeature(std::string_view dialect, std::string_view feature);
    const std::string& dialect() const noexcept { return dialect_; }
    const std::string& feature() const noexcept { return feature_; }

private:
    std::string dialect_;
    std::string feature_;
};

}  // namespace quarry
