#!/usr/bin/env bash
# Start every service process in the background (idempotent), seed demo data, print the URLs.
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

for entry in "${PROCESSES[@]}"; do
  read -r name command port metrics <<<"$entry"
  if alive "$name"; then echo "reusing $name (pid $(cat "$PIDS/$name.pid"))"; continue; fi
  if [[ $port != - ]]; then
    CRM_HTTP_PORT=$port setsid nohup "$REPO/.venv/bin/$command" >>"$LOGS/$name.log" 2>&1 </dev/null &
  else
    CRM_METRICS_PORT=$metrics setsid nohup "$REPO/.venv/bin/$command" >>"$LOGS/$name.log" 2>&1 </dev/null &
  fi
  echo $! >"$PIDS/$name.pid"
  echo "started $name (pid $!)"
done

for entry in "${PROCESSES[@]}"; do
  read -r name command port _ <<<"$entry"
  [[ $port == - ]] && continue
  for _ in $(seq 120); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    alive "$name" || { echo "$name died:"; tail -n 30 "$LOGS/$name.log"; exit 1; }
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "$name is not ready"; tail -n 30 "$LOGS/$name.log"; exit 1; }
done

"$REPO/.venv/bin/python" "$REPO/scripts/platform/seed_demo.py"

cat <<MSG

The CRM is running (logs in .local/logs/platform, stop with 'make down'):
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
