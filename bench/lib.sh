# Shared by bench/run.sh, bench/instr.sh and bench/idlemem.sh: the run folder, the fixed
# loopback ports, and starting and stopping the backends and proxies (sourced, not run).
#
# Every process is started through start_proc, which records its pid; stop_all stops
# exactly those pids, newest first, and the scripts call it from an EXIT trap.

BENCH_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$BENCH_HOME")
BUILD=${BUILD:-build}
TURNOUT=${TURNOUT:-$REPO_ROOT/$BUILD/turnout}
BENCH_DIR=${BENCH_DIR:-/tmp/turnout-bench}

# Fixed ports in a private range, all on 127.0.0.1. "split" listeners do the plain 90/10
# split; "hdr20" listeners try 20 header matchers first.
PORT_BLUE=21001
PORT_GREEN=21002
PORT_NGINX=21080
PORT_HAPROXY=21081
PORT_TURNOUT=21082
PORT_TURNOUT2=21083  # The two-worker turnout of the scaling case.
PORT_NGINX_HDR20=21090
PORT_HAPROXY_HDR20=21091
PORT_TURNOUT_HDR20=21092
PORT_TURNOUT2_HDR20=21093

# The wrk arguments of run.sh's cases (used by run.sh and perf.sh).
BROWSER_HEADERS=(
  -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
  -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
  -H "Accept-Language: en-GB,en;q=0.5"
  -H "Accept-Encoding: gzip, deflate, br"
  -H "Cookie: session=4f1c2b9e; theme=dark; uid=user-48213"
  -H "X-User: user-48213"
)

# case_spec NAME: sets CASE_CONNS, CASE_PATH, CASE_ARGS (extra wrk arguments) and
# CASE_HDR20 (1: use the hdr20 listeners).
case_spec() {
  CASE_CONNS=64
  CASE_PATH=/
  CASE_ARGS=()
  CASE_HDR20=0
  case "$1" in
    small | scale) ;;
    1k) CASE_PATH=/files/1k ;;
    64k) CASE_PATH=/files/64k ;;
    conn1000) CASE_CONNS=1000 ;;
    close) CASE_ARGS=(-H "Connection: close") ;;
    upload)
      CASE_PATH=/upload
      CASE_ARGS=(-s "$BENCH_DIR/upload.lua")
      ;;
    hdr20)
      CASE_ARGS=("${BROWSER_HEADERS[@]}")
      CASE_HDR20=1
      ;;
    *) die "unknown case $1 (known: small 1k 64k conn1000 close upload hdr20 scale)" ;;
  esac
  CASE_CONNS=${CONNS:-$CASE_CONNS}
}

# target_port TARGET: the port of a target for the current case.
target_port() {
  case "$1:$CASE_HDR20" in
    direct:*) echo "$PORT_BLUE" ;;
    nginx:0) echo "$PORT_NGINX" ;;
    nginx:1) echo "$PORT_NGINX_HDR20" ;;
    haproxy:0) echo "$PORT_HAPROXY" ;;
    haproxy:1) echo "$PORT_HAPROXY_HDR20" ;;
    turnout:0 | turnout-1w:0) echo "$PORT_TURNOUT" ;;
    turnout:1 | turnout-1w:1) echo "$PORT_TURNOUT_HDR20" ;;
    turnout-2w:0) echo "$PORT_TURNOUT2" ;;
    turnout-2w:1) echo "$PORT_TURNOUT2_HDR20" ;;
  esac
}

STARTED_PIDS=()
LAST_PID=

die() {
  echo "bench: $*" >&2
  exit 1
}

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (see bench/README.md)"
  done
}

# Fails unless nothing listens on any of the given ports: a stale server there would be
# measured instead of ours.
check_ports_free() {
  local port
  for port in "$@"; do
    if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then
      die "port $port is in use; stop whatever listens there (ss -tlnp 'sport = :$port')"
    fi
  done
}

