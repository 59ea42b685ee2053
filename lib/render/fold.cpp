// SPDX-License-Identifier: MIT
#include "render/fold.hpp"

#include "quarry/errors.hpp"

namespace quarry::render {

using core::Clause;

const Node* chain_root(const Node* leaf) noexcept {
    while (leaf->parent) leaf = leaf->parent;
    return leaf;
}

namespace {

void reset(Parts& p, Clause which) {
    switch (which) {
        case Clause::where: p.wheres.clear(); break;
        case Clause::having: p.havings.clear(); break;
        case Clause::select: p.select = nullptr; break;
        case Clause::join: p.joins.clear(); break;
        case Clause::group_by: p.group_bys.clear(); break;
        case Clause::order_by: p.orders.clear(); break;
        case Clause::limit: p.limit = nullptr; p.limit_one = false; p.limit_per = nullptr; break;
        case Clause::offset: p.offset = nullptr; break;
        case Clause::distinct:
            p.distinct = p.distinct_on_desc = false;
            p.distinct_on.clear();
            break;
        case Clause::lock: p.lock = nullptr; break;
        case Clause::with: p.ctes.clear(); break;
        case Clause::set_op: p.set_ops.clear(); break;
        case Clause::window_def: p.windows.clear(); break;
        default: throw QueryError("exclude: this clause cannot be excluded");
    }
}

// where(true), having(true) and their empty-filter forms: one constant TRUE.
bool always_true(const Node& n) noexcept {
    const auto ops = n.ops();
    return ops.size() == 1 && ops[0].kind == core::OpKind::constant &&
           static_cast<core::Constant>(ops[0].sub) == core::Constant::true_;
}

// Adds a where/having node to its predicate list. A TRUE term is never rendered: ANDed with
// terms it changes nothing; before any term it decides what a later OR means. TRUE OR x matches
// every row, so that OR is dropped rather than becoming the filter an OR with nothing before it
// is. `is_true`: the list is empty but the predicate is TRUE (cleared with the list by exclude).
void add_predicate(util::SmallVec<Predicate, 4>& preds, bool& is_true, const Node* n, bool is_or) {
    if (preds.empty()) {
        if (!is_or && always_true(*n)) is_true = true;
        else if (!(is_or && is_true)) preds.push_back({n, false});
        return;
    }
    if (!is_or && always_true(*n)) return;
    preds.push_back({n, is_or});
}

void flip_all(Parts& p) {
    // A DISTINCT ON result has one row per key, so the keys alone order it; flipping the rest
    // of the ORDER BY would pick other rows.
    if (!p.distinct_on.empty()) {
        p.distinct_on_desc = !p.distinct_on_desc;
        return;
    }
    if (p.orders.empty()) p.orders.push_back({nullptr, false});
    for (auto& e : p.orders) e.flip = !e.flip;
}

}  // namespace

void fold(const Node* leaf, Parts& p) {
    bool where_true = false, having_true = false;  // see add_predicate
    util::SmallVec<const Node*, 16> chain;
    for (const Node* n = leaf; n; n = n->parent) chain.push_back(n);
    for (std::size_t k = chain.size(); k-- > 0;) {
        const Node* n = chain[k];
        if (!n->subs().empty()) p.has_subqueries = true;
        switch (n->kind) {
            case Clause::from_table:
            case Clause::from_query: p.root = n; break;
            case Clause::where: add_predicate(p.wheres, where_true, n, false); break;
            // OR against the whole accumulated predicate; with nothing before it, it is a plain filter.
            case Clause::or_where: add_predicate(p.wheres, where_true, n, true); break;
            case Clause::having: add_predicate(p.havings, having_true, n, false); break;
            case Clause::or_having: add_predicate(p.havings, having_true, n, true); break;
            case Clause::select: p.select = n; break;
            case Clause::join: p.joins.push_back(n); break;
            case Clause::group_by: p.group_bys.push_back(n); break;
            case Clause::order_by: p.orders.push_back({n, false}); break;
            case Clause::prepend_order_by: p.orders.insert_front({n, false}); break;
            case Clause::limit: p.limit = n; p.limit_one = false; break;
            case Clause::offset: p.offset = n; break;
            case Clause::distinct: p.distinct = true; break;
            case Clause::distinct_on: p.distinct_on.push_back(n); break;
            case Clause::lock: p.lock = n; break;
            case Clause::with: {
                // A CTE with the same name is replaced in place.
                bool replaced = false;
                for (auto& c : p.ctes)
                    if (c->alias_name() == n->alias_name()) { c = n; replaced = true; }
                if (!replaced) p.ctes.push_back(n);
                break;
            }
            case Clause::set_op: p.set_ops.push_back(n); break;
            case Clause::window_def: p.windows.push_back(n); break;
            case Clause::exclude:
                reset(p, static_cast<Clause>(n->sub));
                if (static_cast<Clause>(n->sub) == Clause::where) where_true = false;
                if (static_cast<Clause>(n->sub) == Clause::having) having_true = false;
                break;
            case Clause::reverse_order: flip_all(p); break;
            case Clause::first:
                if (p.orders.empty()) p.orders.push_back({nullptr, false});
                p.limit = nullptr;
                p.limit_one = true;
                break;
            case Clause::last:
                flip_all(p);
                p.limit = nullptr;
                p.limit_one = true;
                break;
            case Clause::deleted: p.deleted = static_cast<core::DeletedScope>(n->sub); break;
            case Clause::limit_per: p.limit_per = n; break;
            default: throw QueryError("a write-statement clause was piped into a query");
        }
    }
    if (!p.root) throw QueryError("query has no FROM source");
}

}  // namespace quarry::render
