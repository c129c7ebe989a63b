#!/usr/bin/env bash
# The TypeScript client example (clients/typescript, docs/clients.md) against the committed
# document:
#   1. its node modules from package-lock.json (npm ci), only when missing or stale
#   2. types generated from docs/openapi.json by openapi-typescript (pinned)
#   3. no request or response body left without a shape in them (`Record<string, never>`,
#      `unknown`): clients/typescript/scripts/check-types.mjs
#   4. the example type-checked: tsc --noEmit, strict
# tests/api/ts_client.rs then runs it against a live raptor. Needs node >= 20 and npm.
set -euo pipefail

cd "$(dirname "$0")/../clients/typescript"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "check-ts-client: node >= 20 and npm are required" >&2
  exit 1
fi
# npm ci again only when the lock file changed since the last install.
if ! [[ -d node_modules/openapi-fetch && node_modules/.installed -nt package-lock.json ]]; then
  echo "clients/typescript/node_modules: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi
mkdir -p src/generated
npx --no-install openapi-typescript ../../docs/openapi.json -o src/generated/raptor.d.ts
node scripts/check-types.mjs src/generated/raptor.d.ts
npx --no-install tsc --noEmit -p .
echo "check-ts-client: the example type-checks against docs/openapi.json"
