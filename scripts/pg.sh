#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL 15 server for quarry's tests.
#
#   pg.sh start DIR   initialise and start a server whose files all live in DIR;
#                     the last stdout line (also written to DIR/conninfo) is a
#                     libpq connection string for database quarry_test.
#   pg.sh stop DIR    stop that server and remove DIR.
#
# DIR is best made with `mktemp -d`. Progress and errors go to stderr so that
# callers can take the connection string with `pg.sh start DIR | tail -n1`.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DB_NAME=quarry_test
SUPERUSER=postgres   # role name given to initdb -U, whichever OS user runs it
MARKER=.quarry-pg    # proves DIR was made by us before `stop` deletes it

# A caller's libpq settings must not redirect our own client calls.
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS

log() { echo "pg.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}

# The server refuses to run as root, so as root we run it as `postgres`.
os_user() {
  if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

# Runs a command as the server's OS user, from DIR so that a cwd the user
# cannot read does not produce warnings.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$DIR" && runuser -u postgres -- "$@")
  else
    (cd "$DIR" && "$@")
  fi
}

port_in_use() {
  local p=$1
  if command -v ss >/dev/null && ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
    return 0
  fi
  # Succeeds only if something accepts connections on the port.
  bash -c "</dev/tcp/127.0.0.1/$p" 2>/dev/null
}

# Prints a free loopback port, starting from a random one to make clashes
# between concurrent runs unlikely.
free_port() {
  local start=$((20000 + RANDOM % 30000)) i p
  for ((i = 0; i < 200; i++)); do
    p=$((start + i))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free TCP port found in $start..$((start + 199))"
}

check_tools() {
  local tool
  for tool in initdb pg_ctl pg_isready createdb; do
    [[ -x "$PG_BIN/$tool" ]] || die "$PG_BIN/$tool not found (install postgresql-15: scripts/install-deps.sh)"
  done
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
  fi
}

# Makes DIR writable for the server's user and checks that it really is.
prepare_dir() {
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$DIR"; fi
  chmod 700 "$DIR"
  as_pg test -w "$DIR" ||
    die "$DIR is not writable by OS user $(os_user) (a parent directory may not be searchable; use a DIR under /tmp)"
  as_pg mkdir -p "$DIR/sock"
  # Unix socket paths are limited to 107 bytes (".s.PGSQL.NNNNN" is 14 of them).
  ((${#DIR} + 20 <= 107)) || die "DIR path too long for a unix socket: $DIR"
}

init_cluster() {
  log "initdb in $DIR/data (OS user $(os_user))"
  as_pg "$PG_BIN/initdb" -D "$DIR/data" -U "$SUPERUSER" --auth=trust \
    -E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  # Speed over durability: the cluster is thrown away after the tests.
  cat >>"$DIR/data/postgresql.conf" <<EOF

# --- added by scripts/pg.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/sock'
cluster_name = 'quarry_test'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
EOF
}

# Starts the server on PORT; returns non-zero (after printing the log) if it
# did not come up, e.g. because another process grabbed the port meanwhile.
start_server() {
  local port=$1
  log "starting server on 127.0.0.1:$port"
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/server.log" \
      -o "-p $port" -w -t 60 >/dev/null; then
    log "server did not start; last lines of $DIR/server.log:"
    tail -n 20 "$DIR/server.log" >&2 || true
    return 1
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres && return 0
    sleep 0.5
  done
  log "server started but pg_isready never reported it ready"
  return 1
}

cmd_start() {
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  if [[ -e "$DIR/data" ]]; then
    die "$DIR/data already exists; run '$0 stop $DIR' first"
  fi
  # Marked first, so that `stop` can clean up even after a failed start.
  touch "$DIR/$MARKER"
  check_tools
  prepare_dir
  init_cluster
  local port started=
  for _ in 1 2 3; do
    port=$(free_port)
    if start_server "$port"; then started=1; break; fi
    stop_server_if_running
  done
  [[ -n $started ]] || die "could not start PostgreSQL (see $DIR/server.log)"
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U "$SUPERUSER" "$DB_NAME" ||
    die "createdb $DB_NAME failed"
  local conninfo="host=127.0.0.1 port=$port user=$SUPERUSER dbname=$DB_NAME"
  echo "$conninfo" >"$DIR/conninfo"
  log "ready"
  echo "$conninfo"
}

stop_server_if_running() {
  [[ -f "$DIR/data/postmaster.pid" ]] || return 0
  as_pg "$PG_BIN/pg_ctl" stop -D "$DIR/data" -m fast -w -t 60 >/dev/null 2>&1 ||
    as_pg "$PG_BIN/pg_ctl" stop -D "$DIR/data" -m immediate -w -t 30 >/dev/null 2>&1 ||
    { log "pg_ctl stop failed for $DIR/data"; return 1; }
}

cmd_stop() {
  if [[ ! -d "$DIR" ]]; then
    log "$DIR does not exist; nothing to stop"
    return 0
  fi
  DIR=$(cd "$DIR" && pwd -P)
  # Refuse to delete a directory that `start` did not set up.
  [[ -f "$DIR/$MARKER" ]] || die "$DIR was not created by '$0 start'; not touching it"
  local rc=0
  if [[ -x "$PG_BIN/pg_ctl" ]]; then
    stop_server_if_running || rc=1
  fi
  if ((rc == 0)); then
    rm -rf -- "$DIR"
    log "stopped and removed $DIR"
  else
    die "server in $DIR may still be running; left $DIR in place"
  fi
}

main() {
  [[ $# -eq 2 ]] || usage
  DIR=$2
  [[ -n "$DIR" && "$DIR" != / ]] || die "refusing DIR '$DIR'"
  case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) usage ;;
  esac
}

main "$@"
