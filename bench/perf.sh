#!/usr/bin/env bash
# CPU profile of the proxies under load, kernel included: perf samples (cpu-clock) of each
# target's processes while wrk runs one of run.sh's cases; prints the kernel and user
# shares and the symbols with the most samples of their own.
#
#   bench/perf.sh                                    small case; turnout, nginx, HAProxy
#   CASE=close TARGETS="turnout haproxy" TOP=30 bench/perf.sh
#   COUNT=1 CASE=1k bench/perf.sh                    system calls per request under load
#
# COUNT=1 counts instead of sampling: system calls by name (perf's syscall tracepoints) and
# context switches of each target's processes per request served, while wrk loads it. Unlike
# TOOL=strace bench/instr.sh, which sends one request at a time, this shows how many events
# each epoll_wait call gathers when 64 connections are busy.
#
# Same processes, configs and fixed loopback ports as bench/run.sh. DUR (default 5) is the
# sampling time; wrk runs one second longer on each side. The perf files stay in
# BENCH_DIR as perf-TARGET-CASE.data.
set -euo pipefail

source "$(dirname "$0")/lib.sh"

CASE=${CASE:-small}
TARGETS=${TARGETS:-turnout nginx haproxy}
DUR=${DUR:-5}
TOP=${TOP:-25}

# profile TARGET PIDS: samples PIDS while wrk loads TARGET, then prints the summary.
profile() {
  local target=$1 pids=$2 port data=$BENCH_DIR/perf-$1-$CASE.data
  port=$(target_port "$target")
  local url=http://127.0.0.1:$port$CASE_PATH
  wrk -t1 -c"$CASE_CONNS" -d1s "${CASE_ARGS[@]}" "$url" > /dev/null 2>&1 || true

  start_proc "wrk-$target" wrk -t1 -c"$CASE_CONNS" -d$((DUR + 2))s "${CASE_ARGS[@]}" "$url"
  local wrk_pid=$LAST_PID
  sleep 1
  perf record -q -e cpu-clock -p "$pids" -o "$data" -- sleep "$DUR" > /dev/null 2>&1
  stop_pid "$wrk_pid"
  forget_pid "$wrk_pid"

  local report kernel user
  report=$(perf report -i "$data" --stdio --no-children --sort sym 2>/dev/null | grep '%')
  kernel=$(echo "$report" | awk '/\[k\]/ {s += $1} END {printf "%.1f", s}')
  user=$(echo "$report" | awk '/\[\.\]/ {s += $1} END {printf "%.1f", s}')
  echo "$target case=$CASE: kernel $kernel% of the samples, user $user%"
  echo "$report" | head -"$TOP" | cut -c1-150
}

# The system calls counted by COUNT=1: the I/O calls the three proxies use, and epoll's.
COUNTED_CALLS="read write readv writev recvfrom sendto epoll_wait epoll_ctl accept4"

# count_calls TARGET PIDS: system calls and context switches of PIDS per request, counted
# while wrk loads TARGET for DUR seconds; prints the nonzero ones.
count_calls() {
  local target=$1 pids=$2 port events="context-switches" call out=$BENCH_DIR/count-$1-$CASE
  port=$(target_port "$target")
  local url=http://127.0.0.1:$port$CASE_PATH
  for call in $COUNTED_CALLS; do
    events+=",syscalls:sys_enter_$call"
  done
  wrk -t1 -c"$CASE_CONNS" -d1s "${CASE_ARGS[@]}" "$url" > /dev/null 2>&1 || true

  # perf counts PIDS for exactly as long as wrk runs, so wrk's request count is the divisor.
  perf stat -x, -e "$events" -p "$pids" -o "$out.stat" -- \
    wrk -t1 -c"$CASE_CONNS" -d"${DUR}s" "${CASE_ARGS[@]}" "$url" > "$out.wrk" 2>&1 ||
    die "perf stat failed for $target (see $out.stat)"
  local requests
  requests=$(awk '/requests in/ {print $1}' "$out.wrk")
  echo "$target case=$CASE: $requests requests; per request:"
  awk -F, -v n="${requests:-0}" 'n > 0 && $1 ~ /^[0-9]+$/ && $1 > 0 {
    name = $3; sub(/^syscalls:sys_enter_/, "", name)
    printf "  %-18s %8.3f\n", name, $1 / n
  }' "$out.stat"
}

main() {
  require_tools perf wrk nginx haproxy ss
  [[ "$DUR" =~ ^[0-9]+$ ]] && [ "$DUR" -ge 1 ] && [ "$DUR" -le 120 ] ||
    die "DUR must be whole seconds from 1 to 120"
  check_ports_free "$PORT_BLUE" "$PORT_GREEN" "$PORT_NGINX" "$PORT_HAPROXY" "$PORT_TURNOUT" \
    "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" "$PORT_TURNOUT_HDR20"
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  ulimit -n "$(ulimit -Hn)"
  prepare_run_dir
  case_spec "$CASE"
  [ "$CASE" != scale ] || die "CASE=scale is not profiled; profile small"

  declare -A pids
  start_backends
  pids[direct]="$LAST_PID,$(child_pids "$LAST_PID")"
  start_nginx
  pids[nginx]="$LAST_PID,$(child_pids "$LAST_PID")"
  start_haproxy
  pids[haproxy]=$LAST_PID
  start_turnout 1 "$BENCH_DIR/turnout.yaml" turnout "$PORT_TURNOUT"
  pids[turnout]=$LAST_PID

  local target
  for target in $TARGETS; do
    [ -n "${pids[$target]:-}" ] ||
      die "unknown target $target (known: direct nginx haproxy turnout)"
    if [ "${COUNT:-0}" = 1 ]; then
      count_calls "$target" "${pids[$target]}"
    else
      profile "$target" "${pids[$target]}"
    fi
  done
}

main "$@"
