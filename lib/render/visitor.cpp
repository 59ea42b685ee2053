// SPDX-License-Identifier: MIT
// The visitor's entry points and the sources of a statement (tables, aliases, subqueries, the
// soft-delete filter). The statements are in select.cpp and writes.cpp, expressions in
// expressions.cpp.
#include <cctype>

#include "quarry/core/render.hpp"
#include "quarry/errors.hpp"
#include "render/precedence.hpp"
#include "render/renderer.hpp"

namespace quarry::render {

using core::Clause;

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

void Renderer::deleted_filter(const Source& s, bool only_deleted) {
    if (qualify_) {
        if (s.alias.empty()) put(s.table->quoted);
        else quoted(s.alias);
        put('.');
    }
    put(s.table->soft_delete->quoted);
    put(only_deleted ? " IS NOT NULL" : " IS NULL");
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
