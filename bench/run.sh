#!/usr/bin/env bash
# Load benchmark: turnout beside nginx and HAProxy, all splitting 90/10 over the same two
# backends, with the backend itself as the ceiling; prints one markdown table.
#
#   bench/run.sh                      every case, 5 s each
#   DUR=10 CASES="small hdr20" bench/run.sh
#
# Cases (wrk -t1 each; CONNS overrides the connection count of every case):
#   small    64 keep-alive connections, 5-byte responses
#   1k       64 keep-alive connections, 1 KiB responses
#   64k      64 keep-alive connections, 64 KiB responses
#   conn1000 1,000 keep-alive connections, 5-byte responses
#   close    64 connections, "Connection: close": a new connection per request
#   upload   64 keep-alive connections, POST with a 1 MiB body each
#   hdr20    64 keep-alive connections, 6 browser headers; 20 header matchers that do not
#            match are tried before the split (turnout: routes; nginx: `if`s; HAProxy:
#            use_backend rules)
#   scale    turnout alone, the small case with --workers 1 and with --workers 2
#
# Fairness: the machine has 2 cores shared by wrk, the proxy and the backend, so every
# proxy gets one worker (turnout --workers 1, nginx worker_processes 1, HAProxy nbthread 1)
# and the backend nginx one worker. Every process listens on 127.0.0.1 only, on fixed
# ports 21001-21093 that must be free. Everything started is stopped on exit.
#
# Env: BUILD (build folder, default build), TURNOUT (binary), TURNOUT_REV (the commit it
# was built from, for the table's caption; default: this checkout's HEAD), DUR (seconds
# per run, default 5), CASES, CONNS, BENCH_DIR (run folder, default /tmp/turnout-bench).
set -euo pipefail

source "$(dirname "$0")/lib.sh"

DUR=${DUR:-5}
CASES=${CASES:-small 1k 64k conn1000 close upload hdr20 scale}
[[ "$DUR" =~ ^[0-9]+$ ]] && [ "$DUR" -ge 1 ] && [ "$DUR" -le 600 ] ||
  die "DUR must be whole seconds from 1 to 600"

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
    upload) CASE_ARGS=(-s "$BENCH_DIR/upload.lua") ;;
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

# Converts a wrk latency ("812.00us", "1.25ms", "1.02s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) { n /= 1000 } else if (v ~ /ms$/) { } else if (v ~ /m$/) { n *= 60000 }
    else if (v ~ /s$/) { n *= 1000 }
    printf "%.3f", n
  }'
}

# measure TARGET: one wrk run against the target for the current case; sets RPS, P50,
# P99 (ms) and ERRORS (socket errors plus non-2xx/3xx answers). The raw output is kept.
measure() {
  local target=$1 port out
  port=$(target_port "$target")
  out=$(wrk -t1 -c"$CASE_CONNS" -d"${DUR}s" --timeout 5s --latency "${CASE_ARGS[@]}" \
    "http://127.0.0.1:$port$CASE_PATH" 2>&1) || true
  echo "$out" > "$BENCH_DIR/wrk-$CURRENT_CASE-$target.txt"

  RPS=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  P50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  P99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  ERRORS=$(echo "$out" | awk '
    /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx/ { n += $5 }
    END { print n + 0 }')
  RPS=${RPS:-0}
}

ROWS=()

# add_row CASE TARGET RPS P50 P99 ERRORS REF_RPS REF_P99: one table line; the ratios
# compare the reference (turnout) with this row, "-" on the reference's own row.
add_row() {
  local ratios
  ratios=$(awk -v r="$3" -v p="$5" -v rr="$7" -v rp="$8" -v self="$2" -v ref="$9" 'BEGIN {
    if (self == ref) { print "- | -"; exit }
    a = (r > 0) ? sprintf("%.2f", rr / r) : "n/a"
    b = (p > 0) ? sprintf("%.2f", rp / p) : "n/a"
    print a " | " b
  }')
  ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 | $ratios |")
}

# run_case NAME REFERENCE TARGET...: measures every target in order and adds their rows,
# with ratios against the reference target.
run_case() {
  local name=$1 ref=$2 target
  shift 2
  CURRENT_CASE=$name
  case_spec "$name"
  declare -A rps p50 p99 errors
  for target in "$@"; do
    echo "bench: $name -> $target (${CASE_CONNS} connections, ${DUR}s)" >&2
    measure "$target"
    rps[$target]=$RPS p50[$target]=$P50 p99[$target]=$P99 errors[$target]=$ERRORS
  done
  for target in "$@"; do
    add_row "$name" "$target" "${rps[$target]}" "${p50[$target]}" "${p99[$target]}" \
      "${errors[$target]}" "${rps[$ref]}" "${p99[$ref]}" "$ref"
  done
}

# Each target gets one second of load first, so that upstream keep-alive pools are full
# and lazy allocations are done before anything is measured.
warm_up() {
  local port
  for port in "$@"; do
    wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" > /dev/null 2>&1 || true
  done
}

print_table() {
  echo "| case | target | req/s | p50 ms | p99 ms | errors | turnout/this req/s |" \
    "turnout/this p99 |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
}

main() {
  require_tools nginx haproxy wrk ss
  check_ports_free "$PORT_BLUE" "$PORT_GREEN" "$PORT_NGINX" "$PORT_HAPROXY" \
    "$PORT_TURNOUT" "$PORT_TURNOUT2" "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" \
    "$PORT_TURNOUT_HDR20" "$PORT_TURNOUT2_HDR20"
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  ulimit -n "$(ulimit -Hn)"
  prepare_run_dir

  start_backends
  start_nginx
  start_haproxy
  start_turnout 1 "$BENCH_DIR/turnout.yaml" turnout "$PORT_TURNOUT"
  if [[ " $CASES " == *" scale "* ]]; then
    start_turnout 2 "$BENCH_DIR/turnout2.yaml" turnout2 "$PORT_TURNOUT2"
  fi
  warm_up "$PORT_BLUE" "$PORT_NGINX" "$PORT_HAPROXY" "$PORT_TURNOUT" \
    "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" "$PORT_TURNOUT_HDR20"

  local name
  for name in $CASES; do
    if [ "$name" = scale ]; then
      run_case scale turnout-2w turnout-1w turnout-2w
    else
      run_case "$name" turnout direct nginx haproxy turnout
    fi
  done

  echo
  local rev=${TURNOUT_REV:-$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')}
  echo "turnout $rev ($TURNOUT)," \
    "DUR=${DUR}s, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')." \
    "Ratios: turnout's req/s and p99 over this row's (scale: turnout-2w's)."
  print_table | tee "$BENCH_DIR/results.md"
}

main "$@"
