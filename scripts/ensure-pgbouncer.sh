#!/usr/bin/env bash
# A PgBouncer in transaction mode in front of the tests' PostgreSQL, as Heroku's connection
# pooling puts one in front of Heroku Postgres (issue 25, docs/capacity.md).
#
#   scripts/ensure-pgbouncer.sh [UPSTREAM_URL]   print the URL of a PgBouncer that answers,
#                                                starting a private one under target/ if none
#                                                does (UPSTREAM_URL: TEST_DATABASE_URL, else
#                                                postgres://postgres@127.0.0.1:5432/postgres)
#   scripts/ensure-pgbouncer.sh --private-running  exit 0 if the private PgBouncer answers
#   scripts/ensure-pgbouncer.sh --stop           stop the private PgBouncer if it runs
#
# Debian's `pgbouncer` package (bookworm: 1.18) is installed when missing (as root, apt-get).
# The private PgBouncer listens on 127.0.0.1:64329 with `pool_mode = transaction` and a
# wildcard database entry, so every test database the tests create is reachable through it
# under its own name; clients are trusted (loopback only), and PgBouncer logs in upstream as
# the client's user with the password of UPSTREAM_URL, if any (kept in a 0600 file under
# target/, never printed). PgBouncer refuses to run as root: as root it runs as `postgres`.
# Progress goes to stderr; stdout carries the URL only (user postgres, database postgres).
set -euo pipefail

cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
port=64329
dir="$target_dir/raptor-pgbouncer"

say() { echo "ensure-pgbouncer: $*" >&2; }

stop_private() {
  [[ -f "$dir/pgbouncer.pid" ]] || return 0
  local pid
  pid=$(cat "$dir/pgbouncer.pid")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping the private PgBouncer (pid $pid)"
    kill -INT "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$dir/pgbouncer.pid"
}

answers() {
  [[ -f "$dir/pgbouncer.pid" ]] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null &&
    timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}

case "${1:-}" in
  --stop)
    stop_private
    exit 0
    ;;
  --private-running)
    answers
    exit
    ;;
esac

upstream="${1:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
# postgres[ql]://user[:password]@host[:port]/database[?…]
if ! [[ "$upstream" =~ ^postgres(ql)?://([^:@/]+)(:([^@/]*))?@([^:/?]+)(:([0-9]+))?/ ]]; then
  say "cannot read user, host and port from the upstream URL"
  exit 1
fi
user="${BASH_REMATCH[2]}"
password="${BASH_REMATCH[4]}"
host="${BASH_REMATCH[5]}"
upstream_port="${BASH_REMATCH[7]:-5432}"
url="postgres://$user@127.0.0.1:$port/postgres"

if ! command -v pgbouncer >/dev/null 2>&1 && [[ ! -x /usr/sbin/pgbouncer ]]; then
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "pgbouncer is not installed and cannot be (apt-get install pgbouncer)"
    exit 1
  fi
  say "installing pgbouncer from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends pgbouncer >&2
fi
pgbouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

config=$(
  cat <<CONFIG
; Written by scripts/ensure-pgbouncer.sh for the tests; rewritten on every start.
[databases]
* = host=$host port=$upstream_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = userlist.txt
pool_mode = transaction
; Many short-lived test databases, a few server connections each.
max_client_conn = 4000
default_pool_size = 4
server_idle_timeout = 10
server_lifetime = 600
; Sent by some drivers at startup; tokio-postgres does not, but psql may.
ignore_startup_parameters = extra_float_digits
logfile = pgbouncer.log
pidfile = pgbouncer.pid
CONFIG
)

mkdir -p "$dir"
if answers && [[ "$(cat "$dir/pgbouncer.ini" 2>/dev/null)" == "$config" ]]; then
  say "using the private PgBouncer on 127.0.0.1:$port"
  echo "$url"
  exit 0
fi
stop_private

umask 077
printf '%s\n' "$config" >"$dir/pgbouncer.ini"
printf '"%s" "%s"\n' "$user" "$password" >"$dir/userlist.txt"
: >"$dir/pgbouncer.log"
dir_abs=$(cd "$dir" && pwd)
if [[ "$(id -u)" -eq 0 ]]; then
  chown -R postgres:postgres "$dir"
  (cd "$dir_abs" && runuser -u postgres -- "$pgbouncer_bin" -d -q pgbouncer.ini) >&2
else
  (cd "$dir_abs" && "$pgbouncer_bin" -d -q pgbouncer.ini) >&2
fi
for _ in $(seq 100); do
  if answers; then
    say "started PgBouncer $("$pgbouncer_bin" --version | head -n 1 | awk '{print $2}') on 127.0.0.1:$port (transaction pooling)"
    echo "$url"
    exit 0
  fi
  sleep 0.1
done
say "PgBouncer did not start; see $dir/pgbouncer.log"
tail -n 20 "$dir/pgbouncer.log" >&2 || true
exit 1
