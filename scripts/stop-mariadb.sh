#!/usr/bin/env bash
# Stops the server scripts/start-mariadb.sh started (by the PID in its data folder) and removes
# its data.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .build-services/mariadb.env ] || exit 0
# shellcheck disable=SC1091
source .build-services/mariadb.env
if [ -f "$TEST_MARIADB_DATA/mariadbd.pid" ]; then
    pid=$(cat "$TEST_MARIADB_DATA/mariadbd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
fi
rm -rf "$TEST_MARIADB_DATA"
rm -f .build-services/mariadb.env
