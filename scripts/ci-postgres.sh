#!/usr/bin/env bash
# Installs (if missing) and starts a PostgreSQL cluster on 127.0.0.1:${PGPORT:-5432} for the
# integration tests, creates the role and database crowdtrain_test, and prints the line to eval:
#   eval "$(bash scripts/ci-postgres.sh)"   # sets TEST_POSTGRES_URL
# Env: PGPORT (default 5432), PG_CLUSTER (default main), CROWDTRAIN_TEST_PG_PASSWORD.
# Runs as root on a fresh Debian machine or container (no systemd needed). Idempotent: a second
# run finds everything in place and only prints the export line. Progress goes to stderr.
set -euo pipefail

PORT="${PGPORT:-5432}"
ROLE=crowdtrain_test
DB=crowdtrain_test
PASSWORD="${CROWDTRAIN_TEST_PG_PASSWORD:-crowdtrain_test}"

log() { echo "ci-postgres: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and starts the cluster as the postgres user)"
  exit 1
fi

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  log "installing postgresql from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
CLUSTER="${PG_CLUSTER:-main}"

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
  log "creating cluster $VERSION/$CLUSTER on port $PORT"
  pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" >&2
fi

CONF_DIR="/etc/postgresql/$VERSION/$CLUSTER"
# Loopback only, password auth for TCP clients (the tests connect over TCP).
sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$CONF_DIR/postgresql.conf"
sed -i "s/^#\?port = .*/port = $PORT/" "$CONF_DIR/postgresql.conf"

if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
  log "starting cluster $VERSION/$CLUSTER"
  pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi

for _ in $(seq 1 60); do
  if su postgres -c "pg_isready -q -h 127.0.0.1 -p $PORT"; then break; fi
  sleep 0.5
done
su postgres -c "pg_isready -q -h 127.0.0.1 -p $PORT" || { log "cluster did not become ready on 127.0.0.1:$PORT"; exit 1; }

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -p $PORT $*"; }

# CREATEDB: tests create a throwaway database per test file, and `migrate.ts diff` a shadow database.
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'\"")" != "1" ]; then
  log "creating role $ROLE"
  psql_admin "-c \"CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'\""
else
  psql_admin "-c \"ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'\""
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$DB'\"")" != "1" ]; then
  log "creating database $DB"
  psql_admin "-c \"CREATE DATABASE $DB OWNER $ROLE\""
fi

echo "export TEST_POSTGRES_URL=postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
