#!/usr/bin/env bash
# Order-stream benchmark (not part of the test suite; issue 25): one web process with 10,000
# idle `GET /api/trading/stream` clients. Reports its resident memory, the delay from an order
# event reaching the process to its owner's streams (p50, p99, max), and the Postgres
# transactions per event with no stream open and with every stream open (they should not grow
# with the number of streams). Goals: RSS under 150 MB, p99 under 50 ms.
#
#   benches/streams.sh
#   STREAMS=2000 SKIP_BUILD=1 benches/streams.sh
#
# Builds raptor and examples/bench_server in release mode (unless SKIP_BUILD=1), finds or starts
# a PostgreSQL (scripts/ensure-postgres.sh), creates a throwaway database, runs `raptor migrate`
# and starts examples/bench_server (the application as `raptor serve` builds it; development
# mode only for the simulated broker, at the production log level) with STREAMS ÷ 5 users, so
# each holds the default cap of 5 streams. benches/stream_client.py opens the streams (one
# cookie per 5). The bench server then hands EVENTS events to the trade-stream actor, as the
# upstream would, at EVENTS_PER_SEC, each for a new order of the next user (so every event
# needs its owner looked up), stamped with the time it was handed over; the client measures when
# each reaches each of its owner's 5 streams. The same injection runs once before the streams
# open, for the transaction count without streams.
#
# Output: a table on stderr; on stdout, `name value` lines.
#
# Environment: STREAMS (default 10000), EVENTS (default 200), EVENTS_PER_SEC (default 20),
# SETTLE_SECS (default 3), RAPTOR_PORT (default 18095), TEST_DATABASE_URL, SKIP_BUILD, and
# REUSE=1 to open each stream on a kept-alive connection after a `GET /health` (as Heroku's
# router reuses its connections) rather than on a new one.
set -euo pipefail

cd "$(dirname "$0")/.."

streams="${STREAMS:-10000}"
events="${EVENTS:-200}"
rate="${EVENTS_PER_SEC:-20}"
settle="${SETTLE_SECS:-3}"
reuse="${REUSE:-}"
port="${RAPTOR_PORT:-18095}"
target_dir="${CARGO_TARGET_DIR:-target}"
host=127.0.0.1
users=$(((streams + 4) / 5))

for n in "$streams" "$events" "$rate" "$settle" "$port"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || {
    echo "streams: STREAMS, EVENTS, EVENTS_PER_SEC, SETTLE_SECS and RAPTOR_PORT must be positive integers" >&2
    exit 2
  }
done

bench=streams
# shellcheck source=benches/lib.sh
source benches/lib.sh
before_cleanup() {
  exec 4>&- 2>/dev/null || true
  exec 5>&- 2>/dev/null || true
}

# Transactions committed or rolled back in the bench database so far (after the statistics of
# every backend were flushed: they are sent at most once a second).
transactions() {
  sleep 2
  psql_admin -At -c "SELECT pg_stat_clear_snapshot(); SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$database'" | tail -n 1
}

# Injects the events and waits until the bench server says they were handed over.
inject() {
  local before
  before=$(grep -c '^injected' "$work/server.out" || true)
  echo "events $events $rate" >&5
  for _ in $(seq 1 $((events / rate * 10 + 600))); do
    (($(grep -c '^injected' "$work/server.out" || true) > before)) && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "streams: the events were not injected; the server's log:" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
}

# 1. Builds -------------------------------------------------------------------------------------
raptor="$target_dir/release/raptor"
server="$target_dir/release/examples/bench_server"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  step "building raptor and examples/bench_server (release)"
  cargo build --release --bin raptor --example bench_server
fi
for bin in "$raptor" "$server"; do
  [[ -x "$bin" ]] || {
    echo "streams: $bin is missing (unset SKIP_BUILD)" >&2
    exit 1
  }
done
command -v python3 >/dev/null 2>&1 || {
  echo "streams: python3 is required for the client" >&2
  exit 1
}
ulimit -n "$(($(ulimit -Hn) < streams * 2 + 512 ? $(ulimit -Hn) : streams * 2 + 512))" 2>/dev/null || true
if (($(ulimit -n) < streams + 128)); then
  echo "streams: the open-file limit ($(ulimit -n)) is too low for $streams streams" >&2
  exit 1
fi

# 2. PostgreSQL and a throwaway database ------------------------------------------------------
step "postgres"
bench_database "$raptor"

