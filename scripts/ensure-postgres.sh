#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests, and that
# pg_dump is installed. Starts a stopped cluster; installs PostgreSQL from Debian's
# packages when it is missing and this user may. Otherwise it stops and says what is
# missing: the tests never skip PostgreSQL silently.
set -euo pipefail

host=127.0.0.1
port=5432

answers() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_dump >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql postgresql-client >/dev/null
  else
    echo "ensure-postgres: PostgreSQL is not installed. Install it (apt-get install postgresql) or set TEST_DATABASE_URL to a server the tests may create databases on." >&2
    exit 1
  fi
fi

if [ -z "${TEST_DATABASE_URL:-}" ] && ! answers; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "ensure-postgres: starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do answers && break; sleep 1; done
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! answers; then
    echo "ensure-postgres: PostgreSQL does not answer on $host:$port and could not be started." >&2
    exit 1
  fi
  # A fresh Debian install only trusts local socket peers: give the tests a password login.
  if ! psql "postgresql://postgres@$host:$port/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- psql -qc "alter user postgres password 'postgres'" >/dev/null
      echo "postgresql://postgres:postgres@$host:$port/postgres"
      exit 0
    fi
    echo "ensure-postgres: cannot log in to PostgreSQL on $host:$port as postgres; set TEST_DATABASE_URL." >&2
    exit 1
  fi
  echo "postgresql://postgres@$host:$port/postgres"
else
  echo "$TEST_DATABASE_URL"
fi
