// SPDX-License-Identifier: MIT
#include "quarry/core/lowerer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "quarry/errors.hpp"
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
    key_.arity(arity);
}

void Lowerer::aliased_column(const ColumnInfo* col, std::string_view source_alias) {
    std::uint32_t source = identifier(source_alias) + 1;
    cols_.push_back(ColumnRef{col, source});
    key_.column(col);
    op(OpKind::column, outer_, 0, static_cast<std::uint32_t>(cols_.size() - 1));
}

void Lowerer::excluded(const ColumnInfo* col) {
    cols_.push_back(ColumnRef{col, 0});
    key_.column(col);
    op(OpKind::excluded, 0, 0, static_cast<std::uint32_t>(cols_.size() - 1));
}

void Lowerer::param_bytes(std::string_view s, ValueKind kind) {
    if (s.size() > UINT32_MAX) [[unlikely]]
        value_too_large(s.size());
    Value v;
    v.kind = kind;  // the kind from the start: the shape then matches a Writer's
    v.size = static_cast<std::uint32_t>(s.size());
    v.i = static_cast<std::int64_t>(chars_.size());
    chars_.append(s.data(), static_cast<std::uint32_t>(s.size()));
    param(v);
}

void Lowerer::param_text(std::string_view s) { param_bytes(s, ValueKind::text); }

void Lowerer::param_blob(std::string_view bytes) {
    param_bytes(bytes, ValueKind::blob);
    key_.blob();
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
    if (ops_[op_index].kind == OpKind::in_list) key_.list_length(b);
}

std::uint32_t Lowerer::string(std::string_view s) {
    strs_.push_back(StrRef{static_cast<std::uint32_t>(chars_.size()), static_cast<std::uint32_t>(s.size())});
    chars_.append(s.data(), static_cast<std::uint32_t>(s.size()));
    key_.string(s);
    return static_cast<std::uint32_t>(strs_.size() - 1);
}

std::uint32_t Lowerer::identifier(std::string_view s) {
    util::check_identifier(s, "identifier");
    return string(s);
}

std::uint32_t Lowerer::subquery(const NodePtr& q) {
    q->retain();
    subs_.push_back(q.get());
    key_.subquery(*q);
    return static_cast<std::uint32_t>(subs_.size() - 1);
}

void Lowerer::integer(std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    op(OpKind::integer, 0, 0, static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(u >> 32));
}

void Lowerer::mark_part() {
    if (n_parts_ < 2) parts_[n_parts_++] = static_cast<std::uint16_t>(top_);
}

namespace {

// Copies all of `e`'s expressions into `l`, re-indexing its references into l's tables. One
// body for the three lowerers, so counting and writing always agree.
template <class L>
void embed_into(L& l, const Node& e) {
    const auto ops = e.ops();
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pending_lists;  // (op here, op in e)
    auto value = [&](const Value& v) {
        if (v.kind == ValueKind::text) l.param_text(v.text());
        else if (v.kind == ValueKind::blob) l.param_blob(v.text());
        else l.param(v);
    };
    for (std::uint32_t i = 0; i < ops.size(); ++i) {
        Op o = ops[i];
        std::uint32_t at = 0;
        if (o.kind == OpKind::column || o.kind == OpKind::excluded) {
            auto ref = e.cols()[o.a];
            std::string_view src = ref.source ? e.str(ref.source - 1) : std::string_view{};
            if (o.kind == OpKind::column) {
                for (std::uint8_t k = 0; k < o.sub; ++k) l.enter_outer();
                l.column(ref.column, src);
                for (std::uint8_t k = 0; k < o.sub; ++k) l.leave_outer();
            } else {
                l.excluded(ref.column);
            }
        } else if (o.kind == OpKind::param) {
            value(e.params()[o.a]);
        } else {
            if (o.kind == OpKind::subquery) o.a = l.subquery(e.subs()[o.a]);
            if (o.kind == OpKind::alias || o.kind == OpKind::raw) o.a = l.string(e.str(o.a));
            if ((o.kind == OpKind::window || o.kind == OpKind::star) && o.a) o.a = l.string(e.str(o.a - 1)) + 1;
            if (o.kind == OpKind::in_list) o.a = 0;  // as direct lowering does; patched below
            at = l.op(o.kind, o.sub, o.arity, o.a, o.b, o.c);
            if (o.kind == OpKind::in_list) pending_lists.push_back({at, i});
        }
        // A list's values follow its left operand: copy them once that operand is complete.
        while (!pending_lists.empty() && skip_expr(ops, pending_lists.back().second + 1) == i + 1) {
            auto [dst, src] = pending_lists.back();
            pending_lists.pop_back();
            std::uint32_t first = l.begin_list();
            for (std::uint32_t k = 0; k < ops[src].b; ++k) value(e.params()[ops[src].a + k]);
            l.patch(dst, first, l.end_list());
        }
    }
}

}  // namespace

void Lowerer::embed(const Node& e) { embed_into(*this, e); }
void Counter::embed(const Node& e) { embed_into(*this, e); }
void Writer::embed(const Node& e) { embed_into(*this, e); }

