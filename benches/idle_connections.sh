#!/usr/bin/env bash
# Memory benchmark (not part of the test suite): the resident set of `raptor serve` with 1,000
# idle keep-alive connections open, beside the bare hyper server (examples/baseline_hyper.rs)
# measured the same way in the same run. Goal (issue 15): raptor under 40 MB.
#
#   benches/idle_connections.sh
#   IDLE_CONNECTIONS=2000 benches/idle_connections.sh
#   SKIP_BUILD=1 benches/idle_connections.sh     # reuse target/release binaries
#
# Builds raptor and the baseline in release mode (unless SKIP_BUILD=1), finds or starts a
# PostgreSQL (scripts/ensure-postgres.sh), creates a throwaway database, runs `raptor migrate`
# and starts `raptor serve` with production settings (APP_ENV=production at the production log
# level; only what loopback needs is changed: no TLS to the local database, no proxy hop, the
# per-client rate limit raised so 1,000 requests from one address pass, and the idle timeout
# raised so the connections outlive the measurement). For each server it reads VmRSS at rest
# (after one request), then has benches/idle_client.py open the connections (one `GET
# IDLE_PATH` each, then idle), waits IDLE_SETTLE_SECS, and reads VmRSS and VmHWM from
# /proc/<pid>/status. It checks that every connection answered 2xx and was still open after the
# reading.
#
# Output: a table on stderr; on stdout, `name value baseline ratio` lines (MB, KB) that
# benches/load.sh can collect.
#
# Environment: IDLE_CONNECTIONS (default 1000), IDLE_PATH (default `/`, which passes every
# middleware layer), IDLE_SETTLE_SECS (default 3), RAPTOR_PORT (default 18090), BASELINE_PORT
# (default 18091), TEST_DATABASE_URL (an admin URL to create the throwaway database on),
# SKIP_BUILD, MALLOC_ARENA_MAX (passed through to both servers when set).
set -euo pipefail

cd "$(dirname "$0")/.."

connections="${IDLE_CONNECTIONS:-1000}"
path="${IDLE_PATH:-/}"
settle="${IDLE_SETTLE_SECS:-3}"
raptor_port="${RAPTOR_PORT:-18090}"
baseline_port="${BASELINE_PORT:-18091}"
target_dir="${CARGO_TARGET_DIR:-target}"
host=127.0.0.1

for n in "$connections" "$settle" "$raptor_port" "$baseline_port"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || {
    echo "idle: IDLE_CONNECTIONS, IDLE_SETTLE_SECS and the ports must be positive integers" >&2
    exit 2
  }
