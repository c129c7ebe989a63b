#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run):
#   1. formatting (cargo fmt --check)
#   2. a PostgreSQL for the integration tests (scripts/ensure-postgres.sh), as TEST_DATABASE_URL,
#      and a transaction-mode PgBouncer in front of it (scripts/ensure-pgbouncer.sh), as
#      TEST_PGBOUNCER_URL: the app under test pools its connections through it
#   3. lints (clippy, every target and feature, warnings denied)
#   4. the secret scan (scripts/secret-scan.sh)
#   5. dependency hygiene: cargo deny check licenses bans sources (deny.toml; offline, no
#      advisory database), installing cargo-deny (pinned) when it is missing
#   6. the structure check (scripts/structure-check.py: no import circle, no upward import, no
#      function over 80 lines), then the tests (cargo nextest if installed, else cargo test),
#      with a Python that has aiosmtpd
#      for the SMTP tests and schemathesis for the API fuzz test (RAPTOR_TEST_PYTHON), and
#      Chromium + playwright-core for the browser test (scripts/install-browser.sh); before
#      them, the TypeScript client example type-checked against docs/openapi.json, every body
#      with a shape (scripts/check-ts-client.sh; tests/api/ts_client.rs runs it)
#   7. the API's breaking changes: the generated document against the committed one
#      (OPENAPI_BASE_REF, default HEAD; scripts/openapi-breaking.py)
#   8. a clone in a 0700 directory starts its private PostgreSQL (scripts/check-clone-anywhere.sh)
#   9. the fault campaign (scripts/fault-campaign.sh, bounded: FAULT_CAMPAIGN_SECONDS, default 6)
#
# Environment: TEST_DATABASE_URL to use a server of your own; TEST_PGBOUNCER_URL for a
# PgBouncer of your own in front of it (or `off` to connect directly); RAPTOR_TEST_PYTHON for a Python
# that already has aiosmtpd (and schemathesis beside it, else the fuzz test skips outside CI);
# SCHEMATHESIS_MAX_EXAMPLES / SCHEMATHESIS_SEED for a longer or another fuzz run; KEEP_TEST_DB=1 to leave running a private cluster this run started.
# Extra arguments go to the test runner, e.g. `scripts/test.sh -E 'test(auth)'` under nextest.
set -euo pipefail

cd "$(dirname "$0")/.."

export RUST_BACKTRACE=1
target_dir="${CARGO_TARGET_DIR:-target}"

step() { printf '\n==> %s\n' "$*"; }

# What to stop on exit, first to last (PgBouncer before the PostgreSQL behind it).
cleanup=()
on_exit() {
  local command
  for command in "${cleanup[@]}"; do $command || true; done
}
trap on_exit EXIT

# 1. Formatting ------------------------------------------------------------------------------
step "formatting: cargo fmt --all -- --check"
fmt_color=()
[[ -t 1 ]] || fmt_color=(--color never) # no escape codes in a CI log
cargo fmt --all -- --check "${fmt_color[@]}"

# 2. PostgreSQL -------------------------------------------------------------------------------
step "postgres: finding or starting a server for the integration tests"
private_was_down=0
if [[ -z "${TEST_DATABASE_URL:-}" ]] && ! scripts/ensure-postgres.sh --private-running; then
  private_was_down=1
