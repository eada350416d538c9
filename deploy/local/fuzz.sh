#!/usr/bin/env bash
# The long form of the hostile-input suite (issue 9). The CI test command runs the same
# targets briefly; this runs each pure target with 1 000 000 generated inputs (one process
# per target, so its peak RSS is its own) and the socket-level test with 13 200 requests per
# RPC (about 10^6 over the 76 RPCs), then prints one table:
# target | inputs | panics | INTERNAL | max RSS | time.
#   ./deploy/local/fuzz.sh                      # 10^6 per target, 13 200 requests per RPC
#   CASES=20000 RPC_CASES=50 ./deploy/local/fuzz.sh   # a quicker look
#   RELEASE=1 JOBS=2 ./deploy/local/fuzz.sh     # optimised build, two targets at a time
# Honours CARGO_TARGET_DIR. A failing target prints its shrunk input and fails the script.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
CASES="${CASES:-1000000}"
RPC_CASES="${RPC_CASES:-13200}"
JOBS="${JOBS:-1}"
OUT="$RUN_DIR/fuzz"
mkdir -p "$OUT"
PROFILE=()
if [ -n "${RELEASE:-}" ]; then PROFILE=(--release); fi

TARGETS=(
  grpc_register_request
  grpc_register_request_near_valid
  grpc_register_request_wire_bytes
  amqp_cloudevents_bytes
  amqp_cloudevents_mutated
  amqp_cloudevents_deep_nesting
  amqp_protobuf_bytes
  amqp_protobuf_submit
  amqp_content_types
)

say "building the hostile-input tests"
cargo test "${PROFILE[@]}" -p bakylau-intake --test hostile --no-run --locked -q
cargo test "${PROFILE[@]}" -p bakylau-testkit --test hostile --no-run --locked -q

# One pure target: its log in $OUT/<target>.log, its exit status in $OUT/<target>.status.
run_target() {
  local t="$1"
  say "$t: $CASES inputs"
  BAKYLAU_FUZZ_CASES="$CASES" cargo test "${PROFILE[@]}" -p bakylau-intake --test hostile --locked -q \
    -- --exact "$t" --nocapture >"$OUT/$t.log" 2>&1
  echo $? >"$OUT/$t.status"
}
export -f run_target say
export CASES OUT
export PROFILE_ARGS="${PROFILE[*]}"
# xargs cannot pass the array: run_target reads PROFILE back from PROFILE_ARGS.
printf '%s\n' "${TARGETS[@]}" \
  | xargs -P "$JOBS" -I{} bash -c 'read -ra PROFILE <<<"$PROFILE_ARGS"; run_target "$1"' _ {}

rows=()
failed=0
for t in "${TARGETS[@]}"; do
  if [ "$(cat "$OUT/$t.status" 2>/dev/null)" = 0 ]; then
    panics=0
  else
    panics="FAILED (see $OUT/$t.log)"
    failed=1
  fi
  line="$(grep '^FUZZ ' "$OUT/$t.log" | tail -n1 || true)"
  name="$(sed -n 's/^FUZZ target=\(.*\) inputs=.*/\1/p' <<<"$line")"
  inputs="$(sed -n 's/.* inputs=\([0-9]*\).*/\1/p' <<<"$line")"
  secs="$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$line")"
  rss="$(sed -n 's/.* max_rss_kib=\([0-9]*\).*/\1/p' <<<"$line")"
  rows+=("| ${name:-$t} | ${inputs:-?} | $panics | 0 (pure: refusal named) | $(( ${rss:-0} / 1024 )) MiB | ${secs:-?} s |")
done

say "every RPC of the five services over real gRPC: $RPC_CASES generated requests each"
if BAKYLAU_FUZZ_RPC_CASES="$RPC_CASES" cargo test "${PROFILE[@]}" -p bakylau-testkit --test hostile --locked -q \
    -- --nocapture --test-threads 1 >"$OUT/rpc.log" 2>&1; then
  rpc_status=0
else
  rpc_status="FAILED (see $OUT/rpc.log)"
  failed=1
fi
rpc_lines="$(grep -c '^FUZZRPC ' "$OUT/rpc.log" || true)"
rpc_calls=$(( rpc_lines * RPC_CASES ))
rpc_bad="$( (grep '^FUZZRPC ' "$OUT/rpc.log" | grep -oE '"(Internal|Unknown)": [0-9]+' || true) | awk '{s+=$2} END {print s+0}')"

echo
echo "| target | inputs | panics | INTERNAL | max RSS | time |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "| gRPC: $rpc_lines RPCs of 5 services, generated requests | $rpc_calls | $rpc_status | $rpc_bad | (whole stack in one process) | |"
echo
echo "Codes per RPC: grep FUZZRPC $OUT/rpc.log"
exit "$failed"
