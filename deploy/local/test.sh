#!/usr/bin/env bash
# Runs every test: unit, property, integration and end-to-end, against the real
# PostgreSQL and RabbitMQ on this machine (started, or installed then started, if needed).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
ensure_postgres
ensure_rabbitmq
# The broker-restart and crash tests stop and start RabbitMQ and kill services: test
# binaries run one after another (cargo's default), tests inside one binary in parallel.
cargo test --workspace --locked "$@"
# Kubernetes manifests, compose file, Dockerfile, dashboard and the AsyncAPI contract,
# validated offline (the tools are fetched into .run/ on the first run).
"$REPO/deploy/validate/run.sh"
