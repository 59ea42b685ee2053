// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quarry/core/ast.hpp"
#include "quarry/core/dialect.hpp"

namespace quarry::core {

// SQL text and its parameters, in placeholder order. Text, blob and array parameters point into
// the query's nodes; `keep` holds them alive.
struct Rendered {
    std::string sql;
    std::vector<Value> params;
    NodePtr keep;
};

Rendered render(const NodePtr& statement, const Dialect& d);
// `sql` may be null: then only the parameters are collected, in the same order (the cache-hit path).
void render_into(const Node& statement, const Dialect& d, std::string* sql, std::vector<Value>& params);
// The statement cache's key: equal keys render equal SQL text on `d`.
inline std::uint64_t cache_key(const Node& statement, const Dialect& d) noexcept {
    return d.in_list_style() == InListStyle::expanded ? statement.shape ^ (statement.lengths * 0x9e3779b97f4a7c15ull)
                                                      : statement.shape;
}
// The query value as its pipe chain, every expression fully parenthesised; for debugging and
// error messages. Parameter values are listed after the chain.
std::string describe(const NodePtr& statement);

}  // namespace quarry::core
