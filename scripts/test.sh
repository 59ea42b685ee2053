#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# quarry's whole test suite: g++, clang 14, ASan+UBSan, TSan, an installed-
# package consumer and a short fuzz run, against a throwaway PostgreSQL; then
# the fault tests, which kill and restart servers of their own (a primary, a
# hot standby of it, and a PgBouncer in front of the primary).
#
#   QUARRY_STAGES="gcc clang asan tsan consumer fuzz faults"   stages to run (default all)
#   QUARRY_JOBS=2                                       parallel compile jobs
#
# Every stage runs even if an earlier one failed. The last line printed is
# "N passed, N failed[, N skipped]"; the exit status is non-zero if anything
# failed.
#
# Not `set -e`: a failing stage must be recorded, not end the run.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd -P)

ALL_STAGES=(gcc clang asan tsan consumer fuzz faults)
read -r -a STAGES <<<"${QUARRY_STAGES:-${ALL_STAGES[*]}}"
JOBS=${QUARRY_JOBS:-2}

PASSED=0
FAILED=0
SKIPPED=0
FAILED_STAGES=()

TMP=$(mktemp -d "${TMPDIR:-/tmp}/quarry-test.XXXXXX")
PGDIR=""
FAULT_DIRS=()

# ---------------------------------------------------------------- helpers --

header() { printf '\n===== %s =====\n' "$*"; }
note() { echo "test.sh: $*"; }

fail_stage() {
  note "stage '$1' FAILED: $2"
  FAILED_STAGES+=("$1")
}

# Counts a stage that is a single test (consumer, fuzz) or a stage that
# failed before its tests could run.
count_one() {
  case $2 in
    pass) PASSED=$((PASSED + 1)) ;;
    fail) FAILED=$((FAILED + 1)); fail_stage "$1" "$3" ;;
    skip) SKIPPED=$((SKIPPED + 1)); note "stage '$1' skipped: $3" ;;
  esac
}

