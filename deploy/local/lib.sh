# Shared by up.sh, down.sh and test.sh: make sure PostgreSQL and RabbitMQ run on
# localhost, starting them if stopped and installing them from the OS packages if absent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="$REPO/.run"
SERVICES=(intake routing control reception reporting)

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
