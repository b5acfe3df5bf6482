#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine and runs all of it (unit, AppTest, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -r requirements-dev.txt -r requirements-ray.txt  # Ray: its backend's tests
# Debian's packages: Chromium for the browser tests (driven through Playwright), PostgreSQL for the run
# store's tests (each test session starts its own throwaway server on 127.0.0.1 and stops it)
missing=""
[ -x /usr/bin/chromium ] || missing="chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi
python -m pytest "$@"
