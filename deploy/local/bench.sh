#!/usr/bin/env bash
# The benchmark: brings the stack up on a fresh release build (up.sh), then measures raw
# Postgres and RabbitMQ limits, pipeline throughput, latency, memory and start-up, and
# prints one table. Extra arguments go to bakylau-bench (see --help), e.g. --duration 120.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
"$REPO/deploy/local/up.sh" >/dev/null
say "benchmarking (a few minutes; progress on stderr)"
exec "$REPO/target/release/bakylau-bench" --repo "$REPO" "$@"