void check_identifier_arg(std::string_view s) { util::check_identifier(s, "identifier"); }

namespace {
// A block that a chain is expected to grow into holds at least this much: an ordinary chain
// built in one expression then fits in one allocation.
constexpr std::size_t growth_block = 1024;

// Room for a chain to grow is reserved only where it is likely to: a chain starting at a root
// or a statement, or one that filled its block. A node piped onto a shared value (`q = q | x` in
// a loop) or a filter term gets an exact fit, so such patterns cost no more memory than nodes.
bool expect_growth(Clause kind, const Node* parent, bool owned) noexcept {
    if (!parent) return kind == Clause::from_table || kind == Clause::from_query || kind == Clause::insert ||
                        kind == Clause::update || kind == Clause::delete_;
    return parent->block_is_immortal() || owned;
}
}  // namespace

Block* Writer::start_block(Clause kind, NodePtr&& parent, bool parent_owned, std::size_t bytes) {
    const Node* p = parent.get();
    const std::size_t want = Block::first_offset + bytes;
    std::uint32_t got = 0;
    void* mem = node_allocate(expect_growth(kind, p, parent_owned) ? std::max(want, growth_block) : want, got);
    Block* b = new (mem) Block();
    b->capacity = got;
    b->used = Block::first_offset;
    b->below = std::move(parent);
    return b;
}

void Writer::miscounted() {
    std::fputs("quarry: a clause lowered differently when counted and when written\n", stderr);
    std::abort();
}

Writer::Writer(const NodeSizes& sz, Clause kind, NodePtr parent) {
    const std::size_t off_params = align8(sizeof(Node));
    const std::size_t off_cols = off_params + sz.params * sizeof(Value);
    const std::size_t off_subs = off_cols + sz.cols * sizeof(ColumnRef);
    const std::size_t off_ops = off_subs + sz.subs * sizeof(NodePtr);
    const std::size_t off_strs = off_ops + sz.ops * sizeof(Op);
    const std::size_t off_chars = off_strs + sz.strs * sizeof(StrRef);
    const std::size_t total = align8(off_chars + sz.chars);
    expect_ = sz;

    const Node* p = parent.get();
    Block* b = p ? p->block_ : nullptr;
    // Nobody else holds the block and `p` is its last node: the new node may go after it.
    const bool owned = b && !b->immortal && b->tail == p && b->refs.load(std::memory_order_acquire) == 1;
    new_block_ = !(owned && b->capacity - b->used >= total);
    if (new_block_) b = start_block(kind, std::move(parent), owned, total);
    else parent_ = std::move(parent);  // becomes the new node's, in the same block, at finish()
    auto* base = reinterpret_cast<unsigned char*>(b) + b->used;
    Node* n = new (base) Node;  // default-initialised: every field is written here or in finish()
    b->used += static_cast<std::uint32_t>(total);
    block_ = b;
    node_ = n;
    n->block_ = b;
    n->bytes_ = static_cast<std::uint32_t>(total);
    n->parent = p;
    n->kind = kind;
    n->n_ops_ = sz.ops;
    n->n_params_ = sz.params;
    n->n_cols_ = sz.cols;
    n->n_subs_ = sz.subs;
    n->n_strs_ = sz.strs;
    n->n_chars_ = sz.chars;
    n->off_ops_ = static_cast<std::uint32_t>(off_ops);
    n->off_params_ = static_cast<std::uint32_t>(off_params);
    n->off_cols_ = static_cast<std::uint32_t>(off_cols);
    n->off_subs_ = static_cast<std::uint32_t>(off_subs);
    n->off_strs_ = static_cast<std::uint32_t>(off_strs);
    n->off_chars_ = static_cast<std::uint32_t>(off_chars);
    ops_ = reinterpret_cast<Op*>(base + off_ops);
    params_ = reinterpret_cast<Value*>(base + off_params);
    cols_ = reinterpret_cast<ColumnRef*>(base + off_cols);
    subs_ = reinterpret_cast<NodePtr*>(base + off_subs);
    strs_ = reinterpret_cast<StrRef*>(base + off_strs);
    chars_ = reinterpret_cast<char*>(base + off_chars);
}

