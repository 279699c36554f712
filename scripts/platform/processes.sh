# The platform's processes: "<name> <command> <http port or -> <metrics port>". Sourced by
# up/stop/status. HTTP: contacts 8001, sales 8002, marketing 8003, service-desk 8004, analytics
# 8005; an api serves /metrics on its HTTP port, every relay and worker on its own port from 9101
# (CRM_METRICS_PORT: in containers they all use 9464, here they share one host).
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
)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="$REPO/.local"
PIDS="$STATE/pids/platform"
LOGS="$STATE/logs/platform"

alive() { [[ -f "$PIDS/$1.pid" ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }
