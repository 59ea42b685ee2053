// SPDX-License-Identifier: MIT
#pragma once
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
void enumerate_nodes(const Node* leaf, NodeList& out);

// Fills a plan while the visitor renders.
class PlanRecorder {
public:
    PlanRecorder(const Node& statement, ParamPlan& plan) : plan_(plan) {
        plan_.entries.clear();
        plan_.usable = true;
        enumerate_nodes(&statement, nodes_);
    }
    void single(const Node& n, std::uint32_t param_index) { plan_.entries.push_back({ordinal(n), param_index, false}); }
    void array(const Node& n, std::uint32_t op_index) { plan_.entries.push_back({ordinal(n), op_index, true}); }

private:
    std::uint32_t ordinal(const Node& n);
    ParamPlan& plan_;
    NodeList nodes_;
};

}  // namespace quarry::render
