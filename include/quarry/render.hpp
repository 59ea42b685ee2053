// SPDX-License-Identifier: MIT
#pragma once
#include "quarry/core/dialect.hpp"
#include "quarry/core/render.hpp"

namespace quarry {

using core::Dialect;
using core::Rendered;
using core::Value;
using core::ValueKind;
using core::postgres;
using core::sqlite;

// SQL text and parameters of any query or statement value, for one dialect.
template <class Q>
    requires requires(const Q& q) { q.node(); }
Rendered to_sql(const Q& q, const Dialect& d) {
    return core::render(q.node(), d);
}

// The value's pipe chain with explicit parentheses, for debugging and error messages.
template <class Q>
    requires requires(const Q& q) { q.node(); }
std::string describe(const Q& q) {
    return core::describe(q.node());
}

}  // namespace quarry
