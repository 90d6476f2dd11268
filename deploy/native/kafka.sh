#!/usr/bin/env bash
# Apache Kafka 3.9.1 (Scala 2.13) from the release jars on Maven Central, single node, KRaft.
#   kafka.sh jars     resolve the jars into .cache/kafka/libs (only when missing or the POM changed)
#   kafka.sh start    format storage once, start the broker in the background, wait until ready
#   kafka.sh stop     controlled shutdown (SIGTERM), data kept
#   kafka.sh status
# Listener PLAINTEXT on 127.0.0.1:9092, controller on 127.0.0.1:9093.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POM="$ROOT/deploy/kafka/pom.xml"
TEMPLATE="$ROOT/deploy/kafka/server.properties"
CONFIG="$KAFKA_DIR/server.properties"
DATA="$KAFKA_DIR/data"
KLOGS="$KAFKA_DIR/logs"
STDOUT_LOG="$KLOGS/stdout.log"
MATCH="kafka.Kafka $CONFIG"
: "${KAFKA_HEAP_OPTS:=-Xms256m -Xmx512m}"

java_opts() {
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
  printf '%s\n' $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$KLOGS" "-Dlog4j.configuration=file:$NATIVE/kafka-log4j.properties"
}

check_java() {
  ensure_cmd java openjdk-17-jre-headless
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${major%%.*}" -ge 17 ]] 2>/dev/null || die "Kafka needs Java 17 or newer (found '${major:-unknown}')"
}

jars() {
  local want have
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  have="$(cat "$KAFKA_LIBS/.pom.sha256" 2>/dev/null || true)"
  if [[ "$want" == "$have" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
    return 0
  fi
  check_java
  ensure_cmd mvn maven
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS" "$KAFKA_LIBS.tmp"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  mkdir -p "$RUN_DIR/logs"
  mvn -B -q -f "$POM" dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS.tmp" \
    >"$RUN_DIR/logs/kafka-jars.log" 2>&1 ||
    fail_with_log "mvn could not resolve the Kafka jars" "$RUN_DIR/logs/kafka-jars.log"
  printf '%s\n' "$want" >"$KAFKA_LIBS.tmp/.pom.sha256"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
}

render_config() {
  mkdir -p "$DATA" "$KLOGS"
  sed "s|@KAFKA_DATA_DIR@|$DATA|g" "$TEMPLATE" >"$CONFIG.tmp"
  mv "$CONFIG.tmp" "$CONFIG"
}

format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  local id_file="$KAFKA_DIR/cluster.id" opts
  mapfile -t opts < <(java_opts)
  if [[ ! -s "$id_file" ]]; then
    java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null |
      tail -n 1 >"$id_file.tmp"
    [[ -s "$id_file.tmp" ]] || die "kafka.tools.StorageTool random-uuid printed nothing"
    mv "$id_file.tmp" "$id_file"
  fi
  log "formatting Kafka storage in $DATA (cluster id $(<"$id_file"))"
  java "${opts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    --cluster-id "$(<"$id_file")" --config "$CONFIG" --ignore-formatted >>"$KLOGS/storage-tool.log" 2>&1 ||
    fail_with_log "formatting Kafka storage failed" "$KLOGS/storage-tool.log"
}

probe() {
  "$(python_bin)" "$NATIVE/probe.py" kafka "$KAFKA_BOOTSTRAP" "$@"
}

start() {
  if pid_alive kafka "$MATCH"; then
    probe --timeout "$READY_TIMEOUT" --pid "$(read_pid kafka)" ||
      fail_with_log "Kafka (pid $(read_pid kafka)) runs but is not ready" "$KLOGS/server.log"
    log "Kafka already running on $KAFKA_BOOTSTRAP (pid $(read_pid kafka))"
    return 0
  fi
  port_free_or_die "$KAFKA_HOST" "$KAFKA_PORT" "Kafka"
  port_free_or_die "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT" "Kafka controller"
  jars
  check_java
  render_config
  format_storage
  local opts
  mapfile -t opts < <(java_opts)
  log "starting Kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP (logs in $KLOGS)"
  start_bg kafka "$STDOUT_LOG" java "${opts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$CONFIG"
  probe --timeout "$READY_TIMEOUT" --pid "$(read_pid kafka)" ||
    fail_with_log "Kafka did not become ready" "$KLOGS/server.log" "$STDOUT_LOG"
  log "Kafka ready on $KAFKA_BOOTSTRAP (pid $(read_pid kafka))"
}

stop() {
  stop_pid kafka "$MATCH" 60
}

status() {
  if pid_alive kafka "$MATCH"; then
    echo "kafka     running  pid $(read_pid kafka)  $KAFKA_BOOTSTRAP  logs $KLOGS/server.log"
  else
    echo "kafka     stopped"
  fi
}

case "${1:-}" in
  jars) jars ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 jars|start|stop|status" ;;
esac
