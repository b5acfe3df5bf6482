#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine and runs all of it (unit, AppTest, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -r requirements-dev.txt -r requirements-ray.txt  # Ray: its backend's tests
if [ ! -x /usr/bin/chromium ]; then  # the browser tests drive Debian's Chromium through Playwright
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
python -m pytest "$@"
