#!/usr/bin/env bash
# Cost of one proxied request, counted exactly rather than timed, so that other load on
# the machine does not disturb it: user-space instructions (callgrind), or system calls
# by name (strace; TOOL=strace). Neither counts the kernel's own work.
#
#   bench/instr.sh                                  turnout, nginx, HAProxy; small case
#   MODE=hdr20 TARGETS=turnout PROFILE=1 bench/instr.sh
#   TOOL=strace MODE=close bench/instr.sh
#
# Each target runs twice under the tool, serving R and then 2R requests from
# bench/request_loop.py; the difference over R is the cost of one request without the
# start-up and shutdown. MODE is one of run.sh's cases: small, 1k, 64k, close, upload,
# hdr20. PROFILE=1 (callgrind) also prints the functions with the most instructions (self
# and inclusive) from the 2R run; the tools' files stay in BENCH_DIR.
#
# One process per target: turnout --workers 1, nginx with "master_process off;", HAProxy
# with -db. Same configs, backends and fixed loopback ports as bench/run.sh.
set -euo pipefail

source "$(dirname "$0")/lib.sh"

R=${R:-2000}
MODE=${MODE:-small}
TARGETS=${TARGETS:-turnout nginx haproxy}
PROFILE=${PROFILE:-0}
TOOL=${TOOL:-callgrind}

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

# count TARGET REQUESTS: runs TARGET under the tool while it starts, serves REQUESTS
# requests and stops; the tool's file is TOOL-TARGET-MODE-REQUESTS.out. Runs in this
# shell (not in $(...)), so that the EXIT trap knows every pid it started.
count() {
  local target=$1 requests=$2 out
  out=$(tool_file "$1" "$2")
  local wrapper=(valgrind --tool=callgrind --callgrind-out-file="$out")
  if [ "$TOOL" = strace ]; then
    wrapper=(strace -f -c -o "$out")
  fi
  rm -f "$out"
  case "$target" in
    turnout) start_turnout 1 "$BENCH_DIR/turnout.yaml" turnout "$PORT_TURNOUT" "${wrapper[@]}" ;;
    nginx) start_nginx "${wrapper[@]}" ;;
    haproxy) start_haproxy "${wrapper[@]}" ;;
  esac
  local pid=$LAST_PID
  if [ "$TOOL" = strace ]; then
    # Known to the EXIT trap too, which stops the newest pids first.
    STARTED_PIDS+=($(child_pids "$pid" | tr , ' '))
  fi

  python3 "$BENCH_HOME/request_loop.py" "$(mode_port "$target")" "$requests" "$MODE" ||
    die "the request loop against $target failed"
  sleep 0.5

  # strace writes its summary once the process it traces has exited, and a strace that
  # is itself stopped leaves that process running: the traced process is stopped first.
  # (valgrind runs the program in its own process.)
  local traced
  for traced in $(child_pids "$pid" | tr , ' '); do
    stop_pid "$traced"
    forget_pid "$traced"
  done
  stop_pid "$pid"
  forget_pid "$pid"

  [ -s "$out" ] || die "$TOOL wrote no $out (see $BENCH_DIR/$target.log)"
}

tool_file() {
  echo "$BENCH_DIR/$TOOL-$1-$MODE-$2.out"
}

# Instructions in a callgrind file.
instructions() {
  awk '/^summary:/ {s += $2} /^totals:/ {t += $2} END {print (s > 0 ? s : t)}' "$1"
}

# per_request_syscalls ONCE TWICE: system calls per request by name, from strace -c
# summaries of R and 2R requests, largest first.
per_request_syscalls() {
  # A summary line ends with the name; calls is the 4th field whether errors is empty
  # or not.
  awk -v r="$R" '
    /^-|% time|total$/ { next }
    FNR == NR { once[$NF] = $4; next }
    { n = ($4 - once[$NF]) / r; if (n >= 0.01) printf "  %-16s %6.2f\n", $NF, n; sum += n }
    END { printf "  %-16s %6.2f\n", "total", sum }' "$1" "$2" | sort -k2 -g -r
}

# function_costs FILE [--inclusive=yes]: "instructions<TAB>function" for every function
# in a callgrind file (file names and object paths dropped).
function_costs() {
  callgrind_annotate --auto=no --threshold=100 "$@" 2>/dev/null | awk '
    /^ *[0-9,]+ +\([ 0-9.]+%\) +[^ ]/ && !/PROGRAM TOTALS/ {
      count = $1; gsub(/,/, "", count)
      name = $0; sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, "", name)
      sub(/ \[[^]]*\]$/, "", name); sub(/^[^:]*:/, "", name)
      cost[name] += count
    }
    END { for (name in cost) printf "%d\t%s\n", cost[name], name }'
}

# print_profile ONCE TWICE: the functions with the most instructions per request, self and
# inclusive: each function's count in the 2R run minus the R run, over R, so start-up
# (config parsing, dynamic linking) drops out.
print_profile() {
  local once=$1 twice=$2 kind
  for kind in self inclusive; do
    local flag=()
    [ "$kind" = inclusive ] && flag=(--inclusive=yes)
    echo "--- $kind instructions per request, top 25"
    awk -F '\t' -v r="$R" '
      FNR == NR { once[$2] = $1; next }
      { n = ($1 - once[$2]) / r; if (n >= 1) printf "%9.0f  %s\n", n, $2 }' \
      <(function_costs "$once" "${flag[@]}") <(function_costs "$twice" "${flag[@]}") |
      sort -g -r | head -25 | cut -c1-160
  done
}

main() {
  case "$TOOL" in
    callgrind) require_tools valgrind callgrind_annotate ;;
    strace) require_tools strace ;;
    *) die "TOOL is callgrind or strace" ;;
  esac
  require_tools nginx haproxy python3 ss
  [[ "$R" =~ ^[0-9]+$ ]] && [ "$R" -ge 10 ] && [ "$R" -le 100000 ] ||
    die "R must be a count from 10 to 100000"
  check_ports_free "$PORT_BLUE" "$PORT_GREEN" "$PORT_NGINX" "$PORT_HAPROXY" "$PORT_TURNOUT" \
    "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" "$PORT_TURNOUT_HDR20"
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  prepare_run_dir
  start_backends

  local target once twice
  for target in $TARGETS; do
    mode_port "$target" > /dev/null
    count "$target" "$R"
    count "$target" $((2 * R))
    once=$(tool_file "$target" "$R")
    twice=$(tool_file "$target" $((2 * R)))

    if [ "$TOOL" = strace ]; then
      echo "$target mode=$MODE system calls per request:"
      per_request_syscalls "$once" "$twice"
      continue
    fi
    echo "$target mode=$MODE" \
      "instructions_per_request=$((($(instructions "$twice") - $(instructions "$once")) / R))" \
      "(totals $(instructions "$once") for $R requests," \
      "$(instructions "$twice") for $((2 * R)))"
    if [ "$PROFILE" = 1 ]; then
      print_profile "$once" "$twice"
    fi
  done
}

main "$@"
