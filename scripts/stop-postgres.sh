#!/usr/bin/env bash
# Stops the server scripts/start-postgres.sh started (by the PID in its data folder) and
# removes its data.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .build-services/postgres.env ] || exit 0
# shellcheck disable=SC1091
source .build-services/postgres.env
pidfile="$TEST_POSTGRES_DATA/db/postmaster.pid"
if [ -f "$pidfile" ]; then
    pid=$(head -n 1 "$pidfile")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
fi
rm -rf "$TEST_POSTGRES_DATA"
rm -f .build-services/postgres.env
