#!/usr/bin/env bash
# Forged-cookie flood benchmark (not part of the test suite; issue 9): does a flood of forged
# session cookies slow down a real signed-in user?
#
#   benches/forged-cookies.sh
#   DURATION=5 FLOOD_RATE=2500 benches/forged-cookies.sh
#   PROFILE=debug benches/forged-cookies.sh        quick check without a release build
#
# Starts examples/bench_server.rs (the real application, one user signed in through the real
# session store; APP_ENV=test, global rate limit off) on a throwaway database, then measures the
# user's GET /api/auth/session (one connection, one request after another, with wrk) three times
# for DURATION seconds each:
#   1. alone;
#   2. while wrk floods the same route with requests that carry no cookie (the control: what
#      any flood of rejected requests costs this machine);
#   3. while wrk floods it with forged cookies: random, well-formed session tokens, a new one
#      per request (a wrk Lua script), each refused before any database lookup.
# It prints p50 and p99 of the user's latency in each, the flood's rate, and the ratios to the
# user alone. A forged cookie should cost no more than no cookie (ratio 3 / ratio 2 near 1).
# No assertion: figures to read, on a quiet machine.
#
# Environment: DURATION (s, default 10), FLOOD_RATE (requests/s the flood aims at, default
# 2500), FLOOD_CONNECTIONS (default 25), PROFILE (release, default, or debug),
# TEST_DATABASE_URL (an admin URL for the throwaway database).
set -euo pipefail

cd "$(dirname "$0")/.."

duration="${DURATION:-10}"
rate="${FLOOD_RATE:-2500}"
flood_connections="${FLOOD_CONNECTIONS:-25}"
profile="${PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-target}"
for n in "$duration" "$rate" "$flood_connections"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || {
    echo "forged-cookies: DURATION, FLOOD_RATE and FLOOD_CONNECTIONS must be positive integers" >&2
    exit 2
  }
done
[[ "$profile" == release || "$profile" == debug ]] || {
  echo "forged-cookies: PROFILE is release or debug" >&2
  exit 2
}

bench=forged-cookies
host=127.0.0.1
# shellcheck source=benches/lib.sh
source benches/lib.sh

# 1. Builds and wrk -----------------------------------------------------------------------------
step "building raptor and examples/bench_server ($profile)"
profile_flag=()
[[ "$profile" == release ]] && profile_flag=(--release)
cargo build "${profile_flag[@]}" --bin raptor --example bench_server
raptor="$target_dir/$profile/raptor"
bench_server="$target_dir/$profile/examples/bench_server"
install_wrk

# 2. A throwaway database and the signed-in server ---------------------------------------------
bench_database "$raptor"
secret_key=$(random_secret_key)
env_vars=(
  APP_ENV=test
  DATABASE_URL="$database_url"
  DATABASE_SSL=disable
  SECRET_KEY="$secret_key"
  ENABLE_GLOBAL_RATE_LIMIT=false
  PORT=0
  LOG_FORMAT=json
  LOG_LEVEL=info
)
env "${env_vars[@]}" "$raptor" migrate </dev/null >/dev/null
step "starting bench_server"
env "${env_vars[@]}" "$bench_server" </dev/null >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
addr=""
for _ in $(seq 1 300); do
  addr=$(sed -n 's/.*"raptor listening".*"addr":"\([^"]*\)".*/\1/p; s/.*"addr":"\([^"]*\)".*"raptor listening".*/\1/p' "$work/server.log" | head -n 1)
  cookie=$(sed -n 's/^COOKIE=//p' "$work/server.out" | head -n 1)
  [[ -n "$addr" && -n "$cookie" ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$addr" && -n "${cookie:-}" ]] || {
  echo "forged-cookies: bench_server did not start; its log:" >&2
  tail -n 30 "$work/server.log" >&2
  exit 1
}
url="http://$addr/api/auth/session"
echo "bench_server on $addr" >&2

# 3. The flood scripts ------------------------------------------------------------------------
# Each flood connection sends one request every <delay> ms, so the flood aims at FLOOD_RATE/s.
delay_ms=$(((flood_connections * 1000 + rate - 1) / rate))
cat >"$work/no-cookie.lua" <<LUA
function delay() return $delay_ms end
LUA
cat >"$work/forged.lua" <<LUA
-- A fresh, well-formed sealed session token per request: 64 base64url characters, whose
-- random part and tag do not match (the MAC fails).
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
math.randomseed(os.time())
function delay() return $delay_ms end
request = function()
  local t = {}
  for i = 1, 64 do
    local n = math.random(1, 64)
    t[i] = alphabet:sub(n, n)
  end
  return wrk.format("GET", nil, { ["Cookie"] = "session=" .. table.concat(t) })
end
LUA

# Prints "<p50 ms> <p99 ms> <requests/s> <non-2xx>" of one wrk run's output.
summary() {
  wrk_figures <"$1" | awk '{ printf "%s %s %.0f %d\n", $2, $3, $1, $4 }'
}

user_run() {
  wrk --latency -t 1 -c 1 -d "${duration}s" --timeout 5s -H "Cookie: $cookie" "$url" >"$work/$1.user.txt"
}

# One measurement of the user, alone (no flood script) or beside a flood.
measure() {
  local name="$1" flood="${2:-}" flood_pid=""
  if [[ -n "$flood" ]]; then
    step "user's GET /api/auth/session during the $name flood (~$rate/s, ${duration}s)"
    wrk --latency -t 1 -c "$flood_connections" -d "$((duration + 1))s" --timeout 5s \
      -s "$work/$flood.lua" "$url" >"$work/$name.flood.txt" &
    flood_pid=$!
    sleep 0.5 # let the flood ramp up before the user is measured
  else
    step "user's GET /api/auth/session alone (${duration}s)"
  fi
  user_run "$name"
  if [[ -n "$flood_pid" ]]; then
    wait "$flood_pid"
  fi
}

measure alone
measure no-cookie no-cookie
measure forged forged

# 4. Report -----------------------------------------------------------------------------------
read -r base_p50 base_p99 base_rps base_bad < <(summary "$work/alone.user.txt")
echo
echo "forged-cookie flood: ${duration}s each, flood aimed at ${rate}/s over $flood_connections connections, $profile build, $(nproc) cores, loopback"
printf '%-20s %10s %10s %10s %12s %12s %14s\n' "user's session" "p50 ms" "p99 ms" "user rps" "p50/alone" "p99/alone" "flood rps"
for name in alone no-cookie forged; do
  read -r p50 p99 rps bad < <(summary "$work/$name.user.txt")
  if [[ "$bad" != 0 ]]; then
    echo "forged-cookies: the user got $bad non-2xx answers during '$name'" >&2
  fi
  flood_rps="-"
  if [[ -f "$work/$name.flood.txt" ]]; then
    read -r _ _ flood_rps flood_bad < <(summary "$work/$name.flood.txt")
    flood_rps="$flood_rps (${flood_bad} refused)"
  fi
  awk -v n="$name" -v a="$p50" -v b="$p99" -v r="$rps" -v ba="$base_p50" -v bb="$base_p99" -v f="$flood_rps" 'BEGIN {
    printf "%-20s %10.3f %10.3f %10.0f %12.2f %12.2f %14s\n", n, a, b, r, (ba > 0 ? a / ba : 0), (bb > 0 ? b / bb : 0), f
  }'
done
