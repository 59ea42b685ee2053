// SPDX-License-Identifier: MIT
// Changesets without a database: casting every supported type from a string map and from JSON,
// each validation with passing and failing input, change tracking, errors and their output.
// The test builds a std::regex of its own, and GCC 12 with sanitizers warns falsely inside
// libstdc++'s regex automaton (see lib/changeset/format.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <doctest/doctest.h>

#include <cmath>

#include <regex>
#include <thread>

#include <quarry/changeset_json.hpp>

#include "schema.hpp"

using namespace quarry;

enum class Plan { free, pro, team };
QUARRY_ENUM_TEXT(Plan, {free, "free"}, {pro, "pro"}, {team, "team"});
enum class Level : std::int16_t { low = 1, high = 10 };
QUARRY_ENUM_INT(Level, low, high);

// One field of every type a changeset casts.
struct Form {
    std::int64_t id = 0;
    int count = 0;
    std::int16_t small = 0;
    double ratio = 0;
    float narrow = 0;
    bool flag = false;
    std::string name{};
    std::optional<std::string> nick{};
    std::optional<int> maybe{};
    timestamp at{};
    std::chrono::year_month_day day{};
    std::chrono::seconds wait{};
    Plan plan = Plan::free;
    Level level = Level::low;
    uuid key{};
    json meta{};
    std::vector<std::byte> bytes{};
    std::vector<std::string> tags{};  // not a column: validate_subset and validate_length on lists
};
BOOST_HANA_ADAPT_STRUCT(Form, id, count, small, ratio, narrow, flag, name, nick, maybe, at, day, wait, plan, level, key, meta, bytes,
                        tags);

namespace {

using Input = std::map<std::string, std::string>;

template <class M>
Changeset<Form> cast_one(M Form::*mp, const std::string& key, const std::string& text) {
    return cast(Form{}, Input{{key, text}}, mp);
}

std::string only_error(const Changeset<Form>& cs) {
    REQUIRE(cs.errors().size() == 1);
    return cs.errors()[0].field + ": " + cs.errors()[0].text() + " (" + cs.errors()[0].validation + ")";
}

}  // namespace

