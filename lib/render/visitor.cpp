// SPDX-License-Identifier: MIT
#include <cctype>
#include <charconv>

#include "quarry/core/render.hpp"
#include "quarry/errors.hpp"
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

// Binding strength, loosest first. Atoms never need parentheses.
enum Prec : int { p_none = 0, p_or = 1, p_and = 2, p_not = 3, p_cmp = 4, p_concat = 5, p_add = 6, p_mul = 7,
                  p_unary = 8, p_atom = 9 };

int binary_prec(BinaryOp op) {
    switch (op) {
        case BinaryOp::or_: return p_or;
        case BinaryOp::and_: return p_and;
        case BinaryOp::concat: return p_concat;
        case BinaryOp::add:
        case BinaryOp::sub: return p_add;
        case BinaryOp::mul:
        case BinaryOp::div:
        case BinaryOp::mod: return p_mul;
        default: return p_cmp;
    }
}

std::string_view binary_text(BinaryOp op) {
    static constexpr std::string_view t[] = {" = ", " <> ", " < ", " <= ", " > ", " >= ", " AND ", " OR ",
                                             " + ", " - ", " * ", " / ", " % ", " || ", " IS DISTINCT FROM ",
                                             " IS NOT DISTINCT FROM "};
    return t[static_cast<int>(op)];
}

bool is_logical(const Op& o, BinaryOp which) {
    return o.kind == OpKind::binary && static_cast<BinaryOp>(o.sub) == which;
}

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

void Renderer::quoted(std::string_view ident) {
    if (out_) util::append_quoted(*out_, ident);
}

void Renderer::check(core::Feature f) {
    if (!d_.supports(f)) throw UnsupportedFeature(d_.name(), core::to_string(f));
}

void Renderer::param(const Value& v) {
    params_.push_back(v);
    if (out_) d_.placeholder(*out_, static_cast<std::uint32_t>(params_.size()));
}

void Renderer::column(const Node& n, const ColumnRef& r, unsigned outer_levels) {
    if (!out_) return;
    if (outer_levels > scope_) throw QueryError("outer() used where there is no enclosing query");
    if (printer_) {
        if (r.source) quoted(n.str(r.source - 1)); else out_->append(r.column->table->quoted);
        out_->push_back('.');
        out_->append(r.column->quoted);
        return;
    }
    if (qualify_ && !unqualified_) {
        std::string_view src = r.source ? n.str(r.source - 1) : std::string_view{};
        // Innermost scope first (outer() skips scopes); within a scope the earliest source (the
        // FROM before a self-join).
        const unsigned max_scope = scope_ - outer_levels;
        const Source* found = nullptr;
        for (std::size_t k = sources_.size(); k-- > 0;) {
            const Source* it = &sources_[k];
            if (it->scope > max_scope) continue;
            if (found && it->scope != found->scope) break;
            if (src.empty() ? it->table == r.column->table : it->alias == src) found = it;
        }
        if (!found)
            throw QueryError("column " + r.column->table->name + "." + r.column->name +
                             (src.empty() ? "" : " (as " + std::string(src) + ")") +
                             " refers to a source that is not in the query");
        if (outer_levels) {
            // SQL resolves a qualifier innermost first: an inner source with the same name would
            // silently capture this reference.
            std::string_view name = found->alias.empty() ? std::string_view(found->table->name) : found->alias;
            for (auto& s : sources_) {
                std::string_view other = s.alias.empty() ? std::string_view(s.table->name) : s.alias;
                if (s.scope > found->scope && other == name)
                    throw QueryError("outer reference to " + std::string(name) + "." + r.column->name +
                                     " is shadowed by the subquery's own " + std::string(name) +
                                     "; give one of them an alias");
            }
        }
        if (found->alias.empty())
            out_->append(found->table->quoted);
        else
            quoted(found->alias);
        out_->push_back('.');
    } else if (!sources_.empty() && !unqualified_) {
        // Unqualified: the column must still belong to the query's only source.
        bool ok = false;
        for (auto& s : sources_) ok = ok || s.table == r.column->table;
        if (!ok)
            throw QueryError("column " + r.column->table->name + "." + r.column->name +
                             " refers to a table that is not in the query");
    }
    out_->append(r.column->quoted);
}

