#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per row or statement of each end-to-end workload, counted by callgrind in the
# benchmark process only: what quarry adds on the client side, repeatable on a noisy machine.
# The database server's work (PostgreSQL) is not in the count; SQLite's is (it runs in-process).
#   bench/e2e_instructions.sh BUILD_DIR|BINARY [sqlite] [postgres]
# The workloads are scaled down to QUARRY_BENCH_USERS users (default 10000; updates: a tenth).
# PostgreSQL is counted only when QUARRY_BENCH_PG is set (see bench/e2e_bench.cpp).
set -euo pipefail
bin=${1:?build dir or binary}
[[ -d $bin ]] && bin=$bin/bench/quarry_bench_e2e
shift
dbs=("$@")
if ((${#dbs[@]} == 0)); then
    dbs=(sqlite)
    [[ -n ${QUARRY_BENCH_PG:-} ]] && dbs+=(postgres)
fi
users=${QUARRY_BENCH_USERS:-10000}
export QUARRY_BENCH_USERS=$users

count() {  # db workload side -> instructions in one run of timed_<workload><Side>
    local db=$1 w=$2 side=$3 tmp ir
    tmp=$(mktemp)
    QUARRY_BENCH_ITERATIONS=1 valgrind --tool=callgrind --callgrind-out-file="$tmp" "--toggle-collect=*timed_${w}<*${side}>*" \
        "$bin" --benchmark_filter="^e2e/$db/$w/" >/dev/null 2>&1
    ir=$(callgrind_annotate "$tmp" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    rm -f "$tmp"
    echo "$ir"
}

printf '%-18s %10s %10s %8s   (instructions per row or statement, %d users)\n' workload raw quarry ratio "$users"
for db in "${dbs[@]}"; do
    raw_side=RawSqlite
    [[ $db == postgres ]] && raw_side=RawPg
    for w in fetch insert lookup update; do
        ops=$users
        [[ $w == update ]] && ops=$((users / 10))
        r=$(count "$db" "$w" "$raw_side")
        q=$(count "$db" "$w" QuarrySide)
        printf '%-18s %10d %10d %7.2fx\n' "$db/$w" "$((r / ops))" "$((q / ops))" "$(bc -l <<<"$q/$r")"
    done
done
