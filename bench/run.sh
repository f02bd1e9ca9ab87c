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
#   upload   64 keep-alive connections, POST with a 1 MiB body each (the backend reads
#            the whole body before it answers)
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
# per run, default 5), ROUNDS (each case runs its targets in turn this many times and
# reports medians; default 1), CASES, CONNS, BENCH_DIR (run folder, default
# /tmp/turnout-bench).
set -euo pipefail

source "$(dirname "$0")/lib.sh"

DUR=${DUR:-5}
ROUNDS=${ROUNDS:-1}
CASES=${CASES:-small 1k 64k conn1000 close upload hdr20 scale}
[[ "$DUR" =~ ^[0-9]+$ ]] && [ "$DUR" -ge 1 ] && [ "$DUR" -le 600 ] ||
  die "DUR must be whole seconds from 1 to 600"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] ||
  die "ROUNDS must be a count from 1 to 20"

# Converts a wrk latency ("812.00us", "1.25ms", "1.02s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) { n /= 1000 } else if (v ~ /ms$/) { } else if (v ~ /m$/) { n *= 60000 }
    else if (v ~ /s$/) { n *= 1000 }
    printf "%.3f", n
  }'
}

# Sums the CPU ticks of the given pids (all their threads): "USER+SYSTEM SYSTEM".
cpu_ticks() {
  local pid total=0 system=0 fields
  for pid in "$@"; do
    # utime and stime are the 12th and 13th fields after the ")" ending the command name.
    fields=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
    system=$((system + $(echo "$fields" | awk '{print $13}')))
  done
  echo "$total $system"
}

# ticks_per_request TICKS REQUESTS: microseconds of CPU per request, one decimal.
ticks_per_request() {
  awk -v t="$1" -v n="${2:-0}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f", (n > 0) ? t * 1e6 / hz / n : 0 }'
}

# measure TARGET: one wrk run against the target for the current case; sets RPS, P50,
# P99 (ms), ERRORS (socket errors plus non-2xx/3xx answers), CPU_US (CPU time the
# target's processes spent per request, in microseconds: a figure that other load on the
# machine disturbs far less than req/s) and SYS_US (the kernel's part of it, spent in the
# target's system calls and the network stack work they do). The raw wrk output is kept.
measure() {
  local target=$1 port out before after requests
  port=$(target_port "$target")
  read -r -a before <<< "$(cpu_ticks ${TARGET_PIDS[$target]})"
  out=$(wrk -t1 -c"$CASE_CONNS" -d"${DUR}s" --timeout 5s --latency "${CASE_ARGS[@]}" \
    "http://127.0.0.1:$port$CASE_PATH" 2>&1) || true
  read -r -a after <<< "$(cpu_ticks ${TARGET_PIDS[$target]})"
  echo "$out" >> "$BENCH_DIR/wrk-$CURRENT_CASE-$target.txt"

  RPS=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  P50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  P99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  ERRORS=$(echo "$out" | awk '
    /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx/ { n += $5 }
    END { print n + 0 }')
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  CPU_US=$(ticks_per_request $((after[0] - before[0])) "$requests")
  SYS_US=$(ticks_per_request $((after[1] - before[1])) "$requests")
  RPS=${RPS:-0}
}

# The median of the numbers given as arguments; for an even count, the mean of the two
# middle ones (taking the lower one would report the best p99 and the worst req/s), with
# as many decimals as the figures have.
median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
    if (NR % 2) { print v[(NR + 1) / 2]; exit }
    low = v[NR / 2]
    decimals = index(low, ".") ? length(low) - index(low, ".") : 0
    printf "%." decimals "f\n", (low + v[NR / 2 + 1]) / 2
  }'
}

ROWS=()

# add_row CASE TARGET RPS P50 P99 ERRORS CPU_US SYS_US REFERENCE: one table line. The
# ratios put the reference's figures (REF_RPS, REF_P99, REF_CPU) over this row's; "-" on the
# reference's own row.
add_row() {
  local ratios
  ratios=$(awk -v r="$3" -v p="$5" -v c="$7" -v rr="$REF_RPS" -v rp="$REF_P99" \
    -v rc="$REF_CPU" -v self="$2" -v ref="$9" 'BEGIN {
    if (self == ref) { print "- | - | -"; exit }
    a = (r > 0) ? sprintf("%.2f", rr / r) : "n/a"
    b = (p > 0) ? sprintf("%.2f", rp / p) : "n/a"
    d = (c > 0) ? sprintf("%.2f", rc / c) : "n/a"
    print a " | " b " | " d
  }')
  ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $ratios |")
}