TEST_CASE("casting from a string map: every supported type, valid and invalid") {
    SUBCASE("integers, with their range") {
        CHECK(cast_one(&Form::count, "count", " 42 ").get_field(&Form::count) == 42);
        CHECK(cast_one(&Form::count, "count", "-7").get_field(&Form::count) == -7);
        CHECK(cast_one(&Form::count, "count", "+7").get_field(&Form::count) == 7);
        CHECK(only_error(cast_one(&Form::count, "count", "4.5")) == "count: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::count, "count", "12abc")) == "count: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::count, "count", "99999999999")) == "count: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::small, "small", "40000")) == "small: is invalid (cast)");
        CHECK(cast_one(&Form::count, "count", "x").errors()[0].param("type") != nullptr);
        CHECK(std::get<std::string>(*cast_one(&Form::count, "count", "x").errors()[0].param("type")) == "integer");
        // An empty value for a field that cannot be empty.
        CHECK(only_error(cast_one(&Form::count, "count", "")) == "count: can't be blank (required)");
    }
    SUBCASE("floats refuse NaN and infinities") {
        CHECK(cast_one(&Form::ratio, "ratio", "2.5e3").get_field(&Form::ratio) == 2500.0);
        CHECK(only_error(cast_one(&Form::ratio, "ratio", "nan")) == "ratio: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::ratio, "ratio", "inf")) == "ratio: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::ratio, "ratio", "1,5")) == "ratio: is invalid (cast)");
        // Beyond a double's range: too large is invalid, too small is read as the nearest double.
        CHECK(only_error(cast_one(&Form::ratio, "ratio", "1e400")) == "ratio: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::ratio, "ratio", "-1e400")) == "ratio: is invalid (cast)");
        CHECK(cast_one(&Form::ratio, "ratio", "1e-400").get_field(&Form::ratio) == 0.0);
        CHECK(std::signbit(cast_one(&Form::ratio, "ratio", "-1e-400").get_field(&Form::ratio)));
        CHECK(cast_one(&Form::ratio, "ratio", "2e-320").get_field(&Form::ratio) > 0.0);  // a denormal
        CHECK(only_error(cast_one(&Form::ratio, "ratio", "1e-400x")) == "ratio: is invalid (cast)");
        CHECK(cast_one(&Form::narrow, "narrow", "1.5").get_field(&Form::narrow) == 1.5f);
        CHECK(only_error(cast_one(&Form::narrow, "narrow", "1e300")) == "narrow: is invalid (cast)");
    }
    SUBCASE("booleans as forms send them") {
        for (const char* yes : {"true", "1", "on"}) CHECK(cast_one(&Form::flag, "flag", yes).get_field(&Form::flag));
        for (const char* no : {"false", "0", "off"}) {
            auto cs = cast(Form{.flag = true}, Input{{"flag", no}}, &Form::flag);
            CHECK(!cs.get_field(&Form::flag));
            CHECK(cs.changed(&Form::flag));
        }
        CHECK(only_error(cast_one(&Form::flag, "flag", "yes please")) == "flag: is invalid (cast)");
    }
    SUBCASE("text is checked for UTF-8 and NUL; an empty optional is NULL") {
        CHECK(cast_one(&Form::name, "name", "Zoë").get_field(&Form::name) == "Zoë");
        CHECK(only_error(cast_one(&Form::name, "name", "bad \xff byte")) == "name: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::name, "name", std::string("nul\0inside", 10))) == "name: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::name, "name", "\xc0\xaf")) == "name: is invalid (cast)");  // overlong '/'
        auto cs = cast(Form{.nick = "old"}, Input{{"nick", ""}}, &Form::nick);
        CHECK(cs.changed(&Form::nick));
        CHECK(!cs.get_field(&Form::nick).has_value());
        CHECK(cast_one(&Form::maybe, "maybe", "").errors().empty());
        CHECK(cast_one(&Form::maybe, "maybe", " \t ").errors().empty());  // only whitespace: empty too, NULL
        CHECK_FALSE(cast_one(&Form::maybe, "maybe", " \t ").get_field(&Form::maybe).has_value());
        CHECK(only_error(cast_one(&Form::maybe, "maybe", "x")) == "maybe: is invalid (cast)");
    }
    SUBCASE("timestamps with offsets, dates, durations") {
        auto cs = cast_one(&Form::at, "at", "2024-03-01T12:00:00+02:00");
        CHECK(cs.get_field(&Form::at) == std::chrono::sys_days(std::chrono::year(2024) / 3 / 1) + std::chrono::hours(10));
        CHECK(cast_one(&Form::at, "at", "2024-03-01T10:00:00.5Z").get_field(&Form::at) ==
              std::chrono::sys_days(std::chrono::year(2024) / 3 / 1) + std::chrono::hours(10) + std::chrono::milliseconds(500));
        CHECK(only_error(cast_one(&Form::at, "at", "2024-02-30T10:00:00Z")) == "at: is invalid (cast)");
        CHECK(only_error(cast_one(&Form::at, "at", "yesterday")) == "at: is invalid (cast)");
        // Only years quarry can store (0001-9999), also once the offset is applied: a field error
        // now, not a QueryError when the valid changeset is written.
        for (const char* beyond : {"0000-06-01T00:00:00Z", "9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00"})
            CHECK(only_error(cast_one(&Form::at, "at", beyond)) == "at: is invalid (cast)");
        CHECK(cast_one(&Form::at, "at", "9999-12-31T23:59:59.999999Z").valid());
        CHECK(cast_one(&Form::at, "at", "0001-01-01T00:00:00Z").valid());
        // A clock of nanoseconds reaches 1677-2262 only: a time beyond is invalid, not wrapped around.
        struct Nano {
            std::chrono::sys_time<std::chrono::nanoseconds> at{};
        };
        Nano n;
        CHECK(cast_traits<decltype(n.at)>::cast(Param::text("2262-01-01T00:00:00Z"), n.at) == CastResult::ok);
        CHECK(n.at.time_since_epoch().count() > 0);
        CHECK(cast_traits<decltype(n.at)>::cast(Param::text("2300-01-01T00:00:00Z"), n.at) == CastResult::invalid);
        CHECK(cast_traits<decltype(n.at)>::cast(Param::text("1600-01-01T00:00:00Z"), n.at) == CastResult::invalid);
        CHECK(cast_one(&Form::day, "day", "2024-02-29").get_field(&Form::day) == std::chrono::year(2024) / 2 / 29);
        CHECK(only_error(cast_one(&Form::day, "day", "2023-02-29")) == "day: is invalid (cast)");
        CHECK(cast_one(&Form::wait, "wait", "90").get_field(&Form::wait) == std::chrono::seconds(90));
        CHECK(only_error(cast_one(&Form::wait, "wait", "1.5")) == "wait: is invalid (cast)");
    }
    SUBCASE("enums by declared name or number, UUIDs, JSON text, bytes") {
        CHECK(cast_one(&Form::plan, "plan", "team").get_field(&Form::plan) == Plan::team);
        CHECK(only_error(cast_one(&Form::plan, "plan", "gold")) == "plan: is invalid (cast)");
        CHECK(cast_one(&Form::level, "level", "10").get_field(&Form::level) == Level::high);
        CHECK(only_error(cast_one(&Form::level, "level", "5")) == "level: is invalid (cast)");
        CHECK(cast_one(&Form::key, "key", "123E4567-E89B-12D3-A456-426614174000").get_field(&Form::key).to_string() ==
              "123e4567-e89b-12d3-a456-426614174000");
        CHECK(only_error(cast_one(&Form::key, "key", "123e4567")) == "key: is invalid (cast)");
        CHECK(cast_one(&Form::meta, "meta", R"({"a": [1, 2]})").get_field(&Form::meta).text == R"({"a": [1, 2]})");
        CHECK(only_error(cast_one(&Form::meta, "meta", "{a: 1}")) == "meta: is invalid (cast)");
        CHECK(cast_one(&Form::bytes, "bytes", "ab").get_field(&Form::bytes).size() == 2);
    }
}

