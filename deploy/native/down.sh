#!/usr/bin/env bash
# Stops the services, then Prometheus (if deploy/native/prometheus.sh started it), then Kafka,
# then PostgreSQL. Data stays in .run/ (kafka/, postgres/, prometheus/).
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$NATIVE/services.sh" stop
if [[ -x "$NATIVE/prometheus.sh" ]]; then
  "$NATIVE/prometheus.sh" stop
fi
"$NATIVE/kafka.sh" stop
"$NATIVE/postgres.sh" stop
log "stack stopped (data kept in $RUN_DIR)"
