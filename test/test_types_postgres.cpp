// SPDX-License-Identifier: MIT
// Enums, dates, durations, UUIDs and JSON on the test PostgreSQL (started by scripts/test.sh):
// text and smallint enums and a native enum type, date, bigint, uuid and jsonb columns, in a
// scratch schema. Skipped when QUARRY_TEST_PG is not set.
#include <doctest/doctest.h>

#include <quarry/repo.hpp>

#include <unistd.h>

#include "pg_env.hpp"
#include "types_support.hpp"

using namespace quarry;
using namespace std::chrono;

namespace {

struct PgRepo {
    PgScratch scratch;
    Repo repo;
    PgRepo(const std::string& conninfo, const char* ddl) : scratch(conninfo, ddl), repo(conninfo) {
        std::string schema = pqxx::nontransaction(scratch.conn()).exec("SHOW search_path")[0][0].as<std::string>();
        repo.session().connection().execute("SET search_path TO " + schema);
    }
};


}  // namespace

TEST_CASE("PostgreSQL: every new type round-trips through date, bigint, uuid, jsonb and enum columns") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, typed_schema_postgres);
    Repo& repo = db.repo;
    const auto rows = typed_edge_rows();
    std::vector<std::int64_t> ids;
    for (const Typed& t : rows) {
        const Typed stored = repo.insert(t);  // RETURNING: the database's own text comes back
        check_same(stored, t);
        ids.push_back(stored.id);
    }
    for (std::size_t k = 0; k < rows.size(); ++k) {
        CAPTURE(k);
        auto back = repo.get<Typed>(ids[k]);
        REQUIRE(back);
        check_same(*back, rows[k]);
    }
    // The database holds real dates, UUIDs and JSON, not look-alike text.
    using Raw = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    CHECK(repo.query<Raw>("SELECT pg_typeof(day)::text, pg_typeof(key)::text, pg_typeof(doc)::text, "
                          "pg_typeof(maybe_color)::text, doc->>'q' FROM typed WHERE id = ?",
                          ids[1]) == std::vector<Raw>{{"date", "uuid", "jsonb", "color", R"(say "hi" \ back)"}});
    CHECK(repo.query<std::int64_t>("SELECT (day - DATE '0001-01-01') FROM typed WHERE id = ?", ids[1]) ==
          std::vector<std::int64_t>{3'652'058});
    CHECK(repo.query<std::string>("SELECT doc->'list'->>1 FROM typed WHERE id = ?", ids[1]) == std::vector<std::string>{"2.5"});
    CHECK(repo.query<std::string>("SELECT key::text FROM typed WHERE id = ?", ids[3]) ==
          std::vector<std::string>{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"});
    CHECK(repo.query<std::int64_t>("SELECT nanos FROM typed WHERE id = ?", ids[0]) == std::vector<std::int64_t>{-1500});

    // jsonb keeps meaning, not bytes: its normal form comes back.
    const Typed spaced = [&] {
        Typed t = rows[3];
        t.doc = json(R"({ "b":1,"a" : [true,false] ,"a2":"é"})");
        return repo.insert(t);
    }();
    CHECK(spaced.doc.text == R"({"a": [true, false], "b": 1, "a2": "é"})");
}

TEST_CASE("PostgreSQL: filters, ordering, IN arrays, updates and UUID keys work on the new types") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, typed_schema_postgres);
    Repo& repo = db.repo;
    for (const Typed& t : typed_edge_rows()) repo.insert(t);
    auto ids_of = [&](const auto& q) {
        std::vector<std::int64_t> out;
        for (const Typed& t : repo.all(q | order_by(col(&Typed::id)))) out.push_back(t.id);
        return out;
    };
    using V = std::vector<std::int64_t>;
    CHECK(ids_of(from<Typed>() | where(col(&Typed::color) == Color::red)) == V{1, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::color).in({Color::green, Color::blue}))) == V{2, 3});  // text[]
    CHECK(ids_of(from<Typed>() | where(col(&Typed::maybe_color).in({Color::blue, Color::red}))) == V{2, 3});  // color[]
    CHECK(ids_of(from<Typed>() | where(col(&Typed::maybe_color) == Color::blue)) == V{2});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::level) > Level::low)) == V{2, 3, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::maybe_level).not_in({Level::mid}))) == V{3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::day) < ymd(1970, 1, 1))) == V{1});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::day) >= sys_days{ymd(2024, 2, 29)})) == V{2, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::since).between(ymd(1582, 1, 1), ymd(1970, 1, 1)))) == V{1, 2, 3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::micros) > seconds(1))) == V{2, 4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::micros) < microseconds(0))) == V{1, 3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::maybe_ms) == milliseconds(0))) == V{3});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::key) == uuid::from_string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))) == V{4});
    CHECK(ids_of(from<Typed>() | where(col(&Typed::key).in({uuid(), uuid::from_string("00000000-0000-0000-0000-000000000001")}))) ==
          V{1, 3});  // uuid[]
    CHECK(ids_of(from<Typed>() | where(col(&Typed::doc) == json(R"({"q": "say \"hi\" \\ back", "name": "naïve ✓ 日本", )"
                                                                R"("list": [1, 2.5, null, true]})"))) == V{2});  // jsonb equality
    CHECK(ids_of(from<Typed>() | where(is_null(col(&Typed::maybe_key)))) == V{1, 4});

    std::vector<year_month_day> days = repo.all(from<Typed>() | order_by(col(&Typed::day)) | select(col(&Typed::day)));
    CHECK(std::is_sorted(days.begin(), days.end()));
    std::vector<uuid> keys = repo.all(from<Typed>() | order_by(col(&Typed::key)) | select(col(&Typed::key)));
    CHECK(std::is_sorted(keys.begin(), keys.end()));  // uuid order in C++ is PostgreSQL's
    CHECK(repo.min(from<Typed>(), &Typed::day) == ymd(1, 1, 1));
    CHECK(repo.max(from<Typed>(), &Typed::micros) == microseconds::max());

    CHECK(repo.execute(update_all(from<Typed>() | where(col(&Typed::color) == Color::red),
                                  set(&Typed::color, Color::blue), set(&Typed::maybe_color, std::optional<Color>(Color::green)),
                                  set(&Typed::maybe_day, ymd(2001, 9, 9)), set(&Typed::maybe_ms, minutes(-1)))) == 2);
    const Typed first = *repo.get<Typed>(std::int64_t{1});
    CHECK(first.color == Color::blue);
    CHECK(first.maybe_color == Color::green);
    CHECK(first.maybe_day == ymd(2001, 9, 9));
    CHECK(first.maybe_ms == milliseconds(-60'000));
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
    CHECK_THROWS_AS(repo.insert(Tag{k, "again"}), ConstraintError);
    repo.remove(Tag{k, ""});
    CHECK_FALSE(repo.get<Tag>(k));
}

TEST_CASE("PostgreSQL: a stored value the type cannot hold is a DecodeError naming the column") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    PgRepo db(*conninfo, typed_schema_postgres);
    Repo& repo = db.repo;
    auto& c = repo.session().connection();
    auto fails_on = [&](const char* set_clause) {
        c.execute("DELETE FROM typed");
        repo.insert(typed_edge_rows()[1]);
        c.execute("UPDATE typed SET " + std::string(set_clause));
        return decode_error_column([&] { repo.all(from<Typed>()); });
    };
    CHECK(fails_on("color = 'purple'") == "color");
    CHECK(fails_on("color = 'RED'") == "color");
    CHECK(fails_on("maybe_color = 'purple'") == "maybe_color");  // a label the database knows and C++ does not
    CHECK(fails_on("size = 'xl'") == "size");
    CHECK(fails_on("level = 7") == "level");
    CHECK(fails_on("maybe_level = 0") == "maybe_level");
    CHECK(fails_on("day = 'infinity'") == "day");
    CHECK(fails_on("day = '0001-12-31 BC'") == "day");  // before year 0001
    CHECK(fails_on("since = '10000-01-01'") == "since");
    CHECK(fails_on("secs = 1500000") == "secs");
    CHECK(fails_on("id = id") == "(no DecodeError)");

    c.execute("DELETE FROM typed");
    repo.insert(typed_edge_rows()[1]);
    c.execute("UPDATE typed SET maybe_color = 'purple'");
    CHECK_THROWS_WITH_AS(repo.all(from<Typed>()),
                         doctest::Contains("column maybe_color: holds \"purple\", which enum Color does not declare"), DecodeError);
    c.execute("UPDATE typed SET maybe_color = NULL, day = '-infinity'");
    CHECK_THROWS_WITH_AS(repo.all(from<Typed>()), doctest::Contains("column day: holds \"-infinity\", not a date"), DecodeError);

    // A uuid or jsonb column cannot hold malformed text: text read into those types can.
    CHECK_THROWS_WITH_AS(repo.query<uuid>("SELECT 'not-a-uuid'::text AS token"),
                         doctest::Contains("column token: holds \"not-a-uuid\", not a UUID"), DecodeError);
    CHECK(decode_error_column([&] { repo.query<uuid>("SELECT '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}'::text AS k"); }) == "k");
    CHECK(repo.query<uuid>("SELECT '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}'::uuid") ==
          std::vector<uuid>{uuid::from_string("6ba7b810-9dad-11d1-80b4-00c04fd430c8")});  // the server's canonical text
    CHECK(decode_error_column([&] { repo.query<year_month_day>("SELECT '2024-02-30'::text AS d"); }) == "d");
    CHECK(decode_error_column([&] { repo.query<uuid>("SELECT NULL::uuid AS n"); }) == "n");
    // The database refuses malformed values of its own types before quarry sees them.
    CHECK_THROWS_AS(repo.query<uuid>("SELECT ?::uuid", std::string("not-a-uuid")), DatabaseError);
    CHECK_THROWS_AS(repo.query<json>("SELECT ?::jsonb", std::string("{oops")), DatabaseError);
}

