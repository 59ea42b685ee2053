// SPDX-License-Identifier: MIT
// Enums, dates, durations, UUIDs and JSON (quarry/types.hpp): their text, their type checks, and
// round trips through real SQLite database files, including stored values that do not fit.
#include <doctest/doctest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <unordered_set>

#include <quarry/repo.hpp>

#include "schema.hpp"
#include "support.hpp"
#include "types_support.hpp"

using namespace quarry;
using namespace std::chrono;

namespace {

struct TempDb {
    std::filesystem::path dir;
    std::string url;
    TempDb() {
        char tmpl[] = "/tmp/quarry-types-XXXXXX";
        dir = mkdtemp(tmpl);
        url = "sqlite:" + (dir / "types.db").string();
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
};

Repo typed_repo(const TempDb& db) {
    Repo repo(db.url);
    repo.session().connection().execute(typed_schema_sqlite);
    return repo;
}

template <class Q>
std::string params_of(const Q& q) {
    return format_params(to_sql(q, sqlite()).params);
}


}  // namespace

// A type whose value_traits were written against core::Lowerer& alone (before clauses were
// built in two passes): it must still bind wherever a value can appear.
struct Cents {
    std::int64_t v;
};
struct Label {
    std::string text;
};
template <>
struct quarry::value_traits<Cents> {
    static constexpr core::SqlType sql_type = core::SqlType::bigint;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::integer;
    static void bind(core::Lowerer& l, Cents c) { l.param(core::Value::integer(c.v)); }
    static Cents read(const core::Row& r, std::uint32_t i) { return {r.integer(i)}; }
};
struct Wrapped {
    std::int64_t v;
};
// Writes an op around its parameter: that cannot be replayed into a two-pass build.
template <>
struct quarry::value_traits<Wrapped> {
    static constexpr core::SqlType sql_type = core::SqlType::bigint;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::integer;
    static void bind(core::Lowerer& l, Wrapped w) {
        l.op(core::OpKind::cast, 0, 1, static_cast<std::uint32_t>(core::SqlType::bigint));
        l.param(core::Value::integer(w.v));
    }
    static Wrapped read(const core::Row& r, std::uint32_t i) { return {r.integer(i)}; }
};
template <>
struct quarry::value_traits<Label> {
    static constexpr core::SqlType sql_type = core::SqlType::text;
    static constexpr family fam = family::text;
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(core::Lowerer& l, const Label& s) { l.param_text(s.text); }
    static Label read(const core::Row& r, std::uint32_t i) { return {std::string(r.text(i))}; }
};

// Binds a temporary: the formatted text is gone when bind returns, so whoever keeps the
// parameter until the statement runs must keep a copy.
struct Shout {
    std::string text;
};
template <>
struct quarry::value_traits<Shout> {
    static constexpr core::SqlType sql_type = core::SqlType::text;
    static constexpr family fam = family::text;
    static constexpr core::ValueKind kind = core::ValueKind::text;
    static void bind(auto& l, const Shout& s) {
        std::string upper = s.text;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        l.param_text(upper);
        upper.assign(upper.size(), '#');  // what a freed buffer might hold by the time it runs
    }
    static Shout read(const core::Row& r, std::uint32_t i) { return {std::string(r.text(i))}; }
};
struct Poster {
    std::string code;  // the primary key, a Repo::get argument
    Label label;       // value_traits written for core::Lowerer& alone
    Shout shout;
    Cents price;
};
BOOST_HANA_ADAPT_STRUCT(Poster, code, label, shout, price);
QUARRY_TABLE(Poster, "posters", &Poster::code);

// Binds one parameter on its first call and two on every later one: a bind that is not a pure
// function of its value. The two-pass build must stop the program with a message on it (that the
// stop comes before anything is written past the node is Writer's per-write check, which this
// test does not observe on its own).
struct Flaky {
    std::int64_t v;
};
template <>
struct quarry::value_traits<Flaky> {
    static constexpr core::SqlType sql_type = core::SqlType::bigint;
    static constexpr family fam = family::numeric;
    static constexpr core::ValueKind kind = core::ValueKind::integer;
    static inline int calls = 0;
    static void bind(auto& l, Flaky f) {
        l.param(core::Value::integer(f.v));
        if (calls++ > 0) l.param(core::Value::integer(f.v));
    }
    static Flaky read(const core::Row& r, std::uint32_t i) { return {r.integer(i)}; }
};

// ---- compile-time checks ------------------------------------------------------------------

using timestamp_us = sys_time<microseconds>;
static_assert(comparable_v<Color, Color>);
static_assert(comparable_v<std::optional<Color>, Color>);
static_assert(!comparable_v<Color, int>);
static_assert(!comparable_v<Color, std::string>);
static_assert(!comparable_v<Color, Level>);
static_assert(!comparable_v<Level, std::int16_t>);
static_assert(comparable_v<year_month_day, sys_days>);
static_assert(!comparable_v<year_month_day, timestamp_us>);
static_assert(!comparable_v<year_month_day, std::string>);
static_assert(comparable_v<seconds, nanoseconds>);
static_assert(comparable_v<std::optional<milliseconds>, duration<double>>);
static_assert(!comparable_v<seconds, std::int64_t>);
static_assert(comparable_v<uuid, uuid>);
static_assert(!comparable_v<uuid, std::string>);
static_assert(!comparable_v<uuid, json>);
static_assert(comparable_v<json, json>);
static_assert(!comparable_v<json, std::string>);
static_assert(comparable_v<Color, dynamic_value>);
static_assert(value_traits<Color>::sql_type == core::SqlType::text);
static_assert(value_traits<Level>::sql_type == core::SqlType::integer);
static_assert(value_traits<Level>::kind == core::ValueKind::integer);
static_assert(value_traits<year_month_day>::sql_type == core::SqlType::date);
static_assert(value_traits<sys_days>::sql_type == core::SqlType::date);
static_assert(value_traits<sys_seconds>::sql_type == core::SqlType::timestamp);  // other time points stay timestamps
static_assert(value_traits<hours>::sql_type == core::SqlType::bigint);
static_assert(value_traits<uuid>::sql_type == core::SqlType::uuid);
static_assert(value_traits<json>::sql_type == core::SqlType::json);
static_assert(uuid().is_nil());
static_assert(uuid() < uuid({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));

// ---- values -------------------------------------------------------------------------------

TEST_CASE("uuid parses canonical text in either case and formats it lowercase") {
    const auto u = uuid::parse("123E4567-e89b-12d3-A456-426614174000");
    REQUIRE(u);
    CHECK(u->to_string() == "123e4567-e89b-12d3-a456-426614174000");
    CHECK(u->bytes()[0] == 0x12);
    CHECK(u->bytes()[15] == 0x00);
    CHECK(uuid().to_string() == "00000000-0000-0000-0000-000000000000");
    CHECK(uuid::from_string("ffffffff-ffff-ffff-ffff-ffffffffffff").to_string() == "ffffffff-ffff-ffff-ffff-ffffffffffff");
    for (const char* bad : {"", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400",
                            "123e4567-e89b-12d3-a456-4266141740000", "123e4567-e89b-12d3-a456_426614174000",
                            "123e456-7e89b-12d3-a456-426614174000", "{123e4567-e89b-12d3-a456-426614174000}",
                            "123e4567-e89b-12d3-a456-42661417400g", " 23e4567-e89b-12d3-a456-426614174000"}) {
        CAPTURE(bad);
        CHECK_FALSE(uuid::parse(bad));
    }
    CHECK_THROWS_AS(uuid::from_string("nope"), std::invalid_argument);
    CHECK(uuid() < *u);
    CHECK(*u == uuid::from_string("123e4567-e89b-12d3-a456-426614174000"));
    std::unordered_set<uuid> set{uuid(), *u, *u};
    CHECK(set.size() == 2);
}

TEST_CASE("dates format and parse as YYYY-MM-DD in years 0001-9999") {
    char buf[10];
    REQUIRE(core::format_date(ymd(1, 1, 1), buf));
    CHECK(std::string_view(buf, 10) == "0001-01-01");
    REQUIRE(core::format_date(ymd(9999, 12, 31), buf));
    CHECK(std::string_view(buf, 10) == "9999-12-31");
    CHECK_FALSE(core::format_date(ymd(0, 1, 1), buf));
    CHECK_FALSE(core::format_date(ymd(10000, 1, 1), buf));
    CHECK_FALSE(core::format_date(ymd(2023, 2, 29), buf));
    year_month_day d;
    REQUIRE(core::parse_date("1969-12-31", d));
    CHECK(d == ymd(1969, 12, 31));
    for (const char* bad : {"", "1969-12-3", "1969-12-31 ", "1969/12/31", "2023-02-29", "0000-01-01", "1969-13-01",
                            "1969-12-31T00:00:00", "19691231", "-969-12-31", "infinity", "0001-01-01 BC"}) {
        CAPTURE(bad);
        CHECK_FALSE(core::parse_date(bad, d));
    }
}

TEST_CASE("each type binds as text or an integer, and a value it cannot store is a QueryError") {
    CHECK(params_of(from<Typed>() | where(col(&Typed::color) == Color::green)) == "'green'");
    CHECK(params_of(from<Typed>() | where(col(&Typed::size) == shop::Item::Size::xl)) == "'XL'");
    CHECK(params_of(from<Typed>() | where(col(&Typed::level) == Level::low)) == "-1");
    CHECK(params_of(from<Typed>() | where(col(&Typed::maybe_level).in({Level::mid, Level::high}))) == "5, 10");
    CHECK(params_of(from<Typed>() | where(col(&Typed::day) == ymd(1969, 7, 20))) == "'1969-07-20'");
    CHECK(params_of(from<Typed>() | where(col(&Typed::since) < year(2024) / 1 / 5)) == "'2024-01-05'");
    CHECK(params_of(from<Typed>() | where(col(&Typed::day) == sys_days{} - days(1))) == "'1969-12-31'");
    CHECK(params_of(from<Typed>() | where(col(&Typed::micros) > seconds(-3))) == "-3000000");
    CHECK(params_of(from<Typed>() | where(col(&Typed::secs) == hours(2))) == "7200000000");
    CHECK(params_of(from<Typed>() | where(col(&Typed::nanos) == nanoseconds(-1999))) == "-1");  // toward zero
    CHECK(params_of(from<Typed>() | where(col(&Typed::fsecs) == duration<double, std::milli>(2.5))) == "2500");
    CHECK(params_of(from<Typed>() | where(col(&Typed::key) == uuid())) == "'00000000-0000-0000-0000-000000000000'");
    CHECK(params_of(from<Typed>() | where(col(&Typed::doc) == json(R"({"a": "it's"})"))) == R"('{"a": "it''s"}')");
    CHECK(params_of(update_all(from<Typed>(), set(&Typed::color, Color::blue), set(&Typed::maybe_color, std::optional<Color>()))) ==
          "'blue', NULL");

    CHECK_THROWS_WITH_AS(from<Typed>() | where(col(&Typed::color) == static_cast<Color>(7)),
                         doctest::Contains("value 7 of enum Color is not declared"), QueryError);
    CHECK_THROWS_WITH_AS(from<Typed>() | where(col(&Typed::level) == static_cast<Level>(6)),
                         doctest::Contains("enum Level"), QueryError);
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::day) == ymd(2023, 2, 29)), QueryError);
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::day) == ymd(0, 12, 31)), QueryError);
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::day) == ymd(10000, 1, 1)), QueryError);
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::secs) == hours(std::numeric_limits<std::int64_t>::max() / 1000)),
                    QueryError);
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::secs) == seconds(9'223'372'036'855LL)), QueryError);
    // Timestamps: years 0001-9999 (as dates), refused outside rather than overflowed into another
    // time: sys_time<seconds>::max(), a common "never", became 1969-12-31T23:59:59.
    CHECK(quarry::detail::timestamp_micros(microseconds(253'402'300'799'999'999)) == 253'402'300'799'999'999);
    CHECK(quarry::detail::timestamp_micros(seconds(-62'135'596'800)) == -62'135'596'800'000'000);
    CHECK(quarry::detail::timestamp_micros(nanoseconds(-1999)) == -1);  // toward zero, as durations
    CHECK_THROWS_AS(quarry::detail::timestamp_micros(seconds::max()), QueryError);
    CHECK_THROWS_AS(quarry::detail::timestamp_micros(seconds(253'402'300'800)), QueryError);  // 10000-01-01
    CHECK_THROWS_AS(quarry::detail::timestamp_micros(seconds(-62'135'596'801)), QueryError);
    CHECK_THROWS_AS(quarry::detail::timestamp_micros(duration<double>(1e300)), QueryError);
    CHECK_THROWS_AS(from<User>() | where(col(&User::inserted_at) < timestamp::max()), QueryError);
    CHECK_NOTHROW(from<User>() | where(col(&User::inserted_at) < timestamp(microseconds(253'402'300'799'999'999))));
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::fsecs) == duration<double>(1e300)), QueryError);
    CHECK_THROWS_AS(from<Typed>() | where(col(&Typed::fsecs) == duration<double>(std::numeric_limits<double>::quiet_NaN())),
                    QueryError);
}

TEST_CASE("a value_traits whose bind takes core::Lowerer& binds in comparisons, IN lists and optionals") {
    auto q = from<User>() | where(col(&User::id) == Cents{5}) | where(col(&User::name) == Label{"it's"}) |
             where(in(col(&User::id), std::vector<Cents>{{1}, {2}})) |
             where(col(&User::age) == std::optional<Cents>(Cents{7}));
    auto r = to_sql(q, sqlite());
    CHECK(r.sql == R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users" WHERE "id" = ? AND )"
                   R"("name" = ? AND "id" IN (?, ?) AND "age" = ?)");
    CHECK(format_params(r.params) == "5, 'it''s', 1, 2, 7");
    // The same shape with other values: one cache key.
    auto other = from<User>() | where(col(&User::id) == Cents{6}) | where(col(&User::name) == Label{"x"}) |
                 where(in(col(&User::id), std::vector<Cents>{{3}, {4}})) |
                 where(col(&User::age) == std::optional<Cents>(Cents{8}));
    CHECK(other.shape() == q.shape());
    // A bind(core::Lowerer&) that writes more than parameters is refused, not silently cut short.
    CHECK_THROWS_WITH_AS(from<User>() | where(col(&User::id) == Wrapped{1}), doctest::Contains("bind(auto& l"),
                         QueryError);
}

namespace {
std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

TEST_CASE("the Repo's own writes and get() keep text bound from temporaries, and bind Lowerer&-only value_traits") {
    TempDb db;
    Repo repo(db.url);
    repo.session().connection().execute(
        "CREATE TABLE posters (code TEXT PRIMARY KEY, label TEXT NOT NULL, shout TEXT NOT NULL, price INTEGER NOT NULL)");
    // Short texts fit the parameter list's own bytes; these long ones (three of them, 900 bytes
    // each) do not, and each gets storage of its own.
    const std::string long_code(900, 'k'), long_label(900, 'l'), long_text(900, 'q');
    for (const auto& case_ : {std::tuple{std::string("p1"), std::string("it's"), std::string("sale")},
                              std::tuple{long_code, long_label, long_text}}) {
        // Not a structured binding: clang 14 cannot capture one (CAPTURE is a lambda).
        const std::string& code = std::get<0>(case_);
        const std::string& label = std::get<1>(case_);
        const std::string& text = std::get<2>(case_);
        CAPTURE(code.size());
        const Poster stored = repo.insert(Poster{code, Label{label}, Shout{text}, Cents{250}});
        CHECK(stored.shout.text == upper(text));
        std::optional<Poster> got = repo.get<Poster>(code);
        REQUIRE(got);
        CHECK(got->label.text == label);
        CHECK(got->shout.text == upper(text));
        CHECK(got->price.v == 250);
        got->shout.text = text + "!";
        got->label.text = label + "?";
        got->price = Cents{300};
        repo.update(*got);
        const Poster updated = repo.get<Poster>(code).value();
        CHECK(updated.shout.text == upper(text) + "!");
        CHECK(updated.label.text == label + "?");
        CHECK(updated.price.v == 300);
        const Poster upserted = repo.upsert(Poster{code, Label{"again"}, Shout{text}, Cents{1}}, &Poster::code);
        CHECK(upserted.label.text == "again");
        repo.remove(upserted);
        CHECK_FALSE(repo.get<Poster>(code));
    }
}

TEST_CASE("a clause with more than 4 GiB of text is refused while counting, before any memory is taken") {
    // The counting pass reads only sizes: these views are never dereferenced.
    const char byte = 'x';
    core::Counter one;
    CHECK_THROWS_WITH_AS(one.param_text(std::string_view(&byte, std::size_t{5} << 30)), doctest::Contains("4 GiB"),
                         QueryError);
    core::Counter many;  // the limit is on the clause's total, not on each value
    many.param_text(std::string_view(&byte, std::size_t{3} << 30));
    CHECK_THROWS_AS(many.param_text(std::string_view(&byte, std::size_t{3} << 30)), QueryError);
    CHECK_THROWS_AS(many.string(std::string_view(&byte, std::size_t{2} << 30)), QueryError);
    CHECK(many.sizes().chars == std::uint32_t{3} << 30);
    CHECK(many.sizes().params == 1);
}

TEST_CASE("a bind that binds differently when counted and when written stops the program with a message") {
    const ChildEnd end = run_in_child([] {
        value_traits<Flaky>::calls = 0;
        auto q = from<User>() | where(col(&User::id) == Flaky{1});  // counted with one value, written with two
        (void)q;
    });
    CHECK(end.stopped);
    CHECK(end.err.find("lowered differently when counted and when written") != std::string::npos);
}

// ---- SQLite -------------------------------------------------------------------------------

TEST_CASE("SQLite: every new type round-trips through a database file, with NULLs and edge values") {
    TempDb db;
    const auto rows = typed_edge_rows();
    std::vector<std::int64_t> ids;
    {
        Repo repo = typed_repo(db);
        for (const Typed& t : rows) {
            const Typed stored = repo.insert(t);
            check_same(stored, t);
            ids.push_back(stored.id);
        }
    }
    Repo repo(db.url);  // a second connection reads what the first wrote
    for (std::size_t k = 0; k < rows.size(); ++k) {
        CAPTURE(k);
        auto back = repo.get<Typed>(ids[k]);
        REQUIRE(back);
        check_same(*back, rows[k]);
    }
    // Stored as documented: names, underlying numbers, ISO dates, microseconds, lowercase UUIDs.
    using Raw = std::tuple<std::string, std::int64_t, std::string, std::string, std::string, std::int64_t, std::int64_t,
                           std::string, std::string>;
    auto raw = repo.query<Raw>("SELECT color, level, size, day, since, nanos, fsecs, key, doc FROM typed WHERE id = ?", ids[0]);
    REQUIRE(raw.size() == 1);
    CHECK(raw[0] == Raw{"red", -1, "S", "0001-01-01", "1969-12-31", -1500, -250000, "00000000-0000-0000-0000-000000000000",
                        "{}"});
    CHECK(repo.query<std::string>("SELECT key FROM typed WHERE id = ?", ids[3]) ==
          std::vector<std::string>{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"});
    CHECK(repo.query<std::string>("SELECT doc FROM typed WHERE id = ?", ids[1])[0] == rows[1].doc.text);
    CHECK(repo.one(from<Typed>() | where(col(&Typed::id) == ids[0]) | select(col(&Typed::maybe_color), col(&Typed::maybe_day),
                                                                                 col(&Typed::maybe_ms), col(&Typed::maybe_key),
                                                                                 col(&Typed::maybe_doc))) ==
          std::tuple<std::optional<Color>, std::optional<year_month_day>, std::optional<milliseconds>, std::optional<uuid>,
                     std::optional<json>>{});
}

TEST_CASE("SQLite: filters, ordering, IN lists, updates and keys work on the new types") {
    TempDb db;
    Repo repo = typed_repo(db);
    for (const Typed& t : typed_edge_rows()) repo.insert(t);
    auto ids_of = [&](const auto& q) {
        std::vector<std::int64_t> out;
        for (const Typed& t : repo.all(q | order_by(col(&Typed::id)))) out.push_back(t.id);
        return out;
    };
    using V = std::vector<std::int64_t>;
    CHECK(ids_of(from<Typed>() | where(col(&Typed::color) == Color::red)) == V{1, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::color).in({Color::green, Color::blue}))) == V{2, 3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::maybe_color) == Color::blue)) == V{2});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::level) > Level::low)) == V{2, 3, 4});  // integers order numerically
    CHECK(ids_of(from<Typed>() | where(col(&Typed::level).between(Level::mid, Level::high))) == V{2, 3, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::day) < ymd(1970, 1, 1))) == V{1});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::day) >= sys_days{ymd(2024, 2, 29)})) == V{2, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::since).between(ymd(1582, 1, 1), ymd(1970, 1, 1)))) == V{1, 2, 3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::micros) > seconds(1))) == V{2, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::micros) < microseconds(0))) == V{1, 3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::maybe_ms) == milliseconds(0))) == V{3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::key) == uuid::from_string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))) == V{4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::key).in({uuid(), uuid::from_string("00000000-0000-0000-0000-000000000001")}))) ==
          V{1, 3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::doc) == json("null"))) == V{3, 4});  // 4: json() is JSON null
    CHECK(ids_of(from<Typed>() | where(is_null(col(&Typed::maybe_key)))) == V{1, 4});

    // Text order of ISO dates and lowercase UUIDs is their order.
    std::vector<year_month_day> days = repo.all(from<Typed>() | order_by(col(&Typed::day)) | select(col(&Typed::day)));
    CHECK(std::is_sorted(days.begin(), days.end()));
    std::vector<uuid> keys = repo.all(from<Typed>() | order_by(col(&Typed::key).desc()) | select(col(&Typed::key)));
    CHECK(std::is_sorted(keys.rbegin(), keys.rend()));
    CHECK(repo.min(from<Typed>(), &Typed::day) == ymd(1, 1, 1));
    CHECK(repo.max(from<Typed>(), &Typed::micros) == microseconds::max());

    CHECK(repo.execute(update_all(from<Typed>() | where(col(&Typed::color) == Color::red),
                                  set(&Typed::color, Color::blue), set(&Typed::maybe_day, ymd(2001, 9, 9)))) == 2);
    CHECK(ids_of(from<Typed>() | where(col(&Typed::color) == Color::blue)) == V{1, 3, 4});
    CHECK(repo.get<Typed>(std::int64_t{1})->maybe_day == ymd(2001, 9, 9));
    CHECK(repo.query<Color>("SELECT color FROM typed WHERE level = ? AND day = ?", Level::high, ymd(9999, 12, 31)) ==
          std::vector<Color>{Color::green});

    const uuid k = uuid::from_string("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    repo.insert(Tag{k, "dns"});
    repo.insert(Tag{uuid(), "nil"});
    CHECK(repo.get<Tag>(k)->label == "dns");
    CHECK(repo.get<Tag>(uuid())->label == "nil");
    CHECK_FALSE(repo.get<Tag>(uuid::from_string("6ba7b811-9dad-11d1-80b4-00c04fd430c8")));
    repo.update(Tag{k, "renamed"});
    CHECK(repo.get<Tag>(k)->label == "renamed");
    repo.remove(Tag{k, ""});
    CHECK_FALSE(repo.get<Tag>(k));
}

