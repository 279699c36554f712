#!/usr/bin/env bash
# `make status`: servers, then per process state, PID, restarts, health, quarantined records,
# dead letters, and every consumer group's lag (scripts/platform/status.py).
set -euo pipefail
source "$(dirname "$0")/processes.sh"
exec "$PYTHON" "$REPO/scripts/platform/status.py" "$STATE" "${PROCESSES[@]}"
