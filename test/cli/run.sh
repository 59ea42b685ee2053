#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The `quarry` command line, driven from a shell as a user would: new migration, migrate,
# status (and its exit codes), rollback, redo, dry runs, dump, gen model (whose output must
# compile and round-trip a row), new project, and the errors scripts rely on.
#   run.sh QUARRY_BIN "CXX FLAGS..." LIBQUARRY "LINK ARGS..."
set -uo pipefail
QUARRY=$1 CXX_CMD=$2 LIBQUARRY=$3 LINK_ARGS=$4
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# expect_exit CODE DESCRIPTION -- COMMAND...: runs it, output in $OUT, checks the exit code.
expect_exit() {
  local want=$1 what=$2
  shift 3
  OUT=$("$@" 2>&1)
  local got=$?
  [[ $got -eq $want ]] || fail "$what: exit $got, expected $want. Output:
$OUT"
}
contains() { [[ "$OUT" == *"$1"* ]] || fail "$2: output lacks '$1'. Output:
$OUT"; }

# ---- usage -------------------------------------------------------------------------------
expect_exit 0 "--help" -- "$QUARRY" --help
contains "migrate" "--help lists the commands"
expect_exit 0 "migrate --help" -- "$QUARRY" migrate --help
contains "--dry-run" "migrate --help lists its options"
expect_exit 2 "no command" -- "$QUARRY"
expect_exit 2 "unknown command" -- "$QUARRY" frobnicate
expect_exit 2 "bad --to" -- "$QUARRY" migrate --to abc
expect_exit 2 "--step 0" -- "$QUARRY" rollback --step 0
expect_exit 2 "bad migration name" -- "$QUARRY" new migration Bad-Name
contains "snake_case" "bad migration name says why"

# ---- new migration, migrate, status ------------------------------------------------------------
expect_exit 0 "new migration" -- "$QUARRY" new migration create_notes
contains "created migrations/" "new migration prints the path"
first=$(ls migrations)
cat > "migrations/$first/up.sql" <<'SQL'
CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  body TEXT NOT NULL,
  class TEXT,
  score REAL,
  "weird name" INTEGER,
  inserted_at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);
SQL
echo 'DROP TABLE notes;' > "migrations/$first/down.sql"
expect_exit 0 "second new migration" -- "$QUARRY" new migration add_tag
second=$(ls migrations | sed -n 2p)
[[ "$second" > "$first" ]] || fail "the second migration's version ($second) sorts after the first ($first)"
echo 'ALTER TABLE notes ADD COLUMN tag TEXT;' > "migrations/$second/up.sql"
echo 'ALTER TABLE notes DROP COLUMN tag;' > "migrations/$second/down.sql"

expect_exit 0 "status" -- "$QUARRY" status
contains "pending" "status shows pending migrations"
contains 'no SQLite database at "quarry.db" yet' "status says the database is not there yet"
expect_exit 3 "status --check with pending" -- "$QUARRY" status --check
expect_exit 0 "dry run" -- "$QUARRY" migrate --dry-run
contains "CREATE TABLE notes" "dry run prints the SQL"
expect_exit 3 "dry run changed nothing" -- "$QUARRY" status --check
[[ ! -e quarry.db ]] || fail "status or a dry run created the database file"
expect_exit 0 "offline PostgreSQL rendering" -- "$QUARRY" migrate --dry-run --dialect postgres
contains "ALTER TABLE notes ADD COLUMN tag TEXT;" "offline rendering prints every migration"
expect_exit 0 "migrate --step 1" -- "$QUARRY" migrate --step 1
contains "create_notes: migrated in" "progress line with timing"
expect_exit 0 "migrate" -- "$QUARRY" -v migrate
contains "add_tag: migrating" "progress line"
contains "ALTER TABLE notes ADD COLUMN tag TEXT;" "-v prints the SQL"
expect_exit 0 "status --check when applied" -- "$QUARRY" status --check
expect_exit 0 "migrate again" -- "$QUARRY" migrate
contains "nothing to migrate" "nothing left"
[[ -f quarry.db ]] || fail "the default database is ./quarry.db"

