#!/usr/bin/env bash
# Parallel-run cost: the p99 latency of the primary answers without mirroring and with
# every request mirrored (and compared) to a backend that answers 50 ms later.
#
#   bench/mirror_bench.sh                  3 rounds of 10 s per mode, medians
#   DUR=20 ROUNDS=5 bench/mirror_bench.sh
#
# The load is paced, not flat out: CONNS keep-alive connections (default 16) each wait
# PACE_MS (default 10) between requests, about 1,600 requests/s, so that the 2-core
# machine has room left and the figure shows what mirroring adds to a request's path
# rather than how CPU contention grows. The primary backend is one nginx worker answering
# 5 bytes; the mirror is bench/delay_backend.py, DELAY_MS (default 50) slower. Two turnout
# processes with one worker each: :21103 without mirroring, :21104 mirroring 100% (admin
# API on :21105, read after the runs to check the copies were sent, answered and
# compared). Rounds alternate the two modes so that drift hits both alike.
#
# Every process listens on 127.0.0.1 only, on ports 21101-21105 that must be free, and is
# stopped on exit. Env: BUILD, TURNOUT, BENCH_DIR (default /tmp/turnout-bench-mirror),
# DUR, ROUNDS, CONNS, PACE_MS, DELAY_MS.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/turnout-bench-mirror}
source "$(dirname "$0")/lib.sh"

DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
PACE_MS=${PACE_MS:-10}
DELAY_MS=${DELAY_MS:-50}
for value in "$DUR" "$ROUNDS" "$CONNS" "$PACE_MS" "$DELAY_MS"; do
  [[ "$value" =~ ^[0-9]+$ ]] || die "DUR, ROUNDS, CONNS, PACE_MS and DELAY_MS are whole numbers"
done
[ "$DUR" -ge 1 ] && [ "$DUR" -le 600 ] || die "DUR must be 1..600 seconds"
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || die "ROUNDS must be 1..20"
[ "$CONNS" -ge 1 ] && [ "$CONNS" -le 1000 ] || die "CONNS must be 1..1000"

PORT_PRIMARY=21101
PORT_SLOW=21102
PORT_PLAIN=21103
PORT_MIRRORED=21104
PORT_ADMIN=21105

require_tools nginx wrk python3 curl
[ -x "$TURNOUT" ] || die "no turnout binary at $TURNOUT (run make, or set TURNOUT)"
check_ports_free "$PORT_PRIMARY" "$PORT_SLOW" "$PORT_PLAIN" "$PORT_MIRRORED" "$PORT_ADMIN"
mkdir -p "$BENCH_DIR/tmp"
trap stop_all EXIT

write_configs() {
  cat > "$BENCH_DIR/primary-nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $BENCH_DIR/primary.pid;
error_log $BENCH_DIR/primary.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $BENCH_DIR/tmp/body;
  proxy_temp_path $BENCH_DIR/tmp/proxy;
  fastcgi_temp_path $BENCH_DIR/tmp/fastcgi;
  uwsgi_temp_path $BENCH_DIR/tmp/uwsgi;
  scgi_temp_path $BENCH_DIR/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT_PRIMARY backlog=4096;
    location / { return 200 "blue\n"; }
  }
}
NGINX

  # $1: listener port; $2: extra lines under route: (the mirror policy); $3: admin block.
  turnout_config() {
    cat <<YAML
listeners:
  - name: bench
    address: "127.0.0.1:$1"
    route_config:
      virtual_hosts:
        - name: all
          domains: ["*"]
          routes:
            - name: run
              match: {prefix: "/"}
              route:
                cluster: primary
$2
clusters:
  - name: primary
    endpoints: [{address: "127.0.0.1:$PORT_PRIMARY"}]
  - name: slow
    endpoints: [{address: "127.0.0.1:$PORT_SLOW"}]
access_log: {disabled: true}
$3
YAML
  }
  turnout_config "$PORT_PLAIN" "" "admin: {disabled: true}" > "$BENCH_DIR/plain.yaml"
  turnout_config "$PORT_MIRRORED" "                request_mirror_policies:
                  - cluster: slow
                    timeout: 5s
                    max_concurrent: 10000
                    compare: {body: EXACT}" \
    "admin: {address: \"127.0.0.1:$PORT_ADMIN\"}" > "$BENCH_DIR/mirrored.yaml"

  cat > "$BENCH_DIR/paced.lua" <<LUA
-- Each connection waits PACE_MS between requests; done() prints the figures in microseconds.
function delay()
  return $PACE_MS
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT p50_us=%d p99_us=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
}

