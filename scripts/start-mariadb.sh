#!/usr/bin/env bash
# Starts a throw-away MariaDB 10.11 server for the tests: a new data folder under /tmp, listening
# on 127.0.0.1 only (a free port), a `portal` user with a random password allowed to create
# databases (each test makes its own). Installs Debian's mariadb-server and libmariadb-dev (the
# C connector the driver links) when they are missing. Writes the URL as
# `export TEST_MARIADB_URL=…` to .build-services/mariadb.env; scripts/stop-mariadb.sh stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
[ -f /usr/include/mariadb/mysql.h ] || missing+=(libmariadb-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p .build-services
data=$(mktemp -d /tmp/portal-mariadb-XXXXXX)
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
    id mysql >/dev/null 2>&1 || useradd --system --home "$data" mysql
    chown mysql "$data"
    user=mysql
fi

mariadb-install-db --user="$user" --datadir="$data/db" --auth-root-authentication-method=socket \
    --skip-test-db >/dev/null 2>&1
/usr/sbin/mariadbd --user="$user" --datadir="$data/db" --socket="$data/mysqld.sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$data/mariadbd.pid" --log-error="$data/error.log" \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
for _ in $(seq 1 300); do
    [ -S "$data/mysqld.sock" ] && mariadb --socket="$data/mysqld.sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
done
mariadb --socket="$data/mysqld.sock" -uroot -e "
    CREATE USER 'portal'@'127.0.0.1' IDENTIFIED BY '$password';
    GRANT ALL PRIVILEGES ON *.* TO 'portal'@'127.0.0.1';
    CREATE DATABASE portal CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"

{
    echo "export TEST_MARIADB_URL='mysql://portal:$password@127.0.0.1:$port/portal'"
    echo "export TEST_MARIADB_DATA='$data'"
} > .build-services/mariadb.env
echo "MariaDB $(/usr/sbin/mariadbd --version | awk '{print $3}') on 127.0.0.1:$port (data in $data)"
