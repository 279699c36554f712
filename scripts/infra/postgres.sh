#!/usr/bin/env bash
# PostgreSQL (Debian's packages): a cluster of our own in .local/postgres/data on 127.0.0.1:15432.
# Usage: postgres.sh up|down
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAME=postgres
DIR="$STATE/postgres"
DATA="$DIR/data"
SOCKETS="$DIR/run"
LOG="$LOGS/postgres.log"

pg_bindir() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $initdb ]] && dirname "$initdb"
}

# Runs a command as the cluster's owner: the `postgres` OS user when we are root (PostgreSQL
# refuses to run as root), ourselves otherwise.
as_owner() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

healthy() {
  PGPASSWORD=$POSTGRES_PASSWORD PGCONNECT_TIMEOUT=3 "$PGBIN/psql" -h "$INFRA_HOST" -p "$POSTGRES_PORT" \
    -U "$POSTGRES_USER" -d postgres -XAtqc 'select 1' >/dev/null 2>&1
}

# Superuser SQL over the unix socket (peer authentication as the cluster owner).
owner_sql() {
  as_owner "$PGBIN/psql" -h "$SOCKETS" -p "$POSTGRES_PORT" -U "$OWNER" -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}

crm_sql() {
  PGPASSWORD=$POSTGRES_PASSWORD "$PGBIN/psql" -h "$INFRA_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" \
    -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}

ensure_databases() {
  local db
  for db in "${POSTGRES_DATABASES[@]}"; do
    if [[ -z $(crm_sql -c "select 1 from pg_database where datname = '$db'") ]]; then
      crm_sql -c "create database $db owner $POSTGRES_USER" && say "postgres: created database $db"
    fi
    ensure_service_role "$db"
  done
}

# Least privilege: each service's own role (crm_<database>), with rights on its database only
# (postgres-service-role.sql). Its password is made once and kept in a file (mode 0600), which
# the service reads through CRM_POSTGRES_PASSWORD_FILE, as it reads a Kubernetes Secret.
ensure_service_role() {
  local db=$1 role="crm_$1" secret="$DIR/roles/crm_$1.password"
  mkdir -p "$DIR/roles"
  if [[ ! -s $secret ]]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret")
  fi
  crm_sql -v role="$role" -v database="$db" -v password="$(cat "$secret")" \
    -f "$(dirname "$0")/postgres-service-role.sql" >/dev/null
}

write_config() {
  # Our settings live in crm.conf, included from postgresql.conf; rewritten on every start.
  cat >"$DATA/crm.conf" <<EOF
# Written by scripts/infra/postgres.sh on every start: edit that script, not this file.
listen_addresses = '$INFRA_HOST'
port = $POSTGRES_PORT
unix_socket_directories = '$SOCKETS'
# A test session runs the whole platform (14 processes, each with its pools) beside others.
max_connections = 600
shared_buffers = 256MB
fsync = on
logging_collector = off
log_min_messages = warning
log_connections = off
EOF
  grep -q "^include_if_exists = 'crm.conf'" "$DATA/postgresql.conf" ||
    printf "\ninclude_if_exists = 'crm.conf'\n" >>"$DATA/postgresql.conf"
  cat >"$DATA/pg_hba.conf" <<EOF
# Written by scripts/infra/postgres.sh.
local   all  all                 peer
host    all  all  127.0.0.1/32   scram-sha-256
EOF
  chown "$OWNER:" "$DATA/crm.conf" "$DATA/pg_hba.conf"
}

# PGBIN (the newest installed PostgreSQL's bin folder) and OWNER (who runs the cluster).
binaries() {
  PGBIN=$(pg_bindir || true)
  if [[ -z $PGBIN ]]; then
    apt_install postgresql
    PGBIN=$(pg_bindir) || die "PostgreSQL installed but no initdb under /usr/lib/postgresql"
  fi
  if [[ $EUID -eq 0 ]]; then OWNER=postgres; else OWNER=$(id -un); fi
}

