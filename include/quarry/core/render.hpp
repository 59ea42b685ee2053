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

// Where each parameter of a rendered statement comes from, so that a later value of the same
// cache key gets its parameters without the visitor: the statement cache keeps one beside each
// prepared statement. Nodes are numbered in the order enumerate_nodes() visits them.
struct ParamPlan {
    struct Entry {
        std::uint32_t node;   // ordinal in enumerate_nodes() order
        std::uint32_t index;  // single: the node's parameter index; array: the in_list op's index
        bool array;           // an IN list bound as one array parameter
    };
    std::vector<Entry> entries;
    std::uint32_t nodes = 0;  // how many nodes, in enumerate_nodes() order, the entries reach into
    // Those nodes are the first `nodes` of the statement's pipe chain (no subquery before them):
    // the cache-hit path then walks the chain instead of enumerating.
    bool chain_only = false;
    bool usable = false;  // false when one node is reachable twice (its ordinal would be ambiguous)
};

Rendered render(const NodePtr& statement, const Dialect& d);
// `sql` may be null: then only the parameters are collected, in the same order. `plan`, when
// given, receives the statement's parameter plan.
void render_into(const Node& statement, const Dialect& d, std::string* sql, std::vector<Value>& params,
                 ParamPlan* plan = nullptr);
// The cache-hit path: the parameters of `statement`, whose cache key equals the one `plan` was
// recorded for. Returns false (and collects nothing) when the plan is not usable.
bool collect_params(const Node& statement, const ParamPlan& plan, std::vector<Value>& params);
// The statement cache's key: equal keys render equal SQL text on `d`.
inline std::uint64_t cache_key(const Node& statement, const Dialect& d) noexcept {
    return d.in_list_style() == InListStyle::expanded ? statement.shape ^ (statement.lengths * 0x9e3779b97f4a7c15ull)
                                                      : statement.shape;
}
// The query value as its pipe chain, every expression fully parenthesised; for debugging and
// error messages. Parameter values are listed after the chain.
std::string describe(const NodePtr& statement);

}  // namespace quarry::core
