#!/usr/bin/env bash
# Installs what the test suite needs beyond the Swift toolchain, from Debian's packages:
# the openssl command-line client and curl (built with HTTP/2), which the TLS and HTTP/2
# tests drive as an operator would, and headless Chromium with chromedriver for the browser test.
set -euo pipefail

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The edge links Debian's brotli encoder (on the Swift image already; installed if missing).
[ -f /usr/include/brotli/encode.h ] || missing+=(libbrotli-dev)
# ...and libdeflate, for gzip of whole bodies.
[ -f /usr/include/libdeflate.h ] || missing+=(libdeflate-dev)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