TEST_CASE("casting from JSON keeps the kinds of values; non-objects and wrong kinds are errors") {
    auto body = nlohmann::json::parse(R"({"count": 3, "ratio": 1, "flag": true, "name": "Ada", "nick": null,
        "small": "12", "meta": {"x": [1, null]}, "maybe": 2.0, "ignored": 1})");
    auto cs = cast(Form{.nick = "old"}, body, &Form::count, &Form::ratio, &Form::flag, &Form::name, &Form::nick, &Form::small,
                   &Form::meta, &Form::maybe);
    CHECK(cs.valid());
    CHECK(cs.get_field(&Form::count) == 3);
    CHECK(cs.get_field(&Form::ratio) == 1.0);
    CHECK(cs.get_field(&Form::flag));
    CHECK(cs.get_field(&Form::name) == "Ada");
    CHECK(!cs.get_field(&Form::nick));
    CHECK(cs.get_field(&Form::small) == 12);
    CHECK(nlohmann::json::parse(cs.get_field(&Form::meta).text) == nlohmann::json::parse(R"({"x": [1, null]})"));
    CHECK(cs.get_field(&Form::maybe) == 2);
    CHECK(cs.changed_fields() == std::vector<std::string>{"count", "small", "ratio", "flag", "name", "nick", "maybe", "meta"});

    auto bad = cast(Form{}, nlohmann::json::parse(R"({"count": 2.5, "name": 7, "flag": "maybe", "plan": 1, "at": 5,
        "small": 1e10, "level": null, "id": 18446744073709551615, "bytes": 5, "key": 7, "day": true, "wait": "soon"})"),
                    &Form::count, &Form::name, &Form::flag, &Form::plan, &Form::at, &Form::small, &Form::level, &Form::id,
                    &Form::bytes, &Form::key, &Form::day, &Form::wait);
    CHECK(bad.error_map() == ErrorMap{{"at", {"is invalid"}},
                                      {"bytes", {"is invalid"}},
                                      {"count", {"is invalid"}},
                                      {"day", {"is invalid"}},
                                      {"key", {"is invalid"}},
                                      {"wait", {"is invalid"}},
                                      {"flag", {"is invalid"}},
                                      {"id", {"is invalid"}},
                                      {"level", {"can't be blank"}},
                                      {"name", {"is invalid"}},
                                      {"plan", {"is invalid"}},
                                      {"small", {"is invalid"}}});
    CHECK(!bad.changed());

    auto not_object = cast(Form{}, nlohmann::json::parse("[1, 2]"), &Form::count);
    CHECK(not_object.error_map() == ErrorMap{{"", {"must be an object"}}});
}

