// SPDX-License-Identifier: MIT
// The untyped core: persistent, immutable, reference-counted clause nodes.
//
// A query value is a chain of nodes, leaf to root: `from<User>() | where(a) | limit(3)` is
// limit -> where -> from. Piping allocates exactly one node that points at its parent, so a
// pipe is O(1) and every refinement shares its base. Each node carries its expressions lowered
// into flat prefix-order arrays that live in the node's own allocation (one allocation per pipe).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/core/value.hpp"

namespace quarry::core {

struct TableInfo;

struct ColumnInfo {
    std::string name;
    std::string quoted;  // quoted once per schema, never per render
    SqlType type = SqlType::any;
    bool nullable = false;
    bool primary_key = false;
    bool generated = false;  // filled by the database (identity, default): inserts leave it out
    std::uint16_t index = 0;
    const TableInfo* table = nullptr;
};

struct TableInfo {
    std::string name;
    std::string quoted;
    std::vector<ColumnInfo> columns;
    std::vector<std::uint16_t> primary_key;  // indexes into columns

    const ColumnInfo* find(std::string_view column) const noexcept;
};

// Fills `t` in place (its columns point back at it) and quotes its identifiers once. Rejects
// names that can never be valid identifiers (empty, NUL bytes, invalid UTF-8) with QueryError.
void init_table_info(TableInfo& t, std::string_view name, std::vector<ColumnInfo> columns);

enum class OpKind : std::uint8_t {
    column,      // a: column ref
    excluded,    // a: column ref, rendered EXCLUDED."col" (upsert)
    param,       // a: param index
    constant,    // sub: Constant
    unary,       // sub: UnaryOp; arity 1
    binary,      // sub: BinaryOp; arity 2
    like,        // sub: LikeOp; arity 2; always rendered with ESCAPE '\'
    in_list,     // sub: negated; arity 1 (lhs); a: first param, b: count
    in_query,    // sub: negated; arity 2 (lhs, subquery)
    in_tuples,   // sub: negated; arity 1 + rows; each row is a tuple of params
    between,     // sub: negated; arity 3
    tuple,       // arity n
    subquery,    // a: sub index
    case_when,   // sub: has else; arity 2n (+1)
    cast,        // a: SqlType; arity 1
    func,        // a: Func; sub: FuncFlags; arity n (+1 FILTER predicate, last)
    window,      // arity 1 (function) + 1 if an inline window_spec follows; a: name string + 1, or 0
    window_spec, // arity a + b + c: a partitions, b order items, c frame (0 or 1)
    frame,       // sub: FrameMode; a: start bound, b: end bound (FrameBound); c: offsets (start | end << 16)
    order_item,  // sub: OrderFlags; arity 1
    alias,       // a: string; arity 1 -> expr AS "alias"
    raw,         // a: string (SQL with ? marks); arity n arguments
    assign,      // arity 2: column = value (UPDATE SET, ON CONFLICT DO UPDATE SET)
    star,        // a: source alias string + 1, or 0 -> * or "src".*
    integer,     // a, b: a 64-bit integer literal (frame offsets, developer constants only)
};

enum class Constant : std::uint8_t { null, true_, false_, default_ };
enum class UnaryOp : std::uint8_t { not_, negate, is_null, is_not_null, exists, not_exists };
enum class BinaryOp : std::uint8_t {
    eq, ne, lt, le, gt, ge, and_, or_, add, sub, mul, div, mod, concat, is_distinct, is_not_distinct
};
enum class LikeOp : std::uint8_t { like, not_like, ilike, not_ilike };

enum class Func : std::uint8_t {
    count, sum, avg, min, max,  // aggregates
    row_number, rank, dense_rank, percent_rank, cume_dist, ntile, lag, lead, first_value,
    last_value, nth_value,      // window functions
    coalesce, nullif, lower, upper, length, abs, round, greatest, least,
};
namespace FuncFlags {
inline constexpr std::uint8_t distinct = 1, star = 2, filter = 4;
}
namespace OrderFlags {
inline constexpr std::uint8_t desc = 1, nulls_first = 2, nulls_last = 4;
}
enum class FrameMode : std::uint8_t { rows, range, groups };
enum class FrameBound : std::uint8_t { unbounded_preceding, preceding, current_row, following, unbounded_following };

struct Op {
    OpKind kind;
    std::uint8_t sub = 0;
    std::uint16_t arity = 0;
    std::uint32_t a = 0, b = 0, c = 0;
};

struct ColumnRef {
    const ColumnInfo* column;
    std::uint32_t source;  // string index of the source alias + 1, or 0 for the table itself
};

struct StrRef {
    std::uint32_t offset, size;
};

enum class Clause : std::uint8_t {
    // roots
    from_table, from_query, insert, update, delete_,
    // query pipes
    where, or_where, having, or_having, select, join, group_by, order_by, prepend_order_by,
    limit, offset, distinct, distinct_on, lock, with, set_op, window_def, exclude,
    reverse_order, first, last,
    // write-statement pipes
    on_conflict, returning, set,
};

enum class JoinKind : std::uint8_t { inner, left, right, full, cross };
namespace JoinFlags { inline constexpr std::uint16_t lateral = 1, subquery_source = 2; }  // source: subs()[0]
namespace InsertFlags { inline constexpr std::uint16_t from_select = 1; }  // rows: subs()[0]
enum class SetOpKind : std::uint8_t { union_, union_all, intersect, intersect_all, except, except_all };
enum class LockStrength : std::uint8_t { update, no_key_update, share, key_share };
enum class LockWait : std::uint8_t { wait, nowait, skip_locked };
namespace CteFlags { inline constexpr std::uint16_t recursive = 1, materialized = 2, not_materialized = 4; }
enum class ConflictAction : std::uint8_t { nothing, update };

class Node;

// Intrusive, thread-safe reference to an immutable node.
class NodePtr {
public:
    NodePtr() noexcept = default;
    explicit NodePtr(const Node* adopted) noexcept : p_(adopted) {}
    NodePtr(const NodePtr& o) noexcept;
    NodePtr(NodePtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    NodePtr& operator=(NodePtr o) noexcept { std::swap(p_, o.p_); return *this; }
    ~NodePtr();

    const Node* get() const noexcept { return p_; }
    const Node* operator->() const noexcept { return p_; }
    const Node& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    const Node* release() noexcept { return std::exchange(p_, nullptr); }

private:
    const Node* p_ = nullptr;
};

template <class T>
struct Span {
    const T* data_ = nullptr;
    std::uint32_t size_ = 0;
    const T* begin() const { return data_; }
    const T* end() const { return data_ + size_; }
    std::uint32_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T& operator[](std::uint32_t i) const { return data_[i]; }
};

// One clause application. Its arrays follow the header in the same allocation.
class Node {
public:
    Clause kind;
    std::uint8_t sub = 0;
    std::uint16_t flags = 0;
    std::uint16_t parts[2] = {0, 0};  // top-level expression counts of the first lists; rest is the last list
    std::uint32_t alias = 0;          // string index + 1 (join/from alias, CTE name, window name)
    const TableInfo* table = nullptr; // from / join / insert target
    std::uint64_t shape = 0;          // shape key of the chain up to and including this node
    std::uint64_t lengths = 0;        // hash of IN-list lengths (dialects that expand lists add it)
    NodePtr parent;

