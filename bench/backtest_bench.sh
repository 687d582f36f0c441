#!/usr/bin/env bash
# Backtests (issue 10, contract section 11): how long a backtest of N stored decisions takes with the
# 20-rule set (3 velocity rules), and what a running backtest does to live decisions' latency.
#
#  1. A fresh SQLite file with N decisions (default 1,000,000) written straight into it with the
#     sqlite3 CLI: 50 merchants, 200,000 cards, 100,000 customers, decided_at spread over the 23
#     hours before now; 1% labelled fraud, 1% not_fraud (the row's current label).
#  2. txv serve on it with the 20 rules live; POST /v1/backtests of the same 20 rules with the card
#     velocity rule tightened (`> 1000000` -> `>= 3`) over the 24 hours: seconds until done,
#     decisions replayed per second, the job's counts.
#  3. Live latency: bench/openloop at BENCH_BACKTEST_RATE/s (default 1000) for 10 s alone, then
#     10 s while a backtest runs: p50/p99 side by side (the aim: p99 moves by <= 10%).
# Nothing here asserts a timing.
#
# Environment: TXV_BIN (default build/txv), BENCH_BACKTEST_SIZE (1000000), BENCH_DIR (default
# build/), BENCH_TXV_PORT (18081), BENCH_BACKTEST_RATE (1000), BENCH_BACKTEST_KEEP=1 keeps (and
# re-uses) the SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TXV_BIN=${TXV_BIN:-build/txv}
case "$TXV_BIN" in /*) ;; *) TXV_BIN="$ROOT/$TXV_BIN" ;; esac
N=${BENCH_BACKTEST_SIZE:-1000000}
BENCH_DIR=${BENCH_DIR:-$ROOT/build}
PORT=${BENCH_TXV_PORT:-18081}
RATE=${BENCH_BACKTEST_RATE:-1000}
KEEP=${BENCH_BACKTEST_KEEP:-0}
OPENLOOP=${BENCH_OPENLOOP_BIN:-$ROOT/build/bench/openloop}
PY=/usr/bin/python3
[ -x "$TXV_BIN" ] || { echo "backtest bench: $TXV_BIN is not an executable" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "backtest bench: needs the sqlite3 CLI" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
# shellcheck source=bench/rules20.sh
. "$ROOT/bench/rules20.sh"

TXV_PID=""
cleanup() { if [ -n "$TXV_PID" ]; then kill "$TXV_PID" 2>/dev/null || true; wait "$TXV_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

db=$BENCH_DIR/backtest-$N.db
if [ "$KEEP" != 1 ] || [ ! -s "$db" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  "$TXV_BIN" migrate --database-url "sqlite:$db" > /dev/null
  now_ms=$(date +%s%3N); span_ms=$((23 * 3600 * 1000)); t0=$(date +%s)
  sqlite3 "$db" > /dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < $N - 1)
INSERT INTO transactions (merchant_id, transaction_id, request_hash, type, amount, currency, decision,
  rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, customer_id,
  customer_email, customer_ip, customer_country, customer_device_id, has_merchant, merchant_mcc,
  merchant_country, occurred_at, decided_at, label, label_source, label_at, label_by)
SELECT 'm_' || (i % 50), 'tx_' || i, 'h', 'purchase', 100 + (i * 7919) % 200000, 'USD', 'approve', 1,
  'visa', '4' || printf('%05d', (i * 31) % 100000), printf('%04d', i % 10000),
  printf('fp%030d', (i * 2654435761) % 200000), 1, 'cust_' || ((i * 40503) % 100000),
  'user' || ((i * 40503) % 100000) || '@mail.test',
  '10.' || ((i / 65536) % 256) || '.' || ((i / 256) % 256) || '.' || (i % 256), 'US',
  'dev_' || ((i * 40503) % 100000), 1, CASE WHEN i % 7 = 0 THEN '7995' ELSE '5411' END, 'US',
  $now_ms - $span_ms + (i * $span_ms) / $N, $now_ms - $span_ms + (i * $span_ms) / $N,
  CASE i % 100 WHEN 0 THEN 'fraud' WHEN 1 THEN 'not_fraud' END,
  CASE WHEN i % 100 < 2 THEN 'chargeback' END, CASE WHEN i % 100 < 2 THEN $now_ms END,
  CASE WHEN i % 100 < 2 THEN 'bench' END
FROM seq;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
  echo "  wrote $N decisions in $(($(date +%s) - t0)) s ($(du -m "$db" | cut -f1) MB)"
else
  shift_ms=$(sqlite3 "$db" "SELECT $(date +%s%3N) - max(decided_at) FROM transactions")
  sqlite3 "$db" "UPDATE transactions SET decided_at = decided_at + $shift_ms, occurred_at = occurred_at + $shift_ms"
fi

export TXV_DATABASE_URL="sqlite:$db"
KEY=$("$TXV_BIN" apikey create --role admin --name bench 2>/dev/null)
"$TXV_BIN" serve --listen "127.0.0.1:$PORT" --log-level warn --drain-delay 0s > "$BENCH_DIR/backtest-bench.log" 2>&1 &
TXV_PID=$!
for _ in $(seq 1 3000); do curl -sf "http://127.0.0.1:$PORT/startupz" > /dev/null 2>&1 && break; sleep 0.05; done
api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
url="http://127.0.0.1:$PORT"
$PY -c 'import json; print(json.dumps({"entries": ["4%05d" % i for i in range(0, 100000, 1000)]}))' \
  | api -X PUT "$url/v1/lists/bench_bins" --data-binary @- > /dev/null
while read -r rule; do api "$url/v1/rules" -d "$rule" > /dev/null; done < <(bench_rules)

proposed=$(bench_rules | $PY -c '
import json, sys
rules = [json.loads(l) for l in sys.stdin]
rules[0]["expression"] = "velocity(\"card\", \"24h\").count >= 4"
print(json.dumps(rules))')
since=$($PY -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) - d.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
until=$($PY -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
start_backtest() {
  api "$url/v1/backtests" -d "{\"rules\": $proposed, \"since\": \"$since\", \"until\": \"$until\", \"replace_all\": true}" \
    | $PY -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
wait_backtest() {  # ID: polls until finished, prints the job
  local job
  for _ in $(seq 1 36000); do
    job=$(api "$url/v1/backtests/$1")
    [ "$(echo "$job" | $PY -c 'import json, sys; print(json.load(sys.stdin)["status"])')" != running ] && { echo "$job"; return; }
    sleep 0.05
  done
}

echo "== backtest of $N stored decisions, 20 rules (3 velocity), card velocity tightened ($TXV_BIN)"
t0=$(date +%s.%N)
id=$(start_backtest)
job=$(wait_backtest "$id")
t1=$(date +%s.%N)
echo "$job" | $PY -c '
import json, sys
j = json.load(sys.stdin); secs = float(sys.argv[1]) - float(sys.argv[2]); r = j.get("result") or {}
n = j["transactions"]
print("  %s after %.2f s: %d decisions replayed, %.0f/s" % (j["status"], secs, n, n / secs))
print("  changes %s; labels %s" % (json.dumps(r.get("changes")), json.dumps(r.get("labels"))))' "$t1" "$t0"

if [ -x "$OPENLOOP" ]; then
  echo "== live decisions at $RATE/s for 10 s: alone, then while a backtest runs"
  "$OPENLOOP" --port "$PORT" --rate "$RATE" --duration 10 --warmup 1 --drain 5 --connections 32 --key "$KEY" \
    --prefix "alone$$" | sed -n '2,4p' | sed 's/^/  alone:    /'
  id=$(start_backtest)
  "$OPENLOOP" --port "$PORT" --rate "$RATE" --duration 10 --warmup 1 --drain 5 --connections 32 --key "$KEY" \
    --prefix "during$$" | sed -n '2,4p' | sed 's/^/  backtest: /'
  api -X DELETE "$url/v1/backtests/$id" > /dev/null 2>&1 || true
fi
kill "$TXV_PID"; wait "$TXV_PID" 2>/dev/null || true; TXV_PID=""
[ "$KEEP" = 1 ] || rm -f "$db" "$db-wal" "$db-shm"