TEST_CASE("PostgreSQL: a session reads and writes as quarry expects whatever the connection string or database sets") {
    auto conninfo = test_pg_conninfo();
    if (!conninfo) return;
    const double third = 1.0 / 3;
    const std::string bytes("\x00\xff\\x", 4);
    const std::int64_t at = 1'700'000'000'123'456;  // 2023-11-14T22:13:20.123456Z
    {
        // What a role, a database or PGOPTIONS could set: the decoder must not depend on it.
        auto c = core::connect(*conninfo +
                               " options='-c extra_float_digits=0 -c bytea_output=escape -c DateStyle=SQL,DMY "
                               "-c IntervalStyle=sql_standard -c client_encoding=LATIN1'");
        auto st = c->prepare("SELECT $1::float8, $2::bytea, $3::timestamptz, length($4::text)");
        core::Value blob;
        blob.kind = core::ValueKind::blob;
        blob.s = bytes.data();
        blob.size = static_cast<std::uint32_t>(bytes.size());
        st->bind({core::Value::real(third), blob, core::Value::timestamp(at), core::Value::string("\xc3\xa9")});
        REQUIRE(st->step());
        CHECK(st->row().real(0) == third);  // not 0.33333333333333298
        CHECK(st->row().blob(1) == bytes);
        CHECK(st->row().timestamp(2) == at);
        CHECK(st->row().integer(3) == 1);  // "é" is one character, read as UTF-8
    }
    // A LATIN1 database: text is converted, and what LATIN1 cannot hold is refused, not garbled.
    const std::string db = "quarry_latin1_" + std::to_string(::getpid());
    pqxx::connection admin(*conninfo);
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + db);
    pqxx::nontransaction(admin).exec("CREATE DATABASE " + db +
                                     " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    {
        auto c = core::connect(*conninfo + " dbname=" + db);
        auto st = c->prepare("SELECT length($1::text), $1::text");
        st->bind({core::Value::string("caf\xc3\xa9")});
        REQUIRE(st->step());
        CHECK(st->row().integer(0) == 4);
        CHECK(st->row().text(1) == "caf\xc3\xa9");
        st->reset();
        st->bind({core::Value::string("\xe2\x82\xac")});  // the euro sign: not in LATIN1
        CHECK_THROWS_AS(st->step(), DatabaseError);
    }
    pqxx::nontransaction(admin).exec("DROP DATABASE " + db);
}
