# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this
# Shared paths, ports and helpers for the native stack scripts (sourced, never run).
#
# Layout (all under the repository root, all git-ignored):
#   .cache/kafka/libs/        Kafka release jars from Maven Central (deploy/kafka/pom.xml)
#   .run/kafka/               broker config, cluster id, data (data/) and logs (logs/)
#   .run/postgres/            private PostgreSQL 15 cluster (data/, sock/, postgres.log)
#   .run/pids/<name>.pid      pid of every background process we started
#   .run/logs/<service>.log   service logs
#   .run/secrets.env          generated tokens, reused by every run
#   .run/infra.env            KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL once infra is up
#   .run/stack.env            the contract file written by `make up`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="$ROOT/.run"
CACHE_DIR="$ROOT/.cache"
VENV="$ROOT/.venv"
PID_DIR="$RUN_DIR/pids"
LOG_DIR="$RUN_DIR/logs"
NATIVE="$ROOT/deploy/native"

KAFKA_VERSION="3.9.1"
KAFKA_HOST="127.0.0.1"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
KAFKA_LIBS="$CACHE_DIR/kafka/libs"
KAFKA_DIR="$RUN_DIR/kafka"

PG_HOST="127.0.0.1"
PG_PORT=5433
PG_DB="switchboard"
PG_USER="switchboard"
PG_PASSWORD="switchboard"
PG_DIR="$RUN_DIR/postgres"
LOCAL_DATABASE_URL="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"

SERVICES=(intake router sla)
declare -A SERVICE_PORT=([intake]=8081 [router]=8082 [sla]=8083)
SERVICE_HOST="127.0.0.1"

READY_TIMEOUT="${READY_TIMEOUT:-90}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# python: the venv's interpreter (aiokafka/asyncpg live there).
python_bin() {
  [[ -x "$VENV/bin/python" ]] || die "no virtual environment at $VENV: run 'make venv' first"
  printf '%s\n' "$VENV/bin/python"
}

# ensure_cmd CMD DEBIAN_PACKAGE: install a missing tool from Debian's packages when root.
ensure_cmd() {
  local cmd="$1" pkg="$2"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  is_root || die "'$cmd' is missing; install the Debian package '$pkg'"
  log "installing $pkg (for $cmd)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' still missing after installing $pkg"
}

# cmdline_has PID PATTERN: the process's command line (arguments joined by spaces) has PATTERN.
cmdline_has() {
  local args
  mapfile -d '' -t args 2>/dev/null <"/proc/$1/cmdline" || return 1
  [[ "${args[*]}" == *"$2"* ]]
}

# pid_alive NAME PATTERN: the pid in .run/pids/NAME.pid runs and its command line has PATTERN.
pid_alive() {
  local file="$PID_DIR/$1.pid" pattern="$2" pid
  [[ -s "$file" ]] || return 1
  pid="$(<"$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline_has "$pid" "$pattern"
}

read_pid() { cat "$PID_DIR/$1.pid" 2>/dev/null || true; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# port_free_or_die HOST PORT WHAT: refuse to start when something else already listens there.
port_free_or_die() {
  local host="$1" port="$2" what="$3"
  if port_open "$host" "$port"; then
    local who
    who="$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n '1s/.*users:((\(.*\)))/\1/p' || true)"
    die "$what: port $host:$port is already in use by a process this stack did not start${who:+ ($who)}; stop it or run 'make down'"
  fi
}

# start_bg NAME LOGFILE CMD...: start CMD detached (own session), record its pid.
# The previous run's log is kept as LOGFILE.1.
start_bg() {
  local name="$1" logfile="$2"
  shift 2
  mkdir -p "$PID_DIR" "$(dirname "$logfile")"
  [[ -s "$logfile" ]] && mv -f "$logfile" "$logfile.1"
  setsid "$@" </dev/null >"$logfile" 2>&1 &
  echo $! >"$PID_DIR/$name.pid"
}

# find_pids PATTERN: pids whose command line contains PATTERN (a fixed string with an absolute
# path, so only this checkout's processes match), for when the pid file was lost.
find_pids() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    if cmdline_has "$pid" "$1"; then printf '%s\n' "$pid"; fi
  done
  return 0
}

# stop_pid NAME PATTERN TIMEOUT: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
  local name="$1" pattern="$2" timeout="$3" pid i
  if ! pid_alive "$name" "$pattern"; then
    rm -f "$PID_DIR/$name.pid"
    pid="$(find_pids "$pattern")"
    pid="${pid%%$'\n'*}"
    [[ -n "$pid" ]] || return 0
    mkdir -p "$PID_DIR"
    echo "$pid" >"$PID_DIR/$name.pid"
  fi
  pid="$(read_pid "$name")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within ${timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PID_DIR/$name.pid"
}

# fail_with_log WHAT LOGFILE...: show the end of the logs, then fail.
fail_with_log() {
  local what="$1" f
  shift
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    printf '\n----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
    printf -- '----- end of %s -----\n\n' "$f" >&2
  done
  die "$what"
}

# Generated once and kept in .run/secrets.env, so reruns reuse the same tokens.
load_secrets() {
  local file="$RUN_DIR/secrets.env" py
  if [[ ! -s "$file" ]]; then
    mkdir -p "$RUN_DIR"
    py="$(python_bin)"
    (
      umask 077
      {
        printf 'INTAKE_TOKEN=%s\n' "$("$py" -c 'import secrets; print(secrets.token_urlsafe(24))')"
        printf 'AGENT_TOKEN=%s\n' "$("$py" -c 'import secrets; print(secrets.token_urlsafe(24))')"
      } >"$file.tmp"
      mv "$file.tmp" "$file"
    )
    log "generated tokens in $file"
  fi
  INTAKE_TOKEN="$(sed -n 's/^INTAKE_TOKEN=//p' "$file")"
  AGENT_TOKEN="$(sed -n 's/^AGENT_TOKEN=//p' "$file")"
  [[ -n "$INTAKE_TOKEN" && -n "$AGENT_TOKEN" ]] || die "$file is damaged; delete it to generate new tokens"
}

# The database the stack uses: an existing server named by DATABASE_URL, or the private cluster.
# A DATABASE_URL equal to the private cluster's (e.g. from a sourced stack.env) means the latter.
database_url() {
  if [[ -n "${DATABASE_URL:-}" && "$DATABASE_URL" != "$LOCAL_DATABASE_URL" ]]; then
    printf '%s\n' "$DATABASE_URL"
  else
    printf '%s\n' "$LOCAL_DATABASE_URL"
  fi
}

external_database() { [[ "$(database_url)" != "$LOCAL_DATABASE_URL" ]]; }

# write_env_file FILE: KEY=VALUE lines from stdin, replaced atomically.
write_env_file() {
  local file="$1"
  mkdir -p "$(dirname "$file")"
  cat >"$file.tmp"
  mv "$file.tmp" "$file"
}
