#!/usr/bin/env bash
# Install Debian's chromium (headless browser of the map tests) when it is missing.
# Needs root (CI runs the test command as root); prints the path of the chromium binary.
# Usage: scripts/install_chromium.sh
set -euo pipefail

found=$(command -v chromium || command -v chromium-browser || true)
if [[ -n $found ]]; then
  echo "$found"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "[install_chromium] chromium is missing and this is not root: run" \
    "'apt-get update && apt-get install -y chromium' as root" >&2
  exit 1
fi
echo "[install_chromium] installing chromium from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
command -v chromium
