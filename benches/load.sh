#!/usr/bin/env bash
# Load benchmark (not part of the test suite): `raptor serve` against a bare hyper server.
#
#   benches/load.sh
#   DURATION=3 ROUNDS=1 CONNECTIONS=16 benches/load.sh
#
# Builds raptor and examples/baseline_hyper.rs in release mode, installs the load generator
# (wrk, from Debian's packages) if it is missing, finds or starts a
# PostgreSQL (scripts/ensure-postgres.sh), creates a throwaway database, runs `raptor migrate`,
# starts `raptor serve` (APP_ENV=test, a random SECRET_KEY, the per-client rate limit on, the
# production log level), drives GET /health, GET /api/system/health and GET /api/system/status,
# then two signed-in routes on examples/bench_server.rs (the same application, with one
# benchmark user signed in and synthetic market data): GET /api/auth/session, a cached
# GET /api/market-data/quotes/latest, and the user's own paper book from Postgres (through the
# process's book cache): GET /api/trading/account and GET /api/trading/orders. The baseline's GET /health runs before and after every
# round of them (ROUNDS rounds); it prints requests/s and p99 latency for each, with raptor's
# share of the baseline (medians over the rounds).
#
# Everything stays on 127.0.0.1. Each run lasts DURATION seconds; every process started here is
# stopped and the database dropped on exit.
#
# Environment: DURATION (s, default 5), ROUNDS (default 3), CONNECTIONS (default 64), THREADS (load generator
# threads, default 2), RAPTOR_PORT (default 18080), BASELINE_PORT (default 18081),
# TEST_DATABASE_URL (an admin URL to create the throwaway database on), LOAD_ONLY=1 to skip the
# memory (benches/idle_connections.sh) and audit (cargo bench --bench audit) figures printed last.
set -euo pipefail

cd "$(dirname "$0")/.."

duration="${DURATION:-5}"
rounds="${ROUNDS:-3}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
raptor_port="${RAPTOR_PORT:-18080}"
baseline_port="${BASELINE_PORT:-18081}"
signed_port="${SIGNED_PORT:-18082}"
target_dir="${CARGO_TARGET_DIR:-target}"
host=127.0.0.1

for n in "$duration" "$rounds" "$connections" "$threads" "$raptor_port" "$baseline_port" "$signed_port"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || {
    echo "load: DURATION, ROUNDS, CONNECTIONS, THREADS and the ports must be positive integers" >&2
    exit 2
  }
done
if ((duration > 300)); then
  echo "load: DURATION is capped at 300 s" >&2
  exit 2
fi

bench=load
# shellcheck source=benches/lib.sh
source benches/lib.sh

# 1. Builds -------------------------------------------------------------------------------------
step "building raptor and examples/baseline_hyper (release)"
cargo build --release --bin raptor --example baseline_hyper --example bench_server
raptor="$target_dir/release/raptor"
baseline="$target_dir/release/examples/baseline_hyper"
bench_server="$target_dir/release/examples/bench_server"

# 2. Load generator: wrk, from Debian's packages ----------------------------------------------
install_wrk
tool=wrk

# 3. PostgreSQL and a throwaway database ------------------------------------------------------
step "postgres"
bench_database "$raptor"
echo "database: $database" >&2

# 4. raptor migrate, raptor serve, the baseline -----------------------------------------------
require_ports_free "$raptor_port" "$baseline_port" "$signed_port"

secret_key=$(random_secret_key)
raptor_env=(
  APP_ENV=test
  DATABASE_URL="$database_url"
  DATABASE_SSL=disable
  SECRET_KEY="$secret_key"
  BIND_ADDRESS="$host"
  PORT="$raptor_port"
  # The full stack at the production log level: every request writes its access-log line,
  # and the per-client rate limit is on (high enough that the load is never refused).
  ENABLE_GLOBAL_RATE_LIMIT=true
  RATE_LIMIT_PER_MINUTE=100000000
  LOG_LEVEL=info
  LOG_FORMAT=json
)

step "raptor migrate"
env "${raptor_env[@]}" "$raptor" migrate </dev/null

