#!/usr/bin/env bash
# Apache Kafka 4 (KRaft, one node that is both broker and controller) from Maven Central's jars.
# Broker 127.0.0.1:19092 (PLAINTEXT), controller 127.0.0.1:19093. State in .local/kafka.
# Usage: kafka.sh up|down|tool CLASS ARGS...   (tool runs a Kafka tool class with the same jars, e.g.
#   kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:19092 --list)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAME=kafka
DIR="$STATE/kafka"
LIB="$DIR/lib"
DATA="$DIR/data"
CONFIG="$DIR/server.properties"
LOG="$LOGS/kafka.log"                # the console: WARN and above, and JVM errors
SERVER_LOG="$LOGS/kafka-server.log"  # INFO and above, see scripts/infra/kafka/log4j2.xml
BOOTSTRAP="$INFRA_HOST:$KAFKA_PORT"

tool() {
  local class=$1
  shift
  # No log4j2 configuration file: log4j's default prints errors only, so the output stays the tool's.
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIB/*" "$class" "$@"
}

# A real Kafka request (ApiVersions from the broker's metadata), not only an open port.
healthy() {
  local out
  port_open "$KAFKA_PORT" || return 1
  out=$(timeout 30 java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIB/*" \
    org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$BOOTSTRAP" 2>/dev/null) || return 1
  [[ $out == "$BOOTSTRAP "* ]]
}

write_config() {
  cat >"$CONFIG" <<EOF
# Written by scripts/infra/kafka.sh on every start: edit that script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$INFRA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$INFRA_HOST:$KAFKA_PORT,CONTROLLER://$INFRA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$INFRA_HOST:$KAFKA_PORT,CONTROLLER://$INFRA_HOST:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
num.network.threads=3
num.io.threads=4
log.retention.hours=168
EOF
}

up() {
  prepare_state
  ensure_java
  mkdir -p "$DIR"
  maven_libs "$INFRA_DIR/kafka/pom.xml" "$LIB"

  local status=0
  reuse_or_make_way "$NAME" "broker" "$BOOTSTRAP" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if ((status == 1)); then
    port_open "$KAFKA_PORT" && die_port_taken "$KAFKA_PORT" Kafka
    port_open "$KAFKA_CONTROLLER_PORT" && die_port_taken "$KAFKA_CONTROLLER_PORT" "Kafka controller"
    write_config
    if [[ ! -f $DATA/meta.properties ]]; then
      local cluster_id
      [[ -s $DIR/cluster.id ]] || tool kafka.tools.StorageTool random-uuid >"$DIR/cluster.id"
      cluster_id=$(cat "$DIR/cluster.id")
      say "kafka: formatting ${DATA#"$REPO"/} (cluster $cluster_id)"
      rm -rf "$DATA"
      tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONFIG" \
        >"$LOGS/kafka-format.log" 2>&1 || { show_log "$LOGS/kafka-format.log"; die "kafka storage format failed"; }
    fi
    say "kafka: starting on $BOOTSTRAP (controller $INFRA_HOST:$KAFKA_CONTROLLER_PORT)"
    start_bg "$NAME" "$LOG" java -Xmx1g -Xms512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.xml" -Dkafka.logs.dir="$LOGS" \
      -cp "$LIB/*" kafka.Kafka "$CONFIG"
    record_ports "$NAME" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
  fi
  wait_ready "$NAME" 120 healthy "$LOG" "$SERVER_LOG"
  say "kafka: ready (pid $(live_pid "$NAME"))"
}

down() {
  # SIGTERM makes the broker shut down in order (controlled shutdown: flushes and closes every
  # log and the metadata log); we wait for the process to exit.
  stop_server "$NAME" 120 TERM "it recovers its unflushed logs at the next start"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  tool)
    shift
    [[ $# -ge 1 ]] || die "usage: $0 tool CLASS ARGS..."
    [[ -d $LIB ]] || die "no Kafka jars yet: run scripts/infra/up.sh"
    tool "$@"
    ;;
  *) die "usage: $0 up|down|tool CLASS ARGS..." ;;
esac
