// SPDX-License-Identifier: MIT
// Folding a pipe chain into the parts of one SELECT, applying DESIGN §3's composition rules.
#pragma once
#include "quarry/core/ast.hpp"
#include "render/small_vec.hpp"

namespace quarry::render {

using core::Node;

struct Predicate {
    const Node* node;
    bool is_or;  // OR-ed against everything before it
};

struct OrderEntry {
    const Node* node;  // null: the root table's primary key
    bool flip;         // reverse_order / last applied
};

struct Parts {
    const Node* root = nullptr;  // from_table or from_query
    util::SmallVec<Predicate, 4> wheres, havings;
    util::SmallVec<const Node*, 4> joins, group_bys, ctes, set_ops, windows, distinct_on;
    util::SmallVec<OrderEntry, 4> orders;
    const Node* select = nullptr;
    const Node* limit = nullptr;
    const Node* offset = nullptr;
    const Node* lock = nullptr;
    const Node* limit_per = nullptr;
    core::DeletedScope deleted = core::DeletedScope::live;  // last with_deleted() / only_deleted() wins
    bool distinct = false;
    // reverse_order / last over DISTINCT ON: the groups are reversed (the DISTINCT ON keys lead
    // ORDER BY descending); the rest of the ORDER BY still picks each group's row.
    bool distinct_on_desc = false;
    bool limit_one = false;  // first / last
    bool has_subqueries = false;
};

// Collects the chain ending at `leaf`; throws QueryError for an invalid composition.
void fold(const Node* leaf, Parts& parts);

// The node at the root of the chain.
const Node* chain_root(const Node* leaf) noexcept;

}  // namespace quarry::render
