// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>

#include "quarry/core/render.hpp"
#include "render/small_vec.hpp"

namespace quarry::render {

using core::Node;
using core::Op;
using core::ParamPlan;
using core::Value;
using core::ValueKind;

using NodeList = util::SmallVec<const Node*, 32>;

// Every node reachable from `leaf`: the chain leaf to root, each node followed by its subqueries'
// chains. A plan's node ordinals index this order.
// Stops once `out` holds `limit` nodes.
void enumerate_nodes(const Node* leaf, NodeList& out, std::uint32_t limit = UINT32_MAX);

// Fills a plan while the visitor renders.
class PlanRecorder {
public:
    PlanRecorder(const Node& statement, ParamPlan& plan) : plan_(plan) {
        plan_.entries.clear();
        plan_.nodes = 0;
        plan_.usable = true;
        plan_.chain_only = false;
        enumerate_nodes(&statement, nodes_);
    }
    // Called once the statement is rendered: notes whether the plan reaches only chain nodes.
    void finish(const Node& statement) {
        const Node* n = &statement;
        std::uint32_t k = 0;
        while (k < plan_.nodes && n && nodes_[k] == n) {
            ++k;
            n = n->parent;
        }
        plan_.chain_only = k == plan_.nodes;
    }
    void single(const Node& n, std::uint32_t param_index) { add({ordinal(n), param_index, false}); }
    void array(const Node& n, std::uint32_t op_index) { add({ordinal(n), op_index, true}); }

private:
    std::uint32_t ordinal(const Node& n);
    void add(ParamPlan::Entry e) {
        plan_.entries.push_back(e);
        if (e.node >= plan_.nodes) plan_.nodes = e.node + 1;
    }
    ParamPlan& plan_;
    NodeList nodes_;
};

}  // namespace quarry::render
