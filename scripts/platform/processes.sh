# The platform's processes: "<name> <command> <http port or -> <metrics port>". Sourced by
# up/stop/status. HTTP: contacts 8001, sales 8002, marketing 8003, service-desk 8004, analytics
# 8005; an api serves /metrics, /healthz and /readyz on its HTTP port, every relay and worker on
# its own port from 9101 (CRM_METRICS_PORT: in containers they all use 9464, here they share one
# host). The lag exporter watches every consumer group from outside (crm_platform.lag_exporter).
PROCESSES=(
  "contacts-api crm-contacts-api 8001 8001"
  "contacts-relay crm-contacts-relay - 9101"
  "contacts-worker crm-contacts-worker - 9102"
  "sales-api crm-sales-api 8002 8002"
  "sales-relay crm-sales-relay - 9103"
  "sales-worker crm-sales-worker - 9104"
  "marketing-api crm-marketing-api 8003 8003"
  "marketing-relay crm-marketing-relay - 9105"
  "marketing-worker crm-marketing-worker - 9106"
  "service-desk-api crm-service-desk-api 8004 8004"
  "service-desk-relay crm-service-desk-relay - 9107"
  "service-desk-worker crm-service-desk-worker - 9108"
  "analytics-api crm-analytics-api 8005 8005"
  "analytics-worker crm-analytics-worker - 9109"
  "lag-exporter crm-lag-exporter - 9110"
)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${CRM_INFRA_STATE_DIR:-$REPO/.local}  # as in scripts/infra/lib.sh
PIDS="$STATE/pids/platform"
LOGS="$STATE/logs/platform"
PYTHON="$REPO/.venv/bin/python"
SUPERVISOR="$REPO/scripts/platform/supervise.py"

# The supervisor's PID while it runs for this state folder (its command line names both, so a
# recycled PID is not mistaken for it).
supervisor_pid() {
  local pid
  pid=$(cat "$PIDS/supervisor.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F "$SUPERVISOR" | grep -qF "$PIDS" || return 1
  echo "$pid"
}

# What the running supervisor was started with (the processes and the servers' addresses its
# processes were given), to notice that it must start them afresh.
fingerprint() { { printf '%s\n' "${PROCESSES[@]}"; cat "$STATE/infra.env"; } | sha256sum | cut -c1-16; }
