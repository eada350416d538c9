#!/usr/bin/env bash
# Brings the whole Bakylau system up on this machine: PostgreSQL and RabbitMQ (started, or
# installed then started), the database roles and schemas, the broker users and their
# permissions, a release build, every service in the background with its logs in .run/logs,
# and waits until each is healthy.
# Running it again restarts the services on a fresh build.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

ensure_postgres
ensure_rabbitmq
ensure_database
ensure_broker_users
ensure_dev_key

say "building (release)"
cargo build --release --locked --bins
# Binaries where cargo put them (CARGO_TARGET_DIR is honoured).
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release"

mkdir -p "$RUN_DIR/logs"
"$REPO/deploy/local/down.sh" --quiet

for svc in "${SERVICES[@]}"; do
  say "starting $svc"
  BAKYLAU_CONFIG_DIR="$REPO/config" TOKIO_WORKER_THREADS="$SERVICE_WORKER_THREADS" \
    nohup "$BIN/bakylau-$svc" \
    >>"$RUN_DIR/logs/$svc.log" 2>&1 &
  echo $! >"$RUN_DIR/$svc.pid"
done

say "waiting for every service to report SERVING"
if ! "$BIN/bakylau" status --wait 60 "${SERVICES[@]/#/--service=}"; then
  echo "a service did not become healthy; see $RUN_DIR/logs/" >&2
  exit 1
fi

cat <<MSG

Bakylau is up. Logs: $RUN_DIR/logs/<service>.log
  CLI:   export PATH="$BIN:\$PATH"
         export BAKYLAU_DEV_SIGNING_KEY="$DEV_SIGNING_KEY"   # the CLI mints tokens with it
         bakylau token mint --role head                     # or: a token by hand
         bakylau appeal submit --kind application --iin 900101300017 --name "Айгерім Сапарова" \\
           --phone +77015550000 --address "Талгар, Абай 1" --district talgar \\
           --text "Прошу отремонтировать дорогу" --officer-name "Registrar" --officer-position "specialist"
         bakylau appeal list
         bakylau appeal show ALM-$(date +%Y)-000001
  gRPC:  intake 127.0.0.1:50051 (health and reflection: grpcurl -plaintext 127.0.0.1:50051 list)
  Stop:  deploy/local/down.sh
MSG
