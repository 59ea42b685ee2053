// SPDX-License-Identifier: MIT
// The schema the type tests of both databases share: enums, dates, durations, UUIDs and JSON.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <quarry/quarry.hpp>

enum class Color { red, green, blue };
QUARRY_ENUM_TEXT(Color, {red, "red"}, {green, "green"}, {Color::blue, "blue"});

enum class Level : std::int16_t { low = -1, mid = 5, high = 10 };
QUARRY_ENUM_INT(Level, low, mid, high);

namespace shop {
struct Item {
    enum class Size : std::uint8_t { s, m, l, xl = 200 };
};
}  // namespace shop
QUARRY_ENUM_TEXT(shop::Item::Size, {s, "S"}, {m, "M"}, {l, "L"}, {xl, "XL"});

struct Typed {
    std::int64_t id = 0;
    Color color{};
    Level level = Level::mid;
    shop::Item::Size size{};
    std::optional<Color> maybe_color;
    std::optional<Level> maybe_level;
    std::chrono::year_month_day day{std::chrono::year(2000), std::chrono::month(1), std::chrono::day(1)};
    std::chrono::sys_days since{};
    std::optional<std::chrono::year_month_day> maybe_day;
    std::chrono::microseconds micros{};
    std::chrono::seconds secs{};
    std::chrono::nanoseconds nanos{};
    std::chrono::duration<double> fsecs{};
    std::optional<std::chrono::milliseconds> maybe_ms;
    quarry::uuid key;
    std::optional<quarry::uuid> maybe_key;
    quarry::json doc;
    std::optional<quarry::json> maybe_doc;
};
BOOST_HANA_ADAPT_STRUCT(Typed, id, color, level, size, maybe_color, maybe_level, day, since, maybe_day, micros, secs, nanos,
                        fsecs, maybe_ms, key, maybe_key, doc, maybe_doc);
QUARRY_TABLE(Typed, "typed", &Typed::id);

// A table keyed by a UUID the application supplies.
struct Tag {
    quarry::uuid id;
    std::string label;
};
BOOST_HANA_ADAPT_STRUCT(Tag, id, label);
QUARRY_TABLE(Tag, "tags", &Tag::id);

inline constexpr const char* typed_schema_sqlite =
    "CREATE TABLE typed (id INTEGER PRIMARY KEY, color TEXT NOT NULL, level INTEGER NOT NULL, size TEXT NOT NULL, "
    "maybe_color TEXT, maybe_level INTEGER, day TEXT NOT NULL, since TEXT NOT NULL, maybe_day TEXT, micros INTEGER NOT NULL, "
    "secs INTEGER NOT NULL, nanos INTEGER NOT NULL, fsecs INTEGER NOT NULL, maybe_ms INTEGER, key TEXT NOT NULL, maybe_key TEXT, "
    "doc TEXT NOT NULL, maybe_doc TEXT);"
    "CREATE TABLE tags (id TEXT PRIMARY KEY, label TEXT NOT NULL);";

// maybe_color is a native PostgreSQL enum that knows one label more than the C++ enum.
inline constexpr const char* typed_schema_postgres =
    "CREATE TYPE color AS ENUM ('red', 'green', 'blue', 'purple');"
    "CREATE TABLE typed (id bigserial PRIMARY KEY, color text NOT NULL, level smallint NOT NULL, size text NOT NULL, "
    "maybe_color color, maybe_level integer, day date NOT NULL, since date NOT NULL, maybe_day date, micros bigint NOT NULL, "
    "secs bigint NOT NULL, nanos bigint NOT NULL, fsecs bigint NOT NULL, maybe_ms bigint, key uuid NOT NULL, maybe_key uuid, "
    "doc jsonb NOT NULL, maybe_doc jsonb);"
    "CREATE TABLE tags (id uuid PRIMARY KEY, label text NOT NULL);";