# run_wrk PORT SECONDS: prints "p50_us p99_us requests errors".
run_wrk() {
  wrk -t1 -c"$CONNS" -d"$2"s --timeout 5s -s "$BENCH_DIR/paced.lua" "http://127.0.0.1:$1/" |
    awk '$1 == "RESULT" { for (i = 2; i <= 5; i++) { sub(/.*=/, "", $i) } print $2, $3, $4, $5 }'
}

median() {
  sort -n | awk '{ v[NR] = $1 }
    END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

write_configs
start_proc primary nginx -c "$BENCH_DIR/primary-nginx.conf"
wait_port "$PORT_PRIMARY" primary
start_proc slow python3 "$BENCH_HOME/delay_backend.py" --port "$PORT_SLOW" --delay-ms "$DELAY_MS"
wait_port "$PORT_SLOW" slow
start_proc turnout-plain "$TURNOUT" run -c "$BENCH_DIR/plain.yaml" --workers 1
wait_port "$PORT_PLAIN" turnout-plain
start_proc turnout-mirrored "$TURNOUT" run -c "$BENCH_DIR/mirrored.yaml" --workers 1
wait_port "$PORT_MIRRORED" turnout-mirrored

# Warm-up: connections, caches, the mirror's pool.
run_wrk "$PORT_PLAIN" 2 > /dev/null
run_wrk "$PORT_MIRRORED" 2 > /dev/null

declare -A P99 P50 REQUESTS ERRORS
for round in $(seq 1 "$ROUNDS"); do
  for mode in plain mirrored; do
    port=$PORT_PLAIN
    [ "$mode" = mirrored ] && port=$PORT_MIRRORED
    read -r p50 p99 requests errors < <(run_wrk "$port" "$DUR")
    [ -n "${p99:-}" ] || die "wrk gave no result for $mode"
    echo "round $round $mode: p50 ${p50} us, p99 ${p99} us, $requests requests, $errors errors" >&2
    P50[$mode]+="$p50 "
    P99[$mode]+="$p99 "
    REQUESTS[$mode]=$((${REQUESTS[$mode]:-0} + requests))
    ERRORS[$mode]=$((${ERRORS[$mode]:-0} + errors))
  done
done

# Give the last copies time to answer before reading the counters.
sleep $(((DELAY_MS + 999) / 1000 + 1))
stats=$(curl -q -sS --noproxy 127.0.0.1 --max-time 10 "http://127.0.0.1:$PORT_ADMIN/stats")
counter() {
  echo "$stats" | awk -v name="$1" 'index($0, name) == 1 { sum += $NF } END { print sum + 0 }'
}

plain_p99=$(echo "${P99[plain]}" | tr ' ' '\n' | grep . | median)
mirrored_p99=$(echo "${P99[mirrored]}" | tr ' ' '\n' | grep . | median)
plain_p50=$(echo "${P50[plain]}" | tr ' ' '\n' | grep . | median)
mirrored_p50=$(echo "${P50[mirrored]}" | tr ' ' '\n' | grep . | median)

echo
revision=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
echo "Mirroring 100% to a backend ${DELAY_MS} ms slower; $CONNS connections, ${PACE_MS} ms" \
  "between requests each; medians of $ROUNDS x ${DUR} s (turnout $revision)"
echo
echo "| mode | p50 (us) | p99 (us) | requests | errors |"
echo "|---|---|---|---|---|"
echo "| no mirror | $plain_p50 | $plain_p99 | ${REQUESTS[plain]} | ${ERRORS[plain]} |"
echo "| mirror 100% | $mirrored_p50 | $mirrored_p99 | ${REQUESTS[mirrored]} | ${ERRORS[mirrored]} |"
echo
awk -v a="$plain_p99" -v b="$mirrored_p99" \
  'BEGIN { printf "p99 with mirroring / without: %.3f (%+.1f%%)\n", b / a, (b - a) * 100 / a }'
echo "copies: sent $(counter turnout_mirror_sent_total), answered" \
  "$(counter turnout_mirror_answered_total), skipped $(counter turnout_mirror_skipped_total)," \
  "failed $(counter turnout_mirror_failed_total), compared $(counter turnout_mirror_compared_total)"
