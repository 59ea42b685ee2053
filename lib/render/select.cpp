// SPDX-License-Identifier: MIT
// The visitor: SELECT, clause by clause (sources, select list, FROM and joins, WHERE, grouping,
// set operations, ORDER BY, LIMIT and locks), CTEs, and limit_per's ranked derived table.
#include <utility>
#include <vector>

#include "quarry/errors.hpp"
#include "render/precedence.hpp"
#include "render/renderer.hpp"

namespace quarry::render {

using core::Clause;
using core::OpKind;

namespace {

std::string_view join_text(core::JoinKind k) {
    switch (k) {
        case core::JoinKind::inner: return " INNER JOIN ";
        case core::JoinKind::left: return " LEFT JOIN ";
        case core::JoinKind::right: return " RIGHT JOIN ";
        case core::JoinKind::full: return " FULL JOIN ";
        case core::JoinKind::cross: return " CROSS JOIN ";
    }
    return " JOIN ";
}

std::string_view set_op_text(core::SetOpKind k) {
    static constexpr std::string_view t[] = {" UNION ", " UNION ALL ", " INTERSECT ", " INTERSECT ALL ", " EXCEPT ",
                                             " EXCEPT ALL "};
    return t[static_cast<int>(k)];
}

// Where INTERSECT binds tighter than UNION and EXCEPT, `a UNION b INTERSECT c` reads as
// a UNION (b INTERSECT c), but the pipe means (a UNION b) INTERSECT c: an INTERSECT after an
// unbracketed UNION or EXCEPT takes everything before it in parentheses. `loose` says whether
// the text so far ends in such a run.
bool brackets_prefix(const core::Node& s, bool& loose) {
    auto k = static_cast<core::SetOpKind>(s.sub);
    if (k != core::SetOpKind::intersect && k != core::SetOpKind::intersect_all) {
        loose = true;
        return false;
    }
    return std::exchange(loose, false);
}

}  // namespace

void Renderer::select(const Node& leaf, const std::vector<const ColumnInfo*>* only_columns) {
    Parts p;
    fold(&leaf, p);
    select_parts(p, only_columns);
}

void Renderer::select_parts(Parts& p, const std::vector<const ColumnInfo*>* only_columns) {
    const core::TableInfo* names = std::exchange(output_names_, nullptr);
    const bool force_where = std::exchange(force_where_, false);  // for this SELECT, not nested ones
    ctes(p);
    if (p.limit_per) {
        output_names_ = names;
        return ranked(p, only_columns);
    }
    const std::size_t mark = sources_.size();
    add_sources(p);
    qualify_ = scope_ > 0 || !p.joins.empty() || p.has_subqueries;

    if (!p.set_ops.empty() && d_.set_op_grouping() == core::SetOpGrouping::intersect_first) {
        bool loose = false;  // set_operations() closes each of these
        for (auto* s : p.set_ops)
            if (brackets_prefix(*s, loose)) put('(');
    }
    put("SELECT ");
    distinct(p);
    select_list(p, mark, names, only_columns);
    if (rank_) rank_column();
    put(" FROM ");
    DeletedFilters deleted;
    from_list(p, mark, deleted);
    where(p, deleted, force_where);
    grouping(p);
    set_operations(p, mark);
    order_list(p, !p.set_ops.empty());
    limit_and_lock(p);
    sources_.resize(mark);
}

void Renderer::add_sources(const Parts& p) {
    const Node& root = *p.root;
    add_source({root.table, root.kind == Clause::from_query ? std::string_view(root.table->name) : root.alias_name(),
                scope_});
    for (auto* j : p.joins) {
        std::string_view alias = j->alias_name();
        if (alias.empty() && (j->flags & core::JoinFlags::subquery_source)) alias = j->table->name;
        add_source({j->table, alias, scope_});
    }
}

void Renderer::distinct(const Parts& p) {
    if (!p.distinct_on.empty()) {
        check(core::Feature::distinct_on);
        put("DISTINCT ON (");
        bool first = true;
        distinct_on_list(p, first);
        put(") ");
    } else if (p.distinct) {
        put("DISTINCT ");
    }
}

void Renderer::distinct_on_list(const Parts& p, bool& first, bool descending) {
    for (auto* n : p.distinct_on) {
        std::uint32_t i = 0;
        for (std::uint32_t k = 0; k < n->top_count(); ++k) {
            if (!first) put(", ");
            first = false;
            expr(*n, i, p_none);
            if (descending) put(" DESC");
        }
    }
}

void Renderer::select_list(const Parts& p, std::size_t source, const core::TableInfo* names,
                           const std::vector<const ColumnInfo*>* only_columns) {
    if (only_columns) {
        for (std::size_t k = 0; k < only_columns->size(); ++k) {
            if (k) put(", ");
            const Source& s = sources_[source];
            if (s.alias.empty()) put(s.table->quoted); else quoted(s.alias);
            put('.');
            put((*only_columns)[k]->quoted);
        }
    } else if (p.select) {
        if (names && names->columns.size() != p.select->top_count())
            throw QueryError("subquery selects " + std::to_string(p.select->top_count()) + " columns but " +
                             names->name + " has " + std::to_string(names->columns.size()));
        std::uint32_t i = 0;
        Untyped items(*this, true);  // SELECT $1 would be text
        for (std::uint32_t k = 0; k < p.select->top_count(); ++k) {
            if (k) put(", ");
            bool aliased = p.select->ops()[i].kind == OpKind::alias;
            expr(*p.select, i, p_none);
            if (names && !aliased) {
                put(" AS ");
                put(names->columns[k].quoted);
            }
        }
    } else {
        const Source& s = sources_[source];
        if (s.alias.empty() || !qualify_) {
            put(qualify_ ? s.table->all_qualified : s.table->all_columns);  // the whole row, precomputed
        } else {
            for (std::size_t k = 0; k < s.table->columns.size(); ++k) {
                if (k) put(", ");
                quoted(s.alias);
                put('.');
                put(s.table->columns[k].quoted);
            }
        }
    }
}

void Renderer::rank_column() {
    const Node& per = *std::exchange(rank_, nullptr);
    put(", row_number() OVER (PARTITION BY ");
    std::uint32_t i = 0;
    expression_list(per, i, per.top_count() - 1, ", ");
    order_list(*std::exchange(rank_orders_, nullptr), false);
    put(") AS \"quarry_rank\"");
}

// Soft-deleted rows of the root table are filtered in WHERE; those of a joined table in its ON
// (so an outer join still keeps the root's row), or in WHERE for a cross join. Under a RIGHT or
// FULL join a WHERE would drop the rows the join keeps: the root is then filtered in a derived
// table of its own name.
void Renderer::from_list(const Parts& p, std::size_t mark, DeletedFilters& deleted) {
    const Node& root = *p.root;
    const bool root_scoped = root.kind == Clause::from_table && filters_deleted(root.table, p.deleted);
    bool outer_right = false;
    for (auto* j : p.joins) {
        auto kind = static_cast<core::JoinKind>(j->sub);
        outer_right = outer_right || kind == core::JoinKind::right || kind == core::JoinKind::full;
    }
    if (root_scoped && outer_right) {
        filtered_table(root, mark, p.deleted == core::DeletedScope::only_deleted);
    } else {
        source_of(root);
        if (root_scoped) deleted.push_back({mark, p.deleted == core::DeletedScope::only_deleted});
    }
    for (std::size_t k = 0; k < p.joins.size(); ++k) {
        const Node* j = p.joins[k];
        const std::size_t source = mark + 1 + k;
        auto kind = static_cast<core::JoinKind>(j->sub);
        if (kind == core::JoinKind::right) check(core::Feature::right_join);
        if (kind == core::JoinKind::full) check(core::Feature::full_join);
        put(join_text(kind));
        bool scoped = !(j->flags & core::JoinFlags::subquery_source) && filters_deleted(j->table, p.deleted);
        if (scoped && (kind == core::JoinKind::right || kind == core::JoinKind::full)) {
            // The join keeps this side's rows whatever ON says: filter them before joining.
            filtered_table(*j, source, false);
            scoped = false;
        } else {
            source_of(*j);
        }
        if (scoped && !j->top_count()) deleted.push_back({source, false});
        if (j->top_count()) {
            put(" ON ");
            std::uint32_t i = 0;
            expr(*j, i, scoped ? p_and : p_none);
            if (scoped) {
                put(" AND ");
                deleted_filter(sources_[source], false);
            }
        }
    }
}

void Renderer::filtered_table(const Node& n, std::size_t source, bool only_deleted) {
    put("(SELECT * FROM ");
    put(n.table->quoted);
    put(" WHERE ");
    const bool q = std::exchange(qualify_, false);
    deleted_filter(sources_[source], only_deleted);
    qualify_ = q;
    put(") AS ");
    if (n.alias) quoted(n.alias_name());
    else put(n.table->quoted);
}

void Renderer::where(const Parts& p, const DeletedFilters& deleted, bool force_where) {
    if (!p.wheres.empty() || !deleted.empty()) {
        put(" WHERE ");
        if (!p.wheres.empty()) predicate(p.wheres, deleted.empty() ? p_none : p_and);
        for (std::size_t k = 0; k < deleted.size(); ++k) {
            if (k || !p.wheres.empty()) put(" AND ");
            deleted_filter(sources_[deleted[k].source], deleted[k].only_deleted);
        }
    } else if (force_where) {
        put(" WHERE ");
        put(d_.boolean(true));
    }
}

void Renderer::grouping(const Parts& p) {
    if (!p.group_bys.empty()) {
        put(" GROUP BY ");
        for (std::size_t k = 0; k < p.group_bys.size(); ++k) {
            if (k) put(", ");
            std::uint32_t i = 0;
            expression_list(*p.group_bys[k], i, p.group_bys[k]->top_count(), ", ");
        }
    }
    if (!p.havings.empty()) {
        put(" HAVING ");
        predicate(p.havings, p_none);
    }
    if (!p.windows.empty()) {
        put(" WINDOW ");
        for (std::size_t k = 0; k < p.windows.size(); ++k) {
            if (k) put(", ");
            quoted(p.windows[k]->alias_name());
            put(" AS (");
            std::uint32_t i = 0;
            expr(*p.windows[k], i, p_none);
            put(')');
        }
    }
}

void Renderer::set_operations(const Parts& p, std::size_t mark) {
    const bool grouped = d_.set_op_grouping() == core::SetOpGrouping::intersect_first;
    bool loose = false;
    for (auto* s : p.set_ops) {
        const auto kind = static_cast<core::SetOpKind>(s->sub);
        if (kind == core::SetOpKind::intersect_all) check(core::Feature::intersect_all);
        if (kind == core::SetOpKind::except_all) check(core::Feature::except_all);
        if (grouped && brackets_prefix(*s, loose)) put(')');
        put(set_op_text(kind));
        const Node& member = *s->subs()[0];
        Parts mp;
        fold(&member, mp);
        bool wrap = !mp.orders.empty() || !mp.distinct_on.empty() || mp.limit || mp.limit_one || mp.offset ||
                    !mp.ctes.empty() || !mp.set_ops.empty() || mp.lock || mp.limit_per;
        if (!wrap) {
            // A member is its own SELECT: it sees none of this one's sources.
            bool q = qualify_;
            std::vector<Source> mine(sources_.begin() + mark, sources_.end());
            sources_.resize(mark);
            select_parts(mp, nullptr);
            sources_.resize(mark);
            for (auto& src : mine) sources_.push_back(src);
            qualify_ = q;
        } else if (d_.compound_wrap() == core::CompoundWrap::parentheses) {
            subquery(member);
        } else {
            put("SELECT * FROM ");
            subquery(member);
        }
    }
}

void Renderer::limit_and_lock(const Parts& p) {
    if (p.limit_one) {
        put(" LIMIT 1");
    } else if (p.limit) {
        put(" LIMIT ");
        std::uint32_t i = 0;
        expr(*p.limit, i, p_none);
    }
    if (p.offset) {
        put(' ');
        if (!p.limit && !p.limit_one) put(d_.offset_prefix());
        put("OFFSET ");
        std::uint32_t i = 0;
        expr(*p.offset, i, p_none);
    }
    if (p.lock) {
        check(core::Feature::row_locks);
        static constexpr std::string_view strength[] = {" FOR UPDATE", " FOR NO KEY UPDATE", " FOR SHARE",
                                                        " FOR KEY SHARE"};
        put(strength[p.lock->sub]);
        auto wait = static_cast<core::LockWait>(p.lock->flags);
        if (wait == core::LockWait::nowait) put(" NOWAIT");
        if (wait == core::LockWait::skip_locked) put(" SKIP LOCKED");
    }
}

void Renderer::ranked(Parts& p, const std::vector<const ColumnInfo*>* only_columns) {
    const Node& per = *std::exchange(p.limit_per, nullptr);
    if (p.select || output_names_ || !p.set_ops.empty() || p.limit || p.limit_one || p.offset || p.lock || p.distinct ||
        !p.distinct_on.empty() || p.root->kind != Clause::from_table)
        throw QueryError("limit_per ranks whole rows of one table: it cannot be combined with select, set operations, "
                         "limit, offset, first/last, distinct, distinct_on or row locks");
    // SELECT cols FROM (SELECT cols, row_number() OVER (PARTITION BY ... ORDER BY ...) AS rank
    // FROM ... WHERE ...) AS table WHERE rank <= N ORDER BY rank: named as the table, the derived
    // table answers to the same qualified column names.
    const Node& root = *p.root;
    const std::string_view alias = root.alias_name();
    auto name = [&] {
        if (alias.empty()) put(root.table->quoted);
        else quoted(alias);
    };
    put("SELECT ");
    const std::size_t n_out = only_columns ? only_columns->size() : root.table->columns.size();
    for (std::size_t k = 0; k < n_out; ++k) {
        if (k) put(", ");
        name();
        put('.');
        put(only_columns ? (*only_columns)[k]->quoted : root.table->columns[k].quoted);
    }
    put(" FROM (");
    Parts order_only;
    order_only.root = p.root;
    for (const auto& o : p.orders) order_only.orders.push_back(o);
    p.orders.clear();
    p.ctes.clear();  // rendered by the caller, before this SELECT
    rank_ = &per;
    rank_orders_ = &order_only;
    select_parts(p, nullptr);
    put(") AS ");
    name();
    put(" WHERE \"quarry_rank\" <= ");
    std::uint32_t i = 0;
    for (std::uint32_t k = 0; k + 1 < per.top_count(); ++k) i = core::skip_expr(per.ops(), i);
    expr(per, i, p_none);
    // Each partition's rows together, in the query's order: by the partition, then by rank.
    put(" ORDER BY ");
    sources_.push_back({root.table, alias, scope_});
    const bool q = std::exchange(qualify_, false);
    i = 0;
    expression_list(per, i, per.top_count() - 1, ", ");
    qualify_ = q;
    sources_.pop_back();
    put(", \"quarry_rank\"");
}

void Renderer::ctes(const Parts& p) {
    if (p.ctes.empty()) return;
    bool recursive = false;
    for (auto* c : p.ctes) recursive = recursive || (c->flags & core::CteFlags::recursive);
    put(recursive ? "WITH RECURSIVE " : "WITH ");
    for (std::size_t k = 0; k < p.ctes.size(); ++k) {
        const Node& c = *p.ctes[k];
        if (k) put(", ");
        quoted(c.alias_name());
        if (c.table) {
            put(" (");
            for (std::size_t j = 0; j < c.table->columns.size(); ++j) {
                if (j) put(", ");
                put(c.table->columns[j].quoted);
            }
            put(')');
        }
        put(" AS ");
        if (c.flags & core::CteFlags::materialized) put("MATERIALIZED ");
        if (c.flags & core::CteFlags::not_materialized) put("NOT MATERIALIZED ");
        // A CTE body is its own scope: nothing outside it is visible.
        std::vector<Source> saved(sources_.begin(), sources_.end());
        sources_.clear();
        subquery(*c.subs()[0]);
        sources_.clear();
        for (auto& src : saved) sources_.push_back(src);
    }
    put(' ');
}

void Renderer::order_list(const Parts& p, bool compound) {
    if (p.orders.empty() && p.distinct_on.empty()) return;
    put(" ORDER BY ");
    bool first = true;
    bool u = unqualified_;
    // A compound's ORDER BY can name only result columns.
    unqualified_ = compound;
    if (!p.distinct_on.empty()) distinct_on_list(p, first, p.distinct_on_desc);  // DISTINCT ON needs them to lead ORDER BY
    for (auto& e : p.orders) {
        flip_ = e.flip;
        if (!e.node) {
            if ((p.distinct || !p.distinct_on.empty()) && p.select)
                throw QueryError("first()/last()/reverse_order() on a DISTINCT select would order by the primary key, "
                                 "which is not selected; add an order_by of selected columns");
            for (auto idx : p.root->table->primary_key) {
                if (!first) put(", ");
                first = false;
                if (qualify_ && !compound) {
                    if (p.root->alias)
                        quoted(p.root->alias_name());
                    else
                        put(p.root->table->quoted);
                    put('.');
                }
                put(p.root->table->columns[idx].quoted);
                put(e.flip ? " DESC" : " ASC");
            }
            if (p.root->table->primary_key.empty())
                throw QueryError("first/last/reverse_order need an order_by or a primary key on " +
                                 p.root->table->name);
            continue;
        }
        std::uint32_t i = 0;
        for (std::uint32_t k = 0; k < e.node->top_count(); ++k) {
            if (!first) put(", ");
            first = false;
            if (e.node->ops()[i].kind == OpKind::order_item) {
                expr(*e.node, i, p_none);
            } else {
                expr(*e.node, i, p_none);
                put(e.flip ? " DESC" : " ASC");
            }
        }
    }
    flip_ = false;
    unqualified_ = u;
}

}  // namespace quarry::render