# Creates the run folder, the static files the backends serve and the configs, with
# @DIR@ replaced by the run folder. nginx workers run as nobody, hence the modes.
prepare_run_dir() {
  mkdir -p "$BENCH_DIR/www/files" "$BENCH_DIR/tmp"
  chmod 755 "$BENCH_DIR" "$BENCH_DIR/www" "$BENCH_DIR/www/files"
  head -c 1024 /dev/zero | tr '\0' 'b' > "$BENCH_DIR/www/files/1k"
  head -c 65536 /dev/zero | tr '\0' 'b' > "$BENCH_DIR/www/files/64k"
  echo "the backend's POST target" > "$BENCH_DIR/www/upload"
  chmod 644 "$BENCH_DIR/www/files/1k" "$BENCH_DIR/www/files/64k" "$BENCH_DIR/www/upload"

  local file
  for file in backend-nginx.conf proxy-nginx.conf proxy-haproxy.cfg turnout.yaml upload.lua; do
    sed "s#@DIR@#$BENCH_DIR#g" "$BENCH_HOME/peers/$file" > "$BENCH_DIR/$file"
  done

  # The scaling case's second turnout listens on the next ports.
  sed -e "s/:$PORT_TURNOUT\"/:$PORT_TURNOUT2\"/" \
    -e "s/:$PORT_TURNOUT_HDR20\"/:$PORT_TURNOUT2_HDR20\"/" \
    "$BENCH_DIR/turnout.yaml" > "$BENCH_DIR/turnout2.yaml"
}

# start_proc NAME COMMAND...: runs COMMAND in the background with its output in
# $BENCH_DIR/NAME.log, records its pid and leaves it in LAST_PID.
start_proc() {
  local name=$1
  shift
  "$@" > "$BENCH_DIR/$name.log" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
}

# Waits up to WAIT_SECONDS (default 10) for a listener on the port, as long as the
# process started last (LAST_PID) runs; fails with the log of NAME otherwise.
wait_port() {
  local port=$1 name=$2 try
  for try in $(seq 1 $((${WAIT_SECONDS:-10} * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$LAST_PID" 2>/dev/null || [[ "$(ps -o stat= -p "$LAST_PID")" == Z* ]]; then
      tail -5 "$BENCH_DIR/$name.log" >&2
      die "$name exited before it listened on 127.0.0.1:$port"
    fi
    sleep 0.1
  done
  tail -5 "$BENCH_DIR/$name.log" >&2
  die "$name did not listen on 127.0.0.1:$port within ${WAIT_SECONDS:-10} s"
}

# Stops one pid: SIGTERM, up to STOP_SECONDS (default 5) to exit, then SIGKILL. Each step
# may fail (the process is already gone) without stopping the caller under `set -e`.
stop_pid() {
  local pid=$1 try
  kill -TERM "$pid" 2>/dev/null || return 0
  for try in $(seq 1 $((${STOP_SECONDS:-5} * 10))); do
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(ps -o stat= -p "$pid")" == Z* ]]; then
      break
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stops every process start_proc started, newest first.
stop_all() {
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${STARTED_PIDS[$i]}"
  done
  STARTED_PIDS=()
}

# Removes one pid from the list after the caller stopped it itself.
forget_pid() {
  local pid=$1 kept=() p
  for p in "${STARTED_PIDS[@]}"; do
    [ "$p" = "$pid" ] || kept+=("$p")
  done
  STARTED_PIDS=("${kept[@]}")
}

start_backends() {
  start_proc backend nginx -c "$BENCH_DIR/backend-nginx.conf"
  wait_port "$PORT_BLUE" backend
  wait_port "$PORT_GREEN" backend
}

# start_nginx [WRAPPER...]: the nginx peer, one worker. NGINX_FIRST_LINE, when set, goes
# first in its config (instr.sh sets "master_process off;" to get a single process).
start_nginx() {
  local conf=$BENCH_DIR/proxy-nginx.conf
  if [ -n "${NGINX_FIRST_LINE:-}" ]; then
    conf=$BENCH_DIR/proxy-nginx-first-line.conf
    { echo "$NGINX_FIRST_LINE"; cat "$BENCH_DIR/proxy-nginx.conf"; } > "$conf"
  fi
  start_proc nginx "$@" nginx -c "$conf"
  wait_port "$PORT_NGINX" nginx
}

# start_haproxy [WRAPPER...]: the HAProxy peer in the foreground (-db: no fork), so its
# pid is the one recorded. A wrapper (valgrind) goes before the command.
start_haproxy() {
  start_proc haproxy "$@" haproxy -db -f "$BENCH_DIR/proxy-haproxy.cfg"
  wait_port "$PORT_HAPROXY" haproxy
}

# start_turnout WORKERS CONFIG NAME PORT [WRAPPER...]
start_turnout() {
  local workers=$1 config=$2 name=$3 port=$4
  shift 4
  [ -x "$TURNOUT" ] || die "no turnout binary at $TURNOUT (run make, or set TURNOUT)"
  start_proc "$name" "$@" "$TURNOUT" run -c "$config" --workers "$workers" --drain-timeout 1
  wait_port "$port" "$name"
}

# The pids of the children of a process (nginx's workers).
child_pids() {
  ps -o pid= --ppid "$1" | tr -d ' ' | paste -sd,
}
