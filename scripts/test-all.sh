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

run_suite format-check make -s format-check
run_suite unit ctest --preset dev -L unit -j "$JOBS"
run_suite openapi bash -c '(cd api && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && /usr/bin/python3 scripts/check-openapi.py'
run_suite e2e env TXV_BIN="$PWD/build/txv" $PY -m pytest -q tests/e2e tests/faults
run_suite sanitize make -s test-sanitize
if [ -x scripts/fuzz-rules.sh ]; then
  run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash scripts/fuzz-rules.sh
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
