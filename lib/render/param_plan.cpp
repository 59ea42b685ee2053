// SPDX-License-Identifier: MIT
// Parameter plans: the cache-hit path copies parameters out of the nodes in the order a full
// render put them, without walking the statement's structure again.
#include "render/param_plan.hpp"

namespace quarry::render {

void enumerate_nodes(const Node* leaf, NodeList& out, std::uint32_t limit) {
    for (const Node* n = leaf; n && out.size() < limit; n = n->parent) {
        out.push_back(n);
        for (const auto& s : n->subs()) enumerate_nodes(s.get(), out, limit);
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
    if (plan.chain_only) {
        for (const Node* n = &statement; n && nodes.size() < plan.nodes; n = n->parent) nodes.push_back(n);
    } else {
        render::enumerate_nodes(&statement, nodes, plan.nodes);
    }
    if (nodes.size() != plan.nodes) return false;
    const std::size_t start = params.size();
    params.resize(start + plan.entries.size());
    Value* out = params.data() + start;
    for (const auto& e : plan.entries) {
        const Node& n = *nodes[e.node];
        // Bounds are checked, so a colliding cache key gives false rather than a stray read.
        if (!e.array) {
            if (e.index >= n.params().size()) break;
            *out++ = n.params()[e.index];
            continue;
        }
        if (e.index >= n.ops().size()) break;
        const Op& o = n.ops()[e.index];
        if (o.kind != core::OpKind::in_list || o.a > n.params().size() || o.b > n.params().size() - o.a) break;
        Value arr;
        arr.kind = ValueKind::array;
        arr.element = static_cast<ValueKind>(o.c);
        arr.size = o.b;
        arr.items = n.params().begin() + o.a;
        *out++ = arr;
    }
    if (out == params.data() + params.size()) return true;
    params.resize(start);
    return false;
}

}  // namespace quarry::core
