// SPDX-License-Identifier: MIT
#include <charconv>

#include "quarry/core/dialect.hpp"

namespace quarry::core {
namespace {

class PostgresDialect final : public Dialect {
public:
    std::string_view name() const noexcept override { return "postgres"; }
    char* placeholder(char* out, std::uint32_t n) const override {
        *out = '$';
        return std::to_chars(out + 1, out + max_placeholder, n).ptr;
    }
    std::string_view boolean(bool v) const noexcept override { return v ? "TRUE" : "FALSE"; }
    bool supports(Feature) const noexcept override { return true; }
    InListStyle in_list_style() const noexcept override { return InListStyle::array; }
    CompoundWrap compound_wrap() const noexcept override { return CompoundWrap::parentheses; }
    std::string_view type_name(SqlType t) const noexcept override {
        switch (t) {
            case SqlType::boolean: return "boolean";
            case SqlType::integer: return "integer";
            case SqlType::bigint: return "bigint";
            case SqlType::real: return "double precision";
            case SqlType::blob: return "bytea";
            case SqlType::timestamp: return "timestamptz";
            case SqlType::date: return "date";
            case SqlType::json: return "jsonb";
            case SqlType::uuid: return "uuid";
            case SqlType::any: return "numeric";
            default: return "text";
        }
    }
    std::uint32_t max_params() const noexcept override { return 65535; }
    // Text stays untyped: compared with a uuid, citext, enum or json column it takes that type.
    std::string_view parameter_cast(ValueKind kind, ValueKind element) const noexcept override {
        switch (kind) {
            case ValueKind::boolean: return "::boolean";
            case ValueKind::integer: return "::bigint";
            case ValueKind::real: return "::double precision";
            case ValueKind::timestamp: return "::timestamptz";
            case ValueKind::blob: return "::bytea";
            case ValueKind::array: return element == ValueKind::real ? "::double precision[]" : std::string_view{};
            default: return {};
        }
    }
    std::string_view row_list_open() const noexcept override { return "("; }
};

}  // namespace

const Dialect& postgres() {
    static const Dialect* const d = new PostgresDialect();  // never destroyed: usable during program exit
    return *d;
}

}  // namespace quarry::core
