#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL 15 server for quarry's tests.
#
#   pg.sh start DIR   initialise and start a server whose files all live in DIR;
#                     the last stdout line (also written to DIR/conninfo) is a
#                     libpq connection string for database quarry_test.
#   pg.sh stop DIR    stop that server and remove DIR.
#
# For the fault tests (the server's files stay; the port stays the same):
#   pg.sh standby PRIMARY_DIR DIR   a hot standby of PRIMARY_DIR's server (pg_basebackup
#                                   -R), started; prints its connection string as `start`.
#   pg.sh restart DIR fast|immediate
#   pg.sh halt DIR fast|immediate   stop the server, keep its files
#   pg.sh resume DIR                start it again on its port
#   pg.sh pgbouncer PRIMARY_DIR DIR PgBouncer in transaction pooling mode in front of
#                                   PRIMARY_DIR's server (2 server connections), started;
#                                   prints its connection string. `stop DIR` stops it.
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
  echo "usage: $0 start DIR | stop DIR | standby PRIMARY_DIR DIR | restart DIR MODE | halt DIR MODE | resume DIR | pgbouncer PRIMARY_DIR DIR" >&2
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
# fsync off is safe for tests that kill the server, not the machine; synchronous_commit
# stays on so that a commit acknowledged before a crash is in the WAL (the fault tests check).
fsync = off
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

# Starts DIR's server on a free port (three tries: another process may take the
# port first) and prints the port.
start_on_free_port() {
  local port
  for _ in 1 2 3; do
    port=$(free_port)
    if start_server "$port" >&2; then echo "$port"; return 0; fi
    stop_server_if_running
  done
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
  local port
  port=$(start_on_free_port) || die "could not start PostgreSQL (see $DIR/server.log)"
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U "$SUPERUSER" "$DB_NAME" ||
    die "createdb $DB_NAME failed"
  write_conninfo "$port"
}

write_conninfo() {
  local conninfo="host=127.0.0.1 port=$1 user=$SUPERUSER dbname=$DB_NAME"
  echo "$1" >"$DIR/port"
  echo "$conninfo" >"$DIR/conninfo"
  log "ready"
  echo "$conninfo"
}

cmd_standby() {
  local primary
  primary=$(cd "$1" && pwd -P)
  [[ -f "$primary/port" ]] || die "$primary holds no server started by '$0 start'"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  [[ -e "$DIR/data" ]] && die "$DIR/data already exists"
  touch "$DIR/$MARKER"
  check_tools
  prepare_dir
  log "pg_basebackup from port $(cat "$primary/port") into $DIR/data"
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$(cat "$primary/port")" -U "$SUPERUSER" \
    -D "$DIR/data" -R -X stream -c fast \
    -C -S "standby_$(basename "$DIR" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n' _)" >"$DIR/basebackup.log" 2>&1 ||
    { cat "$DIR/basebackup.log" >&2; die "pg_basebackup failed"; }
  cat >>"$DIR/data/postgresql.conf" <<EOF
unix_socket_directories = '$DIR/sock'
cluster_name = 'quarry_standby'
hot_standby = on
hot_standby_feedback = on
wal_retrieve_retry_interval = 200ms
EOF
  local port
  port=$(start_on_free_port) || die "could not start the standby (see $DIR/server.log)"
  write_conninfo "$port"
}

cmd_pgbouncer() {
  local primary bouncer=${PGBOUNCER:-/usr/sbin/pgbouncer}
  primary=$(cd "$1" && pwd -P)
  [[ -f "$primary/port" ]] || die "$primary holds no server started by '$0 start'"
  [[ -x "$bouncer" ]] || die "$bouncer not found (install pgbouncer: scripts/install-deps.sh)"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  touch "$DIR/$MARKER"
  prepare_dir
  local port
  port=$(free_port)
  echo "\"$SUPERUSER\" \"\"" >"$DIR/userlist.txt"
  cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
$DB_NAME = host=127.0.0.1 port=$(cat "$primary/port") dbname=$DB_NAME user=$SUPERUSER

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$DIR"; fi
  log "starting PgBouncer on 127.0.0.1:$port (transaction pooling)"
  as_pg "$bouncer" -d "$DIR/pgbouncer.ini" >"$DIR/start.log" 2>&1 ||
    { cat "$DIR/start.log" "$DIR/pgbouncer.log" >&2 2>/dev/null; die "pgbouncer did not start"; }
  local i
  for ((i = 0; i < 50; i++)); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d "$DB_NAME" && break
    sleep 0.1
  done
  write_conninfo "$port"
}

stop_pgbouncer_if_running() {
  [[ -f "$DIR/pgbouncer.pid" ]] || return 0
  local pid
  pid=$(cat "$DIR/pgbouncer.pid")
  kill "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

existing_dir() {
  [[ -f "$DIR/$MARKER" && -f "$DIR/port" ]] || die "$DIR holds no server started by '$0'"
  DIR=$(cd "$DIR" && pwd -P)
}

shutdown_mode() {
  case $1 in fast | immediate) echo "$1" ;; *) usage ;; esac
}

cmd_restart() {
  existing_dir
  as_pg "$PG_BIN/pg_ctl" restart -D "$DIR/data" -m "$(shutdown_mode "$1")" -l "$DIR/server.log" \
    -o "-p $(cat "$DIR/port")" -w -t 60 >/dev/null || die "restart failed"
}

cmd_halt() {
  existing_dir
  as_pg "$PG_BIN/pg_ctl" stop -D "$DIR/data" -m "$(shutdown_mode "$1")" -w -t 60 >/dev/null || die "stop failed"
}

cmd_resume() {
  existing_dir
  start_server "$(cat "$DIR/port")" || die "could not start the server again"
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
  stop_pgbouncer_if_running
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
  [[ $# -ge 2 ]] || usage
  case $1 in
    standby | pgbouncer) [[ $# -eq 3 ]] || usage; DIR=$3 ;;
    restart | halt) [[ $# -eq 3 ]] || usage; DIR=$2 ;;
    *) [[ $# -eq 2 ]] || usage; DIR=$2 ;;
  esac
  [[ -n "$DIR" && "$DIR" != / ]] || die "refusing DIR '$DIR'"
  case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    standby) cmd_standby "$2" ;;
    pgbouncer) cmd_pgbouncer "$2" ;;
    restart) cmd_restart "$3" ;;
    halt) cmd_halt "$3" ;;
    resume) cmd_resume ;;
    *) usage ;;
  esac
}

main "$@"
