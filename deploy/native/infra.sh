#!/usr/bin/env bash
# Kafka and PostgreSQL (started side by side), then the schema: `switchboard migrate` and
# `switchboard topics`. Writes .run/infra.env (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL).
# Idempotent: what already runs is left running.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$NATIVE/postgres.sh" start &
pg_job=$!
kafka_rc=0
{ "$NATIVE/kafka.sh" jars && "$NATIVE/kafka.sh" start; } || kafka_rc=$?
pg_rc=0
wait "$pg_job" || pg_rc=$?
((kafka_rc == 0)) || die "Kafka failed to start (see above)"
((pg_rc == 0)) || die "PostgreSQL failed to start (see above)"

"$NATIVE/services.sh" schema

write_env_file "$RUN_DIR/infra.env" <<ENV
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
DATABASE_URL=$(database_url)
ENV
log "infrastructure ready: Kafka $KAFKA_BOOTSTRAP, PostgreSQL $(database_url | sed 's|://\([^:/@]*\):[^@]*@|://\1:***@|')"
