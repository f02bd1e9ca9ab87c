#!/usr/bin/env bash
# Switch benchmark: how fast a blue -> green (and back) switch takes effect, and what the
# clients under load see meanwhile, for turnout (admin API call; ConfigMap symlink swap)
# side by side with nginx (config rewrite + reload, nginx's way to change an upstream).
#
#   bench/switch_bench.sh            100 switches per trigger
#   N=20 bench/switch_bench.sh
#
# For each trigger: wrk -t1 -c64 keeps 64 keep-alive connections busy on "/" while
# bench/switch_probe.py flips all traffic between the pools N times, 0.1 s apart, and for
# each switch times (a) the trigger's return and (b) the first request, on a fresh
# connection, answered by the new pool. wrk's socket errors and non-2xx answers are the
# clients' view of the switches. One worker each (turnout --workers 1, nginx
# worker_processes 1, the backend nginx 1); ports 21170-21182 on 127.0.0.1 must be free.
# Everything started is stopped on exit.
#
# Env: BUILD, TURNOUT (binary), N (switches per trigger, default 100), GAP (seconds between
# switches, default 0.1), BENCH_DIR (default /tmp/turnout-switch-bench).
#
# Its ports differ from bench/run.sh's, so the two may run one after the other without a
# clash; running them at the same time would share the two cores and skew both.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/turnout-switch-bench}
source "$(dirname "$0")/lib.sh"

N=${N:-100}
GAP=${GAP:-0.1}
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 2 ] && [ "$N" -le 1000 ] || die "N must be 2..1000"
PORT_BLUE=21171
PORT_GREEN=21172
PORT_SWITCH_TURNOUT=21180
PORT_SWITCH_ADMIN=21181
PORT_SWITCH_NGINX=21182

require_tools nginx wrk python3 ss bc
check_ports_free "$PORT_BLUE" "$PORT_GREEN" "$PORT_SWITCH_TURNOUT" "$PORT_SWITCH_ADMIN" \
  "$PORT_SWITCH_NGINX"
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
trap stop_all EXIT

# Backends: "blue\n" and "green\n".
cat > "$BENCH_DIR/switch-backend.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $BENCH_DIR/switch-backend.pid;
error_log $BENCH_DIR/switch-backend.err warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT_BLUE reuseport backlog=4096; location / { return 200 "blue\n"; } }
  server { listen 127.0.0.1:$PORT_GREEN reuseport backlog=4096; location / { return 200 "green\n"; } }
}
NGINX

# turnout: all of "release" on one pool; the probe rewrites the two weights.
cat > "$BENCH_DIR/switch-turnout.template" <<YAML
listeners:
  - name: main
    address: "127.0.0.1:$PORT_SWITCH_TURNOUT"
    route_config:
      virtual_hosts:
        - name: all
          domains: ["*"]
          routes:
            - name: release
              match: {prefix: "/"}
              route:
                weighted_clusters:
                  clusters: [{name: blue, weight: @BLUE_WEIGHT@}, {name: green, weight: @GREEN_WEIGHT@}]
clusters:
  - {name: blue, endpoints: [{address: "127.0.0.1:$PORT_BLUE"}]}
  - {name: green, endpoints: [{address: "127.0.0.1:$PORT_GREEN"}]}
admin: {address: "127.0.0.1:$PORT_SWITCH_ADMIN"}
access_log: {disabled: true}
YAML

# A ConfigMap mount: turnout.yaml -> ..data/turnout.yaml, ..data -> ..v0.
CONFIG_DIR=$BENCH_DIR/configmap
mkdir -p "$CONFIG_DIR/..v0"
sed -e 's/@BLUE_WEIGHT@/100/' -e 's/@GREEN_WEIGHT@/0/' "$BENCH_DIR/switch-turnout.template" \
  > "$CONFIG_DIR/..v0/turnout.yaml"
ln -s ..v0 "$CONFIG_DIR/..data"
ln -s ..data/turnout.yaml "$CONFIG_DIR/turnout.yaml"

# nginx: the same, one upstream at a time; the probe swaps the proxy_pass target.
cat > "$BENCH_DIR/switch-nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $BENCH_DIR/switch-nginx.pid;
error_log $BENCH_DIR/switch-nginx.err warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream blue  { server 127.0.0.1:$PORT_BLUE; keepalive 128; }
  upstream green { server 127.0.0.1:$PORT_GREEN; keepalive 128; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server {
    listen 127.0.0.1:$PORT_SWITCH_NGINX reuseport backlog=4096;
    location / { proxy_pass http://blue; }
  }
}
NGINX

# under_load NAME PORT PROBE-ARGS...: wrk on PORT while the probe switches; prints one row.
under_load() {
  local name=$1 port=$2 wrk_pid probe wrk_out
  shift 2
  wrk_out="$BENCH_DIR/wrk-${name// /-}.txt"
  wrk -t1 -c64 -d600s "http://127.0.0.1:$port/" > "$wrk_out" 2>&1 &
  wrk_pid=$!
  STARTED_PIDS+=("$wrk_pid")
  sleep 1
  probe=$(python3 "$BENCH_HOME/switch_probe.py" --port "$port" --n "$N" --gap "$GAP" "$@")
  sleep 0.5
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  forget_pid "$wrk_pid"

  # "Socket errors: connect 0, read 292, write 0, timeout 0" appears only when there are some.
  local requests errors non2xx
  read -r r_median r_max s_median s_max missed <<< "$probe"
  requests=$(awk '/requests in/ {print $1}' "$wrk_out")
  errors=$( (grep -o 'Socket errors:.*' "$wrk_out" || echo 0) | grep -o '[0-9]\+' | paste -sd+ |
    bc)
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$wrk_out")
  printf '| %-22s | %6s / %6s | %6s / %6s | %3s | %8s | %4s / %s |\n' "$name" "$r_median" \
    "$r_max" "$s_median" "$s_max" "$missed" "${requests:-?}" "${errors:-0}" "${non2xx:-0}"
}

start_proc backend nginx -c "$BENCH_DIR/switch-backend.conf"
wait_port "$PORT_BLUE" backend
start_turnout 1 "$CONFIG_DIR/turnout.yaml" turnout "$PORT_SWITCH_TURNOUT"
start_proc nginx nginx -c "$BENCH_DIR/switch-nginx.conf"
NGINX_PID=$LAST_PID
wait_port "$PORT_SWITCH_NGINX" nginx

echo "| trigger | returned ms (median / max) | new pool served ms (median / max) | missed |" \
  "requests | client errors: socket / non-2xx |"
echo "|---|---|---|---|---|---|"
under_load "turnout admin API" "$PORT_SWITCH_TURNOUT" --trigger admin \
  --admin "127.0.0.1:$PORT_SWITCH_ADMIN"
# The admin override would outrank the file; drop it so the file decides again.
python3 - "$PORT_SWITCH_ADMIN" <<'PY'
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
conn.request("DELETE", "/weights")
assert conn.getresponse().status == 200
PY
under_load "turnout ConfigMap swap" "$PORT_SWITCH_TURNOUT" --trigger file \
  --config-dir "$CONFIG_DIR" --template "$BENCH_DIR/switch-turnout.template"
under_load "nginx reload" "$PORT_SWITCH_NGINX" --trigger nginx \
  --nginx-conf "$BENCH_DIR/switch-nginx.conf" --nginx-pid "$NGINX_PID"
echo
echo "N=$N switches per trigger, $GAP s apart; wrk -t1 -c64 on / throughout; details in $BENCH_DIR"
