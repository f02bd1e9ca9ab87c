#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: free of the noise of a shared
# machine, but user space only (system calls and the kernel's TCP work are not counted).
#
#   bench/instr.sh                                  turnout, nginx, HAProxy; small case
#   MODE=hdr20 TARGETS=turnout PROFILE=1 bench/instr.sh
#
# Each target runs twice under callgrind, serving R and then 2R requests from
# bench/request_loop.py; the difference over R is the cost of one request without the
# start-up and shutdown. MODE is one of run.sh's cases: small, 1k, 64k, close, upload,
# hdr20. PROFILE=1 also prints the functions with the most instructions (self and
# inclusive) from the 2R run; the full callgrind files stay in BENCH_DIR.
#
# One process per target: turnout --workers 1, nginx with "master_process off;", HAProxy
# with -db. Same configs, backends and fixed loopback ports as bench/run.sh.
set -euo pipefail

source "$(dirname "$0")/lib.sh"

R=${R:-2000}
MODE=${MODE:-small}
TARGETS=${TARGETS:-turnout nginx haproxy}
PROFILE=${PROFILE:-0}

# valgrind slows start-up and shutdown; callgrind writes its file only at exit.
WAIT_SECONDS=60
STOP_SECONDS=60
NGINX_FIRST_LINE="master_process off;"

mode_port() {
  case "$1:$MODE" in
    turnout:hdr20) echo "$PORT_TURNOUT_HDR20" ;;
    turnout:*) echo "$PORT_TURNOUT" ;;
    nginx:hdr20) echo "$PORT_NGINX_HDR20" ;;
    nginx:*) echo "$PORT_NGINX" ;;
    haproxy:hdr20) echo "$PORT_HAPROXY_HDR20" ;;
    haproxy:*) echo "$PORT_HAPROXY" ;;
    *) die "unknown target $1 (known: turnout nginx haproxy)" ;;
  esac
}

# count TARGET REQUESTS: sets COUNT to the instructions callgrind counted in TARGET while
# it started, served REQUESTS requests and stopped. The file stays as cg-TARGET-N.out.
# Runs in this shell (not in $(...)), so that the EXIT trap knows every pid it started.
count() {
  local target=$1 requests=$2 out=$BENCH_DIR/cg-$1-$2.out
  local wrapper=(valgrind --tool=callgrind --callgrind-out-file="$out")
  rm -f "$out"
  case "$target" in
    turnout) start_turnout 1 "$BENCH_DIR/turnout.yaml" turnout "$PORT_TURNOUT" "${wrapper[@]}" ;;
    nginx) start_nginx "${wrapper[@]}" ;;
    haproxy) start_haproxy "${wrapper[@]}" ;;
  esac
  local pid=$LAST_PID

  python3 "$BENCH_HOME/request_loop.py" "$(mode_port "$target")" "$requests" "$MODE" ||
    die "the request loop against $target failed"
  sleep 0.5
  stop_pid "$pid"
  forget_pid "$pid"

  [ -s "$out" ] || die "callgrind wrote no $out (see $BENCH_DIR/$target.log)"
  COUNT=$(awk '/^summary:/ {s += $2} /^totals:/ {t += $2} END {print (s > 0 ? s : t)}' "$out")
}

# Top functions of a callgrind file, by self cost and by inclusive cost.
print_profile() {
  local out=$1
  echo "--- self (exclusive) instructions, top 25"
  callgrind_annotate "$out" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '1,27p'
  echo "--- inclusive instructions, top 25"
  callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '1,27p'
}

main() {
  require_tools nginx haproxy valgrind callgrind_annotate python3 ss
  [[ "$R" =~ ^[0-9]+$ ]] && [ "$R" -ge 10 ] && [ "$R" -le 100000 ] ||
    die "R must be a count from 10 to 100000"
  check_ports_free "$PORT_BLUE" "$PORT_GREEN" "$PORT_NGINX" "$PORT_HAPROXY" "$PORT_TURNOUT" \
    "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" "$PORT_TURNOUT_HDR20"
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  prepare_run_dir
  start_backends

  local target once twice
  COUNT=0
  for target in $TARGETS; do
    mode_port "$target" > /dev/null
    count "$target" "$R"
    once=$COUNT
    count "$target" $((2 * R))
    twice=$COUNT
    echo "$target mode=$MODE instructions_per_request=$(((twice - once) / R))" \
      "(totals $once for $R requests, $twice for $((2 * R)))"
    if [ "$PROFILE" = 1 ]; then
      print_profile "$BENCH_DIR/cg-$target-$((2 * R)).out"
    fi
  done
}

main "$@"
