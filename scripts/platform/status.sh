#!/usr/bin/env bash
set -euo pipefail
source "$(dirname "$0")/processes.sh"
for entry in "${PROCESSES[@]}"; do
  read -r name _ port metrics <<<"$entry"
  if alive "$name"; then state="running (pid $(cat "$PIDS/$name.pid"))"; else state="stopped"; fi
  printf '%-22s %-24s %-24s %s\n' "$name" "$state" \
    "$([[ $port != - ]] && echo "http://127.0.0.1:$port")" "http://127.0.0.1:$metrics/metrics"
done
