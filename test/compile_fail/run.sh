#!/usr/bin/env bash
# Compiles each file that must not compile and checks the compiler's message; the control file
# must compile. Usage: run.sh "<compiler and flags>" file...
set -uo pipefail
cxx=$1
shift
failed=0
for f in "$@"; do
    expect=$(sed -n 's|^// expect: ||p' "$f" | head -n 1)
    out=$($cxx -fsyntax-only "$f" 2>&1)
    rc=$?
    name=$(basename "$f")
    if [ "$expect" = "COMPILES" ]; then
        if [ $rc -ne 0 ]; then echo "FAIL $name: the control does not compile:"; echo "$out" | head -n 20; failed=1; else echo "ok   $name compiles"; fi
    elif [ $rc -eq 0 ]; then
        echo "FAIL $name: compiled, but it must not"; failed=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
        echo "FAIL $name: rejected without the message \"$expect\":"; echo "$out" | head -n 20; failed=1
    else
        echo "ok   $name: \"$expect\""
    fi
done
exit $failed