inline std::chrono::year_month_day ymd(int y, unsigned m, unsigned d) {
    return {std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
}

// Rows covering every enum value, edge dates and durations, the nil and the all-ones UUID, and
// JSON with quotes, backslashes and non-ASCII text. JSON is written in jsonb's normal form, so
// it reads back byte for byte on PostgreSQL too.
inline std::vector<Typed> typed_edge_rows() {
    using namespace std::chrono;
    std::vector<Typed> rows;
    Typed a;  // lows, NULLs
    a.color = Color::red;
    a.level = Level::low;
    a.size = shop::Item::Size::s;
    a.day = ymd(1, 1, 1);
    a.since = sys_days{ymd(1969, 12, 31)};
    a.micros = microseconds(-1);
    a.secs = seconds(-86'400LL * 365 * 200);
    a.nanos = nanoseconds(-1'500'000);  // whole microseconds: exact
    a.fsecs = duration<double>(-0.25);
    a.key = quarry::uuid();
    a.doc = quarry::json("{}");
    rows.push_back(a);

    Typed b;  // highs, every optional present
    b.color = Color::green;
    b.level = Level::high;
    b.size = shop::Item::Size::xl;
    b.maybe_color = Color::blue;
    b.maybe_level = Level::mid;
    b.day = ymd(9999, 12, 31);
    b.since = sys_days{ymd(1900, 2, 28)};
    b.maybe_day = ymd(2000, 2, 29);
    b.micros = microseconds::max();
    b.secs = seconds(9'223'372'036'854LL);  // the largest whole second in 64-bit microseconds
    b.nanos = nanoseconds::max() / 1000 * 1000;
    b.fsecs = duration<double>(1.5);
    b.maybe_ms = milliseconds(-3'600'000);
    b.key = quarry::uuid::from_string("ffffffff-ffff-ffff-ffff-ffffffffffff");
    b.maybe_key = quarry::uuid::from_string("123e4567-e89b-12d3-a456-426614174000");
    b.doc = quarry::json(R"({"q": "say \"hi\" \\ back", "list": [1, 2.5, null, true], "name": "naïve ✓ 日本"})");
    b.maybe_doc = quarry::json(R"("just a string")");
    rows.push_back(b);

    Typed c;  // the remaining enum values, dates around the epoch
    c.color = Color::blue;
    c.level = Level::mid;
    c.size = shop::Item::Size::m;
    c.maybe_color = Color::red;
    c.maybe_level = Level::low;
    c.day = ymd(1970, 1, 1);
    c.since = sys_days{ymd(1582, 10, 15)};
    c.maybe_day = ymd(1, 12, 31);
    c.micros = microseconds::min();
    c.secs = seconds(0);
    c.nanos = nanoseconds(0);
    c.fsecs = duration<double>(0);
    c.maybe_ms = milliseconds(0);
    c.key = quarry::uuid::from_string("00000000-0000-0000-0000-000000000001");
    c.maybe_key = quarry::uuid();
    c.doc = quarry::json("null");
    c.maybe_doc = quarry::json("[]");
    rows.push_back(c);

    Typed d;
    d.color = Color::red;
    d.size = shop::Item::Size::l;
    d.day = ymd(2024, 2, 29);
    d.since = sys_days{ymd(2024, 3, 1)};
    d.micros = microseconds(1'500'000);
    d.key = quarry::uuid::from_string("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");  // read back lowercase
    rows.push_back(d);
    return rows;
}

inline void check_same(const Typed& got, const Typed& want) {
    CHECK(got.color == want.color);
    CHECK(got.level == want.level);
    CHECK(got.size == want.size);
    CHECK(got.maybe_color == want.maybe_color);
    CHECK(got.maybe_level == want.maybe_level);
    CHECK(got.day == want.day);
    CHECK(got.since == want.since);
    CHECK(got.maybe_day == want.maybe_day);
    CHECK(got.micros == want.micros);
    CHECK(got.secs == want.secs);
    CHECK(got.nanos == want.nanos);
    CHECK(got.fsecs == want.fsecs);
    CHECK(got.maybe_ms == want.maybe_ms);
    CHECK(got.key == want.key);
    CHECK(got.maybe_key == want.maybe_key);
    CHECK(got.doc.text == want.doc.text);
    CHECK(got.maybe_doc == want.maybe_doc);
}

// The column of the DecodeError that f throws, or "(no DecodeError)".
template <class F>
std::string decode_error_column(F&& f) {
    try {
        f();
    } catch (const quarry::DecodeError& e) {
        return e.column();
    }
    return "(no DecodeError)";
}
