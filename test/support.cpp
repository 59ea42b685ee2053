// SPDX-License-Identifier: MIT
#include "support.hpp"

#include <cstdio>

std::string format_value(const quarry::Value& v) {
    using quarry::ValueKind;
    switch (v.kind) {
        case ValueKind::null: return "NULL";
        case ValueKind::boolean: return v.i ? "true" : "false";
        case ValueKind::integer: return std::to_string(v.i);
        case ValueKind::timestamp: return "ts:" + std::to_string(v.i);
        case ValueKind::real: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", v.d);
            return buf;
        }
        case ValueKind::text: {
            std::string s = "'";
            for (char c : v.text()) {
                if (c == '\'') s += '\'';
                s += c;
            }
            return s + "'";
        }
        case ValueKind::blob: return "blob(" + std::to_string(v.size) + ")";
        case ValueKind::array: {
            std::string s = "{";
            for (std::uint32_t i = 0; i < v.size; ++i) s += (i ? ", " : "") + format_value(v.items[i]);
            return s + "}";
        }
    }
    return "?";
}

std::string format_params(const std::vector<quarry::Value>& params) {
    std::string s;
    for (std::size_t i = 0; i < params.size(); ++i) s += (i ? ", " : "") + format_value(params[i]);
    return s;
}

namespace {
std::string pg_type(quarry::ValueKind k) {
    using quarry::ValueKind;
    switch (k) {
        case ValueKind::boolean: return "boolean";
        case ValueKind::integer: return "bigint";
        case ValueKind::real: return "double precision";
        case ValueKind::text: return "text";
        case ValueKind::blob: return "bytea";
        case ValueKind::timestamp: return "timestamptz";
        default: return "unknown";
    }
}
}  // namespace

std::string postgres_param_types(const std::vector<quarry::Value>& params) {
    std::string s;
    for (std::size_t i = 0; i < params.size(); ++i) {
        s += i ? ", " : "";
        s += params[i].kind == quarry::ValueKind::array ? pg_type(params[i].element) + "[]" : pg_type(params[i].kind);
    }
    return s;
}
