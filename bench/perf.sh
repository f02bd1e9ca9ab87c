#!/usr/bin/env bash
# CPU profile of the proxies under load, kernel included: perf samples (cpu-clock) of each
# target's processes while wrk runs one of run.sh's cases; prints the kernel and user
# shares and the symbols with the most samples of their own.
#
#   bench/perf.sh                                    small case; turnout, nginx, HAProxy
#   CASE=close TARGETS="turnout haproxy" TOP=30 bench/perf.sh
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
    profile "$target" "${pids[$target]}"
  done
}

main "$@"
