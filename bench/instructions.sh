#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per iteration of each render benchmark, counted by callgrind: repeatable on a
# shared, noisy machine where wall-clock ratios wander. Prints quarry / hand-written ratios.
#   bench/instructions.sh BUILD_DIR [R1 R2 ...]
set -euo pipefail
bin=${1:?build dir}/bench/quarry_bench_render
shift
queries=("${@:-1 2 3 4 5 6 7 8}")
read -r -a queries <<<"${queries[*]//R/}"

count() {  # query dialect mode -> instructions per iteration
    local n=$1 d=$2 mode=$3 fn iters ir tmp
    case $mode in quarry) fn="bm_quarry<$n>" ;; quarry_cached) fn="bm_cached<$n>" ;; hand) fn="bm_hand<$n>" ;; esac
    tmp=$(mktemp)
    iters=2000  # one run of exactly this many iterations; warm-up costs are amortised over them
    QUARRY_BENCH_ITERATIONS=$iters valgrind --tool=callgrind --callgrind-out-file="$tmp" "--toggle-collect=*${fn}*" \
        "$bin" --benchmark_filter="R$n/$d/$mode(/iterations:[0-9]+)?\$" >/dev/null 2>&1
    ir=$(callgrind_annotate "$tmp" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    rm -f "$tmp"
    echo $((ir / iters))
}

printf '%-12s %8s %8s %8s %8s %8s\n' query hand quarry cached ratio cached
for n in "${queries[@]}"; do
    for d in sqlite postgres; do
        h=$(count "$n" "$d" hand)
        q=$(count "$n" "$d" quarry)
        c=$(count "$n" "$d" quarry_cached)
        printf '%-12s %8d %8d %8d %7.2fx %7.2fx\n' "R$n/$d" "$h" "$q" "$c" "$(bc -l <<<"$q/$h")" "$(bc -l <<<"$c/$h")"
    done
done