TEST_CASE("changes: only values that differ are changes; put, force, delete, get") {
    Form base;
    base.name = "Ada";
    auto cs = change(base);
    CHECK(!cs.changed());
    cs.put_change(&Form::name, "Ada");
    CHECK(!cs.changed(&Form::name));
    cs.put_change(&Form::name, "Grace");
    CHECK(cs.changed(&Form::name));
    CHECK(cs.get_change(&Form::name) == std::optional<std::string>("Grace"));
    CHECK(cs.data().name == "Ada");
    cs.put_change(&Form::name, "Ada");  // back to the data's value: no longer a change
    CHECK(!cs.changed(&Form::name));
    CHECK(!cs.get_change(&Form::name));
    cs.force_change(&Form::count, 0);
    CHECK(cs.changed(&Form::count));
    cs.put_change(&Form::ratio, 2.0).delete_change(&Form::ratio);
    CHECK(!cs.changed(&Form::ratio));
    CHECK(cs.get_field(&Form::ratio) == 0.0);
    CHECK(cs.changed_fields() == std::vector<std::string>{"count"});
    // Casting the same value as the data's is not a change either.
    CHECK(!cast(base, Input{{"name", "Ada"}}, &Form::name).changed());
    // Keys that are not permitted are ignored.
    CHECK(!cast(base, Input{{"count", "5"}}, &Form::name).changed());
}

TEST_CASE("validate_required: NULL, empty and whitespace-only text are blank") {
    auto missing = cast(Form{}, Input{{"name", "  \t"}}, &Form::name, &Form::nick) | validate_required(&Form::name, &Form::nick);
    CHECK(missing.error_map() == ErrorMap{{"name", {"can't be blank"}}, {"nick", {"can't be blank"}}});
    CHECK(missing.errors()[0].validation == "required");
    auto present = cast(Form{}, Input{{"name", "x"}, {"nick", "y"}}, &Form::name, &Form::nick) | validate_required(&Form::name, &Form::nick);
    CHECK(present.valid());
    // A field that already failed to cast gets no second error.
    auto cast_failed = cast(Form{}, Input{{"maybe", "x"}}, &Form::maybe) | validate_required(&Form::maybe);
    CHECK(cast_failed.error_map() == ErrorMap{{"maybe", {"is invalid"}}});
    // The data's value counts: a stored name need not be sent again.
    Form stored;
    stored.name = "kept";
    CHECK((cast(stored, Input{}, &Form::name) | validate_required(&Form::name)).valid());
}

TEST_CASE("validate_required on numbers, bools and times: a new row's field must be given; a stored row's value counts") {
    // Form is no schema: every Form is a new row, and T{}'s zeros and falses were given by nobody.
    auto absent = cast(Form{}, Input{}, &Form::count, &Form::flag, &Form::at) | validate_required(&Form::count, &Form::flag, &Form::at);
    CHECK(absent.error_map() == ErrorMap{{"count", {"can't be blank"}}, {"flag", {"can't be blank"}}, {"at", {"can't be blank"}}});
    auto zeros = cast(Form{}, Input{{"count", "0"}, {"flag", "false"}, {"at", "1970-01-01T00:00:00Z"}}, &Form::count, &Form::flag,
                      &Form::at) |
                 validate_required(&Form::count, &Form::flag, &Form::at);
    CHECK(zeros.valid());
    Form preset;
    preset.count = 3;  // set in the data by the caller
    CHECK((cast(preset, Input{}, &Form::count) | validate_required(&Form::count)).valid());
    CHECK((change(Form{}).put_change(&Form::flag, true) | validate_required(&Form::flag)).valid());
    // A stored row (its primary key set): its value counts, even its type's default.
    User stored;
    stored.id = 7;
    CHECK((cast(stored, Input{}, &User::active, &User::age) | validate_required(&User::active, &User::age)).valid());
    CHECK((cast(User{}, Input{}, &User::active) | validate_required(&User::active)).error_map() ==
          ErrorMap{{"active", {"can't be blank"}}});
}