up() {
  prepare_state
  binaries

  local status=0
  reuse_or_make_way "$NAME" "server" "$INFRA_HOST:$POSTGRES_PORT" "$POSTGRES_PORT" || status=$?
  if ((status == 0)); then
    ensure_databases
    return 0
  fi
  if ((status == 1)); then
    port_open "$POSTGRES_PORT" && die_port_taken "$POSTGRES_PORT" PostgreSQL

    mkdir -p "$DIR" "$SOCKETS"
    if [[ $EUID -eq 0 ]]; then
      chown "$OWNER:" "$DIR" "$SOCKETS"
      runuser -u "$OWNER" -- test -w "$DIR" ||
        die "the $OWNER OS user cannot reach ${DIR}: every folder above the checkout must be searchable (chmod o+x)"
    fi
    if [[ ! -f $DATA/PG_VERSION ]]; then
      say "postgres: initdb ${DATA#"$REPO"/}"
      rm -rf "$DATA"
      mkdir -p "$DATA"
      if [[ $EUID -eq 0 ]]; then chown "$OWNER:" "$DATA"; fi
      chmod 700 "$DATA"
      as_owner "$PGBIN/initdb" -D "$DATA" -U "$OWNER" --auth-local=peer --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$LOGS/postgres-initdb.log" 2>&1 ||
        { show_log "$LOGS/postgres-initdb.log"; die "initdb failed"; }
    fi
    local version
    version=$(cat "$DATA/PG_VERSION")
    [[ $PGBIN == */"$version"/bin ]] ||
      die "${DATA#"$REPO"/} was made by PostgreSQL $version but $PGBIN is installed: remove .local/postgres to start afresh"
    write_config
    touch "$LOG"
    if [[ $EUID -eq 0 ]]; then chown "$OWNER:" "$LOG"; fi

    say "postgres: starting on $INFRA_HOST:$POSTGRES_PORT"
    # pg_ctl detaches the postmaster (own session) and waits until it accepts connections; the
    # postmaster's PID (first line of postmaster.pid) is the one we record and stop.
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start </dev/null >>"$LOG" 2>&1 ||
      { show_log "$LOG"; die "pg_ctl start failed"; }
    head -n 1 "$DATA/postmaster.pid" >"$(pidfile "$NAME")"
    record_ports "$NAME" "$POSTGRES_PORT"
  fi
  wait_ready "$NAME" 60 owner_ready "$LOG"

  # The role the services and tests use (superuser: tests create databases of their own).
  if [[ -z $(owner_sql -c "select 1 from pg_roles where rolname = '$POSTGRES_USER'") ]]; then
    owner_sql -c "create role $POSTGRES_USER login superuser password '$POSTGRES_PASSWORD'"
    say "postgres: created role $POSTGRES_USER"
  fi
  healthy || { show_log "$LOG"; die "postgres: cannot log in as $POSTGRES_USER over TCP"; }
  ensure_databases
  say "postgres: ready (pid $(live_pid "$NAME"))"
}

owner_ready() { as_owner "$PGBIN/pg_isready" -q -h "$SOCKETS" -p "$POSTGRES_PORT" >/dev/null 2>&1; }

# `pg_ctl stop -m fast` disconnects the clients (instead of waiting for them), writes a
# checkpoint and waits until the postmaster has exited; past its timeout, an immediate shutdown.
down() {
  local pid start
  if ! pid=$(live_pid "$NAME"); then
    stop_server "$NAME" 0
    return 0
  fi
  [[ -n ${PGBIN:-} ]] || binaries
  say "stopping postgres (pid $pid, pg_ctl stop -m fast; waiting up to 60s for it to exit)"
  start=$EPOCHREALTIME
  if as_owner "$PGBIN/pg_ctl" -D "$DATA" stop -m fast -w -t 60 -s >>"$LOG" 2>&1; then
    rm -f "$(pidfile "$NAME")" "$PIDS/$NAME.ports"
    say "postgres stopped in $(elapsed "$start")s"
  else
    say "postgres did not stop within 60s: immediate shutdown (it replays its WAL at the next start)"
    stop_server "$NAME" 30 QUIT "crash recovery at the next start"
  fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
