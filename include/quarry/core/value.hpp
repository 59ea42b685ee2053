// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace quarry::core {

enum class ValueKind : std::uint8_t { null, boolean, integer, real, text, blob, timestamp, array };

// Throws QueryError: a text or blob of 4 GiB or more does not fit a Value (its size is 32 bits).
[[noreturn]] void value_too_large(std::size_t bytes);

// A bound parameter as the renderer hands it out: a 16-byte view. Text, blob and array
// payloads point into the storage of the query node that owns them, so a Value lives as long
// as the query value it was rendered from (Rendered keeps that alive).
struct Value {
    ValueKind kind = ValueKind::null;
    ValueKind element = ValueKind::null;  // arrays: the kind of their items (even when empty)
    std::uint32_t size = 0;  // bytes of text/blob, elements of an array
    union {
        std::int64_t i;  // integer, boolean, timestamp (microseconds since the Unix epoch, UTC)
        double d;
        const char* s;      // text and blob bytes
        const Value* items;  // array elements
    };
    Value() : i(0) {}

    static Value null() { return {}; }
    static Value boolean(bool b) { Value v; v.kind = ValueKind::boolean; v.i = b; return v; }
    static Value integer(std::int64_t x) { Value v; v.kind = ValueKind::integer; v.i = x; return v; }
    static Value real(double x) { Value v; v.kind = ValueKind::real; v.d = x; return v; }
    static Value timestamp(std::int64_t micros) { Value v; v.kind = ValueKind::timestamp; v.i = micros; return v; }
    // Text pointing at `t`'s characters: valid while they are.
    static Value string(std::string_view t) {
        if (t.size() > UINT32_MAX) [[unlikely]]
            value_too_large(t.size());
        Value v;
        v.kind = ValueKind::text;
        v.s = t.data();
        v.size = static_cast<std::uint32_t>(t.size());
        return v;
    }

    std::string_view text() const { return {s, size}; }
    friend bool operator==(const Value& a, const Value& b);
};

// SQL column types, as schemas declare them and casts name them.
enum class SqlType : std::uint8_t { any, boolean, integer, bigint, real, text, blob, timestamp, date, json, uuid };

std::string_view to_string(ValueKind k);
std::string_view to_string(SqlType t);

}  // namespace quarry::core
