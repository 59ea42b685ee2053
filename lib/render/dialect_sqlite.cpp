// SPDX-License-Identifier: MIT
#include "quarry/core/dialect.hpp"

namespace quarry::core {
namespace {

class SqliteDialect final : public Dialect {
public:
    std::string_view name() const noexcept override { return "sqlite"; }
    // Plain `?`: parameters are numbered by position, which is the order quarry emits them in.
    // Never `$N`: SQLite reads that as a *named* parameter and binds it out of order.
    char* placeholder(char* out, std::uint32_t) const override {
        *out = '?';
        return out + 1;
    }
    std::string_view boolean(bool v) const noexcept override { return v ? "1" : "0"; }
    bool supports(Feature f) const noexcept override {
        switch (f) {
            case Feature::right_join:
            case Feature::full_join: return true;  // 3.39+
            default: return false;
        }
    }
    InListStyle in_list_style() const noexcept override { return InListStyle::expanded; }
    CompoundWrap compound_wrap() const noexcept override { return CompoundWrap::subselect; }
    SetOpGrouping set_op_grouping() const noexcept override { return SetOpGrouping::left_to_right; }
    std::string_view type_name(SqlType t) const noexcept override {
        switch (t) {
            case SqlType::boolean:
            case SqlType::integer:
            case SqlType::bigint: return "INTEGER";
            case SqlType::real: return "REAL";
            case SqlType::blob: return "BLOB";
            case SqlType::any: return "NUMERIC";
            default: return "TEXT";  // timestamps, dates, JSON and UUIDs are ISO/canonical text
        }
    }
    std::string_view function_name(Func f) const noexcept override {
        if (f == Func::greatest) return "MAX";  // SQLite's multi-argument max() is GREATEST
        if (f == Func::least) return "MIN";
        return Dialect::function_name(f);
    }
    std::string_view offset_prefix() const noexcept override { return "LIMIT -1 "; }
    std::uint32_t max_params() const noexcept override { return 32766; }
};

}  // namespace

const Dialect& sqlite() {
    static const Dialect* const d = new SqliteDialect();  // never destroyed: usable during program exit
    return *d;
}

}  // namespace quarry::core
