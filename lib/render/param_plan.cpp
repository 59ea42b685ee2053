// SPDX-License-Identifier: MIT
// Parameter plans: the cache-hit path copies parameters out of the nodes in the order a full
// render put them, without walking the statement's structure again.
#include "render/param_plan.hpp"

namespace quarry::render {

void enumerate_nodes(const Node* leaf, NodeList& out) {
    for (const Node* n = leaf; n; n = n->parent) {
        out.push_back(n);
        for (const auto& s : n->subs()) enumerate_nodes(s.get(), out);
    }
}

std::uint32_t PlanRecorder::ordinal(const Node& n) {
    std::uint32_t found = 0, hits = 0;
    for (std::uint32_t k = 0; k < nodes_.size(); ++k)
        if (nodes_[k] == &n) {
            found = k;
            ++hits;
        }
    // Reached twice (a value used in two places): the two places may hold different nodes in
    // the next value of this shape, and the plan could not tell them apart.
    if (hits != 1) plan_.usable = false;
    return found;
}

}  // namespace quarry::render

namespace quarry::core {

bool collect_params(const Node& statement, const ParamPlan& plan, std::vector<Value>& params) {
    if (!plan.usable) return false;
    render::NodeList nodes;
    render::enumerate_nodes(&statement, nodes);
    // Bounds are checked, so a colliding cache key gives false rather than a stray read.
    for (const auto& e : plan.entries)
        if (e.node >= nodes.size() || e.index >= (e.array ? nodes[e.node]->ops().size() : nodes[e.node]->params().size()))
            return false;
    for (const auto& e : plan.entries) {
        const Node& n = *nodes[e.node];
        if (!e.array) {
            params.push_back(n.params()[e.index]);
            continue;
        }
        const Op& o = n.ops()[e.index];
        Value arr;
        arr.kind = ValueKind::array;
        arr.element = static_cast<ValueKind>(o.c);
        arr.size = o.b;
        arr.items = n.params().begin() + o.a;
        params.push_back(arr);
    }
    return true;
}

}  // namespace quarry::core
