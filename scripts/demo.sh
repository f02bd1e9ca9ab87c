#!/usr/bin/env bash
# Runs turnout in front of two demo backends with examples/canary.yaml (run by `make demo`).
#
# Builds first, then starts blue on 127.0.0.1:19001, green on 127.0.0.1:19002 and the proxy
# on 127.0.0.1:8080, prints commands to try and waits for Ctrl-C (at most 8 hours).
# DEMO_SECONDS=N stops it by itself after N seconds (smoke tests, CI). Everything listens
# on loopback only; the logs stay in a temp dir whose name is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

PROXY_PORT=8080
BLUE_PORT=19001
GREEN_PORT=19002
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/turnout-demo-XXXXXX")
pids=()

stop_all() {
  # Stop only what this script started, by process id, proxy first; SIGKILL after 5 s.
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True once 127.0.0.1:$1 accepts a connection; gives up after about 10 s.
wait_for_port() {
  local port=$1
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

bash scripts/install-deps.sh
make -j2

for port in $PROXY_PORT $BLUE_PORT $GREEN_PORT; do
  if port_in_use "$port"; then
    echo "demo: port $port on 127.0.0.1 is already in use; stop whatever holds it" >&2
    exit 1
  fi
done

python3 examples/demo_backend.py --name blue --port $BLUE_PORT >"$LOG_DIR/blue.log" 2>&1 &
pids+=($!)
python3 examples/demo_backend.py --name green --port $GREEN_PORT >"$LOG_DIR/green.log" 2>&1 &
pids+=($!)
build/turnout run -c examples/canary.yaml >"$LOG_DIR/turnout.log" 2>&1 &
pids=($! "${pids[@]}")  # The proxy first, so it stops before its backends.

for port in $BLUE_PORT $GREEN_PORT $PROXY_PORT; do
  if ! wait_for_port "$port"; then
    echo "demo: nothing accepts on 127.0.0.1:$port after 10 s; logs in $LOG_DIR:" >&2
    tail -n 20 "$LOG_DIR"/*.log >&2
    exit 1
  fi
done

url="http://127.0.0.1:$PROXY_PORT"
cat <<EOF

turnout is running: $url -> blue 95% / green 5% (examples/canary.yaml)
Logs (access log in turnout.log): $LOG_DIR

Try:
  # One request; x-backend says who answered, Set-Cookie carries your bucket.
  curl -i $url/

  # A user cookie is hashed: the same user always reaches the same pool.
  curl -s -b 'user=alice' $url/ | grep -o '"backend": "[a-z]*"'

  # The split over 100 requests (no cookie, so each draws a random bucket).
  for i in \$(seq 100); do curl -s $url/; echo; done | grep -o '"backend": "[a-z]*"' | sort | uniq -c

  # The decision headers the backend received.
  curl -s $url/ | python3 -m json.tool | grep -A1 -i turnout

EOF

# Runs until Ctrl-C, DEMO_SECONDS, a child exiting, or at most 8 hours.
limit=${DEMO_SECONDS:-28800}
if [ -n "${DEMO_SECONDS:-}" ]; then
  echo "Stopping by itself after $limit s (DEMO_SECONDS)."
else
  echo "Press Ctrl-C to stop."
fi
deadline=$((SECONDS + limit))
while [ "$SECONDS" -lt "$deadline" ]; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: process $pid exited; logs in $LOG_DIR" >&2
      tail -n 20 "$LOG_DIR"/*.log >&2
      exit 1
    fi
  done
  sleep 1
done
