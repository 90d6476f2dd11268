#!/usr/bin/env bash
# The three Switchboard services, each `.venv/bin/switchboard <service>` in the background.
#   services.sh schema           switchboard migrate + switchboard topics (idempotent)
#   services.sh start [svc...]   start what is not running, wait until each GET /readyz is 200
#   services.sh stop [svc...]    SIGTERM (all at once), then SIGKILL after 20 s
#   services.sh status
# Logs: .run/logs/<service>.log; pids: .run/pids/<service>.pid.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLI="$VENV/bin/switchboard"

require_cli() {
  [[ -x "$CLI" ]] || die "$CLI is missing: run 'make venv'"
}

service_env() {
  load_secrets
  local db
  db="$(database_url)"
  export KAFKA_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP"
  export DATABASE_URL="$db"
  export INTAKE_TOKENS="$INTAKE_TOKEN=phone,email,chat,social"
  export AGENT_TOKENS="$AGENT_TOKEN"
  export LOG_LEVEL="${LOG_LEVEL:-INFO}"
  export HTTP_HOST="$SERVICE_HOST"
  export PYTHONUNBUFFERED=1
}

schema() {
  require_cli
  service_env
  mkdir -p "$LOG_DIR"
  log "applying database migrations (switchboard migrate)"
  "$CLI" migrate >"$LOG_DIR/migrate.log" 2>&1 ||
    fail_with_log "switchboard migrate failed" "$LOG_DIR/migrate.log"
  log "creating Kafka topics (switchboard topics)"
  "$CLI" topics >"$LOG_DIR/topics.log" 2>&1 ||
    fail_with_log "switchboard topics failed" "$LOG_DIR/topics.log"
}

readyz_url() { printf 'http://%s:%s/readyz\n' "$SERVICE_HOST" "${SERVICE_PORT[$1]}"; }

start() {
  require_cli
  service_env
  local svc started=()
  for svc in "$@"; do
    if pid_alive "$svc" "$CLI $svc"; then
      log "$svc already running (pid $(read_pid "$svc"))"
      continue
    fi
    port_free_or_die "$SERVICE_HOST" "${SERVICE_PORT[$svc]}" "$svc"
    log "starting $svc on $SERVICE_HOST:${SERVICE_PORT[$svc]} (log $LOG_DIR/$svc.log)"
    HTTP_PORT="${SERVICE_PORT[$svc]}" start_bg "$svc" "$LOG_DIR/$svc.log" "$CLI" "$svc"
    started+=("$svc")
  done
  for svc in "$@"; do
    "$(python_bin)" "$NATIVE/probe.py" http "$(readyz_url "$svc")" \
      --timeout "$READY_TIMEOUT" --pid "$(read_pid "$svc")" ||
      fail_with_log "$svc did not become ready (GET $(readyz_url "$svc"))" "$LOG_DIR/$svc.log"
  done
  ((${#started[@]} == 0)) || log "ready: ${started[*]}"
}

stop() {
  local svc
  for svc in "$@"; do
    stop_pid "$svc" "$CLI $svc" 20 &
  done
  wait
}

status() {
  local svc
  for svc in "${SERVICES[@]}"; do
    if pid_alive "$svc" "$CLI $svc"; then
      printf '%-9s running  pid %s  http://%s:%s  log %s\n' "$svc" "$(read_pid "$svc")" \
        "$SERVICE_HOST" "${SERVICE_PORT[$svc]}" "$LOG_DIR/$svc.log"
    else
      printf '%-9s stopped\n' "$svc"
    fi
  done
}

check_names() {
  local svc
  for svc in "$@"; do
    [[ -n "${SERVICE_PORT[$svc]:-}" ]] || die "unknown service '$svc' (expected: ${SERVICES[*]})"
  done
}

cmd="${1:-}"
shift || true
(($# > 0)) || set -- "${SERVICES[@]}"
check_names "$@"
case "$cmd" in
  schema) schema ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  status) status ;;
  *) die "usage: $0 schema|start|stop|status [intake|router|sla ...]" ;;
esac
