#!/usr/bin/env bash
# Starts the local servers (PostgreSQL, Kafka, MongoDB-wire, the SMTP sink) natively, bound to
# 127.0.0.1, reusing any that is already healthy; installs what is missing (apt, Maven Central).
# Writes .local/infra.env.
# Usage: scripts/infra/up.sh [postgres|kafka|mongo|mailsink ...]   (default: all four)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
prepare_state

servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(postgres kafka mongo mailsink)

# One up/down at a time per checkout (e.g. `make -j`, or two terminals).
exec 9>"$STATE/infra.lock"
flock -w 600 9 || die "another scripts/infra/up.sh or down.sh is still running"

start=$SECONDS
for server in "${servers[@]}"; do
  case $server in
    postgres | kafka | mongo | mailsink) bash "$INFRA_DIR/$server.sh" up 9>&- || exit 1 ;;
    *) die "unknown server: $server (postgres, kafka, mongo, mailsink)" ;;
  esac
done

bash "$INFRA_DIR/env.sh" --dotenv >"$STATE/infra.env.tmp"
mv "$STATE/infra.env.tmp" "$STATE/infra.env"
say "servers ready in $((SECONDS - start))s; environment in .local/infra.env (or: eval \"\$(scripts/infra/env.sh)\")"
