# Shared by up.sh, down.sh and test.sh: make sure PostgreSQL and RabbitMQ run on
# localhost, starting them if stopped and installing them from the OS packages if absent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="$REPO/.run"
SERVICES=(intake routing control reception reporting)
# Runtime threads per service. Here the five services, PostgreSQL and RabbitMQ share the
# machine's cores: one tokio worker each spends less on waking and switching threads than
# one per core (measured with the benchmark on 2 cores: 139 → 141–156 appeals/s). Heavy work
# (clustering, PDF, PNG) runs on tokio's blocking pool, not on the worker. Set
# TOKIO_WORKER_THREADS to override. Unset (as in Kubernetes), tokio takes one per core the
# process may use: a pod's CPU limit where it has one.
SERVICE_WORKER_THREADS="${TOKIO_WORKER_THREADS:-1}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  say "installing $* from the OS packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if port_open 5432 && pg_isready -q -h 127.0.0.1 2>/dev/null; then return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
  pg_isready -q -h 127.0.0.1 || { echo "PostgreSQL did not start" >&2; exit 1; }
  # Local development and tests connect over loopback without a password.
  if ! psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
    local hba
    hba="$(as_root -u postgres psql -tAc 'SHOW hba_file' 2>/dev/null || echo "/etc/postgresql/$version/main/pg_hba.conf")"
    say "allowing trust authentication on loopback (local development only)"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    as_root sed -i -E 's/^(local\s+all\s+(postgres|all)\s+)\S+/\1trust/' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
}

ensure_rabbitmq() {
  if port_open 5672 && rabbitmqctl -q status >/dev/null 2>&1; then return; fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install rabbitmq-server
  fi
  say "starting RabbitMQ"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  as_root rabbitmqctl -q await_startup --timeout 120 >/dev/null
  for _ in $(seq 1 60); do port_open 5672 && break; sleep 0.5; done
  port_open 5672 || { echo "RabbitMQ did not start" >&2; exit 1; }
}

# One database, one schema and one login role per service: a service cannot read
# another's tables.
ensure_database() {
  # The services update roll-up, counter and outbox rows all day; without autovacuum their
  # dead versions pile up and every update gets slower (seen: 276 000 dead versions of 146
  # roll-up rows after one benchmark, Postgres burning a core). Some machines ship it off.
  if [ "$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW autovacuum')" != "on" ]; then
    say "turning PostgreSQL autovacuum on (it was off)"
    psql -h 127.0.0.1 -U postgres -qtA -c "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
  fi
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bakylau'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE bakylau"
  for svc in intake routing control reception reporting; do
    psql -h 127.0.0.1 -U postgres -d bakylau -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$svc') THEN CREATE ROLE $svc LOGIN; END IF;
END \$\$;
CREATE SCHEMA IF NOT EXISTS $svc AUTHORIZATION $svc;
REVOKE ALL ON SCHEMA $svc FROM PUBLIC;
SQL
  done
}

