# Shared by the scripts in scripts/infra/ (sourced, not run). Paths, ports and small helpers.
# All state lives under $REPO/.local (gitignored): logs/, pids/ and one folder per server.
# shellcheck disable=SC2034  # the constants below are used by the scripts that source this file

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$INFRA_DIR/../.." && pwd)
# CRM_INFRA_STATE_DIR and CRM_INFRA_*_PORT run a second, separate set of servers (a drill, a test
# of these scripts) beside the usual one; they are not the CRM_* variables of .local/infra.env,
# so a shell that sourced an old infra.env cannot move the servers by accident.
STATE=${CRM_INFRA_STATE_DIR:-$REPO/.local}
LOGS="$STATE/logs"
PIDS="$STATE/pids"

# Fixed addresses: other code (conftest.py, scripts/platform, docs) depends on these values. All
# below 32768, outside Linux's ephemeral range (32768-60999): a client's own outgoing connection
# can never hold a server port (a Kafka client retrying against a stopped broker once connected
# to itself on 59092, and the broker could not bind it again).
INFRA_HOST=127.0.0.1
POSTGRES_PORT=15432
POSTGRES_USER=crm
POSTGRES_PASSWORD=crm
POSTGRES_DATABASES=(contacts sales marketing service_desk analytics)
KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_SASL_PORT=19094  # SASL_SSL (SCRAM-SHA-512) beside PLAINTEXT, see scripts/infra/kafka.sh
MONGO_PORT=17017
SMTP_PORT=12525

