# Shared by the benchmark scripts (sourced, not run): what a run starts and must stop, a
# throwaway database, wrk, and HTTP probes over bash's /dev/tcp (curl may be missing on a fresh
# machine). The sourcing script sets `bench` (its name, for messages and the database name) and
# `host`, and may define `before_cleanup` to run first on exit.

pids=()
database=""
admin_url=""
stop_private=0
work=$(mktemp -d)

step() { printf '\n==> %s\n' "$*" >&2; }

# On exit: every process in `pids` (10 s for a graceful stop, then SIGKILL), the database, a
# private cluster this run started, the scratch directory.
bench_cleanup() {
  local status=$? pid
  if declare -F before_cleanup >/dev/null; then
    before_cleanup
  fi
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$database" && -n "$admin_url" ]]; then
    psql_admin -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "$bench: could not drop database $database" >&2
  fi
  if ((stop_private)); then
    scripts/ensure-postgres.sh --stop || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A field of /proc/<pid>/status in kB (VmRSS, VmHWM, RssAnon, RssFile).
status_kb() {
  awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"
}

psql_bin() {
  if command -v psql >/dev/null 2>&1; then
    command -v psql
  else
    # shellcheck disable=SC2012 # Debian's paths: /usr/lib/postgresql/<number>/bin
    ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -t/ -k5,5nr | head -n 1
  fi
}
psql_admin() {
  PGCONNECT_TIMEOUT=5 "$psql" -X -w -q -v ON_ERROR_STOP=1 -d "$admin_url" "$@" </dev/null
}

# Finds or starts a PostgreSQL (scripts/ensure-postgres.sh; a private cluster started here is
# stopped on exit) and creates the throwaway database. Sets admin_url, psql, database and
# database_url. $1: the raptor binary (ensure-postgres may use it).
bench_database() {
  local private_was_up=1
  if [[ -z "${TEST_DATABASE_URL:-}" ]] && ! scripts/ensure-postgres.sh --private-running; then
    private_was_up=0
  fi
  admin_url=$(RAPTOR_BIN="$1" scripts/ensure-postgres.sh)
  if ((!private_was_up)) && [[ "$admin_url" == *:54329/* ]]; then
    stop_private=1
  fi
  psql=$(psql_bin)
  [[ -n "$psql" ]] || {
    echo "$bench: psql not found" >&2
    exit 1
  }
  database="raptor_bench_${bench//-/_}_$(date +%s)_$$"
  psql_admin -c "CREATE DATABASE \"$database\""
  database_url="${admin_url%/*}/$database"
}

# wrk, from Debian's packages, unless it is there.
install_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  step "installing wrk (Debian)"
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$bench: wrk is missing and cannot be installed here (needs root and apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq wrk >"$work/apt.log" 2>&1; then
    apt-get update -qq >>"$work/apt.log" 2>&1 || true
    apt-get install -y -qq wrk >>"$work/apt.log" 2>&1 || {
      tail -n 20 "$work/apt.log" >&2
      exit 1
    }
  fi
}

# The status code of one GET http://$host:<port><path>.
http_status() {
  local port="$1" path="$2" line
  # shellcheck disable=SC2016 # $0 and $1 expand in the inner bash
  line=$(timeout 2 bash -c '
    exec 3<>"/dev/tcp/'"$host"'/$0" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$1" >&3
    head -n 1 <&3' "$port" "$path" 2>/dev/null) || true
  line="${line%$'\r'}"
  echo "${line#HTTP/1.1 }" | cut -d' ' -f1
}

# Polls until <path> on <port> answers 200, for at most <seconds>, while <pid> lives.
wait_http() {
  local port="$1" path="$2" seconds="$3" pid="$4" i
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(http_status "$port" "$path")" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}

port_free() {
  ! timeout 1 bash -c "exec 3<>/dev/tcp/$host/$1" 2>/dev/null
}

# Exits unless every <port> is free.
require_ports_free() {
  local port
  for port in "$@"; do
    port_free "$port" || {
      echo "$bench: port $port is taken (set RAPTOR_PORT / BASELINE_PORT)" >&2
      exit 1
    }
  done
}

# Waits (see wait_http) until <name>, process <pid> logging to <log>, answers GET /health on
# <port>; else prints the end of its log and exits.
await_server() {
  local name="$1" port="$2" pid="$3" log="$4" seconds="${5:-60}"
  wait_http "$port" /health "$seconds" "$pid" && return 0
  echo "$bench: $name did not answer GET /health; its log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}

# A fresh SECRET_KEY: 32 random bytes, in hex.
random_secret_key() {
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

# The figures of one `wrk --latency` run, read from its output on stdin:
# "<requests/s> <p50 ms> <p99 ms> <non-2xx responses> <socket errors> <responses>".
wrk_figures() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    $1 == "50%"           { p50 = ms($2) }
    $1 == "99%"           { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    /requests in/         { total = $1 }
    /Non-2xx or 3xx/      { non2xx += $NF }
    /Socket errors/       { n = split($0, f, /[ ,]+/); for (i = 1; i <= n; i++) if (f[i] ~ /^[0-9]+$/) errors += f[i] }
    END { printf "%s %.3f %.3f %d %d %d\n", rps, p50, p99, non2xx, errors, total }
  '
}