TEST_CASE("validations check a value cast from the input even when it equals the data's (a new row's default)") {
    auto count = [](std::string v) { return cast(Form{}, Input{{"count", v}}, &Form::count) | validate_number(&Form::count, {.gt = 0}); };
    CHECK(count("0").error_map() == ErrorMap{{"count", {"must be greater than 0"}}});
    CHECK(count("1").valid());
    CHECK((cast(Form{}, Input{}, &Form::count) | validate_number(&Form::count, {.gt = 0})).valid());  // absent: validate_required's job
    CHECK_FALSE((cast(Form{}, Input{{"name", ""}}, &Form::name) | validate_length(&Form::name, {.min = 3})).valid());
    CHECK_FALSE((cast(Form{}, Input{{"flag", "false"}}, &Form::flag) | validate_inclusion(&Form::flag, {true})).valid());
    // An update's unchanged value sent again is checked too: the form holds it.
    User stored;
    stored.id = 7;
    CHECK_FALSE((cast(stored, Input{{"age", "0"}}, &User::age) | validate_number(&User::age, {.ge = 13})).valid());
    CHECK((cast(stored, Input{}, &User::age) | validate_number(&User::age, {.ge = 13})).valid());
}

TEST_CASE("validate_format, validate_length, validate_number") {
    auto fmt = [](std::string v) { return cast(Form{}, Input{{"name", v}}, &Form::name) | validate_format(&Form::name, "^[a-z]+$"); };
    CHECK(fmt("abc").valid());
    CHECK(fmt("ab1").error_map() == ErrorMap{{"name", {"has invalid format"}}});
    CHECK(fmt("ab1").errors()[0].validation == "format");
    CHECK(fmt("x\nab1").valid() == false);
    // A std::regex of the caller's, with its own flags; a malformed pattern is std::regex_error.
    const auto ci = [](std::string v) {
        return cast(Form{}, Input{{"name", v}}, &Form::name) | validate_format(&Form::name, std::regex("^[a-z]+$", std::regex::icase));
    };
    CHECK(ci("ABC").valid());
    CHECK_FALSE(ci("AB1").valid());
    CHECK_THROWS_AS(validate_format(&Form::name, "(unclosed"), std::regex_error);

    // Untrusted text of any length, in a thread with a small stack, against a pattern that
    // backtracks exponentially in a backtracking matcher: matched in linear time and bounded
    // stack (a megabyte of text crashed the default matcher on an 8 MiB stack).
    std::string huge(1 << 20, 'a');
    std::string evil(64, 'a');
    evil += '!';
    bool huge_valid = false, evil_valid = true;
    std::thread small_stack([&] {  // 8 MiB by default; the point is that nothing grows with the text
        huge_valid = fmt(huge).valid();
        evil_valid = (cast(Form{}, Input{{"name", evil}}, &Form::name) | validate_format(&Form::name, "^(a+)+$")).valid();
    });
    small_stack.join();
    CHECK(huge_valid);
    CHECK_FALSE(evil_valid);
    CHECK_THROWS_AS(validate_format(&Form::name, "^(a)\\1$"), std::regex_error);  // back-references: not linear

    auto len = [](std::string v, length_opts o) { return cast(Form{}, Input{{"name", v}}, &Form::name) | validate_length(&Form::name, o); };
    CHECK(len("héllo", {.min = 5}).valid());  // five code points, six bytes
    CHECK(len("héllo", {.max = 5}).valid());
    CHECK(len("héllo", {.max = 5, .count = count_in::bytes}).error_map() == ErrorMap{{"name", {"should be at most 5 byte(s)"}}});
    CHECK(len("ab", {.min = 3}).error_map() == ErrorMap{{"name", {"should be at least 3 character(s)"}}});
    CHECK(len("abcd", {.is = 3}).error_map() == ErrorMap{{"name", {"should be 3 character(s)"}}});
    auto e = len("ab", {.min = 3}).errors()[0];
    CHECK(e.message == "should be at least %{count} character(s)");
    CHECK(std::get<std::int64_t>(*e.param("count")) == 3);
    CHECK(std::get<std::string>(*e.param("kind")) == "min");
    CHECK(len("ab", {.min = 3, .message = "too short"}).error_map() == ErrorMap{{"name", {"too short"}}});
    Form f;
    auto tags = change(f).put_change(&Form::tags, std::vector<std::string>{"a", "b", "c"});
    CHECK((std::move(tags) | validate_length(&Form::tags, {.max = 2})).error_map() == ErrorMap{{"tags", {"should be at most 2 item(s)"}}});

    // From a stored count of 12345, so that each input is a change.
    auto num = [](std::string v, number_opts<int> o) {
        return cast(Form{.count = 12345}, Input{{"count", v}}, &Form::count) | validate_number(&Form::count, o);
    };
    CHECK(num("5", {.gt = 0, .lt = 10}).valid());
    CHECK(num("0", {.gt = 0}).error_map() == ErrorMap{{"count", {"must be greater than 0"}}});
    CHECK(num("10", {.lt = 10}).error_map() == ErrorMap{{"count", {"must be less than 10"}}});
    CHECK(num("11", {.le = 10}).error_map() == ErrorMap{{"count", {"must be less than or equal to 10"}}});
    CHECK(num("-1", {.ge = 0}).error_map() == ErrorMap{{"count", {"must be greater than or equal to 0"}}});
    CHECK(num("4", {.eq = 5}).error_map() == ErrorMap{{"count", {"must be equal to 5"}}});
    CHECK(num("5", {.ne = 5}).error_map() == ErrorMap{{"count", {"must be not equal to 5"}}});
    CHECK(std::get<std::string>(*num("0", {.gt = 0}).errors()[0].param("kind")) == "greater_than");
    // An optional field: NULL is not checked (validate_required is for that).
    auto opt = cast(Form{}, Input{{"maybe", ""}}, &Form::maybe) | validate_number(&Form::maybe, {.gt = 0});
    CHECK(opt.valid());
    auto ratio = cast(Form{}, Input{{"ratio", "0.5"}}, &Form::ratio) | validate_number(&Form::ratio, {.ge = 1.0});
    CHECK(ratio.error_map() == ErrorMap{{"ratio", {"must be greater than or equal to 1"}}});
    // A bound is shown as it was given, not rounded to six digits.
    auto price = cast(Form{}, Input{{"ratio", "100000.7"}}, &Form::ratio) | validate_number(&Form::ratio, {.lt = 100000.5});
    CHECK(price.error_map() == ErrorMap{{"ratio", {"must be less than 100000.5"}}});
    auto big = cast(Form{}, Input{{"ratio", "2e6"}}, &Form::ratio) | validate_number(&Form::ratio, {.le = 1234567.0});
    CHECK(big.error_map() == ErrorMap{{"ratio", {"must be less than or equal to 1234567"}}});
    // Validations look at changes only.
    Form negative;
    negative.count = -5;
    CHECK((change(negative) | validate_number(&Form::count, {.ge = 0})).valid());
}

