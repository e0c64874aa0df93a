#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (apt) and the JS dev dependencies
# (playwright-core, ws) from npm. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
(cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
