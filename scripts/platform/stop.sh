#!/usr/bin/env bash
# Stops the service processes: SIGTERM to their supervisor, which stops restarting, stops every
# process (SIGTERM, SIGKILL after 15 s) and exits; we wait for it. Processes started by the
# former up.sh (one PID file each, no supervisor) are stopped by those PIDs.
set -euo pipefail
source "$(dirname "$0")/processes.sh"

# stop_pid NAME PID: SIGTERM, then wait up to 30 s for the process to exit, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  echo "$name (pid $pid) still running after 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

if pid=$(supervisor_pid); then
  start=$EPOCHREALTIME
  echo "stopping the supervisor (pid $pid) and its processes"
  stop_pid supervisor "$pid"
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "stopped in %.1fs\n", b - a }'
fi
rm -f "$PIDS/supervisor.pid"

for entry in "${PROCESSES[@]}"; do
  read -r name _ <<<"$entry"
  [[ -f "$PIDS/$name.pid" ]] || continue
  pid=$(cat "$PIDS/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    stop_pid "$name" "$pid"
    echo "stopped $name (started without the supervisor)"
  fi
  rm -f "$PIDS/$name.pid"
done
