#!/usr/bin/env bash
# Installs what the test suite needs beyond the Swift toolchain, from Debian's packages:
# the openssl command-line client (the TLS tests drive it as an operator would).
set -euo pipefail

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
