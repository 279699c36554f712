# The platform's processes: "<name> <command> <port or ->". Sourced by up/stop/status.
# Ports: contacts 8001, sales 8002, marketing 8003, service-desk 8004, analytics 8005.
PROCESSES=(
  "contacts-api crm-contacts-api 8001"
  "contacts-relay crm-contacts-relay -"
  "contacts-worker crm-contacts-worker -"
  "sales-api crm-sales-api 8002"
  "sales-relay crm-sales-relay -"
  "sales-worker crm-sales-worker -"
  "marketing-api crm-marketing-api 8003"
  "marketing-relay crm-marketing-relay -"
  "marketing-worker crm-marketing-worker -"
  "service-desk-api crm-service-desk-api 8004"
  "service-desk-relay crm-service-desk-relay -"
  "service-desk-worker crm-service-desk-worker -"
  "analytics-api crm-analytics-api 8005"
  "analytics-worker crm-analytics-worker -"
)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="$REPO/.local"
PIDS="$STATE/pids/platform"
LOGS="$STATE/logs/platform"

alive() { [[ -f "$PIDS/$1.pid" ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }
