#!/usr/bin/env bash
# Starts the local servers (PostgreSQL, Kafka, MongoDB-wire, the SMTP sink, the OpenID Connect
# provider Dex) natively, bound to 127.0.0.1, reusing any that is already healthy; installs what
# is missing (apt, Maven Central, the Go module proxy).
# A server of this checkout still running on a former port is restarted on the configured one (a
# subset named on the command line stays where .local/infra.env says). Writes .local/infra.env.
# CRM_INFRA_STATE_DIR and CRM_INFRA_*_PORT run a separate set (scripts/infra/lib.sh).
# Usage: scripts/infra/up.sh [postgres|kafka|mongo|mailsink|oidc ...]   (default: all five)
set -euo pipefail
# All of them together: move them to the configured ports (scripts/infra/lib.sh).
[[ $# -gt 0 ]] || export CRM_INFRA_MOVE=1
source "$(dirname "$0")/lib.sh"
prepare_state

servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(postgres kafka mongo mailsink oidc)

# One up/down at a time per checkout (e.g. `make -j`, or two terminals).
exec 9>"$STATE/infra.lock"
flock -w 600 9 || die "another scripts/infra/up.sh or down.sh is still running"

warn_ephemeral_ports
start=$SECONDS
for server in "${servers[@]}"; do
  case $server in
    postgres | kafka | mongo | mailsink | oidc) bash "$INFRA_DIR/$server.sh" up 9>&- || exit 1 ;;
    *) die "unknown server: $server (postgres, kafka, mongo, mailsink, oidc)" ;;
  esac
done

bash "$INFRA_DIR/env.sh" --dotenv >"$STATE/infra.env.tmp"
mv "$STATE/infra.env.tmp" "$STATE/infra.env"
say "servers ready in $((SECONDS - start))s; environment in ${STATE#"$REPO"/}/infra.env (or: eval \"\$(scripts/infra/env.sh)\")"
