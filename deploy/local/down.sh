#!/usr/bin/env bash
# Stops the services started by up.sh (PostgreSQL and RabbitMQ keep running).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
quiet=${1:-}
for svc in "${SERVICES[@]}"; do
  pidfile="$RUN_DIR/$svc.pid"
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    [ "$quiet" = --quiet ] || say "stopping $svc"
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
