#!/usr/bin/env bash
# Idle memory: resident memory per idle keep-alive client connection of turnout, nginx and
# HAProxy, each holding N (default 10,000) connections that made one request each.
#
#   bench/idlemem.sh                  all three, N=10000
#   N=2000 TARGETS=turnout bench/idlemem.sh
#
# Same backends, configs and fixed loopback ports as bench/run.sh; the descriptor limit is
# raised to the hard limit, which must leave room for N connections (it is inherited by
# the proxies). nginx is measured on its worker, the others on their one process.
set -euo pipefail

source "$(dirname "$0")/lib.sh"

N=${N:-10000}
TARGETS=${TARGETS:-turnout nginx haproxy}

main() {
  require_tools nginx haproxy ss python3
  check_ports_free "$PORT_BLUE" "$PORT_GREEN" "$PORT_NGINX" "$PORT_HAPROXY" "$PORT_TURNOUT" \
    "$PORT_NGINX_HDR20" "$PORT_HAPROXY_HDR20" "$PORT_TURNOUT_HDR20"
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  ulimit -n "$(ulimit -Hn)"
  [ "$(ulimit -n)" -gt $((N + 200)) ] || die "descriptor limit $(ulimit -n) is too low for N=$N"
  prepare_run_dir
  start_backends

  local target pids port
  for target in $TARGETS; do
    case "$target" in
      turnout)
        start_turnout 1 "$BENCH_DIR/turnout.yaml" turnout "$PORT_TURNOUT"
        pids=$LAST_PID port=$PORT_TURNOUT
        ;;
      nginx)
        start_nginx
        pids=$(child_pids "$LAST_PID") port=$PORT_NGINX
        ;;
      haproxy)
        start_haproxy
        pids=$LAST_PID port=$PORT_HAPROXY
        ;;
      *) die "unknown target $target (known: turnout nginx haproxy)" ;;
    esac
    python3 "$BENCH_HOME/idlemem.py" "$target" "$port" "$pids" "$N"

    # One proxy at a time, so the others' connections do not compete for descriptors.
    stop_pid "$LAST_PID"
    forget_pid "$LAST_PID"
  done
}

main "$@"
