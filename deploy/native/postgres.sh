#!/usr/bin/env bash
# PostgreSQL 15 for the native stack: a private cluster in .run/postgres on 127.0.0.1:5433,
# database and user `switchboard` (password `switchboard`, scram-sha-256 over TCP).
# When DATABASE_URL names another server, that server is used and nothing is started or stopped.
#   postgres.sh start | stop | status
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"

pg_bindir() {
  local dir="${PG_BIN:-/usr/lib/postgresql/15/bin}"
  if [[ ! -x "$dir/postgres" ]]; then
    is_root || die "PostgreSQL 15 server binaries not found in $dir; install postgresql-15"
    log "installing PostgreSQL 15 server binaries"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    [[ -x "$dir/postgres" ]] || die "PostgreSQL 15 server binaries still missing in $dir"
  fi
  printf '%s\n' "$dir"
}

# The socket path must stay below the kernel's ~107-byte limit.
socket_dir() {
  if ((${#PG_DIR} + 20 < 100)); then
    printf '%s\n' "$PG_DIR/sock"
  else
    printf '/tmp/switchboard-pg-%s\n' "$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
  fi
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` OS user.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

prepare_owner() {
  is_root || return 0
  if ! id postgres >/dev/null 2>&1; then
    log "creating the postgres OS user"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  mkdir -p "$PG_DIR"
  chmod 755 "$RUN_DIR"
  chown postgres: "$PG_DIR"
  runuser -u postgres -- test -w "$PG_DIR" ||
    die "the postgres OS user cannot reach $PG_DIR (a parent folder is closed to it); clone the repository under a world-readable path"
}

init_cluster() {
  local bin="$1" sock="$2"
  [[ -f "$DATA/PG_VERSION" ]] && return 0
  log "creating the PostgreSQL cluster in $DATA"
  prepare_owner
  mkdir -p "$PG_DIR"
  is_root && chown postgres: "$PG_DIR"
  as_pg "$bin/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
    fail_with_log "initdb failed" "$PG_DIR/initdb.log"
  as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# Switchboard native stack
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$sock'
max_connections = 200
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

psql_admin() {
  local bin="$1" sock="$2"
  shift 2
  as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_db() {
  local bin="$1" sock="$2"
  psql_admin "$bin" "$sock" <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
EOF
  if [[ "$(psql_admin "$bin" "$sock" -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]]; then
    log "creating database $PG_DB"
    psql_admin "$bin" "$sock" -c "CREATE DATABASE $PG_DB OWNER $PG_USER"
  fi
}

running() {
  local bin="$1"
  [[ -f "$DATA/PG_VERSION" ]] && as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

probe() {
  "$(python_bin)" "$NATIVE/probe.py" postgres "$1" --timeout "$READY_TIMEOUT"
}

start() {
  if external_database; then
    log "DATABASE_URL is set: using that server, not starting one"
    probe "$(database_url)" || die "the database named by DATABASE_URL is not reachable"
    return 0
  fi
  local bin sock
  bin="$(pg_bindir)"
  sock="$(socket_dir)"
  if running "$bin"; then
    log "PostgreSQL already running on $PG_HOST:$PG_PORT"
  else
    port_free_or_die "$PG_HOST" "$PG_PORT" "PostgreSQL"
    init_cluster "$bin" "$sock"
    prepare_owner
    as_pg mkdir -p "$sock"
    as_pg chmod 700 "$sock"
    log "starting PostgreSQL 15 on $PG_HOST:$PG_PORT (log $PG_LOG)"
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start >/dev/null ||
      fail_with_log "PostgreSQL did not start" "$PG_LOG"
  fi
  ensure_db "$bin" "$sock"
  probe "$LOCAL_DATABASE_URL" || fail_with_log "PostgreSQL is not accepting connections" "$PG_LOG"
  log "PostgreSQL ready on $PG_HOST:$PG_PORT, database $PG_DB"
}

stop() {
  [[ -f "$DATA/PG_VERSION" ]] || return 0
  local bin
  bin="$(pg_bindir)"
  if running "$bin"; then
    log "stopping PostgreSQL"
    as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  fi
}

status() {
  if [[ -f "$DATA/PG_VERSION" ]] && running "$(pg_bindir)"; then
    echo "postgres  running  pid $(as_pg head -1 "$DATA/postmaster.pid")  $PG_HOST:$PG_PORT  log $PG_LOG"
  else
    echo "postgres  stopped"
  fi
  if external_database; then
    echo "postgres  (DATABASE_URL is set: the stack uses that server)"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
