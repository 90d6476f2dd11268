#!/usr/bin/env bash
# One line per component of the native stack.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$NATIVE/services.sh" status
"$NATIVE/kafka.sh" status
"$NATIVE/postgres.sh" status
if [[ -x "$NATIVE/prometheus.sh" ]]; then
  "$NATIVE/prometheus.sh" status
fi