TEST_CASE("SQLite: sum of a duration column is that duration; of a nullable one, its values' sum") {
    TempDb db;
    Repo repo = typed_repo(db);
    CHECK_FALSE(repo.sum(from<Typed>(), &Typed::secs).has_value());
    Typed a, b;
    a.key = uuid::from_string("00000000-0000-0000-0000-00000000000a");
    b.key = uuid::from_string("00000000-0000-0000-0000-00000000000b");
    a.secs = std::chrono::seconds(5);
    b.secs = std::chrono::seconds(7);
    a.maybe_ms = std::chrono::milliseconds(1500);
    repo.insert(a);
    repo.insert(b);
    const std::optional<std::chrono::seconds> secs = repo.sum(from<Typed>(), &Typed::secs);
    CHECK(secs == std::chrono::seconds(12));
    const std::optional<std::chrono::milliseconds> ms = repo.sum(from<Typed>(), &Typed::maybe_ms);
    CHECK(ms == std::chrono::milliseconds(1500));
}

TEST_CASE("a text or blob of 4 GiB or more is refused, not cut to its size modulo 4 GiB") {
    static const char byte = 'x';
    const std::string_view huge(&byte, (std::size_t{1} << 32) + 3);  // refused before a byte is read
    CHECK_THROWS_WITH_AS(core::Value::string(huge), doctest::Contains("4 GiB is the limit"), QueryError);
    core::Lowerer l{core::Lowerer::ValuesOnly{}};
    CHECK_THROWS_AS(l.param_text(huge), QueryError);
    core::ParamList values;  // the Repo's own statements' parameters
    CHECK_THROWS_AS(values.param_blob(huge), QueryError);
    CHECK(values.size() == 0);
}

