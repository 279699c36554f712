#!/usr/bin/env bash
# A local SMTP sink on 127.0.0.1:12525 (scripts/infra/mailsink.py, aiosmtpd from the workspace's
# virtual environment): accepts every message and keeps it in the Maildir .local/mail.
# Usage: mailsink.sh up|down
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAME=mailsink
LOG="$LOGS/mailsink.log"
PYTHON="$REPO/.venv/bin/python"

# An SMTP greeting, not just an open port: another program on the port would not say 220.
healthy() {
  timeout 3 "$PYTHON" -c "import smtplib, sys; smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=2).quit()" \
    "$INFRA_HOST" "$SMTP_PORT" 2>/dev/null
}

up() {
  prepare_state
  [[ -x $PYTHON ]] || die "mailsink: $PYTHON missing: run \`uv sync\` first"
  "$PYTHON" -c "import aiosmtpd" 2>/dev/null || die "mailsink: aiosmtpd missing: run \`uv sync\`"
  mkdir -p "$MAIL_SINK_DIR"
  local status=0
  reuse_or_make_way "$NAME" "SMTP server" "$INFRA_HOST:$SMTP_PORT" "$SMTP_PORT" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if ((status == 1)); then
    port_open "$SMTP_PORT" && die_port_taken "$SMTP_PORT" "SMTP sink"
    say "mailsink: starting on $INFRA_HOST:$SMTP_PORT (Maildir ${MAIL_SINK_DIR#"$REPO"/})"
    start_bg "$NAME" "$LOG" "$PYTHON" "$INFRA_DIR/mailsink.py" \
      --host "$INFRA_HOST" --port "$SMTP_PORT" --maildir "$MAIL_SINK_DIR"
    record_ports "$NAME" "$SMTP_PORT"
  fi
  wait_ready "$NAME" 30 healthy "$LOG"
  say "mailsink: ready (pid $(live_pid "$NAME"))"
}

down() {
  stop_server "$NAME" 10 TERM
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