step "starting raptor serve on $host:$raptor_port and the baseline on $host:$baseline_port"
env "${raptor_env[@]}" "$raptor" serve </dev/null >"$work/raptor.log" 2>&1 &
pids+=($!)
raptor_pid=$!
"$baseline" "$baseline_port" </dev/null >"$work/baseline.log" 2>&1 &
pids+=($!)
baseline_pid=$!
await_server raptor "$raptor_port" "$raptor_pid" "$work/raptor.log"
if [[ "$(http_status "$raptor_port" /api/system/status)" != 200 ]]; then
  echo "load: GET /api/system/status is not 200 before the run; raptor's log:" >&2
  tail -n 40 "$work/raptor.log" >&2
  exit 1
fi
# The signed-in process: development mode only for its synthetic market data (no Alpaca
# account is needed), with the same log format and level as raptor serve above.
env "${raptor_env[@]}" APP_ENV=development LOG_FORMAT=json PORT="$signed_port" \
  MARKET_DATA_TTL_MS=60000 "$bench_server" </dev/null >"$work/signed.out" 2>"$work/signed.log" &
pids+=($!)
signed_pid=$!
await_server bench_server "$signed_port" "$signed_pid" "$work/signed.log"
cookie=$(sed -n 's/^COOKIE=//p' "$work/signed.out" | head -n 1)
[[ -n "$cookie" ]] || {
  echo "load: bench_server printed no cookie" >&2
  exit 1
}
quotes_path="/api/market-data/quotes/latest?symbols=AAPL,MSFT,NVDA"
# Warm the caches: the measured requests are hits (the first trading read opens the book).
for warm in "$quotes_path" /api/trading/account /api/trading/orders; do
  timeout 5 bash -c 'exec 3<>"/dev/tcp/'"$host"'/'"$signed_port"'"
    printf "GET %s HTTP/1.1\r\nHost: localhost\r\nCookie: %s\r\nConnection: close\r\n\r\n" "$0" "$1" >&3
    head -n 1 <&3' "$warm" "$cookie" >/dev/null
done

await_server "the baseline" "$baseline_port" "$baseline_pid" "$work/baseline.log" 30

# 5. Load -------------------------------------------------------------------------------------
# Prints "<requests/s> <p99 ms> <non-2xx or failed responses> <responses>" for one run.
run_wrk() {
  local url="$1" header="${2:-}" out
  local extra=()
  [[ -n "$header" ]] && extra=(-H "$header")
  out=$(wrk --latency -t "$threads" -c "$connections" -d "${duration}s" --timeout 5s "${extra[@]}" "$url")
  printf '%s\n' "$out" >"$work/last.txt"
  wrk_figures <<<"$out" | awk '{ printf "%s %s %d %d\n", $1, $3, $4 + $5, $6 }'
}

declare -A rps=() p99=() bad=() total=()
measure() {
  local name="$1" port="$2" path="$3" header="${4:-}" result
  step "$name: GET http://$host:$port$path for ${duration}s, $connections connections ($tool)"
  result=$("run_$tool" "http://$host:$port$path" "$header")
  read -r "rps[$name]" "p99[$name]" "bad[$name]" "total[$name]" <<<"$result"
  echo "  ${rps[$name]} requests/s, p99 ${p99[$name]} ms, ${total[$name]} responses, ${bad[$name]} not 2xx or failed" >&2
  if [[ -z "${rps[$name]}" ]]; then
    echo "load: could not read the $tool output:" >&2
    cat "$work/last.txt" >&2
    exit 1
  fi
}

