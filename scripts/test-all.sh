#!/usr/bin/env bash
# Runs every test suite in order and prints one summary line per suite, then
# the plain totals line. Exits non-zero when any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
PY=/usr/bin/python3
declare -a names=() results=()
failed=0

run_suite() {
  local name=$1; shift
  echo "=== suite: $name"
  local start=$SECONDS
  if "$@"; then
    names+=("$name"); results+=("passed ($((SECONDS - start))s)")
  else
    names+=("$name"); results+=("FAILED ($((SECONDS - start))s)"); failed=$((failed + 1))
  fi
}

# Throw-away PostgreSQL and Redis (plain and TLS) for the integration suites,
# stopped whatever happens. Every suite that can use them must: a skipped
# integration test fails (TXV_REQUIRE_INTEGRATION=1).
SERVERS_DIR=$(mktemp -d /tmp/txv-test-servers.XXXXXX)
trap 'bash scripts/test-servers.sh stop "$SERVERS_DIR"' EXIT
if ! bash scripts/test-servers.sh start "$SERVERS_DIR"; then
  echo "test-all: could not start PostgreSQL and Redis" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$SERVERS_DIR/env"
export TXV_REQUIRE_INTEGRATION=1
# The Redis TLS tests trust the test CA through OpenSSL's SSL_CERT_FILE; only the suites that run them get it.
tls_env=(env SSL_CERT_FILE="$TXV_TEST_REDIS_CA_FILE")

run_suite format-check make -s format-check
run_suite unit "${tls_env[@]}" ctest --preset dev -L unit -j "$JOBS"
run_suite openapi bash -c '(cd api && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && /usr/bin/python3 scripts/check-openapi.py'
# The analyst console: its unit tests (Vitest), then the browser suite (Debian's Chromium driven by
# playwright-core) against the real binary with the console embedded.
run_suite console bash -c 'bash scripts/install-deps.sh --browser && (cd console && npm test --silent) && bash scripts/test-console.sh'
run_suite e2e env TXV_BIN="$PWD/build/txv" $PY -m pytest -q tests/e2e tests/faults
# The same end-to-end suite with every server a replica on PostgreSQL + Redis, and the multi-replica suite.
run_suite e2e-replica env TXV_BIN="$PWD/build/txv" TXV_E2E_BACKEND=replica $PY -m pytest -q tests/e2e tests/replica
run_suite sanitize "${tls_env[@]}" make -s test-sanitize
if [ -x scripts/fuzz-rules.sh ]; then
  run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash scripts/fuzz-rules.sh
fi
if [ -x scripts/test-deploy.sh ]; then
  run_suite deploy bash scripts/test-deploy.sh
fi

echo
echo "=== summary"
for i in "${!names[@]}"; do printf '  %-14s %s\n' "${names[$i]}" "${results[$i]}"; done
total=${#names[@]}
echo "suites: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
