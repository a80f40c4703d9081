#!/usr/bin/env bash
# Prints what the test run depends on, so a failing CI log says which toolchain it used.
set -euo pipefail
echo "== environment =="
swift --version 2>&1 | head -n 2
echo "cores: $(nproc)"
free -h | head -n 2 || true
df -h . | tail -n 1 || true
echo "================="
