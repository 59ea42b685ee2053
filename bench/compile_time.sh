#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile time of R1–R8 written with quarry against the same statements written by hand, each
# TU compiled with -O2 (median of N runs). Ends with the line `compile-time ratio: X`.
#   bench/compile_time.sh [N=5] [CXX=g++]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
runs=${1:-5}
cxx=${CXX:-g++}
flags=(-std=c++20 -O2 -c -I../include -I../test -o /dev/null)

median_seconds() {
    local f=$1 times=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$cxx" "${flags[@]}" "$f"
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc -l)")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

hand=$(median_seconds compile_hand_tu.cpp)
quarry=$(median_seconds compile_quarry_tu.cpp)
printf 'hand-written TU: %.2f s, quarry TU: %.2f s (%s, -O2, median of %d)\n' "$hand" "$quarry" "$cxx" "$runs"
printf 'compile-time ratio: %.2f\n' "$(echo "$quarry / $hand" | bc -l)"
