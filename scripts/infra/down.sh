#!/usr/bin/env bash
# Stops the servers that scripts/infra/up.sh started, by their recorded PIDs (never by name): a
# polite signal first, SIGKILL after a timeout. Data in .local/ is kept.
# Usage: scripts/infra/down.sh [postgres|kafka|mongo|mailsink|oidc ...]   (default: all five)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
prepare_state

servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(oidc mailsink mongo kafka postgres)

exec 9>"$STATE/infra.lock"
flock -w 600 9 || die "another scripts/infra/up.sh or down.sh is still running"

for server in "${servers[@]}"; do
  case $server in
    postgres | kafka | mongo | mailsink | oidc) bash "$INFRA_DIR/$server.sh" down 9>&- || exit 1 ;;
    *) die "unknown server: $server (postgres, kafka, mongo, mailsink, oidc)" ;;
  esac
done