TEST_CASE("validate_inclusion, validate_exclusion, validate_subset") {
    auto plan = [](std::string v) { return cast(Form{}, Input{{"plan", v}}, &Form::plan); };
    CHECK((plan("pro") | validate_inclusion(&Form::plan, {Plan::pro, Plan::team})).valid());
    // "free" is the data's value (a new Form's default), so no change, but it came from the
    // input: it is checked all the same. So is a team → free change:
    auto out = plan("free") | validate_inclusion(&Form::plan, {Plan::pro, Plan::team});
    CHECK(out.error_map() == ErrorMap{{"plan", {"is invalid"}}});
    CHECK((cast(Form{}, Input{}, &Form::plan) | validate_inclusion(&Form::plan, {Plan::pro, Plan::team})).valid());  // not given
    auto changed = cast(Form{.plan = Plan::team}, Input{{"plan", "free"}}, &Form::plan) | validate_inclusion(&Form::plan, {Plan::pro, Plan::team});
    CHECK(changed.error_map() == ErrorMap{{"plan", {"is invalid"}}});
    CHECK(std::get<std::vector<std::string>>(*changed.errors()[0].param("enum")) == std::vector<std::string>{"pro", "team"});
    auto name = [](std::string v) { return cast(Form{}, Input{{"name", v}}, &Form::name) | validate_exclusion(&Form::name, {"admin", "root"}); };
    CHECK(name("ada").valid());
    CHECK(name("root").error_map() == ErrorMap{{"name", {"is reserved"}}});
    CHECK(name("root").errors()[0].validation == "exclusion");
    auto tags = [](std::vector<std::string> t) {
        return change(Form{}).put_change(&Form::tags, std::move(t)) | validate_subset(&Form::tags, {"red", "blue"});
    };
    CHECK(tags({"red"}).valid());
    CHECK(tags({"red", "green"}).error_map() == ErrorMap{{"tags", {"has an invalid entry"}}});
}

