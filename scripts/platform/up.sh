#!/usr/bin/env bash
# Start every service process in the background (idempotent), seed demo data, print the URLs.
set -euo pipefail
source "$(dirname "$0")/processes.sh"
mkdir -p "$PIDS" "$LOGS"
set -a; source "$STATE/infra.env"; set +a
export CRM_ENV=${CRM_ENV:-development}

for entry in "${PROCESSES[@]}"; do
  read -r name command port <<<"$entry"
  if alive "$name"; then echo "reusing $name (pid $(cat "$PIDS/$name.pid"))"; continue; fi
  [[ $port != - ]] && export CRM_HTTP_PORT=$port
  setsid nohup "$REPO/.venv/bin/$command" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  unset CRM_HTTP_PORT
  echo "started $name (pid $!)"
done

for entry in "${PROCESSES[@]}"; do
  read -r name command port <<<"$entry"
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
Traces: ${CRM_OTEL_EXPORTER_OTLP_ENDPOINT:-not exported (set CRM_OTEL_EXPORTER_OTLP_ENDPOINT to an OTLP/HTTP collector)}
MSG
