// SPDX-License-Identifier: MIT
// Timestamps as ISO-8601 text: the SQLite storage format.
#include <doctest/doctest.h>

#include <quarry/core/driver.hpp>

using quarry::core::format_timestamp;
using quarry::core::parse_timestamp;

TEST_CASE("timestamps format as ISO-8601 UTC with six fractional digits, before and after 1970") {
    CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000000Z");
    CHECK(format_timestamp(1) == "1970-01-01T00:00:00.000001Z");
    CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999999Z");
    CHECK(format_timestamp(951'782'400'000'000) == "2000-02-29T00:00:00.000000Z");
    CHECK(format_timestamp(-62'135'596'800'000'000) == "0001-01-01T00:00:00.000000Z");
}

TEST_CASE("format and parse round-trip, and text order is time order") {
    std::int64_t samples[] = {-62'135'596'800'000'000, -1'234'567'890'123'457, -1, 0, 1, 1'700'000'000'123'456,
                              253'402'300'799'999'999};
    std::string previous;
    for (auto us : samples) {
        std::int64_t back = 0;
        const auto text = format_timestamp(us);
        REQUIRE(parse_timestamp(text, back));
        CHECK(back == us);
        CHECK(previous < text);
        previous = text;
    }
}

TEST_CASE("parsing accepts the usual variants and rejects everything else") {
    std::int64_t us = 0;
    CHECK(parse_timestamp("2024-01-01 00:00:00", us));
    CHECK(us == 1'704'067'200'000'000);
    CHECK(parse_timestamp("2024-01-01T00:00:00.5+00:00", us));
    CHECK(us == 1'704'067'200'500'000);
    CHECK(parse_timestamp("2024-01-01", us));
    CHECK(us == 1'704'067'200'000'000);
    for (const char* bad : {"", "yesterday", "2024-13-01", "2024-02-30", "2024-01-01T25:00:00", "2024-01-01T00:00:00+02:00",
                            "2024-01-01T00:00:00.", "2024-1-1"})
        CHECK_FALSE(parse_timestamp(bad, us));
}