TEST_CASE("validate_confirmation, validate_acceptance, validate_change") {
    auto confirm = [](Input in, bool required = false) {
        return cast(Form{}, in, &Form::name) | validate_confirmation(&Form::name, required);
    };
    CHECK(confirm({{"name", "pw"}, {"name_confirmation", "pw"}}).valid());
    CHECK(confirm({{"name", "pw"}, {"name_confirmation", "px"}}).error_map() ==
          ErrorMap{{"name_confirmation", {"does not match confirmation"}}});
    CHECK(confirm({{"name", "pw"}}).valid());
    CHECK(confirm({{"name", "pw"}}, true).error_map() == ErrorMap{{"name_confirmation", {"can't be blank"}}});

    auto accept = [](Input in) { return cast(Form{}, in, &Form::name) | validate_acceptance("terms"); };
    CHECK(accept({{"terms", "on"}}).valid());
    CHECK(accept({{"terms", "true"}}).valid());
    CHECK(accept({{"terms", "false"}}).error_map() == ErrorMap{{"terms", {"must be accepted"}}});
    CHECK(accept({}).error_map() == ErrorMap{{"terms", {"must be accepted"}}});

    auto even = validate_change(&Form::count, [](int v) -> std::optional<std::string> {
        if (v % 2) return "must be even";
        return std::nullopt;
    });
    CHECK((cast(Form{}, Input{{"count", "4"}}, &Form::count) | even).valid());
    auto odd = cast(Form{}, Input{{"count", "3"}}, &Form::count) | even;
    CHECK(odd.error_map() == ErrorMap{{"count", {"must be even"}}});
    CHECK(odd.errors()[0].validation == "custom");
}

TEST_CASE("errors accumulate per field, traverse to a map and to JSON; apply_action and Result") {
    auto cs = cast(Form{}, Input{{"name", "a"}, {"count", "-1"}}, &Form::name, &Form::count) |
              validate_length(&Form::name, {.min = 2}) | validate_format(&Form::name, "^[0-9]+$") |
              validate_number(&Form::count, {.ge = 0});
    CHECK(cs.errors_on(&Form::name).size() == 2);
    CHECK(cs.error_map() == ErrorMap{{"count", {"must be greater than or equal to 0"}},
                                     {"name", {"should be at least 2 character(s)", "has invalid format"}}});
    CHECK(errors_json(cs) == nlohmann::json::parse(
                                 R"js({"count": ["must be greater than or equal to 0"],
                                     "name": ["should be at least 2 character(s)", "has invalid format"]})js"));
    auto detail = errors_detail_json(cs.errors());
    CHECK(detail["name"][0]["message"] == "should be at least %{count} character(s)");
    CHECK(detail["name"][0]["params"]["count"] == 2);
    CHECK(detail["name"][0]["validation"] == "length");

    auto failed = apply_action(cs, "signup");
    CHECK(!failed);
    CHECK(failed.changeset().action() == "signup");
    try {
        (void)failed.value();
        FAIL("value() of a failed result must throw");
    } catch (const ChangesetInvalid& e) {
        CHECK(e.action() == "signup");
        CHECK(e.errors().size() == 3);
        CHECK(std::string(e.what()).find("count must be greater than or equal to 0") != std::string::npos);
    }
    auto ok = apply_action(cast(Form{}, Input{{"count", "2"}}, &Form::count), "signup");
    CHECK(ok.ok());
    CHECK(ok->count == 2);
    CHECK_THROWS_AS((void)ok.changeset(), std::logic_error);
}

