#!/usr/bin/env bash
# Starts a throw-away PostgreSQL 15 server for the tests: a new data folder under /tmp, listening
# on 127.0.0.1 only (a free port), a `portal` role with a random password allowed to create
# databases (each test makes its own). Installs Debian's postgresql-15 when it is missing.
# Writes the connection URL as `export TEST_POSTGRES_URL=…` to .build-services/postgres.env;
# scripts/stop-postgres.sh stops the server by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=/usr/lib/postgresql/15/bin
if [ ! -x "$bin/initdb" ]; then
    echo "installing: postgresql-15"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi

mkdir -p .build-services
data=$(mktemp -d /tmp/portal-postgres-XXXXXX)
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# PostgreSQL refuses to run as root: when we are root, it runs as the `postgres` system user.
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$data" postgres
    chown postgres "$data"
    as_owner() { runuser -u postgres -- "$@"; }
fi

as_owner "$bin/initdb" -D "$data/db" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
as_owner "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=on" start >/dev/null
as_owner "$bin/psql" -h "$data" -p "$port" -U postgres -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE portal LOGIN CREATEDB PASSWORD '$password'" \
    -c "CREATE DATABASE portal OWNER portal"

url="postgres://portal:$password@127.0.0.1:$port/portal?tlsmode=disable"
{
    echo "export TEST_POSTGRES_URL='$url'"
    echo "export TEST_POSTGRES_DATA='$data'"
} > .build-services/postgres.env
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $data)"
