#!/usr/bin/env bash
# Start a local PostgreSQL for the storage tests and print its URL.
#
# Idempotent: installs Debian's `postgresql` only when missing, creates and
# starts a cluster listening on 127.0.0.1 only, and creates the test role and
# database when they do not exist. Runs as root (re-runs itself with sudo otherwise). The only line on stdout is
#   CNTRL_TEST_PG_URL=postgresql+psycopg://...
# so callers can do: eval "export $(bash scripts/postgres.sh)"
set -euo pipefail
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then exec sudo -E bash "$0" "$@"; fi
exec 3>&1 1>&2

PG_USER="${CNTRL_PG_USER:-cntrl}"
PG_PASSWORD="${CNTRL_PG_PASSWORD:-cntrl}"
PG_DB="${CNTRL_PG_DB:-cntrl_test}"
CLUSTER="main"

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION $CLUSTER"; then
  echo "creating cluster $VERSION/$CLUSTER"
  pg_createcluster "$VERSION" "$CLUSTER"
fi
CONF_DIR="/etc/postgresql/$VERSION/$CLUSTER/conf.d"
mkdir -p "$CONF_DIR"
LISTEN_CONF="$CONF_DIR/cntrl-loopback.conf"
CHANGED=0
if [ "$(cat "$LISTEN_CONF" 2>/dev/null)" != "listen_addresses = '127.0.0.1'" ]; then
  printf "listen_addresses = '127.0.0.1'\n" > "$LISTEN_CONF"
  chown -R postgres:postgres "$CONF_DIR"
  CHANGED=1
fi

PORT="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {print $3}')"
STATUS="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {print $4}')"
if [ "$STATUS" != "online" ]; then
  echo "starting cluster $VERSION/$CLUSTER on 127.0.0.1:$PORT"
  pg_ctlcluster "$VERSION" "$CLUSTER" start 3>&-  # the server must not hold our stdout pipe
elif [ "$CHANGED" = 1 ]; then
  echo "restarting cluster $VERSION/$CLUSTER to listen on 127.0.0.1 only"
  pg_ctlcluster "$VERSION" "$CLUSTER" restart 3>&-
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT"

as_postgres() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
  as_postgres -c "CREATE ROLE \"$PG_USER\" LOGIN PASSWORD '$PG_PASSWORD' CREATEDB"
fi
if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
  as_postgres -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\""
fi

echo "CNTRL_TEST_PG_URL=postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PORT/$PG_DB" >&3