fi
TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
if ((private_was_down)) && [[ "$TEST_DATABASE_URL" == *:54329/* ]]; then
  if [[ "${KEEP_TEST_DB:-}" == 1 ]]; then
    echo "the private cluster stays up (KEEP_TEST_DB=1)"
  else
    cleanup+=("scripts/ensure-postgres.sh --stop")
  fi
fi
# Never echo a password.
echo "TEST_DATABASE_URL=$(sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$TEST_DATABASE_URL")"

# 2b. PgBouncer ------------------------------------------------------------------------------
# The app under test reaches its database through a transaction-mode PgBouncer, as on Heroku
# with connection pooling (tests/api/helpers.rs: DATABASE_CONNECTION_POOL_URL); LISTEN and
# migrations stay direct. TEST_PGBOUNCER_URL=off runs everything direct.
step "pgbouncer: transaction pooling in front of the test database"
if [[ "${TEST_PGBOUNCER_URL:-}" == off ]]; then
  unset TEST_PGBOUNCER_URL
  echo "TEST_PGBOUNCER_URL=off: the tests connect directly"
else
  if [[ -z "${TEST_PGBOUNCER_URL:-}" ]]; then
    bouncer_was_down=0
    scripts/ensure-pgbouncer.sh --private-running || bouncer_was_down=1
    TEST_PGBOUNCER_URL=$(scripts/ensure-pgbouncer.sh "$TEST_DATABASE_URL")
    # Stopped at the end only if this run started it (as the private cluster above).
    if ((bouncer_was_down)) && [[ "${KEEP_TEST_DB:-}" != 1 ]]; then
      cleanup=("scripts/ensure-pgbouncer.sh --stop" "${cleanup[@]}")
    fi
  fi
  export TEST_PGBOUNCER_URL
  echo "TEST_PGBOUNCER_URL=$(sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$TEST_PGBOUNCER_URL")"
fi

# 3. Lints ------------------------------------------------------------------------------------
step "lints: cargo clippy --workspace --all-targets --all-features -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

# 4. Secrets ----------------------------------------------------------------------------------
step "secrets: scripts/secret-scan.sh"
scripts/secret-scan.sh

# 5. Dependencies -----------------------------------------------------------------------------
# Licences, banned crates (OpenSSL) and sources, from Cargo.lock and the local registry. The
# advisory check needs the RustSec database from the network: docs/runbooks/operations.md.
cargo_deny_version=0.20.2
step "dependencies: cargo deny check licenses bans sources"
if ! cargo deny --version >/dev/null 2>&1; then
  echo "installing cargo-deny $cargo_deny_version"
  cargo install --locked cargo-deny --version "$cargo_deny_version"
fi
cargo deny check licenses bans sources

# 6. Tests ------------------------------------------------------------------------------------
# The SMTP tests run a real SMTP server: aiosmtpd (PyPI); the API fuzz test runs schemathesis
# (PyPI) against a running raptor (tests/api/schemathesis.rs). Both live in a virtualenv under
# target/, pinned here.
step "python: aiosmtpd for the SMTP tests, schemathesis for the API fuzz test"
python_packages=('aiosmtpd==1.4.6' 'schemathesis==4.32.5')
if [[ -n "${RAPTOR_TEST_PYTHON:-}" ]]; then
  echo "using RAPTOR_TEST_PYTHON=$RAPTOR_TEST_PYTHON"
else
  venv="$target_dir/test-python"
  if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1 ||
    [[ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != *"version ${python_packages[1]#*==}" ]]; then
    if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
      if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        echo "installing python3 and python3-venv from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3 python3-venv
      fi
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
  fi
  RAPTOR_TEST_PYTHON="$(cd "$venv/bin" && pwd)/python"
  export RAPTOR_TEST_PYTHON
  echo "RAPTOR_TEST_PYTHON=$RAPTOR_TEST_PYTHON"
fi

# No import circle, no upward import, no function over 80 lines (issue 23, ADR 0004); reads
# the sources only, in a second.
step "structure: scripts/structure-check.py"
"$RAPTOR_TEST_PYTHON" scripts/structure-check.py

# The browser test drives Debian's Chromium through playwright-core (tests/browser).
step "browser: chromium and playwright-core for the browser test"
scripts/install-browser.sh

step "typescript client: generated types, every body described, tsc --noEmit (scripts/check-ts-client.sh)"
scripts/check-ts-client.sh

if cargo nextest --version >/dev/null 2>&1; then
  step "tests: cargo nextest run --workspace --all-features"
  cargo nextest run --workspace --all-features --no-fail-fast "$@"
else
  step "tests: cargo test --workspace --all-features (cargo-nextest is not installed)"
  cargo test --workspace --all-features --no-fail-fast "$@"
fi

# 7. Breaking changes ------------------------------------------------------------------------
# What the code generates now against the committed document (or OPENAPI_BASE_REF, e.g. the
# branch a pull request targets): names any removed route, removed field or narrowed type.
openapi_base_ref="${OPENAPI_BASE_REF:-HEAD}"
step "openapi: breaking changes from $openapi_base_ref:docs/openapi.json"
# The raptor the tests just built (a plain `cargo build` would rebuild with other features).
[[ -x "$target_dir/debug/raptor" ]] || cargo build --quiet --workspace --all-features --bin raptor
if git rev-parse --verify --quiet "$openapi_base_ref:docs/openapi.json" >/dev/null; then
  git show "$openapi_base_ref:docs/openapi.json" >"$target_dir/openapi-base.json"
  "$target_dir/debug/raptor" openapi >"$target_dir/openapi-generated.json"
  python3 scripts/openapi-breaking.py "$target_dir/openapi-base.json" "$target_dir/openapi-generated.json"
else
  echo "no $openapi_base_ref:docs/openapi.json to compare with (not a git checkout?)"
fi

# 8. A clone anywhere -------------------------------------------------------------------------
step "clone anywhere: a fresh clone in a 0700 directory starts its private cluster"
RAPTOR_BIN="$target_dir/debug/raptor" scripts/check-clone-anywhere.sh

# 9. Fault campaign ---------------------------------------------------------------------------
step "fault campaign: scripts/fault-campaign.sh (FAULT_CAMPAIGN_SECONDS=${FAULT_CAMPAIGN_SECONDS:-6})"
scripts/fault-campaign.sh