# 3. The server -------------------------------------------------------------------------------
require_ports_free "$port"
server_env=(
  APP_ENV=development
  LOG_FORMAT=json
  LOG_LEVEL=info
  ALPACA_AUTH_MODE=simulated
  DATABASE_URL="$database_url"
  DATABASE_SSL=disable
  SECRET_KEY="$(random_secret_key)"
  BIND_ADDRESS="$host"
  PORT="$port"
  TRUSTED_PROXY_HOPS=0
  RATE_LIMIT_PER_MINUTE=1000000
  HTTP_IDLE_TIMEOUT_SECS=3600
  HTTP_MAX_CONNECTIONS=$((streams + 100))
  BENCH_USERS="$users"
)
step "raptor migrate"
env "${server_env[@]}" "$raptor" migrate </dev/null >"$work/migrate.log" 2>&1 || {
  cat "$work/migrate.log" >&2
  exit 1
}
step "bench_server on $host:$port, $users users signed in"
mkfifo "$work/commands"
env "${server_env[@]}" "$server" <"$work/commands" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
pids+=("$server_pid")
exec 5>"$work/commands"
await_server bench_server "$port" "$server_pid" "$work/server.log"
for _ in $(seq 1 1200); do
  (($(grep -c '^COOKIE=' "$work/server.out" || true) >= users)) && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
sed -n 's/^COOKIE=//p' "$work/server.out" >"$work/cookies"
(($(wc -l <"$work/cookies") >= users)) || {
  echo "streams: the users were not signed in; the server's log:" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
}
http_status "$port" /health >/dev/null
sleep 1
rest=$(status_kb "$server_pid" VmRSS)

# 4. Events with no stream open ---------------------------------------------------------------
step "$events events with no stream open"
t0=$(transactions)
inject
t1=$(transactions)

# 5. The streams, then events -----------------------------------------------------------------
step "$streams streams"
mkfifo "$work/hold"
python3 benches/stream_client.py "$host" "$port" "$streams" "$work/cookies" ${reuse:+reuse} \
  <"$work/hold" >"$work/client.out" 2>"$work/client.err" &
client=$!
pids+=("$client")
exec 4>"$work/hold"
for _ in $(seq 1 1200); do
  grep -q '^ready' "$work/client.out" && break
  kill -0 "$client" 2>/dev/null || break
  sleep 0.1
done
read -r _ ready failed < <(grep '^ready' "$work/client.out" || echo "ready 0 $streams")
if [[ "$ready" != "$streams" ]]; then
  echo "streams: $ready of $streams streams answered 200 ($failed failed)" >&2
  cat "$work/client.err" >&2
  exit 1
fi
sleep "$settle"
idle=$(status_kb "$server_pid" VmRSS)
step "$events events with $streams streams open"
t2=$(transactions)
inject
t3=$(transactions)
busy=$(status_kb "$server_pid" VmRSS)
hwm=$(status_kb "$server_pid" VmHWM)
exec 4>&-
wait "$client" || true
read -r _ open < <(grep '^open' "$work/client.out" || echo "open 0")
read -r _ received p50 p99 max < <(grep '^delays' "$work/client.out" || echo "delays 0 0 0 0")

# 6. Report -----------------------------------------------------------------------------------
echo >&2
echo "streams: $streams streams of $users users, $events events at ${rate}/s, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')${reuse:+, each after a kept-alive request}, $(date -u '+%Y-%m-%d %H:%M UTC')" >&2
awk -v n="$streams" -v rr="$rest" -v ri="$idle" -v rb="$busy" -v rh="$hwm" \
  -v ev="$events" -v got="$received" -v p50="$p50" -v p99="$p99" -v max="$max" -v open="$open" \
  -v q0="$((t1 - t0))" -v q1="$((t3 - t2))" 'BEGIN {
  printf "%-46s %10.1f\n", "VmRSS at rest (MB)", rr / 1024 > "/dev/stderr"
  printf "%-46s %10.1f\n", "VmRSS, streams idle (MB)", ri / 1024 > "/dev/stderr"
  printf "%-46s %10.1f\n", "VmRSS after the events (MB)", rb / 1024 > "/dev/stderr"
  printf "%-46s %10.1f\n", "VmHWM (MB)", rh / 1024 > "/dev/stderr"
  printf "%-46s %10.1f\n", "per stream (KB)", (ri - rr) / n > "/dev/stderr"
  printf "%-46s %10d of %d\n", "deliveries measured (events x owner streams)", got, ev * 5 > "/dev/stderr"
  printf "%-46s %10.2f / %.2f / %.2f\n", "delay p50 / p99 / max (ms)", p50, p99, max > "/dev/stderr"
  printf "%-46s %10.2f\n", "Postgres transactions per event, no stream", q0 / ev > "/dev/stderr"
  printf "%-46s %10.2f\n", "Postgres transactions per event, all streams", q1 / ev > "/dev/stderr"
  printf "%-46s %10d\n", "streams still open at the end", open > "/dev/stderr"
  printf "stream_rss_mb %.1f\n", ri / 1024
  printf "stream_rss_per_stream_kb %.1f\n", (ri - rr) / n
  printf "stream_delay_p50_ms %.2f\n", p50
  printf "stream_delay_p99_ms %.2f\n", p99
  printf "stream_transactions_per_event_no_stream %.2f\n", q0 / ev
  printf "stream_transactions_per_event_all_streams %.2f\n", q1 / ev
}'
if ((idle > 150 * 1024)); then
  echo "streams: the resident set with $streams streams is over 150 MB" >&2
fi
