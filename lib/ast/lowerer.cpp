// SPDX-License-Identifier: MIT
#include "quarry/core/lowerer.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "util/hash.hpp"
#include "util/identifier.hpp"

namespace quarry::core {

namespace {
constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

// Arrays of a few 8- or 16-byte items: an inlined loop beats a call into libc's memcpy.
template <class T>
void copy_small(unsigned char* dst, const T* src, std::uint32_t n) {
    static_assert(std::is_trivially_copyable_v<T>);
    for (std::uint32_t i = 0; i < n; ++i) std::memcpy(dst + i * sizeof(T), src + i, sizeof(T));
}
}  // namespace

Lowerer::~Lowerer() {
    if (finished_) return;
    for (std::uint32_t i = 0; i < subs_.size(); ++i) subs_[i]->release();
}


void Lowerer::set_arity(std::uint32_t op_index, std::uint16_t arity) {
    ops_[op_index].arity = arity;
    shape_ = util::mix(shape_, 0xa417'0000u + arity);
}

void Lowerer::aliased_column(const ColumnInfo* col, std::string_view source_alias) {
    std::uint32_t source = identifier(source_alias) + 1;
    cols_.push_back(ColumnRef{col, source});
    shape_ = util::mix(shape_, reinterpret_cast<std::uintptr_t>(col));
    op(OpKind::column, outer_, 0, static_cast<std::uint32_t>(cols_.size() - 1));
}

void Lowerer::excluded(const ColumnInfo* col) {
    cols_.push_back(ColumnRef{col, 0});
    shape_ = util::mix(shape_, reinterpret_cast<std::uintptr_t>(col));
    op(OpKind::excluded, 0, 0, static_cast<std::uint32_t>(cols_.size() - 1));
}

void Lowerer::param_text(std::string_view s) {
    Value v;
    v.kind = ValueKind::text;
    v.size = static_cast<std::uint32_t>(s.size());
    v.i = static_cast<std::int64_t>(chars_.size());
    chars_.append(s.data(), static_cast<std::uint32_t>(s.size()));
    param(v);
}

void Lowerer::params_into(std::vector<Value>& out) const {
    for (std::uint32_t i = 0; i < params_.size(); ++i) {
        Value v = params_[i];
        if (v.kind == ValueKind::text || v.kind == ValueKind::blob) v.s = chars_.data() + params_[i].i;
        out.push_back(v);
    }
}

void Lowerer::param_blob(std::string_view bytes) {
    param_text(bytes);
    params_.back().kind = ValueKind::blob;
    if (!listing_) ops_.back().sub = static_cast<std::uint8_t>(ValueKind::blob);
    shape_ = util::mix(shape_, 0xb10b);
}

std::uint32_t Lowerer::begin_list() {
    listing_ = true;
    list_start_ = static_cast<std::uint32_t>(params_.size());
    return list_start_;
}

std::uint32_t Lowerer::end_list() {
    listing_ = false;
    return static_cast<std::uint32_t>(params_.size()) - list_start_;
}

void Lowerer::patch(std::uint32_t op_index, std::uint32_t a, std::uint32_t b) {
    ops_[op_index].a = a;
    ops_[op_index].b = b;
    if (ops_[op_index].kind == OpKind::in_list) lengths_ = util::mix(lengths_, b + 1);
}

std::uint32_t Lowerer::string(std::string_view s) {
    strs_.push_back(StrRef{static_cast<std::uint32_t>(chars_.size()), static_cast<std::uint32_t>(s.size())});
    chars_.append(s.data(), static_cast<std::uint32_t>(s.size()));
    shape_ = util::mix(shape_, util::hash_bytes(s));
    return static_cast<std::uint32_t>(strs_.size() - 1);
}

std::uint32_t Lowerer::identifier(std::string_view s) {
    util::check_identifier(s, "identifier");
    return string(s);
}

std::uint32_t Lowerer::subquery(const NodePtr& q) {
    q->retain();
    subs_.push_back(q.get());
    shape_ = util::mix(shape_, q->shape);
    lengths_ = util::mix(lengths_, q->lengths);
    return static_cast<std::uint32_t>(subs_.size() - 1);
}

void Lowerer::integer(std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    op(OpKind::integer, 0, 0, static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(u >> 32));
}

void Lowerer::mark_part() {
    if (n_parts_ < 2) parts_[n_parts_++] = static_cast<std::uint16_t>(top_);
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
            if (o.kind == OpKind::column) {
                outer_ = static_cast<std::uint8_t>(outer_ + o.sub);
                column(ref.column, src);
                outer_ = static_cast<std::uint8_t>(outer_ - o.sub);
            }
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
            if (o.kind == OpKind::in_list) o.a = 0;  // as direct lowering does; patched below
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

namespace {
// A block that a chain is expected to grow into holds at least this much: an ordinary chain
// built in one expression then fits in one allocation.
constexpr std::size_t growth_block = 1024;

// Nobody else holds the block and `parent` is its last node: the next node may go after it.
bool owns_tail(const Node* parent, const Block* b) noexcept {
    return b && !b->immortal && b->tail == parent && b->refs.load(std::memory_order_acquire) == 1;
}

// Room for a chain to grow is reserved only where it is likely to: a chain starting at a root
// or a statement, or one that filled its block. A node piped onto a shared value (`q = q | x` in
// a loop) or a filter term gets an exact fit, so such patterns cost no more memory than nodes.
bool expect_growth(Clause kind, const Node* parent, bool owned) noexcept {
    if (!parent) return kind == Clause::from_table || kind == Clause::from_query || kind == Clause::insert ||
                        kind == Clause::update || kind == Clause::delete_;
    return parent->block_is_immortal() || owned;
}
}  // namespace

NodePtr Lowerer::finish(Clause kind, NodePtr parent, std::uint8_t sub, std::uint16_t flags, const TableInfo* table,
                        std::uint32_t alias) {
    const std::uint32_t n_params = params_.size(), n_cols = cols_.size(), n_subs = subs_.size(),
                        n_ops = ops_.size(), n_strs = strs_.size(), n_chars = chars_.size();
    const std::size_t off_params = align8(sizeof(Node));
    const std::size_t off_cols = off_params + n_params * sizeof(Value);
    const std::size_t off_subs = off_cols + n_cols * sizeof(ColumnRef);
    const std::size_t off_ops = off_subs + n_subs * sizeof(NodePtr);
    const std::size_t off_strs = off_ops + n_ops * sizeof(Op);
    const std::size_t off_chars = off_strs + n_strs * sizeof(StrRef);
    const std::size_t total = align8(off_chars + n_chars);

    const Node* p = parent.get();
    Block* b = p ? p->block_ : nullptr;
    const bool owned = owns_tail(p, b);
    if (owned && b->capacity - b->used >= total) {
        parent.release();  // the caller's count now belongs to the new node, in the same block
    } else {
        const std::size_t want = Block::first_offset + total;
        std::uint32_t bytes = 0;
        void* mem = node_allocate(expect_growth(kind, p, owned) ? std::max(want, growth_block) : want, bytes);
        b = new (mem) Block();
        b->capacity = bytes;
        b->used = Block::first_offset;
        b->below = std::move(parent);
    }
    auto* base = reinterpret_cast<unsigned char*>(b) + b->used;
    Node* n = new (base) Node;  // default-initialised: every field is written below
    b->used += static_cast<std::uint32_t>(total);
    b->tail = n;
    n->block_ = b;
    n->bytes_ = static_cast<std::uint32_t>(total);
    n->parent = p;
    n->kind = kind;
    n->sub = sub;
    n->flags = flags;
    n->parts[0] = parts_[0];
    n->parts[1] = parts_[1];
    n->alias = alias;
    n->table = table;
    n->n_ops_ = n_ops;
    n->n_params_ = n_params;
    n->n_cols_ = n_cols;
    n->n_subs_ = n_subs;
    n->n_strs_ = n_strs;
    n->n_chars_ = n_chars;
    n->n_top_ = top_;
    n->off_ops_ = static_cast<std::uint32_t>(off_ops);
    n->off_params_ = static_cast<std::uint32_t>(off_params);
    n->off_cols_ = static_cast<std::uint32_t>(off_cols);
    n->off_subs_ = static_cast<std::uint32_t>(off_subs);
    n->off_strs_ = static_cast<std::uint32_t>(off_strs);
    n->off_chars_ = static_cast<std::uint32_t>(off_chars);

    const char* chars = reinterpret_cast<const char*>(base + off_chars);
    if (n_chars) std::memcpy(base + off_chars, chars_.data(), n_chars);
    auto* params = reinterpret_cast<Value*>(base + off_params);
    for (std::uint32_t i = 0; i < n_params; ++i) {
        params[i] = params_[i];
        if (params[i].kind == ValueKind::text || params[i].kind == ValueKind::blob) params[i].s = chars + params_[i].i;
    }
    copy_small(base + off_cols, cols_.data(), n_cols);
    // The subqueries' references move into the node (NodePtr is one pointer).
    auto* subs = reinterpret_cast<NodePtr*>(base + off_subs);
    for (std::uint32_t i = 0; i < n_subs; ++i) new (subs + i) NodePtr(subs_[i]);
    copy_small(base + off_ops, ops_.data(), n_ops);
    copy_small(base + off_strs, strs_.data(), n_strs);
    finished_ = true;

    std::uint64_t h = p ? p->shape : 0x51f7'0000'0000'0001ull;
    const std::uint64_t clause = (std::uint64_t(kind) << 56) | (std::uint64_t(sub) << 48) | (std::uint64_t(flags) << 32) |
                                 (std::uint64_t(parts_[0]) << 16) | parts_[1];
    h = util::mix(h, clause ^ ((std::uint64_t(top_) << 32 | alias) * 0x9e3779b97f4a7c15ull) ^
                         (reinterpret_cast<std::uintptr_t>(table) * 0xc2b2ae3d27d4eb4full));
    n->shape = util::mix(h, shape_);
    n->lengths = util::mix(p ? p->lengths : 0, lengths_);
    return NodePtr(n);
}

}  // namespace quarry::core
