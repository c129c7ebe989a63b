#!/usr/bin/env bash
# A PostgreSQL for the tests and the load benchmark.
#
#   scripts/ensure-postgres.sh                    print an admin URL (user postgres, database
#                                                 postgres) of a server that answers, starting a
#                                                 private cluster under target/ if none does
#   scripts/ensure-postgres.sh --private-running  exit 0 if the private cluster answers
#   scripts/ensure-postgres.sh --stop             stop the private cluster if it runs
#
# Order: TEST_DATABASE_URL if set (printed as is); else a server on 127.0.0.1:5432 that lets in
# user postgres (trust auth); else `raptor dev-db`, which starts (as root: as the postgres user)
# a private cluster in target/raptor-pg on port 54329 from the system PostgreSQL install, and
# prints its URL. As root, target/raptor-pg links to a directory the postgres user owns in the
# system's temporary directory when that user cannot enter the checkout (a 0700 parent). RAPTOR_BIN names a raptor binary to use instead of building target/debug/raptor.
# Progress goes to stderr; stdout carries the URL only.
set -euo pipefail

cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
# RAPTOR_PRIVATE_PG_PORT: the private cluster on another port, and never the server on 5432.
private_port="${RAPTOR_PRIVATE_PG_PORT:-54329}"
private_dir="$target_dir/raptor-pg"

say() { echo "ensure-postgres: $*" >&2; }

# A PostgreSQL client tool: on PATH, else from the newest /usr/lib/postgresql/<version>/bin.
pg_tool() {
  local name="$1" dir
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return 0
  fi
  # shellcheck disable=SC2012 # Debian's paths: /usr/lib/postgresql/<number>/bin
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5nr); do
    if [[ -x "$dir/$name" ]]; then
      echo "$dir/$name"
      return 0
    fi
  done
  return 1
}

# Whether a server on 127.0.0.1:<port> lets user postgres in (or, lacking psql, accepts
# connections at all).
answers() {
  local port="$1" tool
  if tool=$(pg_tool psql); then
    [[ "$(PGCONNECT_TIMEOUT=3 "$tool" -X -w -At -d "postgres://postgres@127.0.0.1:$port/postgres" \
      -c 'SELECT 1' </dev/null 2>/dev/null)" == 1 ]]
  elif tool=$(pg_tool pg_isready); then
    "$tool" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 3 </dev/null
  else
    timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
  fi
}

# The server binaries raptor dev-db needs; installed from Debian's packages when missing.
ensure_server_install() {
  if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    return 0
  fi
  if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "no PostgreSQL server install found and cannot apt-get one; set TEST_DATABASE_URL"
    return 1
  fi
  say "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
}

stop_private() {
  local pg_ctl
  [[ -f "$private_dir/postmaster.pid" ]] || return 0
  pg_ctl=$(pg_tool pg_ctl) || {
    say "pg_ctl not found; cannot stop $private_dir"
    return 1
  }
  say "stopping the private cluster in $private_dir"
  if [[ "$(id -u)" -eq 0 ]]; then
    # The real path: as root the data may live in a temporary directory target/raptor-pg links
    # to, which the postgres user reaches without entering the checkout.
    local data
    data=$(cd "$private_dir" && pwd -P)
    (cd "$data" && runuser -u postgres -- "$pg_ctl" -D "$data" -m fast -w stop >&2)
  else
    "$pg_ctl" -D "$private_dir" -m fast -w stop >&2
  fi
}

case "${1:-}" in
  --private-running)
    answers "$private_port"
    exit
    ;;
  --stop)
    stop_private
    exit
    ;;
  "") ;;
  *)
    echo "usage: $0 [--private-running | --stop]" >&2
    exit 2
    ;;
esac

if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
  say "using TEST_DATABASE_URL"
  echo "$TEST_DATABASE_URL"
  exit 0
fi

if [[ -z "${RAPTOR_PRIVATE_PG_PORT:-}" ]] && answers 5432; then
  say "using the server on 127.0.0.1:5432"
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

if answers "$private_port"; then
  say "using the private cluster on 127.0.0.1:$private_port"
  echo "postgres://postgres@127.0.0.1:$private_port/postgres"
  exit 0
fi

ensure_server_install
raptor="${RAPTOR_BIN:-}"
if [[ -z "$raptor" ]]; then
  say "nothing answers on 127.0.0.1:5432; building raptor to start a private cluster"
  cargo build --bin raptor >&2
  raptor="$target_dir/debug/raptor"
fi
url=$("$raptor" dev-db </dev/null | grep -E '^postgres(ql)?://' | tail -n 1) || true
if [[ -z "$url" ]]; then
  say "raptor dev-db printed no URL (see $private_dir/server.log)"
  exit 1
fi
say "started the private cluster in $private_dir"
echo "$url"
