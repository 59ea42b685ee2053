// SPDX-License-Identifier: MIT
// The visitor, part 2: statements (SELECT, INSERT, UPDATE, DELETE) and their clauses.
#include <cctype>

#include "quarry/core/render.hpp"
#include "quarry/errors.hpp"
#include "render/precedence.hpp"
#include "render/renderer.hpp"
#include "util/identifier.hpp"

namespace quarry::render {

using core::BinaryOp;
using core::Clause;
using core::Constant;
using core::Func;
using core::OpKind;
using core::UnaryOp;
using core::ValueKind;

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

}  // namespace


void Renderer::source_of(const Node& n) {
    // n is a from_* or join node: a table, or a subquery with an alias.
    if (n.kind == Clause::from_query || (n.kind == Clause::join && (n.flags & core::JoinFlags::subquery_source))) {
        if (n.kind == Clause::join && (n.flags & core::JoinFlags::lateral)) {
            check(core::Feature::lateral_join);
            put("LATERAL ");
        }
        // The subquery's columns take the names of the schema that describes it.
        output_names_ = n.table;
        subquery(*n.subs()[0]);
        put(" AS ");
        quoted(n.alias ? n.alias_name() : std::string_view(n.table->name));
        return;
    }
    put(n.table->quoted);
    if (n.alias) {
        put(" AS ");
        quoted(n.alias_name());
    }
}

