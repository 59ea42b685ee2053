// SPDX-License-Identifier: MIT
// Lowerer: collects one clause's expressions into thread-local scratch, then copies them into a
// single exact-size node allocation. The typed face talks to the core only through this class.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "quarry/core/ast.hpp"

namespace quarry::core {

class Lowerer {
public:
    // Starts a node; nested use (lowering while lowering) is supported.
    Lowerer();
    ~Lowerer();
    Lowerer(const Lowerer&) = delete;
    Lowerer& operator=(const Lowerer&) = delete;

    // Appends an op and returns its index (so a variadic op's arity can be patched).
    std::uint32_t op(OpKind kind, std::uint8_t sub = 0, std::uint16_t arity = 0, std::uint32_t a = 0,
                     std::uint32_t b = 0, std::uint32_t c = 0);
    void set_arity(std::uint32_t op_index, std::uint16_t arity);
    void column(const ColumnInfo* col, std::string_view source_alias = {});
    void excluded(const ColumnInfo* col);
    void param(Value v);             // scalars only
    void param_text(std::string_view s);
    void param_blob(std::string_view bytes);
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
    void end_expr();
    // Records the current top-level count as the end of a list (at most two per node).
    void mark_part();

    // Builds the node; `alias` is a string index from string()/identifier(), plus one (0: none).
    NodePtr finish(Clause kind, NodePtr parent, std::uint8_t sub = 0, std::uint16_t flags = 0,
                   const TableInfo* table = nullptr, std::uint32_t alias = 0);

    struct Scratch;

private:
    Scratch* s_;
};

}  // namespace quarry::core