# run_case NAME REFERENCE TARGET...: measures every target in turn, ROUNDS times over, and
# adds one row per target with the median of each figure (errors: the sum) and ratios
# against the reference target.
run_case() {
  local name=$1 ref=$2 target round
  shift 2
  CURRENT_CASE=$name
  case_spec "$name"
  declare -A rps p50 p99 errors cpu sys
  for target in "$@"; do
    rm -f "$BENCH_DIR/wrk-$name-$target.txt"
  done

  # Each round starts one target further along the list, so that a drift of the machine
  # during a case (another job starting, the CPU warming) does not always land on the same
  # target.
  local targets=("$@") order i
  for round in $(seq 1 "$ROUNDS"); do
    order=()
    for i in "${!targets[@]}"; do
      order+=("${targets[(i + round - 1) % ${#targets[@]}]}")
    done
    for target in "${order[@]}"; do
      echo "bench: $name -> $target (${CASE_CONNS} connections, ${DUR}s, round $round)" >&2
      measure "$target"
      rps[$target]+="$RPS " p50[$target]+="$P50 " p99[$target]+="$P99 "
      cpu[$target]+="$CPU_US " sys[$target]+="$SYS_US "
      errors[$target]=$((${errors[$target]:-0} + ERRORS))
    done
  done

  for target in "$@"; do
    rps[$target]=$(median ${rps[$target]}) p50[$target]=$(median ${p50[$target]})
    p99[$target]=$(median ${p99[$target]}) cpu[$target]=$(median ${cpu[$target]})
    sys[$target]=$(median ${sys[$target]})
  done
  REF_RPS=${rps[$ref]} REF_P99=${p99[$ref]} REF_CPU=${cpu[$ref]}
  for target in "$@"; do
    add_row "$name" "$target" "${rps[$target]}" "${p50[$target]}" "${p99[$target]}" \
      "${errors[$target]}" "${cpu[$target]}" "${sys[$target]}" "$ref"
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
  echo "| case | target | req/s | p50 ms | p99 ms | errors | CPU µs/req | of it kernel |" \
    "turnout/this req/s | turnout/this p99 | turnout/this CPU |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
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

  # The processes whose CPU time each target is charged with: for direct, the backend.
  declare -gA TARGET_PIDS
  start_backends
  TARGET_PIDS[direct]="$LAST_PID $(child_pids "$LAST_PID" | tr , ' ')"
  start_nginx
  TARGET_PIDS[nginx]="$LAST_PID $(child_pids "$LAST_PID" | tr , ' ')"
  start_haproxy
  TARGET_PIDS[haproxy]=$LAST_PID
  start_turnout 1 "$BENCH_DIR/turnout.yaml" turnout "$PORT_TURNOUT"
  TARGET_PIDS[turnout]=$LAST_PID TARGET_PIDS[turnout-1w]=$LAST_PID
  local warm_ports=("$PORT_BLUE" "$PORT_NGINX" "$PORT_HAPROXY" "$PORT_TURNOUT"
    "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" "$PORT_TURNOUT_HDR20")
  if [[ " $CASES " == *" scale "* ]]; then
    start_turnout 2 "$BENCH_DIR/turnout2.yaml" turnout2 "$PORT_TURNOUT2"
    TARGET_PIDS[turnout-2w]=$LAST_PID
    warm_ports+=("$PORT_TURNOUT2")
  fi
  warm_up "${warm_ports[@]}"

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
    "DUR=${DUR}s x ROUNDS=$ROUNDS (medians), $(nproc) cores," \
    "$(date -u '+%Y-%m-%d %H:%M UTC'). Ratios: turnout's figure over this row's" \
    "(scale: turnout-2w's); CPU µs/req: CPU time of the target's processes per request," \
    "of it kernel: the system part of that time."
  print_table | tee "$BENCH_DIR/results.md"
}

main "$@"
