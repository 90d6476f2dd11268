#!/usr/bin/env bash
# The whole native stack: infra.sh, then the three services; writes .run/stack.env (SPEC §6).
# Run again, it leaves what already runs alone.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$NATIVE/infra.sh"
"$NATIVE/services.sh" start
load_secrets

write_env_file "$RUN_DIR/stack.env" <<ENV
INTAKE_URL=http://$SERVICE_HOST:${SERVICE_PORT[intake]}
ROUTER_URL=http://$SERVICE_HOST:${SERVICE_PORT[router]}
SLA_URL=http://$SERVICE_HOST:${SERVICE_PORT[sla]}
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
DATABASE_URL=$(database_url)
INTAKE_TOKEN=$INTAKE_TOKEN
AGENT_TOKEN=$AGENT_TOKEN
ENV

[[ "${QUIET:-}" == 1 ]] && exit 0
cat <<TXT

Switchboard is up.
  intake   http://$SERVICE_HOST:${SERVICE_PORT[intake]}   log .run/logs/intake.log
  router   http://$SERVICE_HOST:${SERVICE_PORT[router]}   log .run/logs/router.log
  sla      http://$SERVICE_HOST:${SERVICE_PORT[sla]}   log .run/logs/sla.log   (wallboard: http://$SERVICE_HOST:${SERVICE_PORT[sla]}/)
  kafka    $KAFKA_BOOTSTRAP          data .run/kafka/data, log .run/kafka/logs/server.log
  postgres $(database_url | sed 's|://\([^:/@]*\):[^@]*@|://\1:***@|')
  settings .run/stack.env (URLs, tokens, DATABASE_URL); stop everything with 'make down'

Post a first message and read its ticket:
  set -a; . .run/stack.env; set +a
  curl -s -X POST "\$INTAKE_URL/v1/inbound/chat" -H "Authorization: Bearer \$INTAKE_TOKEN" \\
       -H 'Content-Type: application/json' -d '{"session_id":"s-1","text":"my wallet was stolen"}'
  curl -s -H "Authorization: Bearer \$AGENT_TOKEN" "\$ROUTER_URL/v1/tickets?message_id=<message_id from above>"
TXT
