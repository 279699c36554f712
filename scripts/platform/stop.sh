#!/usr/bin/env bash
# Stop the service processes by their recorded PIDs (TERM, then KILL after 10 s).
set -euo pipefail
source "$(dirname "$0")/processes.sh"
for entry in "${PROCESSES[@]}"; do
  read -r name _ _ <<<"$entry"
  [[ -f "$PIDS/$name.pid" ]] || continue
  pid=$(cat "$PIDS/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $name"
  fi
  rm -f "$PIDS/$name.pid"
done