# ---- dump, gen model ---------------------------------------------------------------------------
expect_exit 0 "dump" -- "$QUARRY" dump -o schema.sql
grep -q 'CREATE TABLE notes' schema.sql || fail "dump -o writes the schema"
expect_exit 0 "gen model" -- "$QUARRY" gen model --table notes -o note.hpp
expect_exit 1 "gen model of a missing table" -- "$QUARRY" gen model --table nope
contains 'no table named "nope"' "a missing table is named"
cat > roundtrip.cpp <<'CPP'
#include <cstdio>
#include <quarry/repo.hpp>
#include "note.hpp"
int main(int, char** argv) {
    using namespace quarry;
    Repo repo(std::string("sqlite:") + argv[1]);
    Note n;
    n.body = "hello";
    n.class_ = "first";
    n.weird_name = 7;
    n.tag = "t";
    const Note stored = repo.insert(n);
    const Note back = repo.one(from<Note>() | where(col(&Note::id) == stored.id));
    const bool same = back.body == "hello" && back.class_ == std::optional<std::string>("first") &&
                      back.weird_name == std::optional<std::int64_t>(7) && !back.score && back.tag == std::optional<std::string>("t") &&
                      back.inserted_at.time_since_epoch().count() > 0;
    std::printf("%s\n", same ? "round trip ok" : "round trip MISMATCH");
    return same ? 0 : 1;
}
CPP
# shellcheck disable=SC2086
if $CXX_CMD -I. roundtrip.cpp "$LIBQUARRY" $LINK_ARGS -o roundtrip 2> compile.log; then
  expect_exit 0 "the generated model round-trips a row" -- ./roundtrip quarry.db
  contains "round trip ok" "round trip"
else
  fail "the generated model does not compile:
$(head -40 compile.log)
$(cat note.hpp)"
fi

# ---- edited, rollback, redo --------------------------------------------------------------------
echo 'ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT "";' > "migrations/$second/up.sql"
expect_exit 4 "status --check with an edited migration" -- "$QUARRY" status --check
contains "edited" "status names the edited migration"
expect_exit 1 "migrate refuses to run past an edited migration" -- "$QUARRY" rollback
contains "edited after they ran" "the error says why"
# Edit, then redo: the development loop. Refused without the flag, as rollback is.
echo "ALTER TABLE notes ADD COLUMN tag TEXT DEFAULT 'edited';" > "migrations/$second/up.sql"
expect_exit 1 "redo refuses an edited migration" -- "$QUARRY" redo
contains "--allow-edited" "redo's refusal names the flag"
expect_exit 0 "redo --allow-edited" -- "$QUARRY" redo --allow-edited
contains "add_tag: migrated in" "the edited migration is applied again"
expect_exit 0 "status --check once the edited migration was redone (its new checksum recorded)" -- "$QUARRY" status --check
echo 'ALTER TABLE notes ADD COLUMN tag TEXT;' > "migrations/$second/up.sql"
expect_exit 0 "redo of the migration edited back" -- "$QUARRY" redo --allow-edited
contains "add_tag: rolled back in" "redo rolls back"
contains "add_tag: migrated in" "and migrates again"
expect_exit 0 "redo without edits" -- "$QUARRY" redo
expect_exit 0 "rollback" -- "$QUARRY" rollback
contains "rolled back 1" "rollback summary"
expect_exit 3 "one pending after rollback" -- "$QUARRY" status --check

# ---- a failing migration: exit 1, the database as it was -------------------------------------
cp quarry.db before.db
expect_exit 0 "new migration (bad)" -- "$QUARRY" new migration broken
third=$(ls migrations | sed -n 3p)
printf 'CREATE TABLE half (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n' > "migrations/$third/up.sql"
expect_exit 1 "a failing migration" -- "$QUARRY" migrate
contains "broken" "the error names the migration"
contains "nowhere" "and the database's reason"
expect_exit 0 "dump after the failure" -- "$QUARRY" dump
[[ "$OUT" != *"half"* ]] || fail "the failed migration left its table behind"
expect_exit 0 "status after the failure" -- "$QUARRY" status
contains "add_tag" "the migration before the failing one was applied"
rm -rf "migrations/$third"

# ---- a down.sql left as the template wrote it: irreversible, not a rollback of nothing --------
expect_exit 0 "new migration (no down)" -- "$QUARRY" new migration add_scratch
fourth=$(ls migrations | sed -n 3p)
echo 'CREATE TABLE scratch (x INTEGER);' > "migrations/$fourth/up.sql"
expect_exit 0 "migrate (no down)" -- "$QUARRY" migrate
expect_exit 1 "rollback of a migration whose down.sql is only comments" -- "$QUARRY" rollback
contains "cannot be rolled back" "the error says why"
expect_exit 0 "dump after the refused rollback" -- "$QUARRY" dump
contains "scratch" "the refused rollback changed nothing"
expect_exit 0 "status after the refused rollback" -- "$QUARRY" status --check

# ---- a migrations directory named on the command line must exist -----------------------------
expect_exit 2 "a mistyped --migrations" -- "$QUARRY" -m migratoins migrate
contains 'no directory "migratoins"' "the error names the directory"
expect_exit 2 "a mistyped -m with status" -- "$QUARRY" -m migratoins status

