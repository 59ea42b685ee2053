// SPDX-License-Identifier: MIT
#include "quarry/core/lowerer.hpp"

#include <cstring>
#include <memory>
#include <new>

#include "util/hash.hpp"
#include "util/identifier.hpp"

namespace quarry::core {

struct Lowerer::Scratch {
    std::vector<Op> ops;
    std::vector<Value> params;  // text/blob payloads hold an offset into chars until finish()
    std::vector<ColumnRef> cols;
    std::vector<NodePtr> subs;
    std::vector<StrRef> strs;
    std::string chars;
    std::uint64_t shape = 0, lengths = 0;
    std::uint32_t top = 0;
    bool listing = false;
    std::uint32_t list_start = 0;
    std::uint16_t parts[2] = {0, 0};
    int n_parts = 0;

    void reset() {
        ops.clear();
        params.clear();
        cols.clear();
        subs.clear();
        strs.clear();
        chars.clear();
        shape = lengths = 0;
        top = 0;
        listing = false;
        parts[0] = parts[1] = 0;
        n_parts = 0;
    }
};

namespace {
// A stack of scratches per thread, so lowering may nest without allocating after warm-up.
struct ScratchStack {
    std::vector<std::unique_ptr<Lowerer::Scratch>> items;
    std::size_t depth = 0;
};
thread_local ScratchStack t_stack;

constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
}  // namespace

Lowerer::Lowerer() {
    auto& st = t_stack;
    if (st.depth == st.items.size()) st.items.push_back(std::make_unique<Scratch>());
    s_ = st.items[st.depth++].get();
    s_->reset();
}

Lowerer::~Lowerer() { --t_stack.depth; }


std::uint32_t Lowerer::op(OpKind kind, std::uint8_t sub, std::uint16_t arity, std::uint32_t a, std::uint32_t b,
                          std::uint32_t c) {
    s_->ops.push_back(Op{kind, sub, arity, a, b, c});
    // In-list lengths vary the SQL only where a dialect expands lists: keep them out of the shape.
    std::uint32_t shaped_b = kind == OpKind::in_list ? 0 : b;
    s_->shape = util::mix(s_->shape, (std::uint64_t(kind) << 56) | (std::uint64_t(sub) << 48) |
                                         (std::uint64_t(arity) << 32) | a);
    s_->shape = util::mix(s_->shape, (std::uint64_t(shaped_b) << 32) | c);
    return static_cast<std::uint32_t>(s_->ops.size() - 1);
}

void Lowerer::set_arity(std::uint32_t op_index, std::uint16_t arity) {
    s_->ops[op_index].arity = arity;
    s_->shape = util::mix(s_->shape, 0xa417'0000u + arity);
}

void Lowerer::column(const ColumnInfo* col, std::string_view source_alias) {
    std::uint32_t source = source_alias.empty() ? 0 : identifier(source_alias) + 1;
    s_->cols.push_back(ColumnRef{col, source});
    s_->shape = util::mix(s_->shape, reinterpret_cast<std::uintptr_t>(col));
    op(OpKind::column, 0, 0, static_cast<std::uint32_t>(s_->cols.size() - 1));
}

void Lowerer::excluded(const ColumnInfo* col) {
    s_->cols.push_back(ColumnRef{col, 0});
    s_->shape = util::mix(s_->shape, reinterpret_cast<std::uintptr_t>(col));
    op(OpKind::excluded, 0, 0, static_cast<std::uint32_t>(s_->cols.size() - 1));
}

void Lowerer::param(Value v) {
    s_->params.push_back(v);
    if (s_->listing) {
        s_->lengths = util::mix(s_->lengths, static_cast<std::uint64_t>(v.kind) + 0x1157);
        return;
    }
    // The value's kind is part of the shape: a prepared statement's parameter types follow it.
    op(OpKind::param, static_cast<std::uint8_t>(v.kind), 0, static_cast<std::uint32_t>(s_->params.size() - 1));
}

void Lowerer::param_text(std::string_view s) {
    Value v;
    v.kind = ValueKind::text;
    v.size = static_cast<std::uint32_t>(s.size());
    v.i = static_cast<std::int64_t>(s_->chars.size());
    s_->chars.append(s);
    param(v);
}

void Lowerer::param_blob(std::string_view bytes) {
    param_text(bytes);
    s_->params.back().kind = ValueKind::blob;
    if (!s_->listing) s_->ops.back().sub = static_cast<std::uint8_t>(ValueKind::blob);
    s_->shape = util::mix(s_->shape, 0xb10b);
}

std::uint32_t Lowerer::begin_list() {
    s_->listing = true;
    s_->list_start = static_cast<std::uint32_t>(s_->params.size());
    return s_->list_start;
}

std::uint32_t Lowerer::end_list() {
    s_->listing = false;
    return static_cast<std::uint32_t>(s_->params.size()) - s_->list_start;
}

void Lowerer::patch(std::uint32_t op_index, std::uint32_t a, std::uint32_t b) {
    s_->ops[op_index].a = a;
    s_->ops[op_index].b = b;
    if (s_->ops[op_index].kind == OpKind::in_list) s_->lengths = util::mix(s_->lengths, b + 1);
}

std::uint32_t Lowerer::string(std::string_view s) {
    s_->strs.push_back(StrRef{static_cast<std::uint32_t>(s_->chars.size()), static_cast<std::uint32_t>(s.size())});
    s_->chars.append(s);
    s_->shape = util::mix(s_->shape, util::hash_bytes(s));
    return static_cast<std::uint32_t>(s_->strs.size() - 1);
}

std::uint32_t Lowerer::identifier(std::string_view s) {
    util::check_identifier(s, "identifier");
    return string(s);
}

std::uint32_t Lowerer::subquery(const NodePtr& q) {
    s_->subs.push_back(q);
    s_->shape = util::mix(s_->shape, q->shape);
    s_->lengths = util::mix(s_->lengths, q->lengths);
    return static_cast<std::uint32_t>(s_->subs.size() - 1);
}

void Lowerer::integer(std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    op(OpKind::integer, 0, 0, static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(u >> 32));
}

void Lowerer::end_expr() { ++s_->top; }

void Lowerer::mark_part() {
    if (s_->n_parts < 2) s_->parts[s_->n_parts++] = static_cast<std::uint16_t>(s_->top);
}

void Lowerer::embed(const Node& e) {
    // Re-index the embedded node's references into this node's tables.
    const auto ops = e.ops();
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pending_lists;  // (op here, op in e)
    for (std::uint32_t i = 0; i < ops.size(); ++i) {
        Op o = ops[i];
        std::uint32_t at = 0;
        if (o.kind == OpKind::column || o.kind == OpKind::excluded) {
            auto ref = e.cols()[o.a];
            std::string_view src = ref.source ? e.str(ref.source - 1) : std::string_view{};
            if (o.kind == OpKind::column)
                column(ref.column, src);
            else
                excluded(ref.column);
        } else if (o.kind == OpKind::param) {
            const Value& v = e.params()[o.a];
            if (v.kind == ValueKind::text) param_text(v.text());
            else if (v.kind == ValueKind::blob) param_blob(v.text());
            else param(v);
        } else {
            if (o.kind == OpKind::subquery) o.a = subquery(e.subs()[o.a]);
            if (o.kind == OpKind::alias || o.kind == OpKind::raw) o.a = string(e.str(o.a));
            if ((o.kind == OpKind::window || o.kind == OpKind::star) && o.a) o.a = string(e.str(o.a - 1)) + 1;
            at = op(o.kind, o.sub, o.arity, o.a, o.b, o.c);
            if (o.kind == OpKind::in_list) pending_lists.push_back({at, i});
        }
        // A list's values follow its left operand: copy them once that operand is complete.
        while (!pending_lists.empty() && skip_expr(ops, pending_lists.back().second + 1) == i + 1) {
            auto [dst, src] = pending_lists.back();
            pending_lists.pop_back();
            std::uint32_t first = begin_list();
            for (std::uint32_t k = 0; k < ops[src].b; ++k) {
                const Value& v = e.params()[ops[src].a + k];
                if (v.kind == ValueKind::text) param_text(v.text());
                else if (v.kind == ValueKind::blob) param_blob(v.text());
                else param(v);
            }
            patch(dst, first, end_list());
        }
    }
}

NodePtr Lowerer::finish(Clause kind, NodePtr parent, std::uint8_t sub, std::uint16_t flags, const TableInfo* table,
                        std::uint32_t alias) {
    Scratch& s = *s_;
    const std::size_t head = align8(sizeof(Node));
    const std::size_t off_params = head;
    const std::size_t off_cols = off_params + s.params.size() * sizeof(Value);
    const std::size_t off_subs = off_cols + s.cols.size() * sizeof(ColumnRef);
    const std::size_t off_ops = off_subs + s.subs.size() * sizeof(NodePtr);
    const std::size_t off_strs = off_ops + s.ops.size() * sizeof(Op);
    const std::size_t off_chars = off_strs + s.strs.size() * sizeof(StrRef);
    const std::size_t total = off_chars + s.chars.size();

    void* mem = ::operator new(total);
    Node* n = new (mem) Node();
    auto* base = static_cast<unsigned char*>(mem);
    n->kind = kind;
    n->sub = sub;
    n->flags = flags;
    n->parts[0] = s.parts[0];
    n->parts[1] = s.parts[1];
    n->alias = alias;
    n->table = table;
    n->n_ops_ = static_cast<std::uint32_t>(s.ops.size());
    n->n_params_ = static_cast<std::uint32_t>(s.params.size());
    n->n_cols_ = static_cast<std::uint32_t>(s.cols.size());
    n->n_subs_ = static_cast<std::uint32_t>(s.subs.size());
    n->n_strs_ = static_cast<std::uint32_t>(s.strs.size());
    n->n_chars_ = static_cast<std::uint32_t>(s.chars.size());
    n->n_top_ = s.top;
    n->off_ops_ = static_cast<std::uint32_t>(off_ops);
    n->off_params_ = static_cast<std::uint32_t>(off_params);
    n->off_cols_ = static_cast<std::uint32_t>(off_cols);
    n->off_subs_ = static_cast<std::uint32_t>(off_subs);
    n->off_strs_ = static_cast<std::uint32_t>(off_strs);
    n->off_chars_ = static_cast<std::uint32_t>(off_chars);

    const char* chars = reinterpret_cast<const char*>(base + off_chars);
    if (!s.chars.empty()) std::memcpy(base + off_chars, s.chars.data(), s.chars.size());
    auto* params = reinterpret_cast<Value*>(base + off_params);
    for (std::size_t i = 0; i < s.params.size(); ++i) {
        params[i] = s.params[i];
        if (params[i].kind == ValueKind::text || params[i].kind == ValueKind::blob)
            params[i].s = chars + s.params[i].i;
    }
    if (!s.cols.empty()) std::memcpy(base + off_cols, s.cols.data(), s.cols.size() * sizeof(ColumnRef));
    auto* subs = reinterpret_cast<NodePtr*>(base + off_subs);
    for (std::size_t i = 0; i < s.subs.size(); ++i) new (subs + i) NodePtr(std::move(s.subs[i]));
    if (!s.ops.empty()) std::memcpy(base + off_ops, s.ops.data(), s.ops.size() * sizeof(Op));
    if (!s.strs.empty()) std::memcpy(base + off_strs, s.strs.data(), s.strs.size() * sizeof(StrRef));

    std::uint64_t h = parent ? parent->shape : 0x51f7'0000'0000'0001ull;
    h = util::mix(h, (std::uint64_t(kind) << 40) | (std::uint64_t(sub) << 32) | (std::uint64_t(flags) << 16) |
                         s.parts[0]);
    h = util::mix(h, (std::uint64_t(s.parts[1]) << 32) | s.top);
    h = util::mix(h, reinterpret_cast<std::uintptr_t>(table));
    h = util::mix(h, alias);
    n->shape = util::mix(h, s.shape);
    n->lengths = util::mix(parent ? parent->lengths : 0, s.lengths);
    n->parent = std::move(parent);
    return NodePtr(n);
}


}  // namespace quarry::core
