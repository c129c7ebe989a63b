#!/usr/bin/env bash
# The fault campaign (issue 9): the real `raptor serve` with the simulated broker, under a steady
# mixed load, while Postgres is stopped (`pg_ctl -m immediate`) and started again, the session
# store panics (SIGUSR1), a second server trades through a broker that never answers, and the
# server gets SIGTERM. A checker then verifies that every acknowledged (2xx) state change has its
# audit row, that the audit hash chain verifies (`raptor audit verify`), and that no 5xx other
# than the documented 503 (and 504 from the hung broker) was answered; it prints a table per
# fault and exits non-zero when an invariant fails.
#
#   scripts/fault-campaign.sh                            about a minute (CI: scripts/test.sh)
#   FAULT_CAMPAIGN_SECONDS=60 scripts/fault-campaign.sh  longer, by hand
#
# It starts its own private PostgreSQL cluster under target/fault-campaign (never the test
# server: it is stopped with -m immediate), from the system PostgreSQL install (as root: as the
# postgres user), on a free port, and removes it on exit.
#
# Environment: FAULT_CAMPAIGN_SECONDS (load per phase, default 6), FAULT_CAMPAIGN_USERS
# (signed-in users driving the load, default 6), CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
# Absolute from here on (CARGO_TARGET_DIR may be either).
[[ "$target_dir" == /* ]] || target_dir="$(pwd)/$target_dir"
seconds="${FAULT_CAMPAIGN_SECONDS:-6}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 2 ]] || {
  echo "fault-campaign: FAULT_CAMPAIGN_SECONDS must be a whole number >= 2" >&2
  exit 2
}

say() { echo "fault-campaign: $*" >&2; }

pg_bin() {
  local dir
  if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    pg_config --bindir
    return 0
  fi
  # shellcheck disable=SC2012 # Debian's paths: /usr/lib/postgresql/<number>/bin
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5nr); do
    if [[ -x "$dir/initdb" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

bin=$(pg_bin) || {
  say "no PostgreSQL server install (initdb, pg_ctl) found"
  exit 1
}

say "building raptor (with fault injection) and the campaign driver"
cargo build --quiet --all-features --bin raptor --example fault_campaign

work="$target_dir/fault-campaign"
rm -rf "$work"
mkdir -p "$work"
data="$work/pg"
as_pg=()
if [[ "$(id -u)" -eq 0 ]]; then
  chown postgres:postgres "$work"
  as_pg=(runuser -u postgres --)
fi

pgctl="$work/pgctl"
cleanup() {
  local status=$?
  if [[ -f "$data/postmaster.pid" ]]; then
    "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ "${KEEP_FAULT_CAMPAIGN:-}" != 1 ]]; then
    rm -rf "$data"
  fi
  exit "$status"
}
trap cleanup EXIT

say "initdb in $data"
"${as_pg[@]}" "$bin/initdb" -D "$data" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1

# pg_ctl needs its port up front: pick one in a high range, and try another if it is taken.
port=""
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 30000))
  cat >"$pgctl" <<PGCTL
#!/usr/bin/env bash
# start | stop the fault campaign's private cluster (stop is -m immediate: a crash).
set -euo pipefail
case "\$1" in
  start) exec ${as_pg[*]} "$bin/pg_ctl" -D "$data" -l "$work/postgres.log" -w -t 30 \\
           -o "-p $candidate -c listen_addresses=127.0.0.1 -k $work -c fsync=off" start >/dev/null ;;
  stop) exec ${as_pg[*]} "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null ;;
  *) echo "usage: \$0 start|stop" >&2; exit 2 ;;
esac
PGCTL
  chmod +x "$pgctl"
  if "$pgctl" start; then
    port=$candidate
    break
  fi
done
[[ -n "$port" ]] || {
  say "the private cluster did not start (see $work/postgres.log)"
  exit 1
}
say "private cluster on 127.0.0.1:$port"

"${as_pg[@]}" "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c 'CREATE DATABASE raptor_fault' >/dev/null

RAPTOR_BIN="$target_dir/debug/raptor" \
  FAULT_DATABASE_URL="postgres://postgres@127.0.0.1:$port/raptor_fault" \
  FAULT_PGCTL="$pgctl" \
  FAULT_WORK_DIR="$work" \
  FAULT_CAMPAIGN_SECONDS="$seconds" \
  "$target_dir/debug/examples/fault_campaign"
