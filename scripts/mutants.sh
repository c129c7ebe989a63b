#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the security-critical modules, with the score per file.
#
#   scripts/mutants.sh                         every file below (about an hour on two cores)
#   scripts/mutants.sh src/http/csrf.rs ...    just these files
#
# The modules: CSRF, client IP, the rate limits (per process and shared), the outbound budget to
# Alpaca, token minting and sealing, and order parsing (with order classes, idempotency keys and
# order ids). Their unit tests (`--lib`: each
# file's tests, including its `mutation_tests` module) must catch at least 90% of the viable
# mutants of each file; equivalent mutants are excluded in .cargo/mutants.toml, each with its
# reason. The tests of src/limits.rs and of the outbound budget's account use a real Postgres
# (scripts/ensure-postgres.sh finds or starts one, as for the integration tests).
#
# Installs cargo-mutants (`cargo install --locked cargo-mutants`) when it is missing. Builds go
# to MUTANTS_TARGET_DIR (default target/mutants), so repeated runs build incrementally; results
# go to target/mutants.out. Exits non-zero when a file scores below MUTANTS_MIN_SCORE (90).
set -euo pipefail

cd "$(dirname "$0")/.."

default_files=(
  src/http/csrf.rs
  src/http/client_ip.rs
  src/http/rate_limit.rs
  src/limits.rs
  actors/src/outbound.rs
  actors/src/outbound/account.rs
  actors/src/outbound/signals.rs
  actors/src/token.rs
  src/trading/order.rs
  src/trading/order/values.rs
  src/trading/order/class.rs
  src/trading/ids.rs
)
files=("$@")
((${#files[@]})) || files=("${default_files[@]}")
min_score="${MUTANTS_MIN_SCORE:-90}"

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "mutants: installing cargo-mutants" >&2
  cargo install --locked cargo-mutants
fi

if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
  export TEST_DATABASE_URL
fi

export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-$(pwd)/target/mutants}"
out="$(pwd)/target/mutants.out"
mkdir -p "$out"

file_args=()
for file in "${files[@]}"; do
  [[ -f "$file" ]] || {
    echo "mutants: no such file: $file" >&2
    exit 2
  }
  file_args+=(--file "$file")
done

# Unit tests only (`--lib` for the build and the test run): the integration tests are not needed
# to judge these modules, and building them for every mutant would take hours.
status=0
cargo mutants --workspace "${file_args[@]}" --cargo-arg=--lib --timeout 120 \
  --output "$out" --no-shuffle || status=$?
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts: the scores below decide.
if ((status != 0 && status != 2 && status != 3)); then
  echo "mutants: cargo-mutants failed (exit $status)" >&2
  exit "$status"
fi

python3 - "$out/mutants.out/outcomes.json" "$min_score" <<'PY'
import json, sys
from collections import defaultdict

outcomes = json.load(open(sys.argv[1]))["outcomes"]
minimum = float(sys.argv[2])
per_file = defaultdict(lambda: defaultdict(int))
missed = defaultdict(list)
for o in outcomes:
    mutant = o["scenario"].get("Mutant") if isinstance(o["scenario"], dict) else None
    if not mutant:
        continue
    per_file[mutant["file"]][o["summary"]] += 1
    if o["summary"] == "MissedMutant":
        missed[mutant["file"]].append(mutant["name"])

print(f"\n{'file':<32} {'caught':>6} {'missed':>6} {'timeout':>7} {'unviable':>8} {'score':>7}")
low = []
for file in sorted(per_file):
    c = per_file[file]
    caught, miss, timeout = c["CaughtMutant"], c["MissedMutant"], c["Timeout"]
    viable = caught + miss + timeout
    score = 100.0 * (caught + timeout) / viable if viable else 100.0
    print(f"{file:<32} {caught:>6} {miss:>6} {timeout:>7} {c['Unviable']:>8} {score:>6.1f}%")
    if score < minimum:
        low.append(file)
for file in sorted(missed):
    for name in missed[file]:
        print(f"  missed: {name}")
if low:
    print(f"\nbelow {minimum:.0f}%: {', '.join(low)}")
    sys.exit(1)
PY