# On a small machine the load generator and the server share the cores, and how the scheduler
# splits them moves a single run by ±15 %. So the runs alternate: ROUNDS rounds, each the
# baseline then every raptor target, and one last baseline. Each raptor run is compared with
# the baseline runs just before and after it; a target's figure is its median over the rounds.
targets=(
  "raptor /health|$raptor_port|/health|"
  "raptor /api/system/health|$raptor_port|/api/system/health|"
  "raptor /api/system/status|$raptor_port|/api/system/status|"
  "raptor /api/auth/session|$signed_port|/api/auth/session|Cookie: $cookie"
  "raptor quotes (cached)|$signed_port|$quotes_path|Cookie: $cookie"
  "raptor trading account|$signed_port|/api/trading/account|Cookie: $cookie"
  "raptor trading orders|$signed_port|/api/trading/orders|Cookie: $cookie"
)
declare -A ratios=() p99s=() rpss=() bads=()
measure "baseline /health" "$baseline_port" /health
base_runs=("${rps[baseline /health]}")
base_p99s=("${p99[baseline /health]}")
base_bad=${bad[baseline /health]}
for ((round = 1; round <= rounds; round++)); do
  for target in "${targets[@]}"; do
    IFS='|' read -r name port path header <<<"$target"
    measure "$name (round $round)" "$port" "$path" "$header"
    rpss[$name]+=" ${rps[$name (round $round)]}"
    p99s[$name]+=" ${p99[$name (round $round)]}"
    bads[$name]=$((${bads[$name]:-0} + ${bad[$name (round $round)]}))
  done
  measure "baseline /health" "$baseline_port" /health
  base_runs+=("${rps[baseline /health]}")
  base_p99s+=("${p99[baseline /health]}")
  base_bad=$((base_bad + ${bad[baseline /health]}))
  before="${base_runs[round - 1]}" after="${base_runs[round]}"
  for target in "${targets[@]}"; do
    IFS='|' read -r name _ <<<"$target"
    ratios[$name]+=" $(awk -v r="${rps[$name (round $round)]}" -v a="$before" -v b="$after" \
      'BEGIN { printf "%.4f", 2 * r / (a + b) }')"
  done
done

if ! kill -0 "$raptor_pid" 2>/dev/null; then
  echo "load: raptor exited during the run; its log:" >&2
  tail -n 40 "$work/raptor.log" >&2
  exit 1
fi

# 6. Report -----------------------------------------------------------------------------------
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base_rps=$(printf '%s ' "${base_runs[@]}" | median)
base_p99=$(printf '%s ' "${base_p99s[@]}" | median)
echo
echo "load: $rounds rounds of ${duration}s per target, $connections connections, $tool, $(nproc) cores, loopback"
echo "      (medians; a ratio compares each run with the baseline runs around it)"
printf '%-28s %12s %10s %10s %14s %12s %s\n' target "requests/s" "p99 ms" "not 2xx" "rps/baseline" "p99/baseline" "ratio per round"
for target in "${targets[@]}"; do
  IFS='|' read -r name _ <<<"$target"
  r=$(median <<<"${rpss[$name]}")
  p=$(median <<<"${p99s[$name]}")
  ratio=$(median <<<"${ratios[$name]}")
  awk -v name="$name" -v r="$r" -v p="$p" -v b="${bads[$name]}" -v ratio="$ratio" \
    -v bp="$base_p99" -v each="${ratios[$name]}" 'BEGIN {
      pr = (bp > 0) ? sprintf("%.2f", p / bp) : "n/a"
      printf "%-28s %12.0f %10.3f %10d %14.3f %12s %s\n", name, r, p, b, ratio, pr, each
    }'
done
awk -v r="$base_rps" -v p="$base_p99" -v b="$base_bad" -v each="${base_runs[*]}" 'BEGIN {
  printf "%-28s %12.0f %10.3f %10d %14s %12s %s\n", "baseline /health", r, p, b, "1", "1", each
}'

# 7. Memory and audit throughput (their own scripts, each against its baseline) ---------------
if [[ "${LOAD_ONLY:-}" != 1 ]]; then
  step "memory: benches/idle_connections.sh (1,000 idle keep-alive connections)"
  SKIP_BUILD=1 RAPTOR_PORT=$((raptor_port + 100)) BASELINE_PORT=$((baseline_port + 100)) \
    TEST_DATABASE_URL="$admin_url" benches/idle_connections.sh >"$work/idle.out" 2>"$work/idle.log" ||
    { tail -n 20 "$work/idle.log" >&2; exit 1; }
  step "audit: cargo bench --bench audit (64 callers, group commit against one commit per row)"
  TEST_DATABASE_URL="$admin_url" cargo bench -q --bench audit >"$work/audit.out" 2>"$work/audit.log" ||
    { tail -n 20 "$work/audit.log" >&2; exit 1; }
  echo
  printf '%-32s %14s %14s %10s\n' figure value baseline ratio
  cat "$work/idle.out" "$work/audit.out" | awk 'NF == 4 { printf "%-32s %14s %14s %10s\n", $1, $2, $3, $4 }'
fi
