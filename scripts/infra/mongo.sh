#!/usr/bin/env bash
# A MongoDB-wire server on 127.0.0.1:17017: mongo-java-server (Maven Central) with its H2 backend,
# started by scripts/infra/mongo/MongoWireServer.java; documents persist in .local/mongo/data.
# (FerretDB v1 was the plan, but the Go module proxy refuses github.com/FerretDB/FerretDB here.)
# A store found corrupt at start is moved aside (.local/mongo/data.corrupt-<time>) and the server
# starts empty; scripts/platform/up.sh then rebuilds the analytics read models from Kafka.
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
STORE="$DATA/mongo.mv"
# Left for scripts/platform/up.sh: the read models must be rebuilt (the store was replaced).
REBUILD_MARKER="$DIR/rebuild-read-models"

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

start() {
  if [[ -f $STORE && ! -f $STORE.closed ]]; then
    say "mongo: the last run did not close its store: it reads all $(du -h "$STORE" | cut -f1) of it before serving (about 1.5 minutes per GB)"
  fi
  say "mongo: starting on $INFRA_HOST:$MONGO_PORT"
  start_bg "$NAME" "$LOG" java -Xmx512m -Xms64m -XX:+UseSerialGC \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat='yyyy-MM-dd HH:mm:ss.SSS' \
    -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoWireProtocolHandler=warn \
    -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoDatabaseHandler=warn \
    -cp "$CLASSES:$LIB/*" MongoWireServer --host "$INFRA_HOST" --port "$MONGO_PORT" --data "$STORE"
  record_ports "$NAME" "$MONGO_PORT"
}

# What the server said about its store since its last start: "STORE ERROR: ..." (unreadable,
# exit 3) or "STORE LOCKED: ..." (another process has it open); nothing when it said neither.
store_verdict() {
  awk '/^===== .* starting mongo =====$/ { verdict = "" } /^STORE (ERROR|LOCKED): / && verdict == "" { verdict = $0 }
    END { if (verdict != "") print verdict }' "$LOG"
}

# Moves the corrupt store aside, keeps it for a post-mortem, and asks for the read-model rebuild.
move_aside() {
  local reason=$1 aside
  aside="$DIR/data.corrupt-$(date +%Y%m%d-%H%M%S)"
  mv "$DATA" "$aside"
  mkdir -p "$DATA"
  touch "$REBUILD_MARKER"
  say "mongo: store corrupt (${reason:0:160}): moved to ${aside#"$REPO"/}, starting empty; the analytics read models are rebuilt from Kafka once the services run"
}

# Waits for the server; a start that fails on a corrupt store is retried once on an empty one.
await_start() {
  local status=0 verdict
  await_ready "$NAME" 900 healthy || status=$?
  ((status == 0)) && return 0
  verdict=$(store_verdict)
  if ((status == 1)) && [[ $verdict == "STORE ERROR: "* ]]; then
    move_aside "${verdict#STORE ERROR: }"
    start
    wait_ready "$NAME" 60 healthy "$LOG"
    return 0
  fi
  show_log "$LOG"
  [[ $verdict == "STORE LOCKED: "* ]] &&
    die "mongo: another process holds ${STORE#"$REPO"/} open (a MongoWireServer not recorded in ${PIDS#"$REPO"/}?): stop it first"
  ((status == 1)) && die "mongo exited during start-up"
  die "mongo not ready after 900s (still running: see the log, stop it with scripts/infra/down.sh mongo)"
}

up() {
  prepare_state
  ensure_java
  mkdir -p "$DIR" "$DATA"
  maven_libs "$INFRA_DIR/mongo/pom.xml" "$LIB"
  build

  local status=0
  reuse_or_make_way "$NAME" "server" "$INFRA_HOST:$MONGO_PORT" "$MONGO_PORT" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if ((status == 1)); then
    port_open "$MONGO_PORT" && die_port_taken "$MONGO_PORT" "MongoDB-wire server"
    start
  fi
  await_start
  say "mongo: ready (pid $(live_pid "$NAME"))"
}

down() {
  # SIGTERM runs the server's shutdown hook: it closes the clients, commits and closes the H2
  # store, then marks it closed. We wait for the process to exit.
  stop_server "$NAME" 120 TERM "the next start reads the whole store and moves it aside if it is corrupt"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
