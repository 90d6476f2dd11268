#!/usr/bin/env bash
# Debian's Prometheus against the native stack: scrapes intake, router and sla, evaluates
# deploy/prometheus/rules/*.yml, and serves its UI and API on 127.0.0.1:9090.
#   prometheus.sh start    check the config (promtool), start in the background, wait until ready
#   prometheus.sh stop     SIGTERM, data kept
#   prometheus.sh status
#   prometheus.sh reload   re-read the config and rules (POST /-/reload)
# State: .run/prometheus/ (data/, prometheus.log); pid: .run/pids/prometheus.pid.
# Overrides (the e2e test runs a second instance with its own config, port and directory):
#   PROMETHEUS_CONFIG (deploy/prometheus/prometheus-native.yml), PROMETHEUS_LISTEN (127.0.0.1:9090),
#   PROMETHEUS_DIR (.run/prometheus), PROMETHEUS_NAME (prometheus, the pid file's name),
#   PROMETHEUS_RETENTION (7d).
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CONFIG="${PROMETHEUS_CONFIG:-$ROOT/deploy/prometheus/prometheus-native.yml}"
LISTEN="${PROMETHEUS_LISTEN:-127.0.0.1:9090}"
STATE="$(realpath -m "${PROMETHEUS_DIR:-$RUN_DIR/prometheus}")"
NAME="${PROMETHEUS_NAME:-prometheus}"
RETENTION="${PROMETHEUS_RETENTION:-7d}"
PLOG="$STATE/prometheus.log"
# The data path is absolute, so only this checkout's instance matches.
MATCH="--storage.tsdb.path=$STATE/data"

check_config() {
  [[ -f "$CONFIG" ]] || die "no Prometheus config at $CONFIG"
  mkdir -p "$STATE"
  promtool check config "$CONFIG" >"$STATE/promtool-check.log" 2>&1 ||
    fail_with_log "promtool rejects $CONFIG" "$STATE/promtool-check.log"
}

start() {
  ensure_cmd prometheus prometheus
  ensure_cmd promtool prometheus
  if pid_alive "$NAME" "$MATCH"; then
    log "$NAME already running (pid $(read_pid "$NAME")) on http://$LISTEN"
    return 0
  fi
  check_config
  port_free_or_die "${LISTEN%:*}" "${LISTEN##*:}" "$NAME"
  mkdir -p "$STATE/data"
  log "starting $NAME on http://$LISTEN (config $CONFIG, log $PLOG)"
  start_bg "$NAME" "$PLOG" prometheus \
    "--config.file=$CONFIG" \
    "$MATCH" \
    "--storage.tsdb.retention.time=$RETENTION" \
    "--web.listen-address=$LISTEN" \
    --web.enable-lifecycle
  "$(python_bin)" "$NATIVE/probe.py" http "http://$LISTEN/-/ready" \
    --timeout "$READY_TIMEOUT" --pid "$(read_pid "$NAME")" ||
    fail_with_log "$NAME did not become ready (GET http://$LISTEN/-/ready)" "$PLOG"
  log "$NAME ready: http://$LISTEN (alerts: http://$LISTEN/alerts)"
}

stop() {
  stop_pid "$NAME" "$MATCH" 20
}

status() {
  if pid_alive "$NAME" "$MATCH"; then
    printf '%-11s running  pid %s  http://%s  log %s\n' "$NAME" "$(read_pid "$NAME")" "$LISTEN" "$PLOG"
  else
    printf '%-11s stopped\n' "$NAME"
  fi
}

reload() {
  pid_alive "$NAME" "$MATCH" || die "$NAME is not running"
  check_config
  "$(python_bin)" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"), timeout=10)' \
    "http://$LISTEN/-/reload"
  log "$NAME reloaded $CONFIG"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reload) reload ;;
  *) die "usage: $0 start|stop|status|reload" ;;
esac
