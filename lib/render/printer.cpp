// SPDX-License-Identifier: MIT
// describe(): a query value as its pipe chain, each expression fully parenthesised.
#include <charconv>

#include "quarry/core/render.hpp"
#include "render/renderer.hpp"
#include "util/identifier.hpp"

namespace quarry::core {
namespace {

class DebugDialect final : public Dialect {
public:
    std::string_view name() const noexcept override { return "debug"; }
    char* placeholder(char* out, std::uint32_t n) const override {
        *out = '$';
        return std::to_chars(out + 1, out + max_placeholder, n).ptr;
    }
    std::string_view boolean(bool v) const noexcept override { return v ? "TRUE" : "FALSE"; }
    bool supports(Feature) const noexcept override { return true; }
    InListStyle in_list_style() const noexcept override { return InListStyle::array; }
    CompoundWrap compound_wrap() const noexcept override { return CompoundWrap::parentheses; }
    std::string_view type_name(SqlType t) const noexcept override { return to_string(t); }
    std::uint32_t max_params() const noexcept override { return 0xffffffffu; }
};

std::string_view clause_name(Clause c) {
    static constexpr std::string_view names[] = {
        "from", "from_query", "insert", "update", "delete", "where", "or_where", "having", "or_having", "select",
        "join", "group_by", "order_by", "prepend_order_by", "limit", "offset", "distinct", "distinct_on", "lock",
        "with", "set_op", "window", "exclude", "reverse_order", "first", "last", "deleted", "limit_per", "on_conflict", "returning",
        "set"};
    return names[static_cast<int>(c)];
}

void append_value(std::string& out, const Value& v) {
    switch (v.kind) {
        case ValueKind::null: out += "NULL"; break;
        case ValueKind::boolean: out += v.i ? "true" : "false"; break;
        case ValueKind::integer:
        case ValueKind::timestamp: out += std::to_string(v.i); break;
        case ValueKind::real: out += std::to_string(v.d); break;
        case ValueKind::text:
            out += '\'';
            for (char c : v.text()) {
                if (c == '\'') out += '\'';
                out += c;
            }
            out += '\'';
            break;
        case ValueKind::blob:
            out += '<';
            out += std::to_string(v.size);
            out += " bytes>";
            break;
        case ValueKind::array:
            out += '{';
            for (std::uint32_t i = 0; i < v.size; ++i) {
                if (i) out += ", ";
                append_value(out, v.items[i]);
            }
            out += '}';
            break;
    }
    if (v.kind != ValueKind::null) {
        out += "::";
        out += to_string(v.kind);
    }
}

// Appends the chain ending at `leaf`; subqueries are described inline, indented, sharing the
// parameter numbering of the whole statement.
void describe_chain(const Node* leaf, render::Renderer& r, std::string& out, const std::string& indent) {
    std::vector<const Node*> chain;
    for (const Node* n = leaf; n; n = n->parent) chain.push_back(n);
    for (std::size_t k = chain.size(); k-- > 0;) {
        const Node& n = *chain[k];
        if (k + 1 != chain.size()) {  // appended piecewise: g++ 12 -O3 misreports `"\n" + indent` (-Wrestrict)
            out += '\n';
            out += indent;
            out += "| ";
        }
        out += clause_name(n.kind);
        if (n.table) {
            out += ' ';
            out += n.table->quoted;
        }
        if (n.alias) {
            out += " AS ";
            util::append_quoted(out, n.alias_name());
        }
        if (n.kind == Clause::exclude) {
            out += ' ';
            out += clause_name(static_cast<Clause>(n.sub));
        }
        if (n.top_count()) {
            out += ' ';
            std::uint32_t i = 0;
            r.expression_list(n, i, n.top_count(), ", ");
            r.flush_to(out);
        }
        for (std::uint32_t s = 0; s < n.subs().size(); ++s) {
            out += '\n';
            out += indent;
            out += "    (subquery ";
            out += std::to_string(s + 1);
            out += ": ";
            describe_chain(n.subs()[s].get(), r, out, indent + "    ");
            out += ')';
        }
    }
}

}  // namespace

std::string describe(const NodePtr& statement) {
    static const DebugDialect* const debug_dialect = new DebugDialect();  // never destroyed
    const DebugDialect& debug = *debug_dialect;
    std::string out;
    std::vector<Value> params;
    render::Renderer r(debug, true, params);
    r.set_printer(true);
    describe_chain(statement.get(), r, out, "");
    for (std::size_t i = 0; i < params.size(); ++i) {
        out += i ? ", " : "\n-- params: ";
        out += '$';
        out += std::to_string(i + 1);
        out += " = ";
        append_value(out, params[i]);
    }
    return out;
}

}  // namespace quarry::core
