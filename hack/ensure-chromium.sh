#!/usr/bin/env bash
# The browser of the console's tests (test/integration/console-browser.test.ts): Debian's chromium,
# driven by puppeteer-core (which downloads no browser). Idempotent: does nothing when installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is not installed and this user cannot install it: run 'apt-get install -y chromium' as root" >&2
  exit 1
fi
echo "installing chromium (Debian package) for the console's browser test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
command -v chromium