void Renderer::subquery(const Node& q) {
    put('(');
    bool q_save = qualify_, f_save = flip_, u_save = unqualified_;
    flip_ = unqualified_ = false;
    ++scope_;
    select(q);
    --scope_;
    qualify_ = q_save;
    flip_ = f_save;
    unqualified_ = u_save;
    put(')');
}

void Renderer::expression_list(const Node& n, std::uint32_t& i, std::uint32_t count, std::string_view sep) {
    for (std::uint32_t k = 0; k < count; ++k) {
        if (k) put(sep);
        expr(n, i, p_none);
    }
}

void Renderer::too_deep() {
    throw QueryError("expression nested deeper than " + std::to_string(max_expression_depth) +
                     " levels (build long AND/OR chains with filter<>, lists with in())");
}

void Renderer::integer_literal(std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    put(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void Renderer::in_list(const Node& n, const Op& o) {
    const Value* items = n.params().begin() + o.a;
    if (d_.in_list_style() == core::InListStyle::expanded) {
        put(o.sub ? " NOT IN (" : " IN (");
        for (std::uint32_t k = 0; k < o.b; ++k) {
            if (k) put(", ");
            param(items[k]);
        }
        put(')');
    } else {
        put(o.sub ? " <> ALL(" : " = ANY(");
        Value arr;
        arr.kind = ValueKind::array;
        arr.element = static_cast<ValueKind>(o.c);
        arr.size = o.b;
        arr.items = items;
        param(arr);
        put(')');
    }
}

void Renderer::frame(const Op& o) {
    static constexpr std::string_view modes[] = {"ROWS", "RANGE", "GROUPS"};
    put(modes[o.sub]);
    put(" BETWEEN ");
    auto bound = [&](std::uint32_t kind, std::uint32_t offset) {
        switch (static_cast<core::FrameBound>(kind)) {
            case core::FrameBound::unbounded_preceding: put("UNBOUNDED PRECEDING"); break;
            case core::FrameBound::unbounded_following: put("UNBOUNDED FOLLOWING"); break;
            case core::FrameBound::current_row: put("CURRENT ROW"); break;
            case core::FrameBound::preceding:
            case core::FrameBound::following:
                integer_literal(offset);
                put(static_cast<core::FrameBound>(kind) == core::FrameBound::preceding ? " PRECEDING" : " FOLLOWING");
                break;
        }
    };
    bound(o.a, o.c & 0xffff);
    put(" AND ");
    bound(o.b, o.c >> 16);
}

void Renderer::raw_fragment(const Node& n, std::uint32_t& i, const Op& o) {
    std::string_view sql = n.str(o.a);
    std::uint16_t used = 0;
    for (std::size_t k = 0; k < sql.size(); ++k) {
        if (sql[k] != '?') {
            put(sql[k]);
        } else if (k + 1 < sql.size() && sql[k + 1] == '?') {
            put('?');
            ++k;
        } else {
            if (used == o.arity) throw QueryError("raw fragment has more ? marks than arguments");
            expr(n, i, p_atom);
            ++used;
        }
    }
    if (used != o.arity) throw QueryError("raw fragment has fewer ? marks than arguments");
}

void Renderer::expr(const Node& n, std::uint32_t& i, int min_prec) {
    // Bounded recursion; the bulky cases live in their own functions to keep this frame small
    // (it is the unit of stack use per nesting level, sanitizers included).
    struct Depth {
        unsigned& d;
        explicit Depth(unsigned& depth) : d(depth) {
            if (++d > max_expression_depth) too_deep();
        }
        ~Depth() { --d; }
    } depth_guard(depth_);
    const auto ops = n.ops();
    const Op o = ops[i++];
    auto open = [&](int prec) {
        bool paren = prec < min_prec || (full_parens_ && prec < p_atom && min_prec > p_none);
        if (paren) put('(');
        return paren;
    };
    auto close = [&](bool paren) {
        if (paren) put(')');
    };
    switch (o.kind) {
        case OpKind::column: column(n, n.cols()[o.a], o.sub); break;
        case OpKind::excluded:
            put("EXCLUDED.");
            put(n.cols()[o.a].column->quoted);
            break;
        case OpKind::param: param(n.params()[o.a]); break;
        case OpKind::constant:
            switch (static_cast<Constant>(o.sub)) {
                case Constant::null: put("NULL"); break;
                case Constant::true_: put(d_.boolean(true)); break;
                case Constant::false_: put(d_.boolean(false)); break;
                case Constant::default_: put("DEFAULT"); break;
            }
            break;
        case OpKind::integer: integer_literal(static_cast<std::int64_t>(std::uint64_t(o.a) | (std::uint64_t(o.b) << 32))); break;
        case OpKind::unary:
            switch (static_cast<UnaryOp>(o.sub)) {
                case UnaryOp::not_: {
                    bool p = open(p_not);
                    put("NOT ");
                    expr(n, i, p_atom);  // NOT (a = b): explicit, whatever the operand
                    close(p);
                    break;
                }
                case UnaryOp::negate: {
                    bool p = open(p_unary);
                    put('-');
                    expr(n, i, p_atom);
                    close(p);
                    break;
                }
                case UnaryOp::is_null:
                case UnaryOp::is_not_null: {
                    bool p = open(p_cmp);
                    expr(n, i, p_concat);
                    put(static_cast<UnaryOp>(o.sub) == UnaryOp::is_null ? " IS NULL" : " IS NOT NULL");
                    close(p);
                    break;
                }
                case UnaryOp::exists:
                case UnaryOp::not_exists: {
                    bool p = open(p_cmp);
                    put(static_cast<UnaryOp>(o.sub) == UnaryOp::exists ? "EXISTS " : "NOT EXISTS ");
                    expr(n, i, p_atom);
                    close(p);
                    break;
                }
            }
            break;
        case OpKind::binary: {
            auto op = static_cast<BinaryOp>(o.sub);
            int prec = binary_prec(op);
            bool p = open(prec);
            if (prec <= p_and) {
                // Mixed AND/OR always get explicit parentheses; a chain of one operator does not.
                // A left-nested chain (what filter<> builds) renders iteratively, not recursively.
                std::uint32_t run = 1;
                while (is_logical(ops[i], op)) {
                    ++run;
                    ++i;
                }
                expr(n, i, p_not);
                for (std::uint32_t k = 0; k < run; ++k) {
                    put(binary_text(op));
                    expr(n, i, is_logical(ops[i], op) ? prec : p_not);
                }
            } else if (prec == p_cmp) {
                expr(n, i, p_concat);
                put(binary_text(op));
                expr(n, i, p_concat);
            } else if (op == BinaryOp::concat) {
                // || binds tighter than arithmetic on SQLite but not on PostgreSQL: parenthesise
                // any compound operand so both read it the same way.
                expr(n, i, p_unary);
                put(binary_text(op));
                expr(n, i, p_unary);
            } else {
                expr(n, i, prec);
                put(binary_text(op));
                expr(n, i, prec + 1);
            }
            close(p);
            break;
        }
        case OpKind::like: {
            auto op = static_cast<core::LikeOp>(o.sub);
            if (op == core::LikeOp::ilike || op == core::LikeOp::not_ilike) check(core::Feature::ilike);
            bool p = open(p_cmp);
            expr(n, i, p_concat);
            static constexpr std::string_view t[] = {" LIKE ", " NOT LIKE ", " ILIKE ", " NOT ILIKE "};
            put(t[o.sub]);
            expr(n, i, p_concat);
            put(" ESCAPE '\\'");
            close(p);
            break;
        }
        case OpKind::in_list: {
            bool p = open(p_cmp);
            expr(n, i, p_concat);
            in_list(n, o);
            close(p);
            break;
        }
        case OpKind::in_query: {
            bool p = open(p_cmp);
            expr(n, i, p_concat);
            put(o.sub ? " NOT IN " : " IN ");
            expr(n, i, p_atom);
            close(p);
            break;
        }
        case OpKind::in_tuples: {
            bool p = open(p_cmp);
            std::uint16_t rows = static_cast<std::uint16_t>(o.arity - 1);
            if (rows == 0) {
                // (a, b) IN (<no rows>) is false; NOT IN is true. The tuple has no parameters.
                i = core::skip_expr(ops, i);
                put(d_.boolean(o.sub != 0));
            } else {
                expr(n, i, p_concat);
                put(o.sub ? " NOT IN (VALUES " : " IN (VALUES ");
                for (std::uint16_t r = 0; r < rows; ++r) {
                    if (r) put(", ");
                    expr(n, i, p_atom);
                }
                put(')');
            }
            close(p);
            break;
        }
        case OpKind::between: {
            bool p = open(p_cmp);
            expr(n, i, p_concat);
            put(o.sub ? " NOT BETWEEN " : " BETWEEN ");
            expr(n, i, p_concat);
            put(" AND ");
            expr(n, i, p_concat);
            close(p);
            break;
        }
        case OpKind::tuple:
            put('(');
            expression_list(n, i, o.arity, ", ");
            put(')');
            break;
        case OpKind::subquery:
            if (printer_) {
                put("(subquery ");
                put(std::to_string(o.a + 1));
                put(')');
            } else {
                subquery(*n.subs()[o.a]);
            }
            break;
        case OpKind::case_when: {
            put("CASE");
            std::uint16_t pairs = static_cast<std::uint16_t>(o.sub ? (o.arity - 1) / 2 : o.arity / 2);
            for (std::uint16_t k = 0; k < pairs; ++k) {
                put(" WHEN ");
                expr(n, i, p_none);
                put(" THEN ");
                expr(n, i, p_none);
            }
            if (o.sub) {
                put(" ELSE ");
                expr(n, i, p_none);
            }
            put(" END");
            break;
        }
        case OpKind::cast:
            put("CAST(");
            expr(n, i, p_none);
            put(" AS ");
            put(d_.type_name(static_cast<core::SqlType>(o.a)));
            put(')');
            break;
        case OpKind::func: {
            put(d_.function_name(static_cast<Func>(o.a)));
            put('(');
            std::uint16_t args = o.arity;
            if (o.sub & core::FuncFlags::filter) --args;
            if (o.sub & core::FuncFlags::distinct) put("DISTINCT ");
            if (o.sub & core::FuncFlags::star)
                put('*');
            else
                expression_list(n, i, args, ", ");
            put(')');
            if (o.sub & core::FuncFlags::filter) {
                put(" FILTER (WHERE ");
                expr(n, i, p_none);
                put(')');
            }
            break;
        }
        case OpKind::window:
            expr(n, i, p_atom);
            put(" OVER ");
            if (o.a) {
                quoted(n.str(o.a - 1));
            } else {
                put('(');
                if (o.arity > 1) expr(n, i, p_none);
                put(')');
            }
            break;
        case OpKind::window_spec: {
            bool any = false;
            if (o.a) {
                put("PARTITION BY ");
                expression_list(n, i, o.a, ", ");
                any = true;
            }
            if (o.b) {
                put(any ? " ORDER BY " : "ORDER BY ");
                expression_list(n, i, o.b, ", ");
                any = true;
            }
            if (o.c) {
                if (any) put(' ');
                expr(n, i, p_none);
            }
            break;
        }
        case OpKind::frame: frame(o); break;
        case OpKind::order_item: {
            expr(n, i, p_none);
            bool desc = (o.sub & core::OrderFlags::desc) != 0;
            bool nf = (o.sub & core::OrderFlags::nulls_first) != 0;
            bool nl = (o.sub & core::OrderFlags::nulls_last) != 0;
            if (flip_) {
                desc = !desc;
                std::swap(nf, nl);
            }
            put(desc ? " DESC" : " ASC");
            if (nf) put(" NULLS FIRST");
            if (nl) put(" NULLS LAST");
            break;
        }
        case OpKind::alias:
            expr(n, i, p_none);
            put(" AS ");
            quoted(n.str(o.a));
            break;
        case OpKind::raw: raw_fragment(n, i, o); break;
        case OpKind::assign: {
            bool u = unqualified_;
            unqualified_ = true;
            expr(n, i, p_atom);
            unqualified_ = u;
            put(" = ");
            expr(n, i, p_none);
            break;
        }
        case OpKind::star:
            if (o.a) {
                quoted(n.str(o.a - 1));
                put('.');
            }
            put('*');
            break;
    }
}

void Renderer::predicate(const util::SmallVec<Predicate, 4>& preds, int min_prec) {
    // Left to right, iteratively (a chain of 100k where() pipes is fine):
    // ((p0 AND p1) OR p2) AND p3 -- a parenthesis closes wherever the operator changes.
    const std::size_t n = preds.size();
    auto op_of = [&](std::size_t k) { return preds[k].is_or ? BinaryOp::or_ : BinaryOp::and_; };
    auto operand = [&](const Node& node, BinaryOp op) {
        std::uint32_t i = 0;
        const std::uint32_t count = node.top_count();
        if (count > 1) {  // several expressions in one node are an AND group
            bool p = op != BinaryOp::and_;
            if (p) put('(');
            for (std::uint32_t k = 0; k < count; ++k) {
                if (k) put(" AND ");
                expr(node, i, p_not);
            }
            if (p) put(')');
            return;
        }
        expr(node, i, is_logical(node.ops()[0], op) ? binary_prec(op) : p_not);
    };
    if (n == 1) {
        std::uint32_t i = 0;
        const Node& only = *preds[0].node;
        if (only.top_count() == 1) {
            expr(only, i, min_prec);
        } else {
            bool p = min_prec > p_and;
            if (p) put('(');
            operand(only, BinaryOp::and_);
            if (p) put(')');
        }
        return;
    }
    const bool outer = binary_prec(op_of(n - 1)) < min_prec;
    if (outer) put('(');
    for (std::size_t k = 2; k < n; ++k)
        if (op_of(k) != op_of(k - 1)) put('(');
    operand(*preds[0].node, op_of(1));
    for (std::size_t k = 1; k < n; ++k) {
        put(binary_text(op_of(k)));
        operand(*preds[k].node, op_of(k));
        if (k + 1 < n && op_of(k + 1) != op_of(k)) put(')');
    }
    if (outer) put(')');
}

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
        for (std::size_t k = 0; k < s.table->columns.size(); ++k) {
            if (k) put(", ");
            if (qualify_) {
                if (s.alias.empty()) put(s.table->quoted); else quoted(s.alias);
                put('.');
            }
            put(s.table->columns[k].quoted);
        }
    }
    put(" FROM ");
    source_of(root);
    for (auto* j : p.joins) {
        auto kind = static_cast<core::JoinKind>(j->sub);
        if (kind == core::JoinKind::right) check(core::Feature::right_join);
        if (kind == core::JoinKind::full) check(core::Feature::full_join);
        put(join_text(kind));
        source_of(*j);
        if (j->top_count()) {
            put(" ON ");
            std::uint32_t i = 0;
            expr(*j, i, p_none);
        }
    }
    if (!p.wheres.empty()) {
        put(" WHERE ");
        predicate(p.wheres, p_none);
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
                    !mp.ctes.empty() || !mp.set_ops.empty() || mp.lock;
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
    return p.limit || p.limit_one || p.offset || !p.orders.empty() || !p.group_bys.empty() || !p.havings.empty() ||
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
    for (const Node* n = &leaf; n; n = n->parent.get())
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
            for (const Node* n = &leaf; n && !has_conflict; n = n->parent.get()) has_conflict = n->kind == Clause::on_conflict;
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
    for (const Node* n = &leaf; n && !conflict; n = n->parent.get())
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
    for (const Node* n = &leaf; n; n = n->parent.get())
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
        if (!p.wheres.empty()) {
            put(any ? " AND " : " WHERE ");
            predicate(p.wheres, any ? p_not : p_none);
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
        if (!p.wheres.empty()) {
            put(" WHERE ");
            predicate(p.wheres, p_none);
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

void render_into(const Node& statement, const Dialect& d, std::string* sql, std::vector<Value>& params) {
    render::Renderer r(d, sql, params);
    r.statement(statement);
}

Rendered render(const NodePtr& statement, const Dialect& d) {
    Rendered out;
    out.sql.reserve(256);
    out.params.reserve(16);
    render_into(*statement, d, &out.sql, out.params);
    out.keep = statement;
    return out;
}

}  // namespace quarry::core