cleanup() {
  local d
  for d in "${FAULT_DIRS[@]}"; do bash "$ROOT/scripts/pg.sh" stop "$d" || true; done
  FAULT_DIRS=()
  if [[ -n "$PGDIR" ]]; then
    bash "$ROOT/scripts/pg.sh" stop "$PGDIR" || true
    PGDIR=""
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # makes the EXIT trap run on Ctrl-C too

# setup_build DIR MESON_ARGS...: configure DIR from scratch. An existing
# build dir is wiped so that every run starts from the same state.
setup_build() {
  local dir=$1
  shift
  if [[ -f "$dir/meson-private/coredata.dat" ]]; then
    meson setup --wipe "$dir" "$@"
  else
    rm -rf "$dir"
    meson setup "$dir" "$@"
  fi
}

# has_test DIR NAME: whether the configured build DIR defines test NAME.
# (Introspection, unlike `meson test --list`, does not build everything.)
has_test() {
  meson introspect --tests "$1" |
    python3 -c 'import json, sys; sys.exit(sys.argv[1] not in {t["name"] for t in json.load(sys.stdin)})' "$2"
}

# target_file DIR NAME: prints the output path of build target NAME, or fails.
target_file() {
  meson introspect --targets "$1" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == sys.argv[1]:
        print(t["filename"][0]); sys.exit(0)
sys.exit(1)' "$2"
}

# summary_value LOG LABEL: the number on meson test's last "LABEL:" line.
summary_value() {
  sed -nE "s/^$2:[[:space:]]+([0-9]+).*/\\1/p" "$1" | tail -n1
}

# count_meson_log STAGE LOG RC: adds the totals from meson test's summary.
#   passed = Ok + Expected Fail; failed = Fail + Unexpected Pass + Timeout
count_meson_log() {
  local stage=$1 log=$2 rc=$3 ok xfail fail xpass skip timeout
  ok=$(summary_value "$log" 'Ok') xfail=$(summary_value "$log" 'Expected Fail')
  fail=$(summary_value "$log" 'Fail') xpass=$(summary_value "$log" 'Unexpected Pass')
  skip=$(summary_value "$log" 'Skipped') timeout=$(summary_value "$log" 'Timeout')
  if [[ -z "$ok" ]] && ((rc == 0)) && grep -qx 'No tests defined.' "$log"; then
    note "stage '$stage': no tests defined"
    return
  fi
  if [[ -z "$ok" ]]; then
    count_one "$stage" fail "meson test printed no summary (exit $rc)"
    return
  fi
  local p=$((ok + ${xfail:-0})) f=$((${fail:-0} + ${xpass:-0} + ${timeout:-0}))
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  SKIPPED=$((SKIPPED + ${skip:-0}))
  note "stage '$stage': $p passed, $f failed, ${skip:-0} skipped"
  if ((f > 0)); then
    fail_stage "$stage" "$f test(s) failed"
  elif ((rc != 0)); then
    # e.g. meson itself errored after the summary; never let that pass.
    count_one "$stage" fail "meson test exited $rc"
  fi
}

# meson_stage STAGE DIR TEST_ARGS -- SETUP_ARGS...: configure, compile and
# test one build dir, counting its results.
meson_stage() {
  local stage=$1 dir=$2 test_args=$3
  shift 4   # also drops the "--"
  setup_build "$dir" "$@" || { count_one "$stage" fail "meson setup failed"; return; }
  meson compile -C "$dir" -j "$JOBS" || { count_one "$stage" fail "compile failed"; return; }
  local log="$TMP/$stage-test.log" rc
  # shellcheck disable=SC2086  # test_args is a deliberately split word list
  meson test -C "$dir" --print-errorlogs --num-processes 2 $test_args 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  count_meson_log "$stage" "$log" "$rc"
}

# ----------------------------------------------------------------- stages --

stage_gcc() {
  CC=gcc CXX=g++ meson_stage gcc build-gcc "--no-suite faults" -- \
    -Dbench=true -Dpostgres_tests=enabled
}

stage_clang() {
  CC=clang-14 CXX=clang++-14 meson_stage clang build-clang "--no-suite faults" -- \
    -Dbench=false -Dpostgres_tests=enabled
}

stage_asan() {
  # Sanitized code runs several times slower: allow longer test timeouts.
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$ROOT/test/lsan.supp" \
    CC=gcc CXX=g++ meson_stage asan build-asan "--timeout-multiplier 3 --no-suite faults" -- \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false \
    -Dpostgres_tests=enabled
}

stage_tsan() {
  local dir=build-tsan args=(-Db_sanitize=thread -Db_lundef=false -Dbench=false)
  CC=clang-14 CXX=clang++-14 setup_build "$dir" "${args[@]}" ||
    { count_one tsan fail "meson setup failed"; return; }
  if ! has_test "$dir" thread-stress; then
    count_one tsan skip "no test named 'thread-stress' is defined"
    return
  fi
  # Build just that test's program, with our job limit (meson test would
  # otherwise build it with ninja's default parallelism).
  local exe
  exe=$(test_program "$dir" thread-stress)
  if [[ -n "$exe" ]]; then
    ninja -C "$dir" -j "$JOBS" "$exe" || { count_one tsan fail "compile failed"; return; }
  fi
  local log="$TMP/tsan-test.log" rc
  meson test -C "$dir" --print-errorlogs --timeout-multiplier 3 \
    thread-stress 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  count_meson_log tsan "$log" "$rc"
}

# The fault tests, on the gcc build, against servers started for them alone:
# they kill backends, restart the primary and stop the standby.
stage_faults() {
  local dir=build-gcc
  if [[ ! -f "$dir/meson-private/coredata.dat" ]]; then  # the gcc stage did not run: set it up
    CC=gcc CXX=g++ setup_build "$dir" -Dbench=true -Dpostgres_tests=enabled ||
      { count_one faults fail "meson setup failed"; return; }
  fi
  meson compile -C "$dir" -j "$JOBS" || { count_one faults fail "compile failed"; return; }
  local primary standby bouncer
  primary=$(mktemp -d /tmp/quarry-fp.XXXXXX)
  standby=$(mktemp -d /tmp/quarry-fs.XXXXXX)
  bouncer=$(mktemp -d /tmp/quarry-fb.XXXXXX)
  FAULT_DIRS=("$bouncer" "$standby" "$primary")
  if ! bash scripts/pg.sh start "$primary" >/dev/null ||
     ! bash scripts/pg.sh standby "$primary" "$standby" >/dev/null ||
     ! bash scripts/pg.sh pgbouncer "$primary" "$bouncer" >/dev/null; then
    count_one faults fail "could not start the fault tests' servers"
    return
  fi
  local log="$TMP/faults-test.log" rc
  QUARRY_PG_SCRIPT="$ROOT/scripts/pg.sh" QUARRY_FAULT_PRIMARY_DIR="$primary" \
    QUARRY_FAULT_STANDBY_DIR="$standby" QUARRY_PGBOUNCER="$(cat "$bouncer/conninfo")" \
    QUARRY_REQUIRE_FAULTS=1 \
    meson test -C "$dir" --print-errorlogs --suite faults 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  count_meson_log faults "$log" "$rc"
  local d
  for d in "${FAULT_DIRS[@]}"; do bash scripts/pg.sh stop "$d" || true; done
  FAULT_DIRS=()
}

# test_program DIR NAME: prints the program test NAME runs, relative to DIR
# (a ninja target), or nothing if it is not built in DIR.
test_program() {
  meson introspect --tests "$1" | python3 -c '
import json, os, sys
builddir, name = os.path.realpath(sys.argv[1]), sys.argv[2]
for t in json.load(sys.stdin):
    if t["name"] == name:
        rel = os.path.relpath(os.path.realpath(t["cmd"][0]), builddir)
        if not rel.startswith(".."):
            print(rel)
        break' "$1" "$2"
}

# Builds test/consumer against an installed quarry, with Meson and with CMake.
stage_consumer() {
  local prefix="$TMP/prefix"
  install_quarry "$prefix" || { count_one consumer fail "meson install failed"; return; }
  local pc pcdir libdir
  pc=$(find "$prefix" -name quarry.pc -print -quit)
  [[ -n "$pc" ]] || { count_one consumer fail "no quarry.pc under $prefix"; return; }
  pcdir=$(dirname "$pc")
  libdir=$(dirname "$pcdir")
  note "installed quarry: pkg-config dir $pcdir"

  local ok=1
  consumer_meson "$pcdir" "$libdir" || { ok=0; note "consumer (Meson) failed"; }
  consumer_cmake "$prefix" "$libdir" || { ok=0; note "consumer (CMake) failed"; }
  consumer_project "$prefix" "$pcdir" || { ok=0; note "consumer (quarry new project) failed"; }
  if ((ok)); then count_one consumer pass; else count_one consumer fail "see above"; fi
}

# Installs into PREFIX, building only the library if that is enough for a
# complete install (the tests and examples are not needed here).
install_quarry() {
  setup_build build-install --prefix "$1" -Dbench=false || return 1
  if meson compile -C build-install -j "$JOBS" quarry:static_library quarry:executable &&
      meson install -C build-install --no-rebuild --quiet; then
    return 0
  fi
  note "library-only install was not enough; building everything"
  meson compile -C build-install -j "$JOBS" && meson install -C build-install --quiet
}

consumer_meson() {
  local pcdir=$1 libdir=$2 dir="$TMP/consumer-meson"
  PKG_CONFIG_PATH="$pcdir" meson setup "$dir" test/consumer &&
    meson compile -C "$dir" -j "$JOBS" &&
    LD_LIBRARY_PATH="$libdir" "$dir/quarry-consumer"
}

consumer_cmake() {
  local prefix=$1 libdir=$2 dir="$TMP/consumer-cmake"
  cmake -S test/consumer -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$dir" -j "$JOBS" &&
    LD_LIBRARY_PATH="$libdir" "$dir/quarry-consumer"
}

# The installed `quarry` writes a project; it builds against the installed quarry, its
# sandboxed tests pass, and its database tool migrates.
consumer_project() {
  local prefix=$1 pcdir=$2 dir="$TMP/project"
  mkdir -p "$dir" &&
    (cd "$dir" && "$prefix/bin/quarry" new project shop) &&
    PKG_CONFIG_PATH="$pcdir" meson setup "$dir/shop/build" "$dir/shop" &&
    meson compile -C "$dir/shop/build" -j "$JOBS" &&
    meson test -C "$dir/shop/build" --print-errorlogs &&
    (cd "$dir/shop" && ./build/shop-db migrate && ./build/shop-db status --check && ./build/shop)
}

stage_fuzz() {
  local dir=build-fuzz exe
  CC=clang-14 CXX=clang++-14 setup_build "$dir" -Dfuzz=true -Dbench=false -Db_lundef=false ||
    { count_one fuzz fail "meson setup failed"; return; }
  if ! exe=$(target_file "$dir" quarry-fuzz); then
    count_one fuzz skip "-Dfuzz=true defines no target named 'quarry-fuzz'"
    return
  fi
  meson compile -C "$dir" -j "$JOBS" quarry-fuzz || { count_one fuzz fail "compile failed"; return; }
  # Crash reproducers go to the (git-ignored) build dir, not the repo root.
  local artifacts="$ROOT/$dir/fuzz-artifacts/"
  mkdir -p "$artifacts"
  if "$exe" -max_total_time=60 -seed=1 -artifact_prefix="$artifacts"; then
    count_one fuzz pass
  else
    count_one fuzz fail "fuzzer found a problem (reproducers in $artifacts)"
  fi
}

# ------------------------------------------------------------------- main --

check_stages() {
  local s known
  for s in "${STAGES[@]}"; do
    known=0
    for k in "${ALL_STAGES[@]}"; do [[ $s == "$k" ]] && known=1; done
    ((known)) || { echo "test.sh: unknown stage '$s' (known: ${ALL_STAGES[*]})" >&2; exit 2; }
  done
}

start_postgres() {
  header "PostgreSQL"
  PGDIR=$(mktemp -d /tmp/quarry-pg.XXXXXX)   # short path: unix socket limit
  local conninfo
  if conninfo=$(bash scripts/pg.sh start "$PGDIR" | tail -n1) && [[ -n "$conninfo" ]]; then
    export QUARRY_TEST_PG="$conninfo"
    note "QUARRY_TEST_PG=$conninfo"
  else
    # Tests that need the server will now fail (QUARRY_REQUIRE_PG), which is
    # the point; this counts the cause once more where it is clearest.
    count_one postgres fail "could not start PostgreSQL"
  fi
  export QUARRY_REQUIRE_PG=1
}

print_totals() {
  local line="$PASSED passed, $FAILED failed"
  ((SKIPPED > 0)) && line+=", $SKIPPED skipped"
  echo "$line"
}

main() {
  check_stages
  header "dependencies"
  bash scripts/install-deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
  start_postgres

  local s
  for s in "${STAGES[@]}"; do
    header "stage: $s"
    "stage_$s"
  done

  # Stop the server now so that nothing is printed after the totals line.
  cleanup
  echo
  ((${#FAILED_STAGES[@]} == 0)) || note "failed stages: ${FAILED_STAGES[*]}"
  print_totals
  ((FAILED == 0))
}

main "$@"
