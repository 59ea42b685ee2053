// SPDX-License-Identifier: MIT
// Building a node in two passes: a clause's typed expressions are lowered once into a Counter,
// which only counts what they would write, and once more into a Writer, which writes straight
// into the node's final storage, so nothing is collected into scratch buffers and copied
// (core::Lowerer, which does that, remains for lowering driven by run-time data).
//
// Both passes are inline; for a clause whose shape its types fix (most of them) the counting
// folds to constants and a pipe costs a few stores and one multiply per op. Taking room and
// finishing the node are compiled once in lib/: inlining them too saved another tenth of a pipe
// but cost a fifth more compile time per query.
//
// Counter and Writer answer the Lowerer's calls with the same indices, so one lower(auto&)
// serves all three. Everything that can throw (identifier checks, a value that cannot bind, an
// empty filter) throws in the counting pass, before any memory is taken.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <utility>

#include "quarry/core/ast.hpp"
#include "quarry/core/mix.hpp"

namespace quarry::core {

struct NodeSizes {
    std::uint32_t ops = 0, params = 0, cols = 0, subs = 0, strs = 0, chars = 0;
};

// What an op contributes to its node's shape key. In-list lengths vary the SQL only where a
// dialect expands lists: they are kept out of the shape (see Node::lengths).
[[gnu::always_inline]] inline std::uint64_t op_key(OpKind kind, std::uint8_t sub, std::uint16_t arity, std::uint32_t a,
                                                   std::uint32_t b, std::uint32_t c) noexcept {
    const std::uint64_t shaped_b = kind == OpKind::in_list ? 0 : b;
    const std::uint64_t head =
        (std::uint64_t(kind) << 56) | (std::uint64_t(sub) << 48) | (std::uint64_t(arity) << 32) | a;
    return head ^ (((shaped_b << 32) | c) * 0x9e3779b97f4a7c15ull);
}

// The rules by which what a clause writes becomes its node's keys, shared by the Writer and the
// Lowerer so that the same clause built either way gets the same key. `shape` covers everything
// that changes the SQL text; `lengths` the in-list lengths, which change it only where a dialect
// expands lists (see Node::lengths).
struct ShapeKey {
    std::uint64_t shape = 0, lengths = 0;

