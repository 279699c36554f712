#!/usr/bin/env bash
# Starts every service process under one supervisor (scripts/platform/supervise.py: a process
# that exits is restarted with exponential backoff), rebuilds the analytics read models when the
# MongoDB-wire store was replaced (scripts/infra/mongo.sh), seeds demo data and prints the URLs.
# Idempotent: a running supervisor is reused.
set -euo pipefail
source "$(dirname "$0")/processes.sh"
mkdir -p "$PIDS" "$LOGS"
set -a; source "$STATE/infra.env"; set +a
export CRM_ENV=${CRM_ENV:-development}
# Without Docker there is no collector, Jaeger, Prometheus nor Grafana: spans go to the console
# exporter (each process's log) unless CRM_OTEL_EXPORTER_OTLP_ENDPOINT names a collector, and
# each process serves its own /metrics. `docker compose up` brings the full stack.
if [[ -n ${CRM_OTEL_EXPORTER_OTLP_ENDPOINT:-} ]]; then
  traces="OTLP/HTTP to $CRM_OTEL_EXPORTER_OTLP_ENDPOINT"
else
  export CRM_OTEL_CONSOLE=${CRM_OTEL_CONSOLE:-true}
  traces="console: span JSON in each process's log, .local/logs/platform/<process>.log"
fi
REBUILD_MARKER="$STATE/mongo/rebuild-read-models"

# The analytics keyring (the data subjects' keys, from the compacted key topic) lives in MongoDB
# beside the read models but is no read model: after the store was replaced its consumer group
# must read the key topic again from the beginning. A group can only be deleted while it has no
# member, so this runs while the services are stopped (a killed member leaves within ~45 s).
forget_keyring_offsets() {
  local group="${CRM_KAFKA_GROUP_PREFIX:-}analytics.keyring" deadline=$((SECONDS + 90)) out
  while ((SECONDS < deadline)); do
    out=$(bash "$REPO/scripts/infra/kafka.sh" tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
      --bootstrap-server "$CRM_KAFKA_BOOTSTRAP_SERVERS" --delete --group "$group" 2>&1) && return 0
    [[ $out == *"does not exist"* ]] && return 0
    sleep 5
  done
  echo "WARNING: could not reset consumer group $group: $out"
}

start_supervisor() {
  bash "$REPO/scripts/platform/stop.sh"  # processes of the former up.sh, one PID file each
  [[ -f $REBUILD_MARKER ]] && forget_keyring_offsets
  setsid nohup "$PYTHON" "$SUPERVISOR" --state "$PIDS" --logs "$LOGS" \
    --database-roles "$STATE/postgres/roles" "${PROCESSES[@]}" \
    >>"$LOGS/supervisor.log" 2>&1 </dev/null &
  echo $! >"$PIDS/supervisor.pid"
  fingerprint >"$PIDS/supervisor.fingerprint"
  echo "started the supervisor (pid $!): a process that exits is restarted with backoff ('make status')"
}

if pid=$(supervisor_pid) && [[ -f $REBUILD_MARKER ||
  $(cat "$PIDS/supervisor.fingerprint" 2>/dev/null) != "$(fingerprint)" ]]; then
  echo "restarting the supervisor (pid $pid): the processes, the servers' addresses or the MongoDB-wire store changed"
  bash "$REPO/scripts/platform/stop.sh"
fi
if pid=$(supervisor_pid); then echo "reusing the supervisor (pid $pid)"; else start_supervisor; fi

for entry in "${PROCESSES[@]}"; do
  read -r name _ port _ <<<"$entry"
  [[ $port == - ]] && continue
  for _ in $(seq 240); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && continue 2
    sleep 0.5
  done
  echo "$name is not ready after 120s; the supervisor keeps restarting it if it exits ('make status'):"
  tail -n 30 "$LOGS/$name.log"
  exit 1
done

if [[ -f $REBUILD_MARKER ]]; then
  echo "rebuilding the analytics read models from Kafka (the MongoDB-wire store was replaced);" \
    "progress in .local/logs/platform/replay.log"
  if "$REPO/.venv/bin/crm-analytics-replay" --all --restart >>"$LOGS/replay.log" 2>&1; then
    rm -f "$REBUILD_MARKER"
    echo "read models rebuilt (the replay's report ends .local/logs/platform/replay.log)"
  else
    echo "WARNING: the rebuild failed (.local/logs/platform/replay.log); the next 'make up' tries" \
      "again, or run: uv run crm-analytics-replay --all --restart"
  fi
fi

"$PYTHON" "$REPO/scripts/platform/seed_demo.py"

cat <<MSG

The CRM is running under a supervisor (logs in .local/logs/platform, 'make status', stop with 'make down'):
  contacts      http://127.0.0.1:8001/docs
  sales         http://127.0.0.1:8002/docs
  marketing     http://127.0.0.1:8003/docs
  service desk  http://127.0.0.1:8004/docs
  analytics     http://127.0.0.1:8005/docs
Servers: PostgreSQL $CRM_POSTGRES_HOST:$CRM_POSTGRES_PORT, Kafka $CRM_KAFKA_BOOTSTRAP_SERVERS, MongoDB-wire $CRM_MONGODB_URI
A token for curl:  TOKEN=\$(make -s token)
  curl -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8005/customers/<id>/360
Traces: $traces
Metrics (Prometheus text; no Prometheus or Grafana without Docker, see 'make status' too):
MSG
for entry in "${PROCESSES[@]}"; do
  read -r name _ _ metrics <<<"$entry"
  printf '  %-20s http://127.0.0.1:%s/metrics\n' "$name" "$metrics"
done
echo "Dashboards: none locally; 'docker compose up --build' adds Jaeger, Prometheus and Grafana (README)."