NodePtr Writer::finish(std::uint8_t sub, std::uint16_t flags, const TableInfo* table) {
    Node* n = node_;
    // The counting pass sized the node; a lower() that wrote something else is a bug in quarry.
    if (n_ops_ != expect_.ops || n_params_ != expect_.params || n_cols_ != expect_.cols || n_subs_ != expect_.subs ||
        n_strs_ != expect_.strs || n_chars_ != expect_.chars) [[unlikely]]
        miscounted();
    n->sub = sub;
    n->flags = flags;
    n->parts[0] = parts_[0];
    n->parts[1] = parts_[1];
    n->alias = alias_;
    n->table = table;
    n->n_top_ = top_;
    const Node* p = n->parent;
    const std::uint64_t clause = (std::uint64_t(n->kind) << 56) | (std::uint64_t(sub) << 48) |
                                 (std::uint64_t(flags) << 32) | (std::uint64_t(parts_[0]) << 16) | parts_[1];
    std::uint64_t h = mix_step(p ? p->shape : 0x51f7'0000'0000'0001ull, clause);
    h = mix_step(h, (std::uint64_t(top_) << 32 | alias_) ^ (reinterpret_cast<std::uintptr_t>(table) * 0xc2b2ae3d27d4eb4full));
    n->shape = mix(h, key_.shape);
    const std::uint64_t below = p ? p->lengths : 0;
    n->lengths = key_.lengths ? mix(below, key_.lengths) : below;
    block_->tail = n;
    if (!new_block_) parent_.release();  // the caller's count now belongs to the new node
    finished_ = true;
    return NodePtr(n);
}

Writer::~Writer() {
    if (!finished_) abandon();
}

void Writer::abandon() noexcept {
    for (std::uint32_t i = 0; i < n_subs_; ++i) subs_[i].~NodePtr();
    if (new_block_) {
        const std::uint32_t capacity = block_->capacity;
        block_->~Block();  // releases the parent
        node_free(block_, capacity);
    } else {
        block_->used -= node_->bytes_;  // parent_ still holds the caller's reference
    }
}

void Lowerer::replay_refused() {
    throw QueryError("a value_traits<T>::bind(core::Lowerer&, ...) that writes more than parameters (ops, "
                     "strings, subqueries) cannot be replayed: declare it as bind(auto& l, ...)");
}

void ShapeKey::string(std::string_view s) noexcept { shape = mix_step(shape, util::hash_bytes(s)); }

void value_too_large(std::size_t bytes) {
    throw QueryError("a text or blob value of " + std::to_string(bytes) + " bytes cannot be bound: 4 GiB is the limit");
}

void Counter::too_many_chars() {
    throw QueryError("a clause's text and blob values exceed 4 GiB");
}

Value Writer::text_value(std::string_view s, ValueKind kind) {
    if (s.size() > expect_.chars - n_chars_) miscounted();
    Value v;
    v.kind = kind;
    v.size = static_cast<std::uint32_t>(s.size());
    v.s = chars_ + n_chars_;
    if (!s.empty()) std::memcpy(chars_ + n_chars_, s.data(), s.size());
    n_chars_ += static_cast<std::uint32_t>(s.size());
    return v;
}

std::uint32_t Writer::string(std::string_view s) {
    if (n_strs_ == expect_.strs || s.size() > expect_.chars - n_chars_) miscounted();
    strs_[n_strs_] = StrRef{n_chars_, static_cast<std::uint32_t>(s.size())};
    if (!s.empty()) std::memcpy(chars_ + n_chars_, s.data(), s.size());
    n_chars_ += static_cast<std::uint32_t>(s.size());
    key_.string(s);
    return n_strs_++;
}

void Writer::aliased_column(const ColumnInfo* col, std::string_view source_alias) {
    const std::uint32_t source = string(source_alias) + 1;  // checked by the counting pass
    if (n_cols_ == expect_.cols) miscounted();
    cols_[n_cols_] = ColumnRef{col, source};
    key_.column(col);
    op(OpKind::column, outer_, 0, n_cols_++);
}

std::uint32_t Writer::subquery(const NodePtr& q) {
    if (n_subs_ == expect_.subs) miscounted();
    new (subs_ + n_subs_) NodePtr(q);
    key_.subquery(*q);
    return n_subs_++;
}

NodePtr Lowerer::finish(Clause kind, NodePtr parent, std::uint8_t sub, std::uint16_t flags, const TableInfo* table,
                        std::uint32_t alias) {
    const NodeSizes sizes{ops_.size(), params_.size(), cols_.size(), subs_.size(), strs_.size(), chars_.size()};
    Writer w(sizes, kind, std::move(parent));
    if (sizes.chars) std::memcpy(w.chars_, chars_.data(), sizes.chars);
    for (std::uint32_t i = 0; i < sizes.params; ++i) {
        w.params_[i] = params_[i];
        if (params_[i].kind == ValueKind::text || params_[i].kind == ValueKind::blob) w.params_[i].s = w.chars_ + params_[i].i;
    }
    copy_small(reinterpret_cast<unsigned char*>(w.cols_), cols_.data(), sizes.cols);
    copy_small(reinterpret_cast<unsigned char*>(w.ops_), ops_.data(), sizes.ops);
    copy_small(reinterpret_cast<unsigned char*>(w.strs_), strs_.data(), sizes.strs);
    // The subqueries' references move into the node (NodePtr is one pointer).
    for (std::uint32_t i = 0; i < sizes.subs; ++i) new (w.subs_ + i) NodePtr(subs_[i]);
    finished_ = true;
    w.n_ops_ = sizes.ops;
    w.n_params_ = sizes.params;
    w.n_cols_ = sizes.cols;
    w.n_subs_ = sizes.subs;
    w.n_strs_ = sizes.strs;
    w.n_chars_ = sizes.chars;
    w.key_ = key_;
    w.top_ = top_;
    w.parts_[0] = parts_[0];
    w.parts_[1] = parts_[1];
    w.alias_ = alias;
    return w.finish(sub, flags, table);
}

}  // namespace quarry::core