# The port of a server as $STATE/infra.env names it (the last value after a colon).
env_port() {
  local value
  value=$(sed -n "s/^$1=//p" "$STATE/infra.env" 2>/dev/null)
  value=${value%/}
  value=${value##*:}
  [[ $value =~ ^[0-9]+$ ]] && echo "$value"
}

# A server started on its own (`kafka.sh up`, `up.sh kafka`, a drill restarting one) stays where
# $STATE/infra.env says the servers run, so that whatever runs keeps finding it. Only
# scripts/infra/up.sh without arguments (CRM_INFRA_MOVE=1) moves them all to the ports above at
# once, and rewrites that file.
if [[ -z ${CRM_INFRA_MOVE:-} && -f $STATE/infra.env ]]; then
  POSTGRES_PORT=$(env_port CRM_POSTGRES_PORT || echo "$POSTGRES_PORT")
  KAFKA_PORT=$(env_port CRM_KAFKA_BOOTSTRAP_SERVERS || echo "$KAFKA_PORT")
  KAFKA_CONTROLLER_PORT=$(sed -n 's/^controller\.quorum\.bootstrap\.servers=.*:\([0-9]*\)$/\1/p' \
    "$STATE/kafka/server.properties" 2>/dev/null | grep . || echo "$KAFKA_CONTROLLER_PORT")
  KAFKA_SASL_PORT=$(env_port CRM_KAFKA_SASL_SSL_BOOTSTRAP_SERVERS || echo "$KAFKA_SASL_PORT")
  MONGO_PORT=$(env_port CRM_MONGODB_URI || echo "$MONGO_PORT")
  SMTP_PORT=$(env_port CRM_SMTP_PORT || echo "$SMTP_PORT")
fi
POSTGRES_PORT=${CRM_INFRA_POSTGRES_PORT:-$POSTGRES_PORT}
KAFKA_PORT=${CRM_INFRA_KAFKA_PORT:-$KAFKA_PORT}
KAFKA_CONTROLLER_PORT=${CRM_INFRA_KAFKA_CONTROLLER_PORT:-$KAFKA_CONTROLLER_PORT}
KAFKA_SASL_PORT=${CRM_INFRA_KAFKA_SASL_PORT:-$KAFKA_SASL_PORT}
MONGO_PORT=${CRM_INFRA_MONGO_PORT:-$MONGO_PORT}
SMTP_PORT=${CRM_INFRA_SMTP_PORT:-$SMTP_PORT}
MAIL_SINK_DIR="$STATE/mail"

# Under `set -e` a failing command ends the script silently: name it.
set -o errtrace
trap 'printf "[infra] ERROR: %s failed (exit %s) at %s:%s\n" "$BASH_COMMAND" "$?" "${BASH_SOURCE[0]##*/}" "$LINENO" >&2' ERR

say() { printf '[infra] %s\n' "$*"; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# Run as root, or through sudo when there is one (apt-get on a developer's own machine).
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $*"; fi
}

_APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* yourself"
  if [[ -z $_APT_UPDATED ]]; then
    say "apt-get update"
    as_root apt-get update -qq >/dev/null
    _APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A JDK >= 17 (javac too: the MongoDB-wire server is compiled here) and Maven.
ensure_java() {
  local major=0
  if command -v java >/dev/null 2>&1; then
    major=$(java -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}') || true
    major=${major%%.*}
    [[ $major =~ ^[0-9]+$ ]] || major=0
  fi
  if ((major < 17)) || ! command -v javac >/dev/null 2>&1; then
    apt_install openjdk-17-jdk-headless
  fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# Copies the dependencies of $1 (a pom.xml) into $2, unless $2 already holds them for this POM.
maven_libs() {
  local pom=$1 dest=$2 sum
  sum=$(sha256sum "$pom" | cut -d' ' -f1)
  if [[ -f $dest/.pom.sha256 && $(cat "$dest/.pom.sha256") == "$sum" ]]; then return 0; fi
  say "fetching jars for $(basename "$(dirname "$pom")") (Maven Central) into ${dest#"$REPO"/}"
  rm -rf "$dest.tmp"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dest.tmp" >"$LOGS/maven.log" 2>&1 ||
    { tail -n 40 "$LOGS/maven.log" >&2; die "mvn dependency:copy-dependencies failed for $pom"; }
  echo "$sum" >"$dest.tmp/.pom.sha256"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
}

pidfile() { echo "$PIDS/$1.pid"; }

# True while process $1 exists and is not a zombie (an exited child nobody has reaped yet).
pid_running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# The recorded PID of server $1 when that process still runs and is ours (its command line names
# this checkout's .local, so a recycled PID is not mistaken for the server).
live_pid() {
  local file pid
  file=$(pidfile "$1")
  [[ -f $file ]] || return 1
  pid=$(cat "$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$STATE/" || return 1
  echo "$pid"
}

clean_stale_pid() {
  local file
  file=$(pidfile "$1")
  if [[ -f $file ]] && ! live_pid "$1" >/dev/null; then
    say "$1: removing stale PID file (pid $(cat "$file"))"
    rm -f "$file" "$PIDS/$1.ports"
  fi
}

# The ports server $1 was started on, as record_ports wrote them (empty: not recorded).
recorded_ports() { cat "$PIDS/$1.ports" 2>/dev/null || true; }
record_ports() {
  local name=$1
  shift
  echo "$*" >"$PIDS/$name.ports"
}

# restart_moved NAME STOP_FUNCTION PORTS...: stops server NAME when it runs on other ports than
# PORTS, e.g. one started before the ports moved (nothing recorded then): the caller then starts
# it afresh on PORTS instead of waiting forever for it to answer there.
restart_moved() {
  local name=$1 stop=$2 pid before
  shift 2
  pid=$(live_pid "$name") || return 0
  before=$(recorded_ports "$name")
  [[ $before == "$*" ]] && return 0
  say "$name: pid $pid runs on ${before:-its former port (before the ports moved below 32768)}, not $*: restarting it"
  "$stop"
}

# Which process listens on port $1 ("pid N: command line"), when ss can tell.
port_holder() {
  local pid
  command -v ss >/dev/null 2>&1 || return 1
  pid=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
  [[ -n $pid ]] || return 1
  printf 'pid %s: %s' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-160)"
}

# die_port_taken PORT WHAT: the port is held by something that is not our server; say what to do.
die_port_taken() {
  die "port $1 is taken by a process that is not our $2 ($(port_holder "$1" || echo "unknown holder")):" \
    "stop it (if it is another checkout's server: \`make down\` there) or run ours on another" \
    "port (CRM_INFRA_*_PORT, see scripts/infra/lib.sh)"
}

# Warns about a configured port inside the kernel's ephemeral range (overrides only: the defaults
# are outside it), where an outgoing connection may take it while the server is down.
warn_ephemeral_ports() {
  local low high port
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
  for port in "$POSTGRES_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT" "$MONGO_PORT" "$SMTP_PORT"; do
    if ((port >= low && port <= high)); then
      say "WARNING: port $port is inside the ephemeral range $low-$high: a client's own connection may hold it while the server is down"
    fi
  done
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$INFRA_HOST/$1" 2>/dev/null; }

show_log() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    printf -- '----- last lines of %s -----\n' "${f#"$REPO"/}" >&2
    tail -n 40 "$f" >&2
  done
}

# await_ready NAME TIMEOUT_SECONDS CHECK_FUNCTION: polls the check until it passes (status 0);
# 1 when the recorded process exits meanwhile, 2 when the time runs out.
await_ready() {
  local name=$1 check=$3 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if "$check"; then return 0; fi
    live_pid "$name" >/dev/null || return 1
    sleep 1
  done
  return 2
}

# wait_ready NAME TIMEOUT_SECONDS CHECK_FUNCTION LOGFILE...: await_ready, or fail with the log tails.
wait_ready() {
  local name=$1 timeout=$2 status=0
  await_ready "$name" "$timeout" "$3" || status=$?
  shift 3
  ((status == 0)) && return 0
  show_log "$@"
  ((status == 1)) && die "$name exited during start-up"
  die "$name not ready after ${timeout}s (still running: see the logs, stop it with scripts/infra/down.sh)"
}

# start_bg NAME LOGFILE COMMAND...: runs COMMAND detached (own session, no terminal), records its PID.
start_bg() {
  local name=$1 log=$2
  shift 2
  printf '===== %s: starting %s =====\n' "$(date '+%F %T')" "$name" >>"$log"
  setsid nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

# stop_server NAME TIMEOUT [SIGNAL] [WHAT_A_KILL_MEANS]: signals the recorded PID (TERM unless
# told), WAITS for it to exit and says how long that took; after TIMEOUT seconds it says so, and
# what a SIGKILL means for that server, then kills it.
stop_server() {
  local name=$1 timeout=$2 sig=${3:-TERM} after=${4:-} pid deadline start
  if ! pid=$(live_pid "$name"); then
    clean_stale_pid "$name"
    say "$name: not running"
    return 0
  fi
  say "stopping $name (pid $pid, SIG$sig; waiting up to ${timeout}s for it to exit)"
  start=$EPOCHREALTIME
  kill -s "$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while pid_running "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if pid_running "$pid"; then
    say "$name did not exit within ${timeout}s: SIGKILL${after:+ ($after)}"
    kill -s KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while pid_running "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  rm -f "$(pidfile "$name")" "$PIDS/$name.ports"
  say "$name stopped in $(elapsed "$start")s"
}

# Seconds (one decimal) since $1, an $EPOCHREALTIME value.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

prepare_state() { mkdir -p "$LOGS" "$PIDS"; }

# How every server's `up` begins: a healthy server is reused (status 0, nothing more to do).
# Otherwise one left on other ports is stopped, a stale pid file removed, and the status says what
# remains: 2 when it is already coming up (only wait for it), 1 when the caller must start it.
#   reuse_or_make_way NAME WHAT ADDRESS PORT...
reuse_or_make_way() {
  local name=$1 what=$2 address=$3 pid
  shift 3
  if healthy; then
    if pid=$(live_pid "$name"); then
      say "$name: reusing (pid $pid) on $address"
      record_ports "$name" "$@"
    else say "$name: reusing the $what already answering on $address"; fi
    return 0
  fi
  restart_moved "$name" down "$@"
  clean_stale_pid "$name"
  if live_pid "$name" >/dev/null; then
    say "$name: running but not answering yet; waiting"
    return 2
  fi
  return 1
}