    Span<Op> ops() const { return {reinterpret_cast<const Op*>(base() + off_ops_), n_ops_}; }
    Span<Value> params() const { return {reinterpret_cast<const Value*>(base() + off_params_), n_params_}; }
    Span<ColumnRef> cols() const { return {reinterpret_cast<const ColumnRef*>(base() + off_cols_), n_cols_}; }
    Span<NodePtr> subs() const { return {reinterpret_cast<const NodePtr*>(base() + off_subs_), n_subs_}; }
    std::string_view str(std::uint32_t i) const {
        auto r = reinterpret_cast<const StrRef*>(base() + off_strs_)[i];
        return {reinterpret_cast<const char*>(base() + off_chars_ + r.offset), r.size};
    }
    std::string_view alias_name() const { return alias ? str(alias - 1) : std::string_view{}; }
    // Number of top-level expressions in the node's ops.
    std::uint32_t top_count() const noexcept { return n_top_; }

    void retain() const noexcept {
        if (!immortal()) refs_.fetch_add(1, std::memory_order_relaxed);
    }
    void release() const noexcept;
    // Roots shared by every query of a schema are never freed and never counted.
    void make_immortal() noexcept { bytes_ = 0; }
    bool immortal() const noexcept { return bytes_ == 0; }

private:
    friend class Lowerer;
    Node() = default;
    const unsigned char* base() const { return reinterpret_cast<const unsigned char*>(this); }

    mutable std::atomic<std::uint32_t> refs_{1};
    std::uint32_t bytes_ = 0;  // allocation size (its pool's size class); 0: immortal
    std::uint32_t n_ops_ = 0, n_params_ = 0, n_cols_ = 0, n_subs_ = 0, n_strs_ = 0, n_chars_ = 0, n_top_ = 0;
    std::uint32_t off_ops_ = 0, off_params_ = 0, off_cols_ = 0, off_subs_ = 0, off_strs_ = 0, off_chars_ = 0;
};

inline NodePtr::NodePtr(const NodePtr& o) noexcept : p_(o.p_) {
    if (p_) p_->retain();
}
inline NodePtr::~NodePtr() {
    if (p_) p_->release();
}

// Node storage: a thread-local pool of size classes in front of operator new. `bytes` receives
// the size actually reserved, which node_free needs back.
void* node_allocate(std::size_t size, std::uint32_t& bytes);
void node_free(void* p, std::uint32_t bytes) noexcept;

// Skips one expression in prefix order; returns the index just past it.
std::uint32_t skip_expr(Span<Op> ops, std::uint32_t i) noexcept;

}  // namespace quarry::core
