#!/usr/bin/env bash
# Browser suite of the analyst console (contract section 13): starts a real `txv serve` on a
# fresh SQLite database, seeds it through the API, and drives Debian's Chromium with
# playwright-core (console/e2e/run.mjs). Screenshots of every page: build/console-screenshots/.
#
#   TXV_BIN         the binary (default: $PWD/build/txv)
#   CHROMIUM_PATH   the browser (default: /usr/bin/chromium; missing = failure, never a skip)
#   TXV_CONSOLE_DIR passed through to the server only when already set (else: embedded assets)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TXV_BIN="${TXV_BIN:-$PWD/build/txv}"
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH

fail() { echo "test-console: $*" >&2; exit 1; }
[[ -x "$TXV_BIN" ]] || fail "no txv binary at $TXV_BIN (build it first, or set TXV_BIN)"
[[ -x "$CHROMIUM_PATH" ]] || fail "no Chromium at $CHROMIUM_PATH (apt-get install -y --no-install-recommends chromium)"
command -v node >/dev/null || fail "node is not installed"
command -v curl >/dev/null || fail "curl is not installed"

if [[ ! -d console/node_modules/playwright-core || ! -d console/node_modules/axe-core ]]; then
  (cd console && npm ci --no-audit --no-fund)
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/txv-console.XXXXXX")"
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f "$TMP/server.log" ]]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 30 "$TMP/server.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT INT TERM

export TXV_DATABASE_URL="sqlite:$TMP/txv.db"
export TXV_LOG_LEVEL="${TXV_LOG_LEVEL:-warn}"
# Drain quickly on SIGTERM: nobody is load-balancing this test server.
export TXV_DRAIN_DELAY=0s TXV_GRACE_PERIOD=10s

"$TXV_BIN" migrate >/dev/null
ADMIN_KEY="$("$TXV_BIN" apikey create --role admin --name console-admin)"
ANALYST_KEY="$("$TXV_BIN" apikey create --role analyst --name console-analyst)"
VALIDATOR_KEY="$("$TXV_BIN" apikey create --role validator --merchant m-shop --name console-validator)"
# A key whose session the suite ends by revoking the key (its id is on stderr: "created … key key_…").
REVOKE_KEY="$("$TXV_BIN" apikey create --role analyst --name console-revoked 2>"$TMP/revoke.err")"
REVOKE_KEY_ID="$(grep -o 'key_[A-Za-z0-9_-]*' "$TMP/revoke.err" | head -n 1 || true)"
[[ -n "$ADMIN_KEY" && -n "$ANALYST_KEY" && -n "$VALIDATOR_KEY" && -n "$REVOKE_KEY" ]] || fail "could not create API keys"
[[ -n "$REVOKE_KEY_ID" ]] || fail "could not read the id of the key to revoke from: $(cat "$TMP/revoke.err")"

PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
export TXV_LISTEN="127.0.0.1:$PORT"
URL="http://127.0.0.1:$PORT"
"$TXV_BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

deadline=$((SECONDS + 30))
until curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null; do
  kill -0 "$SERVER_PID" 2>/dev/null || fail "txv serve exited during start-up"
  (( SECONDS < deadline )) || fail "txv serve was not ready within 30 s"
  sleep 0.1
done

# The console and the sessions endpoint must exist: a missing one is a failure, not a skip.
code="$(curl -s -o /dev/null -w '%{http_code}' "$URL/console/")"
[[ "$code" == 200 ]] || fail "GET /console/ answered $code"

TXV_URL="$URL" TXV_ADMIN_KEY="$ADMIN_KEY" node console/e2e/seed.mjs "$TMP/seed.json"

SHOTS="$ROOT/build/console-screenshots"
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png

rc=0
TXV_URL="$URL" TXV_ADMIN_KEY="$ADMIN_KEY" TXV_ANALYST_KEY="$ANALYST_KEY" TXV_VALIDATOR_KEY="$VALIDATOR_KEY" \
  TXV_REVOKE_KEY="$REVOKE_KEY" TXV_REVOKE_KEY_ID="$REVOKE_KEY_ID" TXV_BIN="$TXV_BIN" \
  TXV_SEED_FILE="$TMP/seed.json" TXV_SCREENSHOT_DIR="$SHOTS" \
  node console/e2e/run.mjs || rc=$?

kill -TERM "$SERVER_PID"
server_rc=0
wait "$SERVER_PID" || server_rc=$?
SERVER_PID=""
[[ $server_rc -eq 0 ]] || { echo "test-console: txv serve exited $server_rc after SIGTERM" >&2; rc=1; }

if [[ $rc -eq 0 ]]; then
  echo "test-console: all browser tests passed; screenshots in $SHOTS"
else
  echo "test-console: FAILED (screenshots in $SHOTS)" >&2
fi
exit "$rc"
