#!/usr/bin/env bash
# Embedded start-up with stored history (issue 9): how long `txv serve` takes from exec to
# /startupz 200 when the SQLite file already holds N decisions, and its RSS then.
#
# For each N of BENCH_STARTUP_SIZES (default "1000000"): a fresh SQLite file (txv migrate), N
# decisions written straight into it with the sqlite3 CLI (50 merchants, 200,000 cards, 100,000
# customers with e-mail and device, 150,000 IPs, one currency, `decided_at` spread evenly over the 23 hours
# before now), then
#   1. one rule `velocity('card', '24h').count >= 50`: txv serve, timed to /startupz 200;
#   2. the same plus `velocity('card', '30d').count >= 500` (a 30-day retention): timed again.
# Each line: N, rules, seconds to /startupz, the CPU seconds txv used until then (user + system, all
# threads: on a shared machine the steadier figure), RSS and peak RSS (VmRSS / VmHWM) once started.
# Nothing here asserts a timing.
#
# Environment: TXV_BIN (default build/txv), BENCH_STARTUP_SIZES, BENCH_DIR (where the files go,
# default build/), BENCH_TXV_PORT (18080), BENCH_STARTUP_KEEP=1 keeps the SQLite files (re-used by
# the next run for the same N: they are named startup-N.db), BENCH_STARTUP_PERF=1 records
# `perf record -g` of each start-up into BENCH_DIR/startup-N-RULES.perf.data.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TXV_BIN=${TXV_BIN:-build/txv}
case "$TXV_BIN" in /*) ;; *) TXV_BIN="$ROOT/$TXV_BIN" ;; esac
SIZES=${BENCH_STARTUP_SIZES:-1000000}
BENCH_DIR=${BENCH_DIR:-$ROOT/build}
PORT=${BENCH_TXV_PORT:-18080}
KEEP=${BENCH_STARTUP_KEEP:-0}
PERF=${BENCH_STARTUP_PERF:-0}
[ -x "$TXV_BIN" ] || { echo "startup bench: $TXV_BIN is not an executable" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "startup bench: needs the sqlite3 CLI" >&2; exit 1; }
mkdir -p "$BENCH_DIR"

TXV_PID=""
cleanup() { if [ -n "$TXV_PID" ]; then kill "$TXV_PID" 2>/dev/null || true; wait "$TXV_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat, after the command name).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
CLK_TCK=$(getconf CLK_TCK)

# N decisions into DB (already migrated). One INSERT ... SELECT over a recursive CTE: ~10 s per
# million rows here (the indexes of the schema are maintained as rows go in).
make_history() {
  local db=$1 n=$2 now_ms span_ms
  now_ms=$(($(date +%s%3N)))
  span_ms=$((23 * 3600 * 1000))
  sqlite3 "$db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < $n - 1)
INSERT INTO transactions (merchant_id, transaction_id, request_hash, type, amount, currency, decision,
  rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, customer_id,
  customer_email, customer_ip, customer_country, customer_device_id, has_merchant, occurred_at,
  decided_at)
SELECT 'm_' || (i % 50), 'tx_' || i, 'h', 'purchase', 100 + (i * 7919) % 100000, 'USD', 'approve', 1,
  'visa', '411111', printf('%04d', i % 10000), printf('fp%030d', (i * 2654435761) % 200000), 1,
  'cust_' || ((i * 40503) % 100000), 'user' || ((i * 40503) % 100000) || '@mail.test',
  '10.' || (((i * 7) % 150000) / 65536) || '.' || ((((i * 7) % 150000) / 256) % 256) || '.' || ((i * 7) % 256), 'US',
  'dev_' || ((i * 40503) % 100000), 0, $now_ms - $span_ms + (i * $span_ms) / $n,
  $now_ms - $span_ms + (i * $span_ms) / $n
FROM seq;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}

set_rules() {
  local db=$1 which=$2 now_ms
  now_ms=$(date +%s%3N)
  sqlite3 "$db" <<SQL
DELETE FROM rules;
INSERT INTO rules VALUES ('rule_card24h', 'card_24h', 'velocity(''card'', ''24h'').count >= 50', 'decline',
  'card_velocity_24h', 1, 'enforce', 1, $now_ms, $now_ms);
$([ "$which" = "24h+30d" ] && echo "INSERT INTO rules VALUES ('rule_card30d', 'card_30d', 'velocity(''card'', ''30d'').count >= 500', 'review', 'card_velocity_30d', 2, 'enforce', 1, $now_ms, $now_ms);")
UPDATE meta SET value = value + 1 WHERE key = 'rules_version';
SQL
}

# Starts txv on DB, waits for /startupz 200; prints seconds, RSS, peak RSS; stops it.
time_startup() {
  local db=$1 label=$2 t0 t1 ok=0 perf_pid=""
  t0=$(date +%s.%N)
  "$TXV_BIN" serve --listen "127.0.0.1:$PORT" --database-url "sqlite:$db" > "$BENCH_DIR/startup-$label.log" 2>&1 &
  TXV_PID=$!
  if [ "$PERF" = 1 ]; then
    perf record -g -o "$BENCH_DIR/startup-$label.perf.data" -p "$TXV_PID" > /dev/null 2>&1 &
    perf_pid=$!
  fi
  for _ in $(seq 1 60000); do
    if curl -sf "http://127.0.0.1:$PORT/startupz" > /dev/null 2>&1; then ok=1; break; fi
    kill -0 "$TXV_PID" 2> /dev/null || break
    sleep 0.01
  done
  t1=$(date +%s.%N)
  local rss hwm ticks
  rss=$(status_kb "$TXV_PID" VmRSS || echo 0)
  hwm=$(status_kb "$TXV_PID" VmHWM || echo 0)
  ticks=$(cpu_ticks "$TXV_PID" || echo 0)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2> /dev/null || true; wait "$perf_pid" 2> /dev/null || true; fi
  kill "$TXV_PID" 2> /dev/null || true
  wait "$TXV_PID" 2> /dev/null || true
  TXV_PID=""
  [ "$ok" = 1 ] || { echo "startup bench: txv did not start (see $BENCH_DIR/startup-$label.log)" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v r="$rss" -v h="$hwm" -v l="$label" -v t="$ticks" -v hz="$CLK_TCK" \
    'BEGIN { printf "  %-22s startupz after %6.2f s (CPU %6.2f s)   RSS %7.1f MB   peak %7.1f MB\n", l, b - a, t / hz, r / 1024, h / 1024 }'
}

echo "== embedded start-up with stored history ($TXV_BIN)"
for n in $SIZES; do
  db=$BENCH_DIR/startup-$n.db
  if [ "$KEEP" != 1 ] || [ ! -s "$db" ]; then
    rm -f "$db" "$db-wal" "$db-shm"
    "$TXV_BIN" migrate --database-url "sqlite:$db" > /dev/null 2>&1
    t0=$(date +%s)
    make_history "$db" "$n" > /dev/null
    echo "  wrote $n decisions in $(($(date +%s) - t0)) s ($(du -m "$db" | cut -f1) MB)"
  else
    # Kept from an earlier run: move the history so that it ends now again.
    shift_ms=$(sqlite3 "$db" "SELECT $(date +%s%3N) - max(decided_at) FROM transactions")
    sqlite3 "$db" "UPDATE transactions SET decided_at = decided_at + $shift_ms, occurred_at = occurred_at + $shift_ms"
  fi
  for rules in 24h 24h+30d; do
    set_rules "$db" "$rules"
    time_startup "$db" "$n-$rules"
  done
  [ "$KEEP" = 1 ] || rm -f "$db" "$db-wal" "$db-shm"
done
