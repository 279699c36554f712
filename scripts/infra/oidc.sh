#!/usr/bin/env bash
# The local OpenID Connect provider on 127.0.0.1:15556: Dex, built from the Go module proxy once
# and cached in .local/oidc (a rebuild only when DEX_VERSION changes), configured by
# scripts/infra/oidc/dex.yaml (a static client, static password users with groups, RSA keys).
# Issuer: http://127.0.0.1:15556/dex (CRM_INFRA_OIDC_PORT moves it, as the other CRM_INFRA_*_PORT).
# Usage: oidc.sh up|down|env   (env: the variables the tests find it by, for scripts/infra/env.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAME=oidc
OIDC_PORT=${CRM_INFRA_OIDC_PORT:-15556}  # below 32768, as every port in lib.sh
OIDC_ISSUER="http://$INFRA_HOST:$OIDC_PORT/dex"
DIR="$STATE/oidc"
LOG="$LOGS/oidc.log"
# Dex v2.45.1: its tags are not valid module versions (no /v2 in its module path), so the proxy
# serves the tagged commit as a pseudo-version.
DEX_VERSION=v0.0.0-20260303133905-11d2eeb52b42
BIN="$DIR/dex-$DEX_VERSION"
GO=$(command -v go || echo /usr/local/go/bin/go)

healthy() {
  timeout 3 python3 - "$OIDC_ISSUER" <<'PY' 2>/dev/null
import json, sys, urllib.request
issuer = sys.argv[1]
with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2) as answer:
    sys.exit(json.load(answer).get("issuer") != issuer)
PY
}

# Builds the dex command in a module of its own (go install refuses Dex: its go.mod replaces).
build() {
  [[ -x $BIN ]] && return 0
  if [[ ! -x $GO ]]; then
    # Debian's Go may be older than Dex wants: the go command then fetches the toolchain go.mod
    # names from the module proxy (GOTOOLCHAIN=auto, its default).
    apt_install golang-go
    GO=$(command -v go) || die "oidc: Go is needed to build Dex"
  fi
  say "oidc: building Dex $DEX_VERSION from the Go module proxy (a few minutes, once)"
  rm -rf "$DIR/build"
  mkdir -p "$DIR/build"
  printf 'module crm.local/dex-build\n\ngo 1.25\n' >"$DIR/build/go.mod"
  (
    cd "$DIR/build"
    "$GO" get "github.com/dexidp/dex/cmd/dex@$DEX_VERSION" &&
      CGO_ENABLED=0 "$GO" build -trimpath -o "$BIN.tmp" github.com/dexidp/dex/cmd/dex
  ) >"$LOGS/oidc-build.log" 2>&1 || { show_log "$LOGS/oidc-build.log"; die "oidc: building Dex failed"; }
  mv "$BIN.tmp" "$BIN"
}

configure() {
  sed -e "s|@ISSUER@|$OIDC_ISSUER|" -e "s|@ADDRESS@|$INFRA_HOST:$OIDC_PORT|" \
    "$INFRA_DIR/oidc/dex.yaml" >"$DIR/config.yaml.tmp"
  mv "$DIR/config.yaml.tmp" "$DIR/config.yaml"
}

up() {
  prepare_state
  mkdir -p "$DIR"
  build
  configure
  local status=0
  reuse_or_make_way "$NAME" "OpenID Connect provider" "$OIDC_ISSUER" "$OIDC_PORT" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if ((status == 1)); then
    port_open "$OIDC_PORT" && die_port_taken "$OIDC_PORT" "OpenID Connect provider (Dex)"
    say "oidc: starting Dex on $OIDC_ISSUER"
    start_bg "$NAME" "$LOG" "$BIN" serve "$DIR/config.yaml"
    record_ports "$NAME" "$OIDC_PORT"
  fi
  wait_ready "$NAME" 60 healthy "$LOG"
  say "oidc: ready (pid $(live_pid "$NAME"))"
}

down() {
  stop_server "$NAME" 10 TERM
}

# Not CRM_AUTH_*: the services of `make up` and the other tests keep the development issuer;
# tests/e2e/test_oidc_login.py starts its own services with these.
vars() {
  cat <<EOF2
CRM_OIDC_TEST_ISSUER=$OIDC_ISSUER
CRM_OIDC_TEST_CLIENT_ID=crm
CRM_OIDC_TEST_CLIENT_SECRET=crm-e2e-secret
CRM_OIDC_TEST_PASSWORD=crm-e2e-password
EOF2
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) vars ;;
  *) die "usage: $0 up|down|env" ;;
esac
