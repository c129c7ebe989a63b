#!/usr/bin/env bash
# Refreshes config/cloudflare-ips.txt from Cloudflare's published lists, with their source and
# today's date, then shows the difference to commit. Raptor trusts CF-Connecting-IP only from
# these ranges (FLAG_ENFORCE_CF_ORIGIN); a deploy picks up the committed file, and
# CLOUDFLARE_IP_RANGES overrides it without one (docs/runbooks/operations.md).
#
#   scripts/update-cloudflare-ips.sh           rewrite the file (fails, changing nothing, if a
#                                              list cannot be fetched or looks wrong)
set -euo pipefail

cd "$(dirname "$0")/.."

file=config/cloudflare-ips.txt
v4_url=https://www.cloudflare.com/ips-v4
v6_url=https://www.cloudflare.com/ips-v6

fetch() {
  curl --fail --silent --show-error --max-time 20 "$1" | tr -d '\r' | sed '/^[[:space:]]*$/d'
}

v4=$(fetch "$v4_url")
v6=$(fetch "$v6_url")
# Every line a CIDR of the right family, and neither list empty.
if ! grep -qvE '^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$' <<<"$v4" && [[ -n "$v4" ]] &&
  ! grep -qvE '^[0-9a-fA-F:]+/[0-9]{1,3}$' <<<"$v6" && [[ -n "$v6" ]]; then
  :
else
  echo "update-cloudflare-ips: a fetched list is empty or not CIDRs; $file is unchanged" >&2
  exit 1
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# Cloudflare's published IP ranges: the only addresses whose CF-Connecting-IP Raptor trusts"
  echo "# when FLAG_ENFORCE_CF_ORIGIN is on (src/settings/ip_ranges.rs; CLOUDFLARE_IP_RANGES overrides"
  echo "# this file). Refresh with scripts/update-cloudflare-ips.sh and commit the result."
  echo "# source: $v4_url and $v6_url"
  echo "# date: $(date -u +%Y-%m-%d)"
  echo "$v4"
  echo "$v6"
} >"$tmp"
mv "$tmp" "$file"
trap - EXIT
git --no-pager diff --stat -- "$file" || true
echo "update-cloudflare-ips: $file has $(grep -vc '^#' "$file") ranges; review and commit it" >&2