TEST_CASE("SQLite: a stored value the type cannot hold is a DecodeError naming the column") {
    TempDb db;
    Repo repo = typed_repo(db);
    auto& c = repo.session().connection();
    std::int64_t id = 0;
    auto read = [&] { return repo.get<Typed>(id); };
    // Sets one stored value, reads every row, and says which column failed to decode.
    auto fails_on = [&](const char* set_clause) {
        c.execute("DELETE FROM typed");
        repo.insert(typed_edge_rows()[1]);
        c.execute("UPDATE typed SET " + std::string(set_clause));
        return decode_error_column([&] { repo.all(from<Typed>()); });
    };
    CHECK(fails_on("color = 'purple'") == "color");
    CHECK(fails_on("color = 'Red'") == "color");  // names are matched exactly
    CHECK(fails_on("color = 0") == "color");      // a number is not a name
    CHECK(fails_on("size = 'xl'") == "size");
    CHECK(fails_on("level = 7") == "level");
    CHECK(fails_on("level = 'mid'") == "level");
    CHECK(fails_on("maybe_color = ''") == "maybe_color");
    CHECK(fails_on("maybe_level = 0") == "maybe_level");
    CHECK(fails_on("day = '2023-02-29'") == "day");
    CHECK(fails_on("day = '2024-1-5'") == "day");
    CHECK(fails_on("day = '2024-01-05T00:00:00Z'") == "day");
    CHECK(fails_on("since = 20240105") == "since");
    CHECK(fails_on("maybe_day = 'yesterday'") == "maybe_day");
    CHECK(fails_on("secs = 1500000") == "secs");                 // 1.5 s is not a whole number of seconds
    CHECK(fails_on("micros = 'ten'") == "micros");
    CHECK(fails_on("key = 'not-a-uuid'") == "key");
    CHECK(fails_on("key = '123e4567e89b12d3a456426614174000'") == "key");
    CHECK(fails_on("maybe_key = x'00112233445566778899aabbccddeeff'") == "maybe_key");
    CHECK(fails_on("doc = x'7b7d'") == "doc");  // a blob is not JSON text
    CHECK(fails_on("id = id") == "(no DecodeError)");  // the control: the row itself reads

    c.execute("DELETE FROM typed");
    id = repo.insert(typed_edge_rows()[1]).id;
    c.execute("UPDATE typed SET color = 'purple'");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("column color: holds \"purple\", which enum Color does not declare"),
                         DecodeError);
    c.execute("UPDATE typed SET color = 'red', key = 'zzz'");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("column key: holds \"zzz\", not a UUID"), DecodeError);
    c.execute("UPDATE typed SET key = '00000000-0000-0000-0000-000000000000', day = '2024-02-30'");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("column day: holds \"2024-02-30\", not a date"), DecodeError);
    c.execute("UPDATE typed SET day = '2024-02-29', level = 3");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("column level: holds 3, which enum Level does not declare"), DecodeError);
    c.execute("UPDATE typed SET level = 5, secs = 90000001");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("column secs: holds 90000001 microseconds"), DecodeError);
    c.execute("UPDATE typed SET secs = 90000000");
    CHECK(read()->secs == seconds(90));

    // A narrower duration type than the stored count: out of range, not wrapped.
    using micros32 = duration<std::int32_t, std::micro>;
    using millis32 = duration<std::int32_t, std::milli>;
    CHECK_THROWS_AS(repo.query<micros32>("SELECT 3000000000"), DecodeError);
    CHECK(repo.query<millis32>("SELECT 3000000000") == std::vector<millis32>{millis32(3'000'000)});
    CHECK_THROWS_AS(repo.query<nanoseconds>("SELECT ?", microseconds::max()), DecodeError);  // beyond 64-bit nanoseconds
    CHECK(repo.query<minutes>("SELECT ?", hours(-2)) == std::vector<minutes>{minutes(-120)});
    using fminutes = duration<double, std::ratio<60>>;
    CHECK(repo.query<fminutes>("SELECT 90000000")[0].count() == 1.5);
    // NULL into a field that is not optional.
    CHECK(decode_error_column([&] { repo.query<uuid>("SELECT NULL AS k"); }) == "k");
    CHECK(decode_error_column([&] { repo.query<Color>("SELECT NULL AS c"); }) == "c");
    CHECK(decode_error_column([&] { repo.query<year_month_day>("SELECT NULL AS d"); }) == "d");
    CHECK(repo.query<std::optional<year_month_day>>("SELECT NULL") == std::vector<std::optional<year_month_day>>{std::nullopt});
}
