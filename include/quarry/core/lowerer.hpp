// SPDX-License-Identifier: MIT
// Lowerer: collects one clause's expressions into thread-local scratch, then copies them into a
// single exact-size node allocation. The typed face talks to the core only through this class.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "quarry/core/ast.hpp"
#include "quarry/core/mix.hpp"
#include "quarry/core/node_writer.hpp"

namespace quarry::core {

namespace detail {
// Trivially copyable items kept inline until N, then on the heap: an ordinary clause lowers
// without touching the allocator until its node is made.
template <class T, std::uint32_t N>
class InlineBuf {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    InlineBuf() = default;
    ~InlineBuf() {
        if (data_ != reinterpret_cast<T*>(inline_)) delete[] data_;
    }
    InlineBuf(const InlineBuf&) = delete;
    InlineBuf& operator=(const InlineBuf&) = delete;
    void push_back(const T& v) {
        if (size_ == cap_) grow();
        std::memcpy(static_cast<void*>(data_ + size_), &v, sizeof(T));
        ++size_;
    }
    void append(const T* p, std::uint32_t n) {
        while (size_ + n > cap_) grow();
        if (n) std::memcpy(static_cast<void*>(data_ + size_), p, n * sizeof(T));
        size_ += n;
    }
    T& operator[](std::uint32_t i) { return data_[i]; }
    const T& operator[](std::uint32_t i) const { return data_[i]; }
    T& back() { return data_[size_ - 1]; }
    std::uint32_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T* data() const { return data_; }

private:
    void grow() {
        T* bigger = new T[cap_ * 2];
        std::memcpy(static_cast<void*>(bigger), data_, size_ * sizeof(T));
        if (data_ != reinterpret_cast<T*>(inline_)) delete[] data_;
        data_ = bigger;
        cap_ *= 2;
    }
    alignas(T) unsigned char inline_[N * sizeof(T)];
    T* data_ = reinterpret_cast<T*>(inline_);
    std::uint32_t size_ = 0, cap_ = N;
};
}  // namespace detail

class Lowerer {
public:
    // Starts a node. A Lowerer lives on the stack for one clause; several may nest.
    Lowerer() = default;
    // Collects parameter values only (no ops, no shape), to be replayed into another lowerer
    // (replay_params): how a value_traits written for Lowerer& alone binds anywhere.
    struct ValuesOnly {};
    explicit Lowerer(ValuesOnly) : listing_(true) {}
    ~Lowerer();
    Lowerer(const Lowerer&) = delete;
    Lowerer& operator=(const Lowerer&) = delete;

    // Appends an op and returns its index (so a variadic op's arity can be patched). Inline: the
    // typed face's constant arguments fold into the shape mix.
    [[gnu::always_inline]] std::uint32_t op(OpKind kind, std::uint8_t sub = 0, std::uint16_t arity = 0,
                                            std::uint32_t a = 0, std::uint32_t b = 0, std::uint32_t c = 0) {
        ops_.push_back(Op{kind, sub, arity, a, b, c});
        key_.op(kind, sub, arity, a, b, c);
        return ops_.size() - 1;
    }
    void set_arity(std::uint32_t op_index, std::uint16_t arity);
    void column(const ColumnInfo* col) {
        cols_.push_back(ColumnRef{col, 0});
        key_.column(col);
        op(OpKind::column, outer_, 0, cols_.size() - 1);
    }
    void column(const ColumnInfo* col, std::string_view source_alias) {
        if (source_alias.empty()) column(col);
        else aliased_column(col, source_alias);
    }
    void excluded(const ColumnInfo* col);
    // Columns lowered between these calls belong to an enclosing query (correlated subqueries).
    void enter_outer() { ++outer_; }
    void leave_outer() { --outer_; }
    void param(Value v) {  // scalars only
        params_.push_back(v);
        if (listing_) return key_.listed_value(v.kind);
        // The value's kind is part of the shape: a prepared statement's parameter types follow it.
        op(OpKind::param, static_cast<std::uint8_t>(v.kind), 0, params_.size() - 1);
    }
    void param_text(std::string_view s);
    void param_blob(std::string_view bytes);
    // Binds the parameters bound so far into another lowerer (a Counter or Writer): how a
    // value_traits written for Lowerer& alone still binds through the two-pass build.
    template <class L>
    void replay_params(L& to) const {
        if (!ops_.empty() || !strs_.empty() || !subs_.empty()) replay_refused();
        for (std::uint32_t i = 0; i < params_.size(); ++i) {
            const Value& v = params_[i];
            if (v.kind == ValueKind::text) to.param_text({chars_.data() + v.i, v.size});
            else if (v.kind == ValueKind::blob) to.param_blob({chars_.data() + v.i, v.size});
            else to.param(v);
        }
    }
    // IN-list values: between begin_list() and end_list(), param*() calls store values without ops;
    // begin_list() returns the index of the first, for the in_list op's `a`.
    std::uint32_t begin_list();
    std::uint32_t end_list();  // returns how many values were stored
    void patch(std::uint32_t op_index, std::uint32_t a, std::uint32_t b);
    std::uint32_t string(std::string_view s);   // identifiers and raw SQL fragments
    std::uint32_t identifier(std::string_view s);  // validated like a schema name
    std::uint32_t subquery(const NodePtr& q);
    void integer(std::int64_t v);
    // Copies all of `expr_node`'s expressions into this one (the caller counts top-level ends).
    void embed(const Node& expr_node);
    // Marks the end of one top-level expression.
    void end_expr() { ++top_; }
    // Records the current top-level count as the end of a list (at most two per node).
    void mark_part();

    // Builds the node; `alias` is a string index from string()/identifier(), plus one (0: none).
    NodePtr finish(Clause kind, NodePtr parent, std::uint8_t sub = 0, std::uint16_t flags = 0,
                   const TableInfo* table = nullptr, std::uint32_t alias = 0);

private:
    void aliased_column(const ColumnInfo* col, std::string_view source_alias);
    void param_bytes(std::string_view s, ValueKind kind);
    [[noreturn]] static void replay_refused();

    detail::InlineBuf<Op, 24> ops_;
    detail::InlineBuf<Value, 12> params_;  // text/blob payloads hold an offset into chars_ until finish()
    detail::InlineBuf<ColumnRef, 8> cols_;
    detail::InlineBuf<const Node*, 4> subs_;  // each retained; released unless finish() adopts them
    detail::InlineBuf<StrRef, 4> strs_;
    detail::InlineBuf<char, 96> chars_;
    ShapeKey key_;
    std::uint32_t top_ = 0;
    std::uint32_t list_start_ = 0;
    bool listing_ = false;
    std::uint8_t outer_ = 0;
    bool finished_ = false;
    std::uint16_t parts_[2] = {0, 0};
    int n_parts_ = 0;
};

}  // namespace quarry::core
