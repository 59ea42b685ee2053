// SPDX-License-Identifier: MIT
// The visitor: INSERT (values or a SELECT, ON CONFLICT), UPDATE (plain, through joins, or
// through the primary key), DELETE, and RETURNING.
#include <vector>

#include "quarry/errors.hpp"
#include "render/precedence.hpp"
#include "render/renderer.hpp"

namespace quarry::render {

using core::Clause;

void Renderer::note_assignment(util::SmallVec<const ColumnInfo*, 16>& seen, const Node& n, std::uint32_t at) {
    // ops[at] is an assign; its first operand the target column. PostgreSQL rejects a column
    // assigned twice and SQLite silently keeps one: neither is what the caller meant.
    const Op& target = n.ops()[at + 1];
    const ColumnInfo* c = n.cols()[target.a].column;
    for (auto* s : seen)
        if (s == c) throw QueryError("column " + c->name + " is assigned twice in one SET list");
    seen.push_back(c);
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
    Untyped items(*this, true);
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

}  // namespace quarry::render
