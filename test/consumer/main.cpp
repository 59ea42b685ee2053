// SPDX-License-Identifier: MIT
// A program outside the quarry tree, built against an *installed* quarry
// (found through pkg-config or CMake's find_package) by scripts/test.sh.
#include <quarry/quarry.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

struct Note {
  std::int64_t id;
  std::string body;
};
BOOST_HANA_ADAPT_STRUCT(Note, id, body);
QUARRY_TABLE(Note, "notes", &Note::id);

int main() {
  auto q = quarry::from<Note>() | quarry::where(quarry::col(&Note::id) == 1);
  auto r = quarry::to_sql(q, quarry::sqlite());
  std::puts(r.sql.c_str());
  return r.sql.empty();
}