void Renderer::note_assignment(util::SmallVec<const ColumnInfo*, 16>& seen, const Node& n, std::uint32_t at) {
    // ops[at] is an assign; its first operand the target column. PostgreSQL rejects a column
    // assigned twice and SQLite silently keeps one: neither is what the caller meant.
    const Op& target = n.ops()[at + 1];
    const ColumnInfo* c = n.cols()[target.a].column;
    for (auto* s : seen)
        if (s == c) throw QueryError("column " + c->name + " is assigned twice in one SET list");
    seen.push_back(c);
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

void Renderer::deleted_filter(const Source& s, bool only_deleted) {
    if (qualify_) {
        if (s.alias.empty()) put(s.table->quoted);
        else quoted(s.alias);
        put('.');
    }
    put(s.table->soft_delete->quoted);
    put(only_deleted ? " IS NOT NULL" : " IS NULL");
}

void Renderer::add_source(const Source& s) {
    // Two sources answering to one name (SQLite compares ASCII case-insensitively) make every
    // column of that name ambiguous: alias one of them.
    if (out_) {
        std::string_view name = s.alias.empty() ? std::string_view(s.table->name) : s.alias;
        for (const auto& o : sources_) {
            if (o.scope != s.scope) continue;
            std::string_view other = o.alias.empty() ? std::string_view(o.table->name) : o.alias;
            bool same = other.size() == name.size();
            for (std::size_t k = 0; same && k < name.size(); ++k)
                same = std::tolower(static_cast<unsigned char>(name[k])) == std::tolower(static_cast<unsigned char>(other[k]));
            if (same)
                throw QueryError("two sources of the query are both named \"" + std::string(name) +
                                 "\"; give one of them an alias");
        }
    }
    sources_.push_back(s);
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
    for (auto* n : p.distinct_on) {
        std::uint32_t i = 0;
        for (std::uint32_t k = 0; k < n->top_count(); ++k) {
            if (!first) put(", ");
            first = false;
            expr(*n, i, p_none);
        }
    }
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
    const Node& root = *p.root;
    add_source({root.table, root.kind == Clause::from_query ? std::string_view(root.table->name) : root.alias_name(),
                scope_});
    for (auto* j : p.joins) {
        std::string_view alias = j->alias_name();
        if (alias.empty() && (j->flags & core::JoinFlags::subquery_source)) alias = j->table->name;
        add_source({j->table, alias, scope_});
    }
    qualify_ = scope_ > 0 || !p.joins.empty() || p.has_subqueries;

    put("SELECT ");
    if (!p.distinct_on.empty()) {
        check(core::Feature::distinct_on);
        put("DISTINCT ON (");
        bool first = true;
        for (auto* n : p.distinct_on) {
            std::uint32_t i = 0;
            for (std::uint32_t k = 0; k < n->top_count(); ++k) {
                if (!first) put(", ");
                first = false;
                expr(*n, i, p_none);
            }
        }
        put(") ");
    } else if (p.distinct) {
        put("DISTINCT ");
    }
    if (only_columns) {
        for (std::size_t k = 0; k < only_columns->size(); ++k) {
            if (k) put(", ");
            Source& s = sources_[mark];
            if (s.alias.empty()) put(s.table->quoted); else quoted(s.alias);
            put('.');
            put((*only_columns)[k]->quoted);
        }
    } else if (p.select) {
        if (names && names->columns.size() != p.select->top_count())
            throw QueryError("subquery selects " + std::to_string(p.select->top_count()) + " columns but " +
                             names->name + " has " + std::to_string(names->columns.size()));
        std::uint32_t i = 0;
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
        const Source& s = sources_[mark];
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
    if (const Node* per = std::exchange(rank_, nullptr)) {
        put(", row_number() OVER (PARTITION BY ");
        std::uint32_t i = 0;
        expression_list(*per, i, per->top_count() - 1, ", ");
        order_list(*std::exchange(rank_orders_, nullptr), false);
        put(") AS \"quarry_rank\"");
    }
    put(" FROM ");
    // Soft-deleted rows of the root table are filtered in WHERE; those of a joined table in its
    // ON (so an outer join still keeps the root's row), or in WHERE for a cross join. Under a
    // RIGHT or FULL join a WHERE would drop the rows the join keeps: the root is then filtered
    // in a derived table of its own name.
    struct DeletedFilter {
        std::size_t source;
        bool only_deleted;
    };
    util::SmallVec<DeletedFilter, 4> deleted_filters;
    const bool root_scoped = root.kind == Clause::from_table && filters_deleted(root.table, p.deleted);
    bool outer_right = false;
    for (auto* j : p.joins) {
        auto kind = static_cast<core::JoinKind>(j->sub);
        outer_right = outer_right || kind == core::JoinKind::right || kind == core::JoinKind::full;
    }
    if (root_scoped && outer_right) {
        put("(SELECT * FROM ");
        put(root.table->quoted);
        put(" WHERE ");
        const bool q = std::exchange(qualify_, false);
        deleted_filter(sources_[mark], p.deleted == core::DeletedScope::only_deleted);
        qualify_ = q;
        put(") AS ");
        if (root.alias) quoted(root.alias_name());
        else put(root.table->quoted);
    } else {
        source_of(root);
        if (root_scoped) deleted_filters.push_back({mark, p.deleted == core::DeletedScope::only_deleted});
    }
    for (std::size_t k = 0; k < p.joins.size(); ++k) {
        const Node* j = p.joins[k];
        auto kind = static_cast<core::JoinKind>(j->sub);
        if (kind == core::JoinKind::right) check(core::Feature::right_join);
        if (kind == core::JoinKind::full) check(core::Feature::full_join);
        put(join_text(kind));
        bool scoped = !(j->flags & core::JoinFlags::subquery_source) && filters_deleted(j->table, p.deleted);
        if (scoped && (kind == core::JoinKind::right || kind == core::JoinKind::full)) {
            // The join keeps this side's rows whatever ON says: filter them before joining.
            put("(SELECT * FROM ");
            put(j->table->quoted);
            put(" WHERE ");
            const bool q = std::exchange(qualify_, false);
            deleted_filter(sources_[mark + 1 + k], false);
            qualify_ = q;
            put(") AS ");
            if (j->alias) quoted(j->alias_name());
            else put(j->table->quoted);
            scoped = false;
        } else {
            source_of(*j);
        }
        if (scoped && !j->top_count()) deleted_filters.push_back({mark + 1 + k, false});
        if (j->top_count()) {
            put(" ON ");
            std::uint32_t i = 0;
            expr(*j, i, scoped ? p_and : p_none);
            if (scoped) {
                put(" AND ");
                deleted_filter(sources_[mark + 1 + k], false);
            }
        }
    }
    if (!p.wheres.empty() || !deleted_filters.empty()) {
        put(" WHERE ");
        if (!p.wheres.empty()) predicate(p.wheres, deleted_filters.empty() ? p_none : p_and);
        for (std::size_t k = 0; k < deleted_filters.size(); ++k) {
            if (k || !p.wheres.empty()) put(" AND ");
            deleted_filter(sources_[deleted_filters[k].source], deleted_filters[k].only_deleted);
        }
    } else if (force_where) {
        put(" WHERE ");
        put(d_.boolean(true));
    }
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
    for (auto* s : p.set_ops) {
        put(set_op_text(static_cast<core::SetOpKind>(s->sub)));
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
    order_list(p, !p.set_ops.empty());
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
    sources_.resize(mark);
}

bool Renderer::needs_key_subquery(const Parts& p) const {
    return p.limit || p.limit_one || p.limit_per || p.offset || !p.orders.empty() || !p.group_bys.empty() || !p.havings.empty() ||
           p.distinct || !p.distinct_on.empty() || !p.ctes.empty() || !p.set_ops.empty() || p.select ||
           p.root->kind != Clause::from_table || p.root->alias;
}

void Renderer::key_subquery_filter(const Node& filter) {
    const core::TableInfo& t = *chain_root(&filter)->table;
    if (t.primary_key.empty())
        throw QueryError("updating or deleting through joins, limits or ordering needs a primary key on " + t.name);
    std::vector<const ColumnInfo*> keys;
    for (auto idx : t.primary_key) keys.push_back(&t.columns[idx]);
    put(" WHERE ");
    if (keys.size() > 1) put('(');
    for (std::size_t k = 0; k < keys.size(); ++k) {
        if (k) put(", ");
        put(keys[k]->quoted);
    }
    if (keys.size() > 1) put(')');
    put(" IN (");
    Parts p;
    fold(&filter, p);
    ++scope_;
    if (p.set_ops.empty()) {
        select(filter, &keys);
    } else {
        // Every member of a compound must select the same columns: take the keys from it whole.
        put("SELECT ");
        for (std::size_t k = 0; k < keys.size(); ++k) {
            if (k) put(", ");
            put(keys[k]->quoted);
        }
        put(" FROM ");
        subquery(filter);
        put(" AS \"rows\"");
    }
    --scope_;
    put(')');
}

void Renderer::returning(const Node& leaf) {
    util::SmallVec<const Node*, 4> rets;
    for (const Node* n = &leaf; n; n = n->parent)
        if (n->kind == Clause::returning) rets.insert_front(n);
    if (rets.empty()) return;
    put(" RETURNING ");
    for (std::size_t k = 0; k < rets.size(); ++k) {
        if (k) put(", ");
        std::uint32_t i = 0;
        expression_list(*rets[k], i, rets[k]->top_count(), ", ");
    }
}

void Renderer::insert(const Node& root, const Node& leaf) {
    const core::TableInfo& t = *root.table;
    sources_.push_back({&t, {}, scope_});
    qualify_ = false;
    unqualified_ = true;
    put("INSERT INTO ");
    put(t.quoted);
    const std::uint32_t ncols = root.parts[0];
    std::uint32_t i = 0;
    const bool from_select = root.flags & core::InsertFlags::from_select;
    if (ncols == 0 && !from_select) {
        if (root.top_count() > 1)
            throw QueryError("inserting several rows with no columns to write (all are generated): "
                             "DEFAULT VALUES inserts one row per statement");
        put(" DEFAULT VALUES");
    } else {
        put(" (");
        expression_list(root, i, ncols, ", ");
        put(')');
        if (from_select) {
            put(' ');
            unqualified_ = false;
            // Without a WHERE, SQLite would parse ON CONFLICT as the SELECT's join constraint.
            bool has_conflict = false;
            for (const Node* n = &leaf; n && !has_conflict; n = n->parent) has_conflict = n->kind == Clause::on_conflict;
            sources_.pop_back();  // the SELECT has its own FROM; the target is not one of its sources
            Parts sp;
            fold(root.subs()[0].get(), sp);
            if (has_conflict && !sp.set_ops.empty()) {
                // A compound's last member would take the WHERE: select from it as a whole instead.
                put("SELECT * FROM ");
                subquery(*root.subs()[0]);
                put(" AS \"source\" WHERE ");
                put(d_.boolean(true));
            } else {
                force_where_ = has_conflict;
                select_parts(sp, nullptr);
            }
            sources_.push_back({&t, {}, scope_});
            unqualified_ = true;
        } else {
            put(" VALUES ");
            expression_list(root, i, root.top_count() - ncols, ", ");
        }
    }
    const Node* conflict = nullptr;
    for (const Node* n = &leaf; n && !conflict; n = n->parent)
        if (n->kind == Clause::on_conflict) conflict = n;
    if (conflict) {
        put(" ON CONFLICT");
        std::uint32_t j = 0;
        const std::uint32_t ntarget = conflict->parts[0];
        if (ntarget) {
            put(" (");
            expression_list(*conflict, j, ntarget, ", ");
            put(')');
        }
        if (static_cast<core::ConflictAction>(conflict->sub) == core::ConflictAction::nothing) {
            put(" DO NOTHING");
        } else {
            const bool has_where = conflict->flags & 1;
            const std::uint32_t nset = conflict->top_count() - ntarget - (has_where ? 1 : 0);
            put(" DO UPDATE SET ");
            // The existing row's columns are qualified: EXCLUDED is in scope too.
            unqualified_ = false;
            qualify_ = true;
            util::SmallVec<const ColumnInfo*, 16> targets;
            for (std::uint32_t k = 0; k < nset; ++k) {
                if (k) put(", ");
                if (out_) note_assignment(targets, *conflict, j);
                expr(*conflict, j, p_none);
            }
            if (has_where) {
                put(" WHERE ");
                expr(*conflict, j, p_none);
            }
            unqualified_ = true;
            qualify_ = false;
        }
    }
    returning(leaf);
    unqualified_ = false;
    sources_.pop_back();
}

void Renderer::update(const Node& root, const Node& leaf) {
    const Node& filter = *root.subs()[0];
    Parts p;
    fold(&filter, p);
    const core::TableInfo& t = *p.root->table;
    // Plain filters stay a WHERE; inner joins become UPDATE ... FROM (so SET may read the joined
    // tables); anything else (outer joins, limits, ordering) goes through the primary key.
    bool inner_only = true;
    for (auto* j : p.joins) {
        auto k = static_cast<core::JoinKind>(j->sub);
        inner_only = inner_only && (k == core::JoinKind::inner || k == core::JoinKind::cross) &&
                     !(j->flags & core::JoinFlags::subquery_source);
    }
    const bool key_route = needs_key_subquery(p) || !inner_only;
    const bool from_route = !key_route && !p.joins.empty();
    sources_.push_back({&t, {}, scope_});
    if (from_route)
        for (auto* j : p.joins) add_source({j->table, j->alias_name(), scope_});
    qualify_ = p.has_subqueries || from_route;
    put("UPDATE ");
    put(t.quoted);
    put(" SET ");
    util::SmallVec<const Node*, 4> sets;
    for (const Node* n = &leaf; n; n = n->parent)
        if (n->kind == Clause::set || n->kind == Clause::update) sets.insert_front(n);
    bool first = true;
    util::SmallVec<const ColumnInfo*, 16> targets;
    for (auto* s : sets) {
        std::uint32_t i = 0;
        for (std::uint32_t k = 0; k < s->top_count(); ++k) {
            if (!first) put(", ");
            first = false;
            if (out_) note_assignment(targets, *s, i);
            expr(*s, i, p_none);
        }
    }
    if (first) throw QueryError("update has no SET items");
    if (key_route) {
        key_subquery_filter(filter);
    } else {
        bool any = false;
        if (from_route) {
            put(" FROM ");
            for (std::size_t k = 0; k < p.joins.size(); ++k) {
                if (k) put(", ");
                source_of(*p.joins[k]);
            }
            for (auto* j : p.joins) {
                if (!j->top_count()) continue;
                put(any ? " AND " : " WHERE ");
                any = true;
                std::uint32_t i = 0;
                expr(*j, i, p_not);
            }
        }
        bool scoped = filters_deleted(&t, p.deleted);
        for (std::size_t k = 0; from_route && k < p.joins.size(); ++k) scoped = scoped || filters_deleted(p.joins[k]->table, p.deleted);
        if (!p.wheres.empty()) {
            put(any ? " AND " : " WHERE ");
            predicate(p.wheres, any ? p_not : scoped ? p_and : p_none);
            any = true;
        }
        const std::size_t base = sources_.size() - 1 - (from_route ? p.joins.size() : 0);
        if (filters_deleted(&t, p.deleted)) {
            put(any ? " AND " : " WHERE ");
            any = true;
            deleted_filter(sources_[base], p.deleted == core::DeletedScope::only_deleted);
        }
        for (std::size_t k = 0; from_route && k < p.joins.size(); ++k) {
            if (!filters_deleted(p.joins[k]->table, p.deleted)) continue;
            put(any ? " AND " : " WHERE ");
            any = true;
            deleted_filter(sources_[base + 1 + k], false);
        }
    }
    returning(leaf);
    qualify_ = false;
    sources_.resize(sources_.size() - 1 - (from_route ? p.joins.size() : 0));
}

void Renderer::remove(const Node& root, const Node& leaf) {
    const Node& filter = *root.subs()[0];
    Parts p;
    fold(&filter, p);
    const core::TableInfo& t = *p.root->table;
    sources_.push_back({&t, {}, scope_});
    qualify_ = p.has_subqueries;
    put("DELETE FROM ");
    put(t.quoted);
    if (!needs_key_subquery(p) && p.joins.empty()) {
        const bool scoped = filters_deleted(&t, p.deleted);
        if (!p.wheres.empty()) {
            put(" WHERE ");
            predicate(p.wheres, scoped ? p_and : p_none);
        }
        if (scoped) {
            put(p.wheres.empty() ? " WHERE " : " AND ");
            deleted_filter(sources_.back(), p.deleted == core::DeletedScope::only_deleted);
        }
    } else {
        key_subquery_filter(filter);
    }
    qualify_ = false;
    returning(leaf);
    sources_.pop_back();
}

void Renderer::statement(const Node& leaf) {
    const Node& root = *chain_root(&leaf);
    switch (root.kind) {
        case Clause::insert: insert(root, leaf); break;
        case Clause::update: update(root, leaf); break;
        case Clause::delete_: remove(root, leaf); break;
        default: select(leaf); break;
    }
    if (params_.size() > d_.max_params())
        throw QueryError("statement binds " + std::to_string(params_.size()) + " parameters; " +
                         std::string(d_.name()) + " allows at most " + std::to_string(d_.max_params()));
}

}  // namespace quarry::render

namespace quarry::core {

void render_into(const Node& statement, const Dialect& d, std::string* sql, std::vector<Value>& params,
                 ParamPlan* plan) {
    render::Renderer r(d, sql != nullptr, params);
    if (plan) {
        render::PlanRecorder recorder(statement, *plan);
        r.record_plan(&recorder);
        r.statement(statement);
        r.record_plan(nullptr);
        recorder.finish(statement);
    } else {
        r.statement(statement);
    }
    if (sql) sql->assign(r.text());
}

Rendered render(const NodePtr& statement, const Dialect& d) {
    Rendered out;
    out.params.reserve(16);
    render_into(*statement, d, &out.sql, out.params);
    out.keep = statement;
    return out;
}

}  // namespace quarry::core