done
[[ "$path" == /* ]] || {
  echo "idle: IDLE_PATH must start with /" >&2
  exit 2
}

bench=idle
# shellcheck source=benches/lib.sh
source benches/lib.sh
# The descriptor that holds the idle client open (see `measure`) is closed first on exit.
before_cleanup() {
  exec 4>&- 2>/dev/null || true
}

# Open sockets of a process.
sockets() {
  find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l
}

# Measures one server: prints "<rest kB> <idle kB> <hwm kB> <sockets at rest> <sockets idle>
# <anonymous kB idle> <file-backed kB idle>".
measure() {
  local name="$1" port="$2" pid="$3" rest idle hwm ready open s_rest s_idle anon file
  [[ "$(http_status "$port" "$path")" =~ ^2 ]] || {
    echo "idle: $name does not answer 2xx on GET $path" >&2
    return 1
  }
  sleep 1
  rest=$(status_kb "$pid" VmRSS)
  s_rest=$(sockets "$pid")
  rm -f "$work/hold" && mkfifo "$work/hold"
  python3 benches/idle_client.py "$host" "$port" "$connections" "$path" \
    <"$work/hold" >"$work/client.out" 2>"$work/client.err" &
  local client=$!
  pids+=("$client")
  exec 4>"$work/hold"
  for _ in $(seq 1 600); do
    grep -q '^ready' "$work/client.out" && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  read -r _ ready failed < <(grep '^ready' "$work/client.out" || echo "ready 0 $connections")
  if [[ "$ready" != "$connections" ]]; then
    echo "idle: $name: $ready of $connections connections answered 2xx ($failed failed)" >&2
    cat "$work/client.err" >&2
    return 1
  fi
  sleep "$settle"
  idle=$(status_kb "$pid" VmRSS)
  hwm=$(status_kb "$pid" VmHWM)
  s_idle=$(sockets "$pid")
  anon=$(status_kb "$pid" RssAnon)
  file=$(status_kb "$pid" RssFile)
  exec 4>&-
  wait "$client" || true
  read -r _ open < <(grep '^open' "$work/client.out" || echo "open 0")
  if [[ "$open" != "$connections" ]]; then
    echo "idle: $name closed $((connections - open)) of the $connections connections during the measurement" >&2
    return 1
  fi
  echo "$rest $idle $hwm $s_rest $s_idle $anon $file"
}

# 1. Builds -------------------------------------------------------------------------------------
raptor="$target_dir/release/raptor"
baseline="$target_dir/release/examples/baseline_hyper"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  step "building raptor and examples/baseline_hyper (release)"
  cargo build --release --bin raptor --example baseline_hyper
fi
for bin in "$raptor" "$baseline"; do
  [[ -x "$bin" ]] || {
    echo "idle: $bin is missing (unset SKIP_BUILD)" >&2
    exit 1
  }
done
command -v python3 >/dev/null 2>&1 || {
  echo "idle: python3 is required for the client" >&2
  exit 1
}
# Both servers and the client hold one descriptor per connection.
ulimit -n "$(($(ulimit -Hn) < connections * 2 + 256 ? $(ulimit -Hn) : connections * 2 + 256))" 2>/dev/null || true
if (($(ulimit -n) < connections + 64)); then
  echo "idle: the open-file limit ($(ulimit -n)) is too low for $connections connections" >&2
  exit 1
fi

# 2. PostgreSQL and a throwaway database ------------------------------------------------------
step "postgres"
bench_database "$raptor"

# 3. The servers ------------------------------------------------------------------------------
require_ports_free "$raptor_port" "$baseline_port"
secret_key=$(random_secret_key)
raptor_env=(
  APP_ENV=production
  DATABASE_URL="$database_url"
  DATABASE_SSL=disable
  SECRET_KEY="$secret_key"
  BIND_ADDRESS="$host"
  PORT="$raptor_port"
  TRUSTED_PROXY_HOPS=0
  RATE_LIMIT_PER_MINUTE=1000000
  HTTP_IDLE_TIMEOUT_SECS=3600
  HTTP_MAX_CONNECTIONS=$((connections + 100))
)
extra_env=()
[[ -n "${MALLOC_ARENA_MAX:-}" ]] && extra_env+=(MALLOC_ARENA_MAX="$MALLOC_ARENA_MAX")

step "raptor migrate"
env "${raptor_env[@]}" "$raptor" migrate </dev/null >"$work/migrate.log" 2>&1 || {
  cat "$work/migrate.log" >&2
  exit 1
}

step "raptor serve (production settings) on $host:$raptor_port"
env "${raptor_env[@]}" "${extra_env[@]}" "$raptor" serve </dev/null >"$work/raptor.log" 2>&1 &
raptor_pid=$!
pids+=("$raptor_pid")
await_server raptor "$raptor_port" "$raptor_pid" "$work/raptor.log"
step "raptor: $connections idle connections, GET $path on each"
measure raptor "$raptor_port" "$raptor_pid" >"$work/raptor.measured"
read -r r_rest r_idle r_hwm r_srest r_sidle r_anon r_file <"$work/raptor.measured"

step "baseline on $host:$baseline_port"
env "${extra_env[@]}" "$baseline" "$baseline_port" </dev/null >"$work/baseline.log" 2>&1 &
baseline_pid=$!
pids+=("$baseline_pid")
await_server "the baseline" "$baseline_port" "$baseline_pid" "$work/baseline.log"
step "baseline: $connections idle connections"
measure baseline "$baseline_port" "$baseline_pid" >"$work/baseline.measured"
read -r b_rest b_idle b_hwm b_srest b_sidle b_anon b_file <"$work/baseline.measured"

# 4. Report -----------------------------------------------------------------------------------
echo >&2
echo "idle: $connections keep-alive connections (GET $path, then idle ${settle}s), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')" >&2
awk -v n="$connections" \
  -v rr="$r_rest" -v ri="$r_idle" -v rh="$r_hwm" -v rs="$r_srest" -v rsi="$r_sidle" \
  -v br="$b_rest" -v bi="$b_idle" -v bh="$b_hwm" -v bs="$b_srest" -v bsi="$b_sidle" \
  -v ra="$r_anon" -v rf="$r_file" -v ba="$b_anon" -v bf="$b_file" 'BEGIN {
  printf "%-34s %12s %12s\n", "", "raptor", "baseline" > "/dev/stderr"
  printf "%-34s %12.1f %12.1f\n", "VmRSS at rest (MB)", rr / 1024, br / 1024 > "/dev/stderr"
  printf "%-34s %12.1f %12.1f\n", "VmRSS, connections idle (MB)", ri / 1024, bi / 1024 > "/dev/stderr"
  printf "%-34s %12.1f %12.1f\n", "  of which heap and stacks (MB)", ra / 1024, ba / 1024 > "/dev/stderr"
  printf "%-34s %12.1f %12.1f\n", "  of which mapped files (MB)", rf / 1024, bf / 1024 > "/dev/stderr"
  printf "%-34s %12.1f %12.1f\n", "VmHWM (MB)", rh / 1024, bh / 1024 > "/dev/stderr"
  printf "%-34s %12.1f %12.1f\n", "per connection (KB)", (ri - rr) / n, (bi - br) / n > "/dev/stderr"
  printf "%-34s %12d %12d\n", "open sockets, at rest / idle", rs, bs > "/dev/stderr"
  printf "%-34s %12d %12d\n", "", rsi, bsi > "/dev/stderr"
  printf "idle_rss_mb %.1f %.1f %.2f\n", ri / 1024, bi / 1024, (bi > 0 ? ri / bi : 0)
  printf "idle_hwm_mb %.1f %.1f %.2f\n", rh / 1024, bh / 1024, (bh > 0 ? rh / bh : 0)
  printf "rest_rss_mb %.1f %.1f %.2f\n", rr / 1024, br / 1024, (br > 0 ? rr / br : 0)
  printf "idle_rss_per_connection_kb %.1f %.1f %.2f\n", (ri - rr) / n, (bi - br) / n, ((bi - br) > 0 ? (ri - rr) / (bi - br) : 0)
}'
if ((r_idle > 40 * 1024)); then
  echo "idle: raptor's resident set with $connections idle connections is over 40 MB" >&2
fi
