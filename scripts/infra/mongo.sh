#!/usr/bin/env bash
# A MongoDB-wire server on 127.0.0.1:57017: mongo-java-server (Maven Central) with its H2 backend,
# started by scripts/infra/mongo/MongoWireServer.java; documents persist in .local/mongo/data.
# (FerretDB v1 was the plan, but the Go module proxy refuses github.com/FerretDB/FerretDB here.)
# Usage: mongo.sh up|down
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAME=mongo
DIR="$STATE/mongo"
LIB="$DIR/lib"
CLASSES="$DIR/classes"
DATA="$DIR/data"
SRC="$INFRA_DIR/mongo/MongoWireServer.java"
LOG="$LOGS/mongo.log"

healthy() {
  if command -v python3 >/dev/null 2>&1; then
    python3 "$INFRA_DIR/mongo/ping.py" "$INFRA_HOST" "$MONGO_PORT"
  else
    port_open "$MONGO_PORT"
  fi
}

# Compiles the server when the class is missing or the source or jars changed.
build() {
  local sum
  sum=$(cat "$SRC" "$LIB/.pom.sha256" | sha256sum | cut -d' ' -f1)
  if [[ -f $CLASSES/.src.sha256 && $(cat "$CLASSES/.src.sha256") == "$sum" ]]; then return 0; fi
  say "mongo: compiling ${SRC#"$REPO"/}"
  rm -rf "$CLASSES"
  mkdir -p "$CLASSES"
  javac -nowarn -d "$CLASSES" -cp "$LIB/*" "$SRC" >"$LOGS/mongo-build.log" 2>&1 ||
    { show_log "$LOGS/mongo-build.log"; die "javac failed"; }
  echo "$sum" >"$CLASSES/.src.sha256"
}

up() {
  prepare_state
  ensure_java
  mkdir -p "$DIR" "$DATA"
  maven_libs "$INFRA_DIR/mongo/pom.xml" "$LIB"
  build

  if healthy; then
    local pid
    if pid=$(live_pid "$NAME"); then say "mongo: reusing (pid $pid) on $INFRA_HOST:$MONGO_PORT"
    else say "mongo: reusing the server already answering on $INFRA_HOST:$MONGO_PORT"; fi
    return 0
  fi
  clean_stale_pid "$NAME"
  if live_pid "$NAME" >/dev/null; then
    say "mongo: running but not answering yet; waiting"
  else
    port_open "$MONGO_PORT" && die "port $MONGO_PORT is taken by another process that is not our MongoDB-wire server"
    say "mongo: starting on $INFRA_HOST:$MONGO_PORT"
    start_bg "$NAME" "$LOG" java -Xmx512m -Xms64m -XX:+UseSerialGC \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
      -Dorg.slf4j.simpleLogger.dateTimeFormat='yyyy-MM-dd HH:mm:ss.SSS' \
      -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoWireProtocolHandler=warn \
      -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoDatabaseHandler=warn \
      -cp "$CLASSES:$LIB/*" MongoWireServer --host "$INFRA_HOST" --port "$MONGO_PORT" --data "$DATA/mongo.mv"
  fi
  wait_ready "$NAME" 60 healthy "$LOG"
  say "mongo: ready (pid $(live_pid "$NAME"))"
}

down() {
  # SIGTERM runs the server's shutdown hook, which commits and closes the H2 store.
  stop_server "$NAME" 30 TERM
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