TEST_CASE("declared constraints match violations by name, prefix, suffix, or by columns where no name is given") {
    auto violation = [](ConstraintKind k, std::string name, std::string table, std::vector<std::string> cols) {
        return ConstraintError(k, std::move(name), std::move(table), std::move(cols), "violation", "SQL", "23505");
    };
    auto cs = change(User{}) | unique_constraint(&User::email);
    // The conventional names, and the columns when the database gives no name.
    CHECK(change(User{}).add_constraint(cs.constraints()[0]).absorb(violation(ConstraintKind::unique, "users_email_index", "users", {})));
    CHECK(change(User{}).add_constraint(cs.constraints()[0]).absorb(violation(ConstraintKind::unique, "users_email_key", "users", {})));
    CHECK(change(User{}).add_constraint(cs.constraints()[0]).absorb(violation(ConstraintKind::unique, "", "users", {"email"})));
    CHECK(!change(User{}).add_constraint(cs.constraints()[0]).absorb(violation(ConstraintKind::unique, "users_name_key", "users", {})));
    CHECK(!change(User{}).add_constraint(cs.constraints()[0]).absorb(violation(ConstraintKind::unique, "", "users", {"name"})));
    CHECK(!change(User{}).add_constraint(cs.constraints()[0]).absorb(violation(ConstraintKind::check, "users_email_key", "users", {})));

    auto named = change(User{}) | unique_constraint(&User::email).named("email_", NameMatch::prefix).with_message("is taken");
    CHECK(named.absorb(violation(ConstraintKind::unique, "email_lower_idx", "users", {})));
    CHECK(named.error_map() == ErrorMap{{"email", {"is taken"}}});
    CHECK(std::get<std::string>(*named.errors()[0].param("constraint_name")) == "email_lower_idx");
    auto suffix = change(User{}) | check_constraint(&User::age, "_age_check", NameMatch::suffix);
    CHECK(suffix.absorb(violation(ConstraintKind::check, "users_age_check", "users", {})));
    CHECK(!suffix.absorb(violation(ConstraintKind::check, "users_age_check_2", "users", {})));
    auto fk = change(Post{}) | foreign_key_constraint(&Post::user_id);
    CHECK(fk.absorb(violation(ConstraintKind::foreign_key, "posts_user_id_fkey", "posts", {})));
    CHECK(fk.error_map() == ErrorMap{{"user_id", {"does not exist"}}});
    auto pk = change(User{}) | unique_constraint(&User::id);
    CHECK(pk.absorb(violation(ConstraintKind::primary_key, "", "users", {"id"})));
    auto excl = change(User{}) | exclusion_constraint(&User::age);
    CHECK(excl.absorb(violation(ConstraintKind::exclusion, "users_age_excl", "users", {})));
    CHECK(excl.error_map() == ErrorMap{{"age", {"violates an exclusion constraint"}}});
}

TEST_CASE("errors_json nests row paths and keeps any other key as it is") {
    std::vector<FieldError> errors{{"user[terms]", "must be accepted", "acceptance", {}},
                                   {"terms[", "odd", "custom", {}},
                                   {"comments[0]._row", "vetoed", "veto", {}},
                                   {"comments[0].body", "can't be blank", "required", {}},
                                   {"comments", "is invalid", "custom", {}},
                                   {"rows[9999999].x", "too far", "custom", {}}};
    CHECK(errors_json(errors) == nlohmann::json::parse(R"({
        "user[terms]": ["must be accepted"], "terms[": ["odd"], "rows[9999999].x": ["too far"],
        "comments": [{"_row": ["vetoed"], "body": ["can't be blank"]}], "comments_errors": ["is invalid"]})"));
}
