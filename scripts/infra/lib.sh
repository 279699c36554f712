# Shared by the scripts in scripts/infra/ (sourced, not run). Paths, ports and small helpers.
# All state lives under $REPO/.local (gitignored): logs/, pids/ and one folder per server.
# shellcheck disable=SC2034  # the constants below are used by the scripts that source this file

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$INFRA_DIR/../.." && pwd)
STATE="$REPO/.local"
LOGS="$STATE/logs"
PIDS="$STATE/pids"

# Fixed addresses: other code (conftest.py, scripts/platform, docs) depends on these values.
INFRA_HOST=127.0.0.1
POSTGRES_PORT=55432
POSTGRES_USER=crm
POSTGRES_PASSWORD=crm
POSTGRES_DATABASES=(contacts sales marketing service_desk analytics)
KAFKA_PORT=59092
KAFKA_CONTROLLER_PORT=59093
MONGO_PORT=57017
SMTP_PORT=52525
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
    rm -f "$file"
  fi
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

# wait_ready NAME TIMEOUT_SECONDS CHECK_FUNCTION LOGFILE...: polls the check until it passes; fails
# (with the log tails) when the recorded process dies or the time runs out.
wait_ready() {
  local name=$1 timeout=$2 check=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if "$check"; then return 0; fi
    if ! live_pid "$name" >/dev/null; then
      show_log "$@"
      die "$name exited during start-up"
    fi
    sleep 1
  done
  show_log "$@"
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

# stop_server NAME TIMEOUT [SIGNAL]: signals the recorded PID (TERM unless told), waits, then KILLs.
stop_server() {
  local name=$1 timeout=$2 sig=${3:-TERM} pid deadline
  if ! pid=$(live_pid "$name"); then
    clean_stale_pid "$name"
    say "$name: not running"
    return 0
  fi
  say "stopping $name (pid $pid, SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while pid_running "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
  if pid_running "$pid"; then
    say "$name did not exit within ${timeout}s: SIGKILL"
    kill -s KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while pid_running "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  rm -f "$(pidfile "$name")"
  say "$name stopped"
}

prepare_state() { mkdir -p "$LOGS" "$PIDS"; }
