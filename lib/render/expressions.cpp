// SPDX-License-Identifier: MIT
// The visitor: expressions, parameters, columns and predicate chains.
#include <charconv>
#include <utility>

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

void Renderer::quoted(std::string_view ident) {
    if (out_) out_->quoted(ident);
}

void Renderer::check(core::Feature f) {
    if (!d_.supports(f)) throw UnsupportedFeature(d_.name(), core::to_string(f));
}

void Renderer::param(const Node& n, std::uint32_t index) {
    const Value& v = n.params()[index];
    if (plan_) plan_->single(n, index);
    params_.push_back(v);
    if (out_) {
        out_->advance(d_.placeholder(out_->room(Dialect::max_placeholder), static_cast<std::uint32_t>(params_.size())));
        if (untyped_ || v.kind == ValueKind::real) [[unlikely]] parameter_cast(v);
    }
}

void Renderer::parameter_cast(const Value& v) {
    if (!printer_) put(d_.parameter_cast(v.kind, v.element));
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
        // Innermost scope first (outer() skips scopes). Within a scope, a column named by its
        // alias is that source's; a plain column is its table's unaliased source, or else the
        // table's only aliased one. Two aliases of its table and no plain source: ambiguous.
        const unsigned max_scope = scope_ - outer_levels;
        const Source* found = nullptr;
        const Source* other_alias = nullptr;
        for (std::size_t k = sources_.size(); k-- > 0;) {
            const Source* it = &sources_[k];
            if (it->scope > max_scope) continue;
            if (found && it->scope != found->scope) break;
            if (!src.empty()) {
                if (it->alias == src) found = it;
            } else if (it->table == r.column->table) {
                if (found && found->alias.empty()) continue;  // the plain source wins
                if (found && it->alias.empty()) other_alias = nullptr;
                else if (found) other_alias = found;
                found = it;
            }
        }
        if (found && other_alias && !found->alias.empty())
            throw QueryError("column " + r.column->table->name + "." + r.column->name + " could be " +
                             std::string(found->alias) + "." + r.column->name + " or " + std::string(other_alias->alias) +
                             "." + r.column->name + ": name its source, as in alias<T>(\"" + std::string(found->alias) +
                             "\")(&T::" + r.column->name + ")");
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
        if (found->alias.empty()) {
            out_->append(r.column->qualified);  // found by table: it is the column's own
            return;
        }
        quoted(found->alias);
        out_->push_back('.');
    } else if (!sources_.empty() && !unqualified_) {
        // Unqualified: the column must still belong to the query's only source.
        bool ok = false;
        for (auto& s : sources_)
            if (s.table == r.column->table) {
                ok = true;
                break;
            }
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
    Untyped inner(*this, false);
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

void Renderer::in_list(const Node& n, std::uint32_t at) {
    const Op& o = n.ops()[at];
    const Value* items = n.params().begin() + o.a;
    if (d_.in_list_style() == core::InListStyle::expanded) {
        put(o.sub ? " NOT IN (" : " IN (");
        for (std::uint32_t k = 0; k < o.b; ++k) {
            if (k) put(", ");
            param(n, o.a + k);
        }
        put(')');
    } else {
        put(o.sub ? " <> ALL(" : " = ANY(");
        Value arr;
        arr.kind = ValueKind::array;
        arr.element = static_cast<ValueKind>(o.c);
        arr.size = o.b;
        arr.items = items;
        if (plan_) plan_->array(n, at);
        params_.push_back(arr);
        if (out_) {
            out_->advance(d_.placeholder(out_->room(Dialect::max_placeholder), static_cast<std::uint32_t>(params_.size())));
            if (arr.element == ValueKind::real) parameter_cast(arr);
        }
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
    bound(o.c & 0xff, o.a);
    put(" AND ");
    bound(o.c >> 8, o.b);
}

void Renderer::raw_fragment(const Node& n, std::uint32_t& i, const Op& o) {
    std::string_view sql = n.str(o.a);
    Untyped as_written(*this, false);  // substr(name, ?) takes an integer, not a bigint
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

void Renderer::compound(const Node& n, std::uint32_t& i, int min_prec) {
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
    const std::uint32_t at = i;
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
        case OpKind::param: param(n, o.a); break;
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
            } else {
                // Each operand types the other, unless both are parameters.
                Untyped typed(*this, ops[i].kind == OpKind::param && ops[i + 1].kind == OpKind::param);
                if (prec == p_cmp) {
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
            in_list(n, at);
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
                put(o.sub ? " NOT IN " : " IN ");
                put(d_.row_list_open());
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
                {
                    Untyped condition(*this, false);
                    expr(n, i, p_none);
                }
                put(" THEN ");
                Untyped result(*this, true);
                expr(n, i, p_none);
            }
            if (o.sub) {
                put(" ELSE ");
                Untyped result(*this, true);
                expr(n, i, p_none);
            }
            put(" END");
            break;
        }
        case OpKind::cast: {
            put("CAST(");
            Untyped typed(*this, false);  // the CAST says what it is
            expr(n, i, p_none);
            put(" AS ");
            put(d_.type_name(static_cast<core::SqlType>(o.a)));
            put(')');
            break;
        }
        case OpKind::func: {
            put(d_.function_name(static_cast<Func>(o.a)));
            put('(');
            std::uint16_t args = o.arity;
            if (o.sub & core::FuncFlags::filter) --args;
            if (o.sub & core::FuncFlags::distinct) put("DISTINCT ");
            if (o.sub & core::FuncFlags::star) {
                put('*');
            } else {
                Untyped arguments(*this, true);
                expression_list(n, i, args, ", ");
            }
            put(')');
            if (o.sub & core::FuncFlags::filter) {
                put(" FILTER (WHERE ");
                Untyped condition(*this, false);
                expr(n, i, p_none);
                put(')');
            }
            break;
        }
        case OpKind::window: {
            // reverse_order()/last() flip the query's ORDER BY, not the window's own ordering.
            const bool f = std::exchange(flip_, false);
            expr(n, i, p_atom);
            put(" OVER ");
            if (o.a) {
                quoted(n.str(o.a - 1));
            } else {
                put('(');
                if (o.arity > 1) expr(n, i, p_none);
                put(')');
            }
            flip_ = f;
            break;
        }
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
        case OpKind::raw: {
            // The fragment's text is opaque: it may hold an OR or a + that binds looser than the
            // operator around it, so as any operand it is parenthesised.
            bool p = open(p_none);
            raw_fragment(n, i, o);
            close(p);
            break;
        }
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


}  // namespace quarry::render
