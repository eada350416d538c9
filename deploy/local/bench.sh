#!/usr/bin/env bash
# The benchmark: brings the stack up on a fresh release build (up.sh), then measures raw
# Postgres and RabbitMQ limits, pipeline throughput, latency, memory and start-up, and
# prints one table. Extra arguments go to bakylau-bench (see --help), e.g. --duration 120.
# Honours CARGO_TARGET_DIR (binaries in $CARGO_TARGET_DIR/release).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
# The load comes from one client: lift intake's per-caller registration limit for it.
export BAKYLAU_INTAKE__INTAKE__REGISTER_RATE__PER_SECOND="${BAKYLAU_INTAKE__INTAKE__REGISTER_RATE__PER_SECOND:-0}"
"$REPO/deploy/local/up.sh" >/dev/null
say "benchmarking (a few minutes; progress on stderr)"
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release"
# The benchmark restarts each service to time its start-up: with up.sh's runtime threads.
export TOKIO_WORKER_THREADS="$SERVICE_WORKER_THREADS"
exec "$BIN/bakylau-bench" --repo "$REPO" --bin-dir "$BIN" "$@"