# ---- a mistyped SQLite path: refused, and no empty database left behind ------------------------
for cmd in rollback redo dump "gen model -t notes"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$cmd on a mistyped SQLite path" -- "$QUARRY" -d sqlite:quraty.db $cmd
  contains 'no SQLite database at "quraty.db"' "$cmd: the error names the path"
done
expect_exit 0 "status on a mistyped SQLite path" -- "$QUARRY" -d sqlite:quraty.db status
contains 'no SQLite database at "quraty.db" yet' "status: the note names the path"
[[ ! -e quraty.db ]] || fail "a command on a mistyped SQLite path created the file"

# ---- bad database URL: exit 1 with the reason ------------------------------------------------
expect_exit 1 "unreadable URL" -- "$QUARRY" --database "mysql://x" status
contains "unrecognised connection string" "the URL error"

# ---- new project -----------------------------------------------------------------------------
expect_exit 0 "new project" -- "$QUARRY" new project shop
for f in meson.build src/schema.hpp src/migrations.cpp src/main.cpp src/db.cpp tests/test_items.cpp; do
  [[ -f "shop/$f" ]] || fail "new project wrote no shop/$f"
done
expect_exit 1 "new project over an existing directory" -- "$QUARRY" new project shop
expect_exit 0 "new project with a trailing slash" -- "$QUARRY" new project depot/
grep -q "project('depot'" depot/meson.build || fail "new project depot/ names the project depot"
expect_exit 1 "new project without a name" -- "$QUARRY" new project ./

# ---- PostgreSQL: migrate, status, gen model with PostgreSQL's types ----------------------------
if [[ -n "${QUARRY_TEST_PG:-}" ]] && command -v psql > /dev/null; then
  schema="quarry_cli_$$"
  psql -q "$QUARRY_TEST_PG" -c "CREATE SCHEMA $schema" || fail "cannot create a schema on the test PostgreSQL"
  PG="$QUARRY_TEST_PG options=-csearch_path=$schema"
  mkdir -p pgmig/20240101000000_create_gadgets
  cat > pgmig/20240101000000_create_gadgets/up.sql <<'SQL'
CREATE TABLE gadgets (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name varchar(40) NOT NULL,
  count integer NOT NULL,
  small smallint,
  price numeric(10,2),
  ratio double precision,
  on_sale boolean NOT NULL DEFAULT false,
  token uuid,
  attrs jsonb,
  blob bytea,
  released date,
  inserted_at timestamptz NOT NULL DEFAULT now()
);
SQL
  echo 'DROP TABLE gadgets;' > pgmig/20240101000000_create_gadgets/down.sql
  expect_exit 0 "PostgreSQL migrate" -- "$QUARRY" -d "$PG" -m pgmig migrate
  contains "create_gadgets: migrated in" "PostgreSQL progress line"
  expect_exit 0 "PostgreSQL status --check" -- "$QUARRY" -d "$PG" -m pgmig status --check
  expect_exit 0 "PostgreSQL gen model" -- "$QUARRY" -d "$PG" -m pgmig gen model --table gadgets -o gadget.hpp
  # Types whose names hold "int" but are not integers, and columns named like C macros.
  psql -q "$PG" -c 'CREATE TABLE ev (id bigint PRIMARY KEY, dur interval NOT NULL, at point NOT NULL, ids integer[] NOT NULL, r int4range, "errno" integer, "NULL" text)' \
    || fail "cannot create ev"
  expect_exit 0 "PostgreSQL gen model of odd types" -- "$QUARRY" -d "$PG" -m pgmig gen model --table ev
  for member in "std::string dur" "std::string at" "std::string ids" "std::optional<std::string> r" \
                "std::optional<std::int32_t> errno_" "std::optional<std::string> NULL_"; do
    contains "$member" "gen model maps ev's columns"
  done
  psql -q "$PG" -c 'DROP TABLE ev' || true
  cat > pgtrip.cpp <<'CPP'
