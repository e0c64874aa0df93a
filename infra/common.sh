# Shared helpers for infra/kafka.sh and infra/cassandra.sh (sourced, not run).
set -euo pipefail
INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$INFRA_DIR/.." && pwd)
CACHE=${TIDINGS_CACHE_DIR:-$HOME/.cache/tidings}
RUN=${TIDINGS_INFRA_DIR:-$CACHE/run}
PYTHON=${TIDINGS_PYTHON:-$ROOT/.venv/bin/python}
mkdir -p "$CACHE" "$RUN"

# fetch_jars NAME POM_DIR: copies the pom's dependencies into $CACHE/NAME/libs once.
fetch_jars() {
  local name=$1 pom_dir=$2 libs="$CACHE/$1/libs"
  if [ ! -f "$libs/.complete" ]; then
    echo "fetching $name jars from Maven Central into $libs" >&2
    rm -rf "$libs"
    (cd "$pom_dir" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$libs") >&2
    touch "$libs/.complete"
  fi
  echo "$libs"
}

# running PIDFILE: true when the process in the pid file is alive.
running() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# stop_pid NAME PIDFILE: TERM, wait up to 30 s, then KILL.
stop_pid() {
  local name=$1 pidfile=$2
  if running "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "$name stopped"
  else
    echo "$name not running"
  fi
  rm -f "$pidfile"
}

# wait_ready NAME ADDRESS PIDFILE LOGDIR SECONDS: polls the readiness probe until it passes.
wait_ready() {
  local name=$1 address=$2 pidfile=$3 logdir=$4 seconds=$5
  for _ in $(seq 1 $((seconds * 2))); do
    if "$PYTHON" "$INFRA_DIR/ready.py" "$name" "$address" 2>/dev/null; then
      echo "$name ready on $address"; return 0
    fi
    running "$pidfile" || { echo "$name exited; see $logdir" >&2; tail -30 "$logdir/"*.log >&2 || true; return 1; }
    sleep 0.5
  done
  echo "$name did not become ready in $seconds s" >&2; return 1
}

# dispatch NAME ADDRESS PIDFILE DIR COMMAND: the shared stop|status|kill|reset verbs.
dispatch() {
  local name=$1 address=$2 pidfile=$3 dir=$4 command=$5
  case "$command" in
    stop) stop_pid "$name" "$pidfile" ;;
    kill) running "$pidfile" && kill -9 "$(cat "$pidfile")"; rm -f "$pidfile"; echo "$name killed" ;;
    status)
      if running "$pidfile" && "$PYTHON" "$INFRA_DIR/ready.py" "$name" "$address"; then
        echo "$name running (pid $(cat "$pidfile"))"
      else
        echo "$name not running"; return 1
      fi ;;
    reset) stop_pid "$name" "$pidfile"; rm -rf "$dir" ;;
    *) echo "usage: infra/$name.sh start|stop|status|kill|reset" >&2; return 2 ;;
  esac
}
