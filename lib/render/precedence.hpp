// SPDX-License-Identifier: MIT
// Operator precedence as the visitor uses it for both expressions and predicate chains.
#pragma once
#include <string_view>

#include "quarry/core/ast.hpp"

namespace quarry::render {

using core::BinaryOp;
using core::Op;
using core::OpKind;

// Binding strength, loosest first. Atoms never need parentheses.
enum Prec : int { p_none = 0, p_or = 1, p_and = 2, p_not = 3, p_cmp = 4, p_concat = 5, p_add = 6, p_mul = 7,
                  p_unary = 8, p_atom = 9 };

inline int binary_prec(BinaryOp op) {
    switch (op) {
        case BinaryOp::or_: return p_or;
        case BinaryOp::and_: return p_and;
        case BinaryOp::concat: return p_concat;
        case BinaryOp::add:
        case BinaryOp::sub: return p_add;
        case BinaryOp::mul:
        case BinaryOp::div:
        case BinaryOp::mod: return p_mul;
        default: return p_cmp;
    }
}

inline std::string_view binary_text(BinaryOp op) {
    static constexpr std::string_view t[] = {" = ", " <> ", " < ", " <= ", " > ", " >= ", " AND ", " OR ",
                                             " + ", " - ", " * ", " / ", " % ", " || ", " IS DISTINCT FROM ",
                                             " IS NOT DISTINCT FROM "};
    return t[static_cast<int>(op)];
}

inline bool is_logical(const Op& o, BinaryOp which) {
    return o.kind == OpKind::binary && static_cast<BinaryOp>(o.sub) == which;
}

}  // namespace quarry::render
