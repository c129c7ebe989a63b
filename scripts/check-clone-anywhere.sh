#!/usr/bin/env bash
# A clone that works anywhere: clones this repository (its committed HEAD) into a directory only
# its owner can enter (a `mktemp -d`, mode 0700, as in root's home) and starts the private
# PostgreSQL cluster from there (scripts/ensure-postgres.sh → raptor dev-db) on a port of its own,
# then stops it and removes everything. As root the cluster runs as the postgres user, who cannot
# enter the clone: its data must live where that user can reach it (src/db/local_cluster.rs).
#
#   scripts/check-clone-anywhere.sh        RAPTOR_BIN: the raptor to use (default target/debug/raptor)
#
# Bounded: no build in the clone; a fresh cluster on one port; about five seconds.
set -euo pipefail

cd "$(dirname "$0")/.."

raptor="${RAPTOR_BIN:-${CARGO_TARGET_DIR:-target}/debug/raptor}"
[[ -x "$raptor" ]] || { echo "check-clone-anywhere: no raptor at $raptor (cargo build --bin raptor)" >&2; exit 1; }
raptor="$(cd "$(dirname "$raptor")" && pwd)/$(basename "$raptor")"

# A free port on loopback for the clone's cluster.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

home=$(mktemp -d)
chmod 700 "$home"
clone="$home/raptor"
data=""
finish() {
  if [[ -d "$clone" ]]; then
    (cd "$clone" && RAPTOR_PRIVATE_PG_PORT="$port" CARGO_TARGET_DIR= scripts/ensure-postgres.sh --stop) || true
    data=$(readlink "$clone/target/raptor-pg" 2>/dev/null || true)
  fi
  rm -rf "$home"
  # The data directory made for the postgres user, if the cluster needed one.
  [[ -n "$data" && "$data" == "${TMPDIR:-/tmp}"/raptor-pg-* ]] && rm -rf "$data"
  return 0
}
trap finish EXIT

git clone --quiet --no-hardlinks . "$clone"
url=$(cd "$clone" && unset CARGO_TARGET_DIR TEST_DATABASE_URL &&
  RAPTOR_PRIVATE_PG_PORT="$port" RAPTOR_BIN="$raptor" scripts/ensure-postgres.sh)
expected="postgres://postgres@127.0.0.1:$port/postgres"
if [[ "$url" != "$expected" ]]; then
  echo "check-clone-anywhere: expected the clone's private cluster at $expected, got '$url'" >&2
  exit 1
fi
psql=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
if [[ -n "$psql" ]]; then
  [[ "$("$psql" -X -w -At -d "$url" -c 'SELECT 1' </dev/null)" == 1 ]] || {
    echo "check-clone-anywhere: the clone's cluster does not answer" >&2
    exit 1
  }
fi
echo "check-clone-anywhere: a clone in a 0700 directory started its private cluster ($(id -un))"
