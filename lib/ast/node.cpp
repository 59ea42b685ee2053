// SPDX-License-Identifier: MIT
#include <cstring>
#include <new>

#include "quarry/core/ast.hpp"
#include "util/identifier.hpp"

namespace quarry::core {

bool operator==(const Value& a, const Value& b) {
    if (a.kind != b.kind || a.size != b.size) return false;
    switch (a.kind) {
        case ValueKind::null: return true;
        case ValueKind::real: return a.d == b.d;
        case ValueKind::text:
        case ValueKind::blob: return a.size == 0 || std::memcmp(a.s, b.s, a.size) == 0;
        case ValueKind::array:
            for (std::uint32_t i = 0; i < a.size; ++i)
                if (!(a.items[i] == b.items[i])) return false;
            return true;
        default: return a.i == b.i;
    }
}

std::string_view to_string(ValueKind k) {
    static constexpr std::string_view names[] = {"null", "boolean", "integer", "real", "text", "blob", "timestamp", "array"};
    return names[static_cast<int>(k)];
}

std::string_view to_string(SqlType t) {
    static constexpr std::string_view names[] = {"any", "boolean", "integer", "bigint", "real", "text",
                                                 "blob", "timestamp", "date", "json", "uuid"};
    return names[static_cast<int>(t)];
}

const ColumnInfo* TableInfo::find(std::string_view column) const noexcept {
    for (auto& c : columns)
        if (c.name == column) return &c;
    return nullptr;
}

void init_table_info(TableInfo& t, std::string_view name, std::vector<ColumnInfo> columns) {
    util::check_identifier(name, "table");
    t.name = name;
    t.quoted = util::quoted(name);
    t.columns = std::move(columns);
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        auto& c = t.columns[i];
        util::check_identifier(c.name, "column");
        c.quoted = util::quoted(c.name);
        c.index = static_cast<std::uint16_t>(i);
        c.table = &t;
        if (c.primary_key) t.primary_key.push_back(c.index);
    }
}

void Node::release() const noexcept {
    const Node* n = this;
    // Iterative along the parent chain: a query refined 100k times must not recurse 100k deep.
    while (n && n->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        const Node* parent = const_cast<NodePtr&>(n->parent).release();
        auto subs = n->subs();
        for (std::uint32_t i = 0; i < subs.size(); ++i) subs[i].~NodePtr();
        n->~Node();
        ::operator delete(const_cast<Node*>(n));
        n = parent;
    }
}

std::uint32_t skip_expr(Span<Op> ops, std::uint32_t i) noexcept {
    std::uint32_t pending = 1;
    while (pending) {
        pending += ops[i].arity;
        --pending;
        ++i;
    }
    return i;
}

}  // namespace quarry::core
