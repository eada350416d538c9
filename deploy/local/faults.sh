#!/usr/bin/env bash
# Faults under load, long form: the suite of tests/tests/faults.rs on a release build, with
# a higher rate, longer phases and two replicas of every service from the start. It runs
# its own PostgreSQL cluster and RabbitMQ node (never the shared ones) and prints the table.
# Knobs (environment, defaults below): BAKYLAU_FAULTS_RATE appeals/s, BAKYLAU_FAULTS_PHASE_SECS
# load per fault, BAKYLAU_FAULTS_OUTAGE_SECS how long a server or service stays down,
# BAKYLAU_FAULTS_REPLICAS replicas of each service. BAKYLAU_FAULTS_TABLE=<file> keeps the table.
# BAKYLAU_FAULTS_DEBUG=1 uses the debug build (no release build to wait for).
# Honours CARGO_TARGET_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
# 20/s: on a 2-core machine holding Postgres, RabbitMQ and two replicas of every service,
# 30/s left a backlog after a full RabbitMQ restart that took over the suite's 90 s to drain.
export BAKYLAU_FAULTS_RATE="${BAKYLAU_FAULTS_RATE:-20}"
export BAKYLAU_FAULTS_PHASE_SECS="${BAKYLAU_FAULTS_PHASE_SECS:-15}"
export BAKYLAU_FAULTS_OUTAGE_SECS="${BAKYLAU_FAULTS_OUTAGE_SECS:-5}"
export BAKYLAU_FAULTS_REPLICAS="${BAKYLAU_FAULTS_REPLICAS:-2}"
PROFILE=(--release)
[ "${BAKYLAU_FAULTS_DEBUG:-0}" = 1 ] && PROFILE=()
say "building the services and the suite (${PROFILE[*]:-debug})"
# The suite starts the services from the binaries next to it in the target folder.
cargo build "${PROFILE[@]}" --locked --bins \
  -p bakylau-intake -p bakylau-routing -p bakylau-control -p bakylau-reception -p bakylau-reporting
say "faults under load: ${BAKYLAU_FAULTS_RATE}/s, ${BAKYLAU_FAULTS_PHASE_SECS} s per fault, ${BAKYLAU_FAULTS_REPLICAS} replicas"
exec cargo test "${PROFILE[@]}" --locked -p bakylau-testkit --test faults -- --nocapture
