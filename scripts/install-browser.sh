#!/usr/bin/env bash
# What the browser test (tests/api/browser.rs) needs, installed only where missing:
#   1. Debian's chromium at /usr/bin/chromium (the test never downloads a browser of its own)
#   2. tests/browser/node_modules from package-lock.json (npm ci), which needs node >= 20
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -x /usr/bin/chromium ]]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
else
  echo "chromium: installing Debian's package"
  run_as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-browser: need root or sudo for apt-get" >&2; exit 1; }
    run_as_root=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${run_as_root[@]}" apt-get update -qq
  "${run_as_root[@]}" apt-get install -y -qq chromium
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-browser: node >= 20 and npm are required (playwright-core needs node 20)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "install-browser: node $(node --version) is too old; playwright-core needs node >= 20" >&2
  exit 1
fi

if [[ -d tests/browser/node_modules/playwright-core ]]; then
  echo "tests/browser/node_modules: present"
else
  echo "tests/browser/node_modules: npm ci"
  (cd tests/browser && npm ci --no-audit --no-fund)
fi
