#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages quarry needs to build and test.
# Idempotent: only missing packages are installed, and `apt-get update`
# runs only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential g++ clang-14 libclang-rt-14-dev
  meson ninja-build pkg-config cmake
  libsqlite3-dev libpqxx-dev libpq-dev
  libboost-dev librange-v3-dev doctest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  postgresql postgresql-contrib pgbouncer
)

# Prints the packages from PACKAGES that dpkg does not report as installed.
missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == installed ]] || echo "$pkg"
  done
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

main() {
  local missing
  mapfile -t missing < <(missing_packages)
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    return 0
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq "${missing[@]}" >/dev/null
  echo "install-deps: done"
}

main "$@"