#include <cstdio>
#include <quarry/repo.hpp>
#include "gadget.hpp"
int main(int, char** argv) {
    using namespace quarry;
    Repo repo(argv[1]);
    Gadget g;
    g.name = "widget";
    g.count = 3;
    g.small = std::int16_t{2};
    g.token = quarry::uuid::from_string("123e4567-e89b-12d3-a456-426614174000");
    g.attrs = quarry::json("{\"a\": 1}");
    g.released = std::chrono::sys_days{std::chrono::year{2024} / 2 / 29};
    const Gadget stored = repo.insert(g);
    const Gadget back = repo.one(from<Gadget>() | where(col(&Gadget::id) == stored.id));
    const bool same = back.name == "widget" && back.count == 3 && back.small == std::optional<std::int16_t>(2) &&
                      back.token == g.token && back.attrs && back.attrs->text == "{\"a\": 1}" && back.released == g.released &&
                      !back.on_sale && !back.price && back.inserted_at.time_since_epoch().count() > 0;
    std::printf("%s\n", same ? "round trip ok" : "round trip MISMATCH");
    return same ? 0 : 1;
}
CPP
  # shellcheck disable=SC2086
  if $CXX_CMD -I. pgtrip.cpp "$LIBQUARRY" $LINK_ARGS -o pgtrip 2> pgcompile.log; then
    expect_exit 0 "the PostgreSQL model round-trips a row" -- ./pgtrip "$PG"
    contains "round trip ok" "PostgreSQL round trip"
  else
    fail "the PostgreSQL model does not compile:
$(head -40 pgcompile.log)
$(cat gadget.hpp)"
  fi
  # Several statements outside a transaction run one by one: PostgreSQL refuses CREATE INDEX
  # CONCURRENTLY in the implicit transaction of statements sent together.
  mkdir -p pgmig/20240102000000_index_gadgets
  printf -- '-- quarry:no-transaction\nCREATE INDEX CONCURRENTLY gadgets_name ON gadgets (name);\nCREATE INDEX CONCURRENTLY "gadgets; count" ON gadgets (count);\n' \
    > pgmig/20240102000000_index_gadgets/up.sql
  printf -- '-- quarry:no-transaction\nDROP INDEX CONCURRENTLY gadgets_name;\nDROP INDEX CONCURRENTLY "gadgets; count";\n' \
    > pgmig/20240102000000_index_gadgets/down.sql
  expect_exit 0 "PostgreSQL: a no-transaction file of two concurrent index builds" -- "$QUARRY" -d "$PG" -m pgmig migrate
  indexes() { psql -qtA "$PG" -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'gadgets' AND indexname IN ('gadgets_name', 'gadgets; count', 'gadgets_unique_name')"; }
  [[ "$(indexes)" == 2 ]] || fail "both concurrent indexes exist (found $(indexes))"
  expect_exit 0 "PostgreSQL: its rollback, also one by one" -- "$QUARRY" -d "$PG" -m pgmig rollback
  [[ "$(indexes)" == 0 ]] || fail "both concurrent indexes are dropped (found $(indexes))"
  rm -rf pgmig/20240102000000_index_gadgets
  # A concurrent build that fails leaves an INVALID index: dropped, so the next run can succeed.
  psql -q "$PG" -c "INSERT INTO gadgets (name, count) VALUES ('twin', 1), ('twin', 2)" || fail "cannot insert twins"
  mkdir -p pgmig/20240103000000_unique_gadgets
  printf -- '-- quarry:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY gadgets_unique_name ON gadgets (name);\n' \
    > pgmig/20240103000000_unique_gadgets/up.sql
  printf -- '-- quarry:no-transaction\nDROP INDEX CONCURRENTLY gadgets_unique_name;\n' > pgmig/20240103000000_unique_gadgets/down.sql
  expect_exit 1 "PostgreSQL: a concurrent unique index over duplicates fails" -- "$QUARRY" -d "$PG" -m pgmig migrate
  [[ "$(indexes)" == 0 ]] || fail "the failed build's INVALID index was dropped (found $(indexes))"
  psql -q "$PG" -c "DELETE FROM gadgets WHERE name = 'twin' AND count = 2" || fail "cannot delete a twin"
  expect_exit 0 "PostgreSQL: the same migration once the data is fixed" -- "$QUARRY" -d "$PG" -m pgmig migrate
  [[ "$(indexes)" == 1 ]] || fail "the unique index exists after the retry (found $(indexes))"
  expect_exit 0 "PostgreSQL rollback" -- "$QUARRY" -d "$PG" -m pgmig rollback
  [[ "$(indexes)" == 0 ]] || fail "the unique index is dropped by its rollback (found $(indexes))"
  psql -q "$QUARRY_TEST_PG" -c "DROP SCHEMA $schema CASCADE" || true
else
  echo "QUARRY_TEST_PG not set (or no psql): PostgreSQL CLI checks skipped"
  [[ "${QUARRY_REQUIRE_PG:-}" != 1 ]] || fail "QUARRY_REQUIRE_PG=1 but the PostgreSQL CLI checks cannot run"
fi

if ((FAILS)); then
  echo "$FAILS check(s) failed"
  exit 1
fi
echo "all CLI checks passed"