    [[gnu::always_inline]] void op(OpKind kind, std::uint8_t sub, std::uint16_t arity, std::uint32_t a, std::uint32_t b,
                                   std::uint32_t c) noexcept {
        shape = mix_step(shape, op_key(kind, sub, arity, a, b, c));
    }
    void arity(std::uint16_t n) noexcept { shape = mix_step(shape, 0xa417'0000u + n); }
    [[gnu::always_inline]] void column(const ColumnInfo* col) noexcept {
        shape = mix_step(shape, reinterpret_cast<std::uintptr_t>(col));
    }
    // A value of an IN list: its kind only (the list's length is added by list_length).
    void listed_value(ValueKind kind) noexcept { lengths = mix_step(lengths, static_cast<std::uint64_t>(kind) + 0x1157); }
    void list_length(std::uint32_t n) noexcept { lengths = mix_step(lengths, std::uint64_t{n} + 1); }
    void blob() noexcept { shape = mix_step(shape, 0xb10b); }
    void string(std::string_view s) noexcept;  // identifiers and raw SQL: their bytes
    void subquery(const Node& q) noexcept {
        shape = mix_step(shape, q.shape);
        lengths = mix_step(lengths, q.lengths);
    }
};

// Throws QueryError for a name that can never be an identifier (as schemas are checked).
void check_identifier_arg(std::string_view s);

class Counter {
public:
    [[gnu::always_inline]] std::uint32_t op(OpKind = OpKind::column, std::uint8_t = 0, std::uint16_t = 0, std::uint32_t = 0,
                     std::uint32_t = 0, std::uint32_t = 0) noexcept {
        return n_.ops++;
    }
    [[gnu::always_inline]] void set_arity(std::uint32_t, std::uint16_t) noexcept {}
    [[gnu::always_inline]] void column(const ColumnInfo*) noexcept {
        ++n_.cols;
        ++n_.ops;
    }
    [[gnu::always_inline]] void column(const ColumnInfo* col, std::string_view source_alias) {
        if (!source_alias.empty()) identifier(source_alias);
        column(col);
    }
    [[gnu::always_inline]] void excluded(const ColumnInfo* col) noexcept { column(col); }
    [[gnu::always_inline]] void enter_outer() noexcept {}
    [[gnu::always_inline]] void leave_outer() noexcept {}
    [[gnu::always_inline]] void param(Value) noexcept {
        ++n_.params;
        if (!listing_) ++n_.ops;
    }
    [[gnu::always_inline]] void param_text(std::string_view s) {
        add_chars(s.size());
        param(Value{});
    }
    [[gnu::always_inline]] void param_blob(std::string_view bytes) { param_text(bytes); }
    [[gnu::always_inline]] std::uint32_t begin_list() noexcept {
        listing_ = true;
        return list_start_ = n_.params;
    }
    [[gnu::always_inline]] std::uint32_t end_list() noexcept {
        listing_ = false;
        return n_.params - list_start_;
    }
    [[gnu::always_inline]] void patch(std::uint32_t, std::uint32_t, std::uint32_t) noexcept {}
    [[gnu::always_inline]] std::uint32_t string(std::string_view s) {
        add_chars(s.size());
        return n_.strs++;
    }
    std::uint32_t identifier(std::string_view s) {
        check_identifier_arg(s);
        return string(s);
    }
    [[gnu::always_inline]] std::uint32_t subquery(const NodePtr&) noexcept { return n_.subs++; }
    [[gnu::always_inline]] void integer(std::int64_t) noexcept { ++n_.ops; }
    void embed(const Node& expr_node);
    [[gnu::always_inline]] void end_expr() noexcept {}
    [[gnu::always_inline]] void mark_part() noexcept {}
    [[gnu::always_inline]] void node_alias(std::uint32_t) noexcept {}

    const NodeSizes& sizes() const noexcept { return n_; }

private:
    // A node's text and blob bytes are counted in 32 bits; more is refused here, before the
    // Writer is sized by the count.
    void add_chars(std::size_t n) {
        if (n > max_node_chars - n_.chars) too_many_chars();
        n_.chars += static_cast<std::uint32_t>(n);
    }
    static constexpr std::uint32_t max_node_chars = 0xffff'0000u;
    [[noreturn]] static void too_many_chars();
    NodeSizes n_;
    std::uint32_t list_start_ = 0;
    bool listing_ = false;
};

class Writer {
public:
    // Takes room for a node of exactly these sizes: after the parent in its block when the
    // parent is the block's last node and nobody else holds the block, else in a new block.
    Writer(const NodeSizes& sizes, Clause kind, NodePtr parent);
    // Not finished (an exception): the room is given back and the references taken released.
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    [[gnu::always_inline]] std::uint32_t op(OpKind kind, std::uint8_t sub = 0, std::uint16_t arity = 0,
                                            std::uint32_t a = 0, std::uint32_t b = 0, std::uint32_t c = 0) {
        // A lower() (a user's bind, say) that wrote more than it counted stops here, not after
        // overwriting what follows the node.
        if (n_ops_ == expect_.ops) [[unlikely]] miscounted();
        ops_[n_ops_] = Op{kind, sub, arity, a, b, c};
        key_.op(kind, sub, arity, a, b, c);
        return n_ops_++;
    }
    void set_arity(std::uint32_t op_index, std::uint16_t arity) {
        ops_[op_index].arity = arity;
        key_.arity(arity);
    }
    [[gnu::always_inline]] void column(const ColumnInfo* col) {
        if (n_cols_ == expect_.cols) [[unlikely]] miscounted();
        cols_[n_cols_] = ColumnRef{col, 0};
        key_.column(col);
        op(OpKind::column, outer_, 0, n_cols_++);
    }
    [[gnu::always_inline]] void column(const ColumnInfo* col, std::string_view source_alias) {
        if (source_alias.empty()) column(col);
        else aliased_column(col, source_alias);
    }
    void excluded(const ColumnInfo* col) {
        if (n_cols_ == expect_.cols) [[unlikely]] miscounted();
        cols_[n_cols_] = ColumnRef{col, 0};
        key_.column(col);
        op(OpKind::excluded, 0, 0, n_cols_++);
    }
    void enter_outer() noexcept { ++outer_; }
    void leave_outer() noexcept { --outer_; }
    [[gnu::always_inline]] void param(Value v) {
        if (n_params_ == expect_.params) [[unlikely]] miscounted();
        params_[n_params_++] = v;
        if (listing_) return key_.listed_value(v.kind);
        // The value's kind is part of the shape: a prepared statement's parameter types follow it.
        op(OpKind::param, static_cast<std::uint8_t>(v.kind), 0, n_params_ - 1);
    }
    void param_text(std::string_view s) { param(text_value(s, ValueKind::text)); }
    void param_blob(std::string_view bytes) {
        param(text_value(bytes, ValueKind::blob));
        key_.blob();
    }
    std::uint32_t begin_list() noexcept {
        listing_ = true;
        return list_start_ = n_params_;
    }
    std::uint32_t end_list() noexcept {
        listing_ = false;
        return n_params_ - list_start_;
    }
    void patch(std::uint32_t op_index, std::uint32_t a, std::uint32_t b) {
        ops_[op_index].a = a;
        ops_[op_index].b = b;
        if (ops_[op_index].kind == OpKind::in_list) key_.list_length(b);
    }
    std::uint32_t string(std::string_view s);
    std::uint32_t identifier(std::string_view s) { return string(s); }  // checked by the counting pass
    std::uint32_t subquery(const NodePtr& q);
    void integer(std::int64_t v) {
        auto u = static_cast<std::uint64_t>(v);
        op(OpKind::integer, 0, 0, static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(u >> 32));
    }
    void embed(const Node& expr_node);
    void end_expr() noexcept { ++top_; }
    void mark_part() noexcept {
        if (n_parts_ < 2) parts_[n_parts_++] = static_cast<std::uint16_t>(top_);
    }
    void node_alias(std::uint32_t alias) noexcept { alias_ = alias; }

    NodePtr finish(std::uint8_t sub = 0, std::uint16_t flags = 0, const TableInfo* table = nullptr);

private:
    friend class Lowerer;  // Lowerer::finish copies its scratch through a Writer
    Value text_value(std::string_view s, ValueKind kind);
    [[gnu::noinline]] void aliased_column(const ColumnInfo* col, std::string_view source_alias);
    void abandon() noexcept;
    // A new block for a node of `bytes`, owning `parent` (the chain below it).
    static Block* start_block(Clause kind, NodePtr&& parent, bool parent_owned, std::size_t bytes);
    [[noreturn, gnu::cold]] static void miscounted();

    Node* node_;
    Block* block_;
    bool new_block_;
    NodePtr parent_;
    Op* ops_;
    Value* params_;
    ColumnRef* cols_;
    NodePtr* subs_;
    StrRef* strs_;
    char* chars_;
    std::uint32_t n_ops_ = 0, n_params_ = 0, n_cols_ = 0, n_subs_ = 0, n_strs_ = 0, n_chars_ = 0;
    NodeSizes expect_;  // what the counting pass found
    ShapeKey key_;
    std::uint32_t top_ = 0, list_start_ = 0, alias_ = 0;
    std::uint16_t parts_[2] = {0, 0};
    int n_parts_ = 0;
    std::uint8_t outer_ = 0;
    bool listing_ = false;
    bool finished_ = false;
};

// Lowers `lower(l)` twice, counting and then writing, and returns the node. `lower` may call
// l.node_alias(string index + 1) to name the node (join / from alias).
template <class F>
NodePtr build_node(Clause kind, NodePtr parent, const F& lower, std::uint8_t sub = 0, std::uint16_t flags = 0,
                   const TableInfo* table = nullptr) {
    Counter counter;
    lower(counter);
    Writer writer(counter.sizes(), kind, std::move(parent));
    lower(writer);
    return writer.finish(sub, flags, table);
}

}  // namespace quarry::core