# One broker user per service, allowed only what the service does: the same permissions as
# deploy/k8s/base/rabbitmq/users.yaml gives them in Kubernetes, the regexes character for
# character (tests/tests/least_privilege.rs checks that they match, runs the services under
# them and checks the refusals). Each password is random, kept in .run/broker-<service>.password
# (config/<service>.toml, broker.password_file). `guest` stays for the operator's tools (the CLI's
# `inbound send|watch`, `bakylau load`, the benchmark), which play the systems outside.
broker_user() { # user
  local file="$RUN_DIR/broker-$1.password"
  if [ ! -s "$file" ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
  fi
  if as_root rabbitmqctl -q list_users | cut -f1 | grep -qx "$1"; then
    as_root rabbitmqctl -q change_password "$1" "$(cat "$file")" >/dev/null
  else
    as_root rabbitmqctl -q add_user "$1" "$(cat "$file")" >/dev/null
  fi
}
broker_permissions() { # user configure write read
  as_root rabbitmqctl -q set_permissions -p / "$1" "$2" "$3" "$4" >/dev/null
}
broker_topic_permissions() { # user exchange write read
  as_root rabbitmqctl -q set_topic_permissions -p / "$1" "$2" "$3" "$4" >/dev/null
}

ensure_broker_users() {
  mkdir -p "$RUN_DIR"
  say "broker users and permissions (one per service, as in deploy/k8s/base/rabbitmq/users.yaml)"
  for svc in "${SERVICES[@]}"; do broker_user "$svc"; done
  broker_permissions intake '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|intake\..*)$' '^(bakylau\.(events|outbound|dlx|unrouted)|amq\.default|intake\..*)$' '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|intake\..*)$'
  broker_topic_permissions intake bakylau.events '^appeal\.(registered|declined)$' '^appeal\.(routed|redirected|assigned|extended|closed)$'
  broker_topic_permissions intake bakylau.outbound '^[a-z0-9_-]+\.appeal\.(routed|redirected|assigned|extended|closed)$' '^$'
  broker_permissions routing '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|routing\..*)$' '^(bakylau\.(events|dlx|unrouted)|amq\.default|routing\..*)$' '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|routing\..*)$'
  broker_topic_permissions routing bakylau.events '^appeal\.(routed|redirected|needs_manual_routing)$' '^appeal\.registered$'
  broker_permissions control '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|control\..*)$' '^(bakylau\.(events|dlx|unrouted)|amq\.default|control\..*)$' '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|control\..*)$'
  broker_topic_permissions control bakylau.events '^(appeal\.(assigned|extended|answer_submitted|returned_for_rework|closed|overdue|deadline_approaching)|applicant\.notified|instruction\.(issued|progressed|completed|overdue))$' '^appeal\.(registered|routed|redirected)$'
  broker_permissions reception '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|reception\..*)$' '^(bakylau\.(events|dlx|unrouted)|amq\.default|reception\..*)$' '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|reception\..*)$'
  broker_topic_permissions reception bakylau.events '^reception\.(booked|cancelled|rescheduled|checked_in|no_show|held|reminder_due)$' '^appeal\.closed$'
  broker_permissions reporting '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|reporting\..*)$' '^(bakylau\.(events|dlx|unrouted)|amq\.default|reporting\..*)$' '^(bakylau\.(events|inbound|outbound|dlx|unrouted)|reporting\..*)$'
  broker_topic_permissions reporting bakylau.events '^problem\.spike_detected$' '^#$'
}

# The local identity provider: an ES256 dev key and its JWKS in .run/, which the services
# trust (config/<service>.toml, [grpc.auth]) and the CLI, `bakylau load` and the benchmark
# sign their tokens with. Never a production key.
DEV_SIGNING_KEY="$RUN_DIR/dev-signing-key.pem"
DEV_JWKS="$RUN_DIR/dev-jwks.json"
export BAKYLAU_DEV_SIGNING_KEY="$DEV_SIGNING_KEY"
export BAKYLAU_DEV_ISSUER="bakylau-local"
export BAKYLAU_DEV_KEY_ID="bakylau-local-1"

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

ensure_dev_key() {
  mkdir -p "$RUN_DIR"
  if [ -s "$DEV_SIGNING_KEY" ] && [ -s "$DEV_JWKS" ]; then return; fi
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  say "creating the local dev signing key (.run/dev-signing-key.pem)"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$DEV_SIGNING_KEY.tmp" 2>/dev/null && \
    openssl pkcs8 -topk8 -nocrypt -in "$DEV_SIGNING_KEY.tmp" -out "$DEV_SIGNING_KEY")
  rm -f "$DEV_SIGNING_KEY.tmp"
  # The uncompressed point is the last 65 bytes of the SubjectPublicKeyInfo: 04 | x | y.
  local point x y
  point="$(mktemp)"
  openssl ec -in "$DEV_SIGNING_KEY" -pubout -outform DER 2>/dev/null | tail -c 64 >"$point"
  x="$(head -c 32 "$point" | b64url)"
  y="$(tail -c 32 "$point" | b64url)"
  rm -f "$point"
  cat >"$DEV_JWKS" <<JWKS
{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"$BAKYLAU_DEV_KEY_ID","x":"$x","y":"$y"}]}
JWKS
}
