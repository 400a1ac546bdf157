#!/usr/bin/env bash
# The browser of the console's tests (test/integration/console-browser.test.ts): Debian's chromium,
# driven by puppeteer-core (which downloads no browser). Idempotent: does nothing when installed.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-package.sh" chromium chromium "the console's browser test"
