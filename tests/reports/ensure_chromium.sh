#!/usr/bin/env bash
# Idempotent: install Debian's chromium for the headless report test (tests/reports/test_browser.py).
# Does nothing if a chromium binary is already on PATH. Needs root (CI and dev machines run as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
