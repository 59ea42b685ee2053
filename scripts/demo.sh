#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs the quarry demo.
#   scripts/demo.sh [SQLITE_FILE]   (default: a database file in build-demo/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=build-demo

bash scripts/install-deps.sh
# Configure only once; later runs just rebuild what changed.
if [[ ! -f "$BUILD/meson-private/coredata.dat" ]]; then
  meson setup "$BUILD" -Dbench=false
fi
meson compile -C "$BUILD" -j "${QUARRY_JOBS:-2}" quarry-demo
exec "./$BUILD/examples/quarry-demo" "$@"
