#!/usr/bin/env bash
# `make bench`: throughput, latency, CPU and memory figures on this machine, in one run, with the
# same generators and the same 64 connections for every server. BENCHMARKS.md explains them.
#
#  1. nginx static 200, the ceiling for HTTP here: wrk closed-loop (req/s, p50/p99/p99.9, CPU us
#     per request from /proc/PID/stat of the nginx processes), then open-loop at half that rate.
#  2. SQLite group commit alone (build/bench/sqlite_insert_bench): the durability ceiling.
#  3. txv validate, durable, 0 rules then (fresh server) 20 rules (3 velocity, 1 over a
#     100k-entry list): wrk closed-loop (decisions/s, p50/p99/p99.9, CPU us per decision, peak
#     RSS), then open-loop (bench/openloop, coordinated-omission corrected) at half the rate
#     just measured: p99 with queueing. Then the 20 rules with TXV_DECISION_TRACES=off (closed
#     loop) and the trace bytes stored per decision: the cost of decision traces.
#  4. malloc/calloc/realloc calls per validate (LD_PRELOAD bench/alloc_count.c; idle subtracted).
#  5. RSS across 1,000 rule changes (bench/rule_churn.py) and during a BENCH_SOAK_SECONDS
#     open-loop validate run (`make bench-soak`: 600 s).
#  6. The Google Benchmark micro-benchmarks that were built.
#  7. Replica mode (PostgreSQL + Redis from scripts/test-servers.sh, on BENCH_DIR's disk): pgbench
#     one-row INSERTs at 64 clients (the durability ceiling), then the 20-rule set on embedded
#     SQLite (part 3's figure when it ran), on 1 replica and on 3 replicas (ports
#     BENCH_REPLICA_PORT..+2, no load balancer: wrk threads / openloop connections spread over the
#     ports): decisions/s, p50/p99, CPU per decision of every txv, postgres and redis-server
#     process, Redis and PostgreSQL round trips per decision (txv's /metrics), open-loop p99 at
#     half the rate, and a perf profile of the 1-replica txv. A fresh database and an empty Redis
#     db for each configuration.
#  8. Embedded start-up with stored history (bench/startup_bench.sh): N decisions written straight
#     into a fresh SQLite file, then txv serve timed from exec to /startupz 200, with RSS
#     (BENCH_STARTUP_SIZES, default 1000000).
#  9. Backtests (bench/backtest_bench.sh): 1,000,000 stored decisions replayed with the 20 rules, and
#     live p99 at a fixed rate alone and while a backtest runs (BENCH_BACKTEST_SIZE, _RATE).
# Benchmarks report; nothing here asserts a timing.
#
# Environment: TXV_BIN (default build/txv), BENCH_SECONDS (closed-loop runs, 15),
# BENCH_OPEN_SECONDS (open-loop runs, 10), BENCH_SOAK_SECONDS (60), BENCH_SOAK_RATE (default half
# the stability server's closed-loop rate), BENCH_CONNECTIONS (64), BENCH_WRK_THREADS (2),
# BENCH_ALLOC_REQUESTS (5000), BENCH_RULE_CHANGES (1000), BENCH_DIR (where data goes; default
# build/, on the disk you want to measure: a tmpfs makes fsync free), BENCH_PARTS (any of
# "nginx sqlite txv alloc stability micro replica startup backtest"; default all), BENCH_PGBENCH_SECONDS (20),
# BENCH_PERF_SECONDS (profile of the 1-replica run, 10; 0: none), BENCH_REPLICA_PORT (18090),
# BENCH_REPLICA_WARMUP (seconds of load before ANALYZE and the measured runs, 3; 0: cold start).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_START=$SECONDS

TXV_BIN=${TXV_BIN:-build/txv}
case "$TXV_BIN" in /*) ;; *) TXV_BIN="$ROOT/$TXV_BIN" ;; esac
SECONDS_PER_RUN=${BENCH_SECONDS:-15}
OPEN_SECONDS=${BENCH_OPEN_SECONDS:-10}
SOAK_SECONDS=${BENCH_SOAK_SECONDS:-60}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_WRK_THREADS:-2}
ALLOC_REQUESTS=${BENCH_ALLOC_REQUESTS:-5000}
RULE_CHANGES=${BENCH_RULE_CHANGES:-1000}
PARTS=" ${BENCH_PARTS:-nginx sqlite txv alloc stability micro replica startup backtest} "
PY=/usr/bin/python3
NGINX_PORT=${BENCH_NGINX_PORT:-18081}
TXV_PORT=${BENCH_TXV_PORT:-18080}
CLK_TCK=$(getconf CLK_TCK)
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-20}
PERF_SECONDS=${BENCH_PERF_SECONDS:-10}
REPLICA_PORT=${BENCH_REPLICA_PORT:-18090}
REPLICA_WARMUP=${BENCH_REPLICA_WARMUP:-3}

want() { [[ "$PARTS" == *" $1 "* ]]; }

[ -x "$TXV_BIN" ] || { echo "bench: $TXV_BIN is not an executable (build first, or set TXV_BIN)" >&2; exit 1; }
BENCH_DIR=${BENCH_DIR:-$ROOT/build}
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/bench-run.XXXXXX")
TXV_PID=""
REPLICA_PIDS=()   # txv replicas of part 7
SERVERS_DIR=""    # PostgreSQL and Redis of part 7 (scripts/test-servers.sh)
BG_PIDS=()        # perf and its wrk in part 7
cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$TXV_PID" ]; then kill "$TXV_PID" 2>/dev/null || true; wait "$TXV_PID" 2>/dev/null || true; fi
  for p in "${REPLICA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${REPLICA_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$SERVERS_DIR" ]; then bash "$ROOT/scripts/test-servers.sh" stop "$SERVERS_DIR" >/dev/null 2>&1 || true; fi
  if [ -f "$WORK/nginx.pid" ]; then kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers

# key=value of a "TAG k=v k=v" summary line (WRKSUMMARY, OPENLOOP, CHURN) in a file.
field() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) v = a[2] } } END { print v }' "$1"; }
# utime + stime (clock ticks) of the given processes: /proc/PID/stat fields 14 and 15, counted
# after the ")" that ends the command name.
cpu_ticks() {
  local total=0 p rest
  for p in "$@"; do
    rest=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    total=$((total + $(awk '{print $12 + $13}' <<<"$rest")))
  done
  echo "$total"
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # VmRSS / VmHWM of a pid, kB
children_of() {  # pids whose parent is $1 (nginx workers), from /proc: no procps needed
  local s
  for s in /proc/[0-9]*/stat; do
    sed 's/^.*) //' "$s" 2>/dev/null | awk -v pp="$1" -v pid="${s//[^0-9]/}" '$2 == pp {print pid}'
  done
}
fmt_ms() { awk -v us="$1" 'BEGIN { if (us == "") print "-"; else printf "%.2f ms", us / 1000 }'; }
fmt_int() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else printf "%.0f", x }'; }
fmt_mb() { awk -v kb="$1" 'BEGIN { if (kb == "") print "-"; else printf "%.1f MB", kb / 1024 }'; }
now_s() { date +%s.%N; }

build_tools() {
  # The open-loop generator: the CMake target when built, else compiled here (same source).
  OPENLOOP=$ROOT/build/bench/openloop
  if [ ! -x "$OPENLOOP" ] || [ "$ROOT/bench/openloop.cc" -nt "$OPENLOOP" ]; then
    OPENLOOP=$WORK/openloop
    g++ -std=c++20 -O2 -pthread -o "$OPENLOOP" "$ROOT/bench/openloop.cc"
  fi
  cc -shared -fPIC -O2 -o "$WORK/alloc_count.so" "$ROOT/bench/alloc_count.c" -lpthread
}

# wrk closed-loop run: NAME URL SCRIPT [-- ARGS] while measuring the CPU of the PIDS in $MEASURE_PIDS.
# .sum: 2xx responses/s, CPU us per 2xx response, non-2xx count.
run_wrk() {
  local name=$1 url=$2 script=$3; shift 3
  local t0 t1
  t0=$(cpu_ticks $MEASURE_PIDS)
  wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -s "$script" "$url" "$@" > "$WORK/$name.out"
  t1=$(cpu_ticks $MEASURE_PIDS)
  echo "$((t1 - t0))" > "$WORK/$name.ticks"
  local req dur non2xx
  req=$(field "$WORK/$name.out" requests); dur=$(field "$WORK/$name.out" duration_us)
  non2xx=$(field "$WORK/$name.out" non2xx)
  awk -v r="$req" -v d="$dur" -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v bad="$non2xx" \
    'BEGIN { ok = r - bad; if (ok < 1) ok = 1; printf "%.0f %.1f %d\n", ok / (d / 1e6), t * 1e6 / hz / ok, bad }' \
    > "$WORK/$name.sum"
  read -r rps cpu bad < "$WORK/$name.sum"
  printf '  %-30s %8s req/s  p50 %-9s p99 %-9s p99.9 %-9s CPU %6s us/req  non-2xx %s\n' "$name" "$rps" \
    "$(fmt_ms "$(field "$WORK/$name.out" p50_us)")" "$(fmt_ms "$(field "$WORK/$name.out" p99_us)")" \
    "$(fmt_ms "$(field "$WORK/$name.out" p999_us)")" "$cpu" "$bad"
}

# open-loop run at RATE: NAME PORT RATE [openloop args]
run_open() {
  local name=$1 port=$2 rate=$3; shift 3
  "$OPENLOOP" --port "$port" --rate "$rate" --duration "$OPEN_SECONDS" --warmup 1 --drain 5 \
    --connections "$CONNS" "$@" > "$WORK/$name.out"
  sed -n '2,4p' "$WORK/$name.out" | sed 's/^/  /'
}

start_txv() {  # NAME [ENV=VALUE...]: a fresh data directory, an admin key, txv serve on TXV_PORT
  local name=$1; shift
  mkdir -p "$WORK/$name"
  export TXV_DATABASE_URL="sqlite:$WORK/$name/txv.db"
  KEY=$("$TXV_BIN" apikey create --role admin --name bench 2>/dev/null)
  env "$@" "$TXV_BIN" serve --listen "127.0.0.1:$TXV_PORT" --log-level warn --drain-delay 0s \
    > "$WORK/$name/txv.log" 2>&1 &
  TXV_PID=$!
  local ok=""
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$TXV_PORT/startupz" >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$TXV_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "bench: txv did not start:"; tail -20 "$WORK/$name/txv.log"; exit 1; }
}

stop_txv() {
  kill -TERM "$TXV_PID" 2>/dev/null || true
  wait "$TXV_PID" 2>/dev/null || true
  TXV_PID=""
}

api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }

# The 20-rule set (bench/rules20.sh): 3 velocity rules, 1 over a 100k-entry list, 16 ordinary ones.
# shellcheck source=bench/rules20.sh
. "$ROOT/bench/rules20.sh"
install_rules() {
  local url="http://127.0.0.1:$TXV_PORT"
  [ -f "$WORK/list.json" ] || $PY -c 'import json; print(json.dumps({"entries": ["%06d" % (100000 + i) for i in range(100000)]}))' \
    > "$WORK/list.json"
  api -X PUT "$url/v1/lists/bench_bins" --data-binary @"$WORK/list.json" > /dev/null
  local rule
  while read -r rule; do api "$url/v1/rules" -d "$rule" > /dev/null; done < <(bench_rules)
}

# ---------------------------------------------------------------- header

echo "== txv bench: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)," \
  "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; load generators share the cores"
echo "   binary $TXV_BIN; data under $BENCH_DIR ($(stat -f -c %T "$WORK") filesystem)"
machine_load() {  # load average, and CPU/IO pressure (share of time some task waited) when the kernel has PSI
  local l; l="load average $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -r /proc/pressure/cpu ] && l="$l, CPU pressure $(awk -F'avg60=' '/^some/ {split($2, a, " "); print a[1]}' /proc/pressure/cpu)%"
  [ -r /proc/pressure/io ] && l="$l, IO pressure $(awk -F'avg60=' '/^some/ {split($2, a, " "); print a[1]}' /proc/pressure/io)%"
  echo "$l"
}
echo "   at start: $(machine_load) (other work on the machine skews every figure)"
echo "   $CONNS connections; closed-loop: wrk -t$THREADS, ${SECONDS_PER_RUN}s; open-loop: bench/openloop, ${OPEN_SECONDS}s + 1s warm-up"
[ "$(stat -f -c %T "$WORK")" = tmpfs ] && echo "   WARNING: $WORK is a tmpfs: fsync costs nothing there, durability figures are meaningless"
build_tools

# ---------------------------------------------------------------- 1. nginx

if want nginx; then
  echo "== nginx static 200"
  mkdir -p "$WORK/nginx/logs"
  cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$NGINX_PORT; location / { default_type application/json; return 200 '{"ok":true}'; } }
}
CONF
  nginx -c "$WORK/nginx.conf" -p "$WORK/nginx"
  for _ in $(seq 1 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
  NGINX_MASTER=$(cat "$WORK/nginx.pid")
  sleep 0.3
  MEASURE_PIDS="$NGINX_MASTER $(children_of "$NGINX_MASTER" | tr '\n' ' ')"
  run_wrk nginx "http://127.0.0.1:$NGINX_PORT/" bench/static.lua
  read -r NGINX_RPS _ < "$WORK/nginx.sum"
  run_open nginx-open "$NGINX_PORT" "$((NGINX_RPS / 2))" --get /
  kill "$NGINX_MASTER"; rm -f "$WORK/nginx.pid"
fi

# ---------------------------------------------------------------- 2. SQLite ceiling

if want sqlite; then
  echo "== SQLite group commit alone (sqlite_insert_bench, WAL, synchronous=FULL)"
  SQLITE_BENCH=${BENCH_SQLITE_BIN:-$ROOT/build/bench/sqlite_insert_bench}
  if [ -x "$SQLITE_BENCH" ]; then
    TXV_BENCH_DIR=$WORK "$SQLITE_BENCH" --benchmark_min_time=1 \
      --benchmark_filter='BM_InsertDecision/max_batch:(1024/real_time/threads:(1|64)|1/real_time/threads:1)$' \
      --benchmark_out="$WORK/sqlite.json" --benchmark_out_format=json > "$WORK/sqlite.out" 2>&1 || true
    $PY - "$WORK/sqlite.json" > "$WORK/sqlite.sum" <<'PYEOF' || true
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(0)
for b in doc.get("benchmarks", []):
    rate = b.get("inserts/s") or b.get("items_per_second")
    if rate:
        print(b["name"], round(rate))
PYEOF
    if [ -s "$WORK/sqlite.sum" ]; then
      sed 's/^/  /; s/$/ inserts\/s/' "$WORK/sqlite.sum"
      SQLITE_64=$(awk '/max_batch:1024\/.*threads:64$/ {print $2}' "$WORK/sqlite.sum")
      SQLITE_1=$(awk '/max_batch:1024\/.*threads:1$/ {print $2}' "$WORK/sqlite.sum")
      SQLITE_NOBATCH=$(awk '/max_batch:1\/.*threads:1$/ {print $2}' "$WORK/sqlite.sum")
    else
      echo "  sqlite_insert_bench produced no BM_InsertDecision figures (renamed?):"; tail -5 "$WORK/sqlite.out" | sed 's/^/    /'
    fi
  else
    echo "  skipped: $SQLITE_BENCH is not built (cmake --build --preset dev --target sqlite_insert_bench)"
  fi
fi

# ---------------------------------------------------------------- 3. txv validate

txv_run() {  # NAME: closed-loop then open-loop at half of it, on the running server
  local name=$1
  MEASURE_PIDS=$TXV_PID
  run_wrk "$name" "http://127.0.0.1:$TXV_PORT" bench/validate.lua -- "$KEY" "$name$$"
  local hwm rss
  hwm=$(status_kb "$TXV_PID" VmHWM); rss=$(status_kb "$TXV_PID" VmRSS)
  echo "$hwm $rss" > "$WORK/$name.mem"
  echo "  $(printf '%-30s' '') peak RSS (VmHWM) $(fmt_mb "$hwm"), RSS now $(fmt_mb "$rss")"
  local rps; read -r rps _ < "$WORK/$name.sum"
  run_open "$name-open" "$TXV_PORT" "$((rps / 2))" --key "$KEY" --prefix "$name-ol$$"
}

if want txv; then
  echo "== txv POST /v1/transactions/validate, durable (synchronous=FULL), 0 rules"
  start_txv txv0
  txv_run txv0
  stop_txv
  echo "== txv validate, 20 rules (3 velocity, 1 over a 100k-entry list) on a fresh server"
  start_txv txv20
  install_rules
  txv_run txv20
  stop_txv
  # Decision traces (contract section 10) are on by default: the same 20 rules without them, for their cost,
  # and what they add to each stored decision (txv20's database).
  echo "== txv validate, 20 rules, TXV_DECISION_TRACES=off (closed loop only), for the cost of traces"
  start_txv txv20nt TXV_DECISION_TRACES=off
  install_rules
  MEASURE_PIDS=$TXV_PID
  run_wrk txv20nt "http://127.0.0.1:$TXV_PORT" bench/validate.lua -- "$KEY" "txv20nt$$"
  stop_txv
  $PY - "$WORK/txv20/txv.db" > "$WORK/trace_bytes.sum" <<'PYEOF' || true
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n, avg_trace = db.execute("SELECT count(*), avg(length(CAST(trace AS BLOB))) FROM transactions").fetchone()
print(n, round(avg_trace or 0))
PYEOF
  [ -s "$WORK/trace_bytes.sum" ] && read -r TRACE_N TRACE_BYTES < "$WORK/trace_bytes.sum" && \
    echo "  stored trace: $TRACE_BYTES bytes per decision on average over $TRACE_N decisions (JSON text)"
fi

# ---------------------------------------------------------------- 4. allocations

alloc_counts() { tr ' ' '\n' < "$WORK/alloc/counts" | awk -F= '{ v[$1] = $2 + 0 } END { printf "%d %d\n", v["malloc"] + v["calloc"] + v["realloc"] + v["aligned"], v["free"] }'; }
alloc_measure() {  # NAME: allocations per validate over ALLOC_REQUESTS requests, idle rate subtracted
  local name=$1 a0 a1 i0 i1 t0 t1 ti0 ti1 rate=2000
  local secs; secs=$(awk -v n="$ALLOC_REQUESTS" -v r="$rate" 'BEGIN { printf "%.3f", n / r }')
  # warm-up: connections, caches, lazily built structures
  "$OPENLOOP" --port "$TXV_PORT" --rate "$rate" --duration 1 --warmup 0 --drain 5 --connections "$CONNS" \
    --key "$KEY" --prefix "$name-w$$" > /dev/null
  sleep 0.3
  ti0=$(now_s); read -r i0 _ < <(alloc_counts); sleep 2; read -r i1 _ < <(alloc_counts); ti1=$(now_s)
  t0=$(now_s); read -r a0 _ < <(alloc_counts)
  "$OPENLOOP" --port "$TXV_PORT" --rate "$rate" --duration "$secs" --warmup 0 --drain 5 --connections "$CONNS" \
    --key "$KEY" --prefix "$name-a$$" > "$WORK/$name.out"
  sleep 0.2
  read -r a1 _ < <(alloc_counts); t1=$(now_s)
  local sent responses; sent=$(field "$WORK/$name.out" sent); responses=$(field "$WORK/$name.out" responses)
  awk -v a="$((a1 - a0))" -v i="$((i1 - i0))" -v ti="$(awk -v x="$ti1" -v y="$ti0" 'BEGIN{print x - y}')" \
    -v t="$(awk -v x="$t1" -v y="$t0" 'BEGIN{print x - y}')" -v n="$responses" \
    'BEGIN { idle = i / ti * t; printf "%.1f %.0f %.1f\n", (a - idle) / n, idle, i / ti }' > "$WORK/$name.sum"
  local per idle_rate; read -r per _ idle_rate < "$WORK/$name.sum"
  printf '  %-30s %6s allocations per request (%s requests; idle %s/s subtracted)\n' "$name" "$per" "$responses" "$idle_rate"
  [ "$sent" = "$responses" ] || echo "  ($name: $sent sent, $responses answered)"
}

if want alloc; then
  echo "== allocations per validate (malloc+calloc+realloc+aligned, LD_PRELOAD bench/alloc_count.c)"
  if ldd "$TXV_BIN" 2>/dev/null | grep -q mimalloc; then
    echo "   (this binary links mimalloc, whose operator new bypasses malloc: C++ allocations are not counted;"
    echo "    build with -DTXV_MIMALLOC=OFF for the full count)"
  fi
  mkdir -p "$WORK/alloc"
  start_txv alloc LD_PRELOAD="$WORK/alloc_count.so" ALLOC_COUNT_FILE="$WORK/alloc/counts"
  for _ in $(seq 1 50); do [ -s "$WORK/alloc/counts" ] && break; sleep 0.1; done
  alloc_measure alloc0
  install_rules
  alloc_measure alloc20
  stop_txv
fi

# ---------------------------------------------------------------- 5. RSS stability

if want stability; then
  echo "== RSS stability: $RULE_CHANGES rule changes, then a ${SOAK_SECONDS}s open-loop validate run (20 rules)"
  start_txv stab
  install_rules
  # 5 s of closed-loop load first: warm-up, and the rate the soak runs at half of
  SECONDS_SAVED=$SECONDS_PER_RUN; SECONDS_PER_RUN=5; MEASURE_PIDS=$TXV_PID
  run_wrk stab-warm "http://127.0.0.1:$TXV_PORT" bench/validate.lua -- "$KEY" "stabw$$" > /dev/null
  SECONDS_PER_RUN=$SECONDS_SAVED
  read -r STAB_RPS _ < "$WORK/stab-warm.sum"
  CHURN_RSS0=$(status_kb "$TXV_PID" VmRSS)
  $PY bench/rule_churn.py "$TXV_PORT" "$KEY" "$RULE_CHANGES" > "$WORK/churn.out"
  CHURN_RSS1=$(status_kb "$TXV_PID" VmRSS)
  printf '  rule changes: %s in %ss (%s errors); RSS %s -> %s (%+.1f%%)\n' "$(field "$WORK/churn.out" changes)" \
    "$(field "$WORK/churn.out" seconds)" "$(field "$WORK/churn.out" errors)" "$(fmt_mb "$CHURN_RSS0")" \
    "$(fmt_mb "$CHURN_RSS1")" "$(awk -v a="$CHURN_RSS0" -v b="$CHURN_RSS1" 'BEGIN { print 100 * (b - a) / a }')"
  SOAK_RATE=${BENCH_SOAK_RATE:-$((STAB_RPS / 2))}
  "$OPENLOOP" --port "$TXV_PORT" --rate "$SOAK_RATE" --duration "$SOAK_SECONDS" --warmup 0 --drain 5 \
    --connections "$CONNS" --key "$KEY" --prefix "soak$$" > "$WORK/soak.out" &
  SOAK_PID=$!
  : > "$WORK/soak.rss"
  step=$(( SOAK_SECONDS >= 100 ? SOAK_SECONDS / 20 : 5 ))
  while kill -0 "$SOAK_PID" 2>/dev/null; do
    echo "$(status_kb "$TXV_PID" VmRSS)" >> "$WORK/soak.rss"
    for _ in $(seq 1 "$step"); do kill -0 "$SOAK_PID" 2>/dev/null || break; sleep 1; done
  done
  wait "$SOAK_PID" || true
  echo "$(status_kb "$TXV_PID" VmRSS)" >> "$WORK/soak.rss"
  SOAK_HWM=$(status_kb "$TXV_PID" VmHWM)
  # start = the sample at ~10% of the run (past the first allocations); end = after the run
  read -r SOAK_RSS_START SOAK_RSS_END SOAK_RSS_MAX < <(awk '{ v[NR] = $1; if ($1 > m) m = $1 }
    END { s = int(NR / 10) + 1; if (s > NR) s = NR; print v[s], v[NR], m }' "$WORK/soak.rss")
  sed -n '2,4p' "$WORK/soak.out" | sed 's/^/  /'
  printf '  RSS during the run (MB, every %ss): %s\n' "$step" "$(awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 / 1024 }' "$WORK/soak.rss")"
  printf '  RSS %s (10%% into the run) -> %s at the end (%+.1f%%), max %s, peak %s\n' "$(fmt_mb "$SOAK_RSS_START")" \
    "$(fmt_mb "$SOAK_RSS_END")" "$(awk -v a="$SOAK_RSS_START" -v b="$SOAK_RSS_END" 'BEGIN { print 100 * (b - a) / a }')" \
    "$(fmt_mb "$SOAK_RSS_MAX")" "$(fmt_mb "$SOAK_HWM")"
  SOAK_BYTES_PER=$(awk -v a="$CHURN_RSS1" -v b="$SOAK_RSS_END" -v n="$(field "$WORK/soak.out" responses)" \
    'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1024 / n; else print "-" }')
  echo "  RSS growth over the run per decision: $SOAK_BYTES_PER bytes (velocity keeps every decision in memory for >= 1 h)"
  stop_txv
fi

# ---------------------------------------------------------------- 6. micro-benchmarks

if want micro; then
  for b in build/bench/rules_bench build/bench/velocity_bench; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" --benchmark_min_time=0.2 2>/dev/null | sed -n '/^BM_/p' || true
  done
fi

# ---------------------------------------------------------------- 7. replica mode

# "pid ppid ticks child_ticks" for every process (utime+stime, cutime+cstime), in one pass.
proc_table() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{
    n = 0; for (i = length($0); i > 0; i--) if (substr($0, i, 1) == ")") { n = i; break }
    split(substr($0, n + 2), f, " "); print $1, f[2], f[12] + f[13], f[14] + f[15] }'
}
# PostgreSQL's CPU: the postmaster's own and its reaped children's, plus its live children's, so
# backends that come and go during a run (pgbench's) still count.
pg_cpu_ticks() { proc_table | awk -v pm="$PG_PID" '$1 == pm { t += $3 + $4 } $2 == pm { t += $3 } END { print t + 0 }'; }
# PORT: "decisions redis_round_trips db_round_trips redis_seconds db_seconds" from txv's /metrics
metrics_of() {
  curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | awk '
    /^txv_decisions_total[{ ]/ { d += $NF }
    /^txv_redis_round_trip_seconds_count[{ ]/ { r += $NF }
    /^txv_db_round_trip_seconds_count[{ ]/ { q += $NF }
    /^txv_redis_round_trip_seconds_sum[{ ]/ { rs += $NF }
    /^txv_db_round_trip_seconds_sum[{ ]/ { qs += $NF }
    END { printf "%.0f %.0f %.0f %.6f %.6f\n", d, r, q, rs, qs }'
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
replica_snapshot() {  # FILE: CPU ticks and /metrics counters of every replica, postgres, redis, the machine
  local i
  {
    for i in "${!REPLICA_PIDS[@]}"; do
      echo "txv$i $(cpu_ticks "${REPLICA_PIDS[$i]}") $(metrics_of "${REPLICA_PORTS[$i]}")"
    done
    echo "pg $(pg_cpu_ticks)"
    echo "redis $(cpu_ticks "$REDIS_PID")"
    echo "machine $(machine_ticks)"
    echo "eval $(redis_eval_stats)"
    echo "wal $(pg_wal_stats)"
    echo "clock $(now_s)"
  } > "$1"
}
# NAME: NAME.before/.after -> NAME.rep, one REPLICA line: decisions (from /metrics), CPU us per
# decision of the replicas together and of each, of postgres and of redis-server; cores used;
# round trips per decision; the machine's busy share (100% = every core).
replica_report() {
  awk -v hz="$CLK_TCK" -v ncpu="$(nproc)" '
    FNR == NR { b[$1] = $0; next }
    { split(b[$1], o, " ") }
    $1 ~ /^txv/ { dt = $2 - o[2]; dd = $3 - o[3]; tt += dt; dec += dd; rr += $4 - o[4]; qr += $5 - o[5]
                  rs += $6 - o[6]; qs += $7 - o[7]
                  each = each sprintf("%s%.1f", each == "" ? "" : "/", dd > 0 ? dt * 1e6 / hz / dd : 0)
                  split_ = split_ sprintf("%s%d", split_ == "" ? "" : "/", dd) }
    $1 == "pg" { pg = $2 - o[2] }
    $1 == "redis" { rd = $2 - o[2] }
    $1 == "machine" { busy = $2 - o[2]; all = $3 - o[3] }
    $1 == "clock" { secs = $2 - o[2] }
    $1 == "eval" { ec = $2 - o[2]; eu = $3 - o[3] }
    $1 == "wal" { wr = $2 - o[2]; wb = $3 - o[3]; ws = $4 - o[4] }
    END {
      d = dec > 0 ? dec : 1; us = 1e6 / hz
      printf "REPLICA decisions=%d split=%s seconds=%.1f txv_us=%.1f txv_each_us=%s pg_us=%.1f redis_us=%.1f", dec, split_, secs, tt * us / d, each, pg * us / d, rd * us / d
      printf " all_us=%.1f txv_cores=%.2f pg_cores=%.2f redis_cores=%.2f machine_busy=%.0f%% redis_rt=%.2f db_rt=%.3f", (tt + pg + rd) * us / d, tt / hz / secs, pg / hz / secs, rd / hz / secs, (all > 0 ? 100 * busy / all : 0), rr / d, qr / d
      printf " redis_rt_ms=%.2f db_rt_ms=%.2f", (rr > 0 ? rs * 1000 / rr : 0), (qr > 0 ? qs * 1000 / qr : 0)
      printf " rest_cores=%.2f", (all > 0 ? ncpu * busy / all : 0) - (tt + pg + rd) / hz / secs
      printf " evals=%.2f eval_us=%.1f wal_records=%.1f wal_bytes=%.0f wal_syncs=%.4f\n", ec / d, (ec > 0 ? eu / ec : 0), wr / d, wb / d, ws / d
    }' "$WORK/$1.before" "$WORK/$1.after" > "$WORK/$1.rep"
}
rep() { [ -f "$WORK/$1.rep" ] && field "$WORK/$1.rep" "$2"; }

pg_url() { echo "${PG_URL/\/txv\?//$1?}"; }  # the same server, database $1
pg_sql() { psql "$PG_URL" -qAtX -v ON_ERROR_STOP=1 "$@"; }
redis_cmd() {  # redis-cli on REDIS_URL (redis://:PASSWORD@HOST:PORT/DB; redis-cli -u would AUTH as user "")
  local r=${REDIS_URL#redis://} auth hostport
  auth=${r%%@*}; hostport=${r#*@}; hostport=${hostport%%/*}
  redis-cli -h "${hostport%:*}" -p "${hostport##*:}" -a "${auth#:}" -n "${r##*/}" --no-auth-warning "$@"
}
redis_flushdb() { [ "$(redis_cmd FLUSHDB)" = OK ] || { echo "bench: FLUSHDB on $REDIS_URL failed"; exit 1; }; }
# "calls usec" of EVAL/EVALSHA inside Redis (INFO commandstats), and WAL "records bytes fsyncs" (pg_stat_wal)
redis_eval_stats() { redis_cmd INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ { c += $3; u += $5 } END { printf "%.0f %.0f\n", c, u }'; }
pg_wal_stats() { pg_sql -F' ' -c 'SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal'; }

start_replicas() {  # NAME N: a fresh database, an empty Redis db, an admin key, N replicas, the 20 rules
  local name=$1 n=$2 i port ok
  pg_sql -c "CHECKPOINT" -c "CREATE DATABASE bench_$name"
  redis_flushdb
  DB_URL=$(pg_url "bench_$name")
  KEY=$(TXV_PAN_KEY=$PAN_KEY "$TXV_BIN" apikey create --role admin --name bench --database-url "$DB_URL" 2>/dev/null)
  REPLICA_PIDS=(); REPLICA_PORTS=()
  for i in $(seq 0 $((n - 1))); do
    port=$((REPLICA_PORT + i))
    mkdir -p "$WORK/$name-$i"
    (cd "$WORK/$name-$i" && exec env TXV_DATABASE_URL="$DB_URL" TXV_REDIS_URL="$REDIS_URL" TXV_PAN_KEY="$PAN_KEY" \
      "$TXV_BIN" serve --listen "127.0.0.1:$port" --log-level warn --drain-delay 0s) > "$WORK/$name-$i/txv.log" 2>&1 &
    REPLICA_PIDS+=($!); REPLICA_PORTS+=("$port")
  done
  for i in "${!REPLICA_PIDS[@]}"; do
    ok=""
    for _ in $(seq 1 300); do
      if curl -sf "http://127.0.0.1:${REPLICA_PORTS[$i]}/readyz" > /dev/null 2>&1; then ok=1; break; fi
      kill -0 "${REPLICA_PIDS[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$ok" ] || { echo "bench: replica $i of $name did not become ready:"; tail -20 "$WORK/$name-$i/txv.log"; exit 1; }
  done
  TXV_PORT=${REPLICA_PORTS[0]} install_rules
  sleep 1.5  # every replica decides with a change within 1 s (announcement, else the 250 ms poll)
  if [ "$REPLICA_WARMUP" -gt 0 ]; then
    # Steady state: txv's prepared idempotency look-up, planned while the table was empty, keeps a
    # generic plan that scans every decision of the merchant (transactions_velocity_merchant with
    # a filter on transaction_id) until the table is analyzed (autovacuum: within about a minute).
    # A short load, then ANALYZE, as autovacuum would do; BENCH_REPLICA_WARMUP=0 measures that cold start.
    if [ "$n" -eq 1 ]; then
      wrk -t"$THREADS" -c"$CONNS" -d"${REPLICA_WARMUP}s" -s bench/validate.lua "http://127.0.0.1:${REPLICA_PORTS[0]}" \
        -- "$KEY" "$name-w$$" > "$WORK/$name-warmup.out"
    else
      BENCH_REPLICA_PORTS=$(IFS=,; echo "${REPLICA_PORTS[*]}") wrk -t"$n" -c"$((CONNS / n * n))" -d"${REPLICA_WARMUP}s" \
        -s bench/replicas.lua "http://127.0.0.1:${REPLICA_PORTS[0]}" -- "$KEY" "$name-w$$" > "$WORK/$name-warmup.out"
    fi
    psql "$DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "ANALYZE transactions"
    echo "  warm-up: $(field "$WORK/$name-warmup.out" requests) decisions in ${REPLICA_WARMUP}s, then ANALYZE transactions"
  fi
}

stop_replicas() {  # NAME: stop them; report what they logged (warnings and errors only)
  local p lines
  for p in "${REPLICA_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${REPLICA_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  REPLICA_PIDS=()
  lines=$(cat "$WORK/$1"-*/txv.log | wc -l)
  if [ "$lines" -gt 0 ]; then
    echo "  the replicas logged $lines warning/error lines; the first:"
    cat "$WORK/$1"-*/txv.log | head -5 | cut -c1-200 | sed 's/^/    /'
  fi
  echo "$lines" > "$WORK/$1.loglines"
}

replica_closed() {  # NAME: wrk closed-loop over the running replicas, with the counters around it
  local name=$1 n=${#REPLICA_PORTS[@]}
  MEASURE_PIDS="${REPLICA_PIDS[*]}"
  replica_snapshot "$WORK/$name.before"
  if [ "$n" -eq 1 ]; then
    run_wrk "$name" "http://127.0.0.1:${REPLICA_PORTS[0]}" bench/validate.lua -- "$KEY" "$name$$"
  else
    # One wrk thread per replica (bench/replicas.lua), CONNS / n connections each.
    BENCH_REPLICA_PORTS=$(IFS=,; echo "${REPLICA_PORTS[*]}") THREADS=$n CONNS=$((CONNS / n * n)) \
      run_wrk "$name" "http://127.0.0.1:${REPLICA_PORTS[0]}" bench/replicas.lua -- "$KEY" "$name$$"
  fi
  replica_snapshot "$WORK/$name.after"
  replica_report "$name"
  printf '  %-30s decisions per replica %s; CPU us/decision: txv %s (each %s), postgres %s, redis %s = %s\n' "" \
    "$(rep "$name" split)" "$(rep "$name" txv_us)" "$(rep "$name" txv_each_us)" "$(rep "$name" pg_us)" \
    "$(rep "$name" redis_us)" "$(rep "$name" all_us)"
  printf '  %-30s cores: txv %s, postgres %s, redis %s, the rest (generator, other tenants) %s; machine busy %s\n' "" \
    "$(rep "$name" txv_cores)" "$(rep "$name" pg_cores)" "$(rep "$name" redis_cores)" "$(rep "$name" rest_cores)" \
    "$(rep "$name" machine_busy)"
  printf '  %-30s round trips per decision: Redis %s (mean %s ms), PostgreSQL %s (mean %s ms)\n' "" \
    "$(rep "$name" redis_rt)" "$(rep "$name" redis_rt_ms)" "$(rep "$name" db_rt)" "$(rep "$name" db_rt_ms)"
  printf '  %-30s per decision: %s EVAL/EVALSHA of %s us inside Redis; %s WAL records, %s WAL bytes, %s WAL fsyncs (1 per %s decisions)\n' "" \
    "$(rep "$name" evals)" "$(rep "$name" eval_us)" "$(rep "$name" wal_records)" "$(rep "$name" wal_bytes)" \
    "$(rep "$name" wal_syncs)" "$(awk -v x="$(rep "$name" wal_syncs)" 'BEGIN { if (x > 0) printf "%.1f", 1 / x; else print "-" }')"
  [ "$(field "$WORK/$name.out" socket_errors)" = 0 ] || echo "  $name: $(field "$WORK/$name.out" socket_errors) socket errors"
}

replica_profile() {  # perf record -g of the first replica for PERF_SECONDS under closed-loop load
  local wrk_pid
  wrk -t"$THREADS" -c"$CONNS" -d"$((PERF_SECONDS + 2))s" --latency -s bench/validate.lua \
    "http://127.0.0.1:${REPLICA_PORTS[0]}" -- "$KEY" "perf$$" > "$WORK/perf-wrk.out" &
  wrk_pid=$!; BG_PIDS=("$wrk_pid")
  sleep 1
  perf record -g -p "${REPLICA_PIDS[0]}" -o "$WORK/perf.data" -- sleep "$PERF_SECONDS" > "$WORK/perf.log" 2>&1 || true
  wait "$wrk_pid" || true; BG_PIDS=()
  if [ ! -s "$WORK/perf.data" ]; then echo "  perf record failed:"; tail -3 "$WORK/perf.log" | sed 's/^/    /'; return 0; fi
  local req dur
  req=$(field "$WORK/perf-wrk.out" requests); dur=$(field "$WORK/perf-wrk.out" duration_us)
  perf report -i "$WORK/perf.data" --stdio --no-children --sort dso -g none --percent-limit 0.5 > "$WORK/perf-dso.txt" 2>/dev/null || true
  echo "  perf record -g -p <txv> for ${PERF_SECONDS}s under wrk ($(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }') decisions/s while perf ran;" \
    "$(awk '/^# Samples:/ { sub(/^# /, ""); print; exit }' "$WORK/perf-dso.txt"))"
  echo "  self time by object:"
  grep -v -e '^#' -e '^$' "$WORK/perf-dso.txt" | head -12 | sed 's/^ */    /'
  # Kernel samples by the system call they are under (from the kernel part of each call chain).
  echo "  kernel samples by system call (share of all samples):"
  perf script -i "$WORK/perf.data" -F ip,sym,dso 2> /dev/null | awk '
    function flush() {
      if (n == 0) return
      total++
      if (kernel) {
        if (sc != "") key = sc; else if (syscall) key = "(preempted on the way out of a system call)"
        else if (irq) key = "(interrupts, softirqs)"; else key = "(other kernel)"
        by[key]++
      }
      n = 0; sc = ""; syscall = 0; irq = 0; kernel = 0
    }
    NF == 0 { flush(); next }
    { n++; if (n == 1) kernel = ($0 ~ /\[kernel\.kallsyms\]\)$/); s = $2
      if (sc == "" && s ~ /^__(x64|ia32)_sys_/) { sub(/^__(x64|ia32)_sys_/, "", s); sc = s }
      if (s == "do_syscall_64") syscall = 1
      if (s ~ /irq|sysvec/) irq = 1 }
    END { flush(); for (k in by) printf "%.1f%% %s\n", 100 * by[k] / total, k }' | sort -rn | head -8 | sed 's/^/    /'
  echo "  top symbols (self):"
  perf report -i "$WORK/perf.data" --stdio --no-children --sort dso,sym -g none --percent-limit 0.7 2>/dev/null \
    | grep -v -e '^#' -e '^$' | head -30 | cut -c1-150 | sed 's/^ */    /'
}

if want replica; then
  if ! command -v redis-server > /dev/null || ! command -v psql > /dev/null || ! ls /usr/lib/postgresql/*/bin/pgbench > /dev/null 2>&1; then
    echo "== replica mode: skipped (needs postgresql, postgresql-client, redis-server: scripts/install-deps.sh)"
  else
    # 1. The embedded figure for the side-by-side: part 3's when it ran, else measured here.
    if [ -f "$WORK/txv20.sum" ]; then
      EMB=txv20
    else
      echo "== embedded (SQLite) txv validate, 20 rules, for the side-by-side"
      start_txv emb20
      install_rules
      MEASURE_PIDS=$TXV_PID
      run_wrk emb20 "http://127.0.0.1:$TXV_PORT" bench/validate.lua -- "$KEY" "emb20$$"
      stop_txv
      EMB=emb20
    fi

    echo "== replica mode: PostgreSQL and Redis from scripts/test-servers.sh under $WORK"
    chmod 755 "$WORK"  # the servers run as postgres when this runs as root
    SERVERS_DIR=$WORK/servers
    bash scripts/test-servers.sh start "$SERVERS_DIR" 2> "$WORK/servers.log" || { cat "$WORK/servers.log"; exit 1; }
    # shellcheck source=/dev/null
    . "$SERVERS_DIR/env"
    PG_URL=$TXV_TEST_DATABASE_URL; REDIS_URL=$TXV_TEST_REDIS_URL
    PG_PID=$(head -1 "$TXV_TEST_PG_DATA/postmaster.pid"); REDIS_PID=$(cat "$TXV_TEST_REDIS_PID_FILE")
    PAN_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    echo "   txv: $("$TXV_BIN" version 2>&1), binary of $(stat -c %y "$TXV_BIN" | cut -c1-19)"
    echo "   $(pg_sql -c 'SHOW server_version'), fsync=$(pg_sql -c 'SHOW fsync'), synchronous_commit=$(pg_sql -c 'SHOW synchronous_commit'), shared_buffers=$(pg_sql -c 'SHOW shared_buffers'); $(redis-server --version | cut -d' ' -f1-3), no persistence"

    # 3. The durability ceiling: one-row INSERTs (autocommit), a 10-column table with the
    # decisions table's unique key, CONNS clients.
    echo "== pgbench: one-row INSERT ... ON CONFLICT DO NOTHING per transaction, $CONNS clients, ${PGBENCH_SECONDS}s"
    pg_sql -c "CHECKPOINT" -c "CREATE DATABASE bench_pgbench"
    psql "$(pg_url bench_pgbench)" -qAtX -v ON_ERROR_STOP=1 -c 'CREATE TABLE decisions (
      seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, merchant_id TEXT COLLATE "C" NOT NULL,
      transaction_id TEXT COLLATE "C" NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,
      decision TEXT NOT NULL, reasons TEXT NOT NULL, card_fingerprint TEXT COLLATE "C" NOT NULL,
      customer_id TEXT COLLATE "C", decided_at BIGINT NOT NULL, UNIQUE (merchant_id, transaction_id))'
    cat > "$WORK/pgbench.sql" <<'SQL'
\set n random(1, 1000000000000)
INSERT INTO decisions (merchant_id, transaction_id, amount, currency, decision, reasons, card_fingerprint, customer_id, decided_at)
  VALUES ('m-bench', :client_id::text || '-' || :n::text, :n::bigint % 9000 + 1000, 'USD', 'approve', '[]',
          md5(:n::text), 'c-' || (:n::bigint % 500)::text, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
  ON CONFLICT (merchant_id, transaction_id) DO NOTHING;
SQL
    { echo "pg $(pg_cpu_ticks)"; echo "machine $(machine_ticks)"; echo "wal $(pg_wal_stats)"; } > "$WORK/pgbench.before"
    "$TXV_TEST_PG_BIN/pgbench" -n -M prepared -c "$CONNS" -j "$THREADS" -T "$PGBENCH_SECONDS" -f "$WORK/pgbench.sql" \
      "$(pg_url bench_pgbench)" > "$WORK/pgbench.out" 2>&1 || { echo "  pgbench failed:"; tail -5 "$WORK/pgbench.out"; }
    { echo "pg $(pg_cpu_ticks)"; echo "machine $(machine_ticks)"; echo "wal $(pg_wal_stats)"; } > "$WORK/pgbench.after"
    PGB_TPS=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$WORK/pgbench.out")
    PGB_LAT=$(awk '/^latency average = / { print $4; exit }' "$WORK/pgbench.out")
    PGB_ROWS=$(psql "$(pg_url bench_pgbench)" -qAtX -c 'SELECT count(*) FROM decisions')
    read -r PGB_PG_US PGB_BUSY PGB_WAL_BYTES PGB_SYNCS < <(awk -v hz="$CLK_TCK" -v rows="$PGB_ROWS" '
      FNR == NR { b[$1] = $2; c[$1] = $3; e[$1] = $4; next }
      $1 == "pg" { pg = $2 - b["pg"] } $1 == "machine" { busy = $2 - b["machine"]; all = $3 - c["machine"] }
      $1 == "wal" { wb = $3 - c["wal"]; ws = $4 - e["wal"] }
      END { r = rows > 0 ? rows : 1
            printf "%.1f %.0f%% %.0f %.4f\n", pg * 1e6 / hz / r, (all > 0 ? 100 * busy / all : 0), wb / r, ws / r }' \
      "$WORK/pgbench.before" "$WORK/pgbench.after")
    echo "  pgbench: ${PGB_TPS:-?} inserts/s (tps), latency average ${PGB_LAT:-?} ms; $PGB_ROWS rows;" \
      "postgres CPU $PGB_PG_US us/insert; per insert $PGB_WAL_BYTES WAL bytes, $PGB_SYNCS WAL fsyncs; machine busy $PGB_BUSY"

    # 2., 4., 5.: 1 replica, then 3.
    echo "== replica mode, 1 replica, 20 rules: closed loop (wrk -t$THREADS -c$CONNS), open loop at half, perf"
    start_replicas r1 1
    replica_closed r1
    read -r R1_RPS _ < "$WORK/r1.sum"
    run_open r1-open "${REPLICA_PORTS[0]}" "$((R1_RPS / 2))" --key "$KEY" --prefix "r1-ol$$"
    if [ "$PERF_SECONDS" -gt 0 ] && command -v perf > /dev/null; then replica_profile; fi
    stop_replicas r1

    echo "== replica mode, 3 replicas, 20 rules: closed loop (wrk -t3 -c$((CONNS / 3 * 3)), one thread per replica), open loop at half"
    start_replicas r3 3
    replica_closed r3
    read -r R3_RPS _ < "$WORK/r3.sum"
    run_open r3-open "$(IFS=,; echo "${REPLICA_PORTS[*]}")" "$((R3_RPS / 2))" --key "$KEY" --prefix "r3-ol$$"
    stop_replicas r3

    bash scripts/test-servers.sh stop "$SERVERS_DIR" > /dev/null 2>&1 || true
    SERVERS_DIR=""
  fi
fi

# ---------------------------------------------------------------- summary table

w() { [ -f "$WORK/$1.out" ] && field "$WORK/$1.out" "$2"; }
sum_col() { [ -f "$WORK/$1.sum" ] && awk -v c="$2" '{print $c}' "$WORK/$1.sum"; }
mem_col() { [ -f "$WORK/$1.mem" ] && awk -v c="$2" '{print $c}' "$WORK/$1.mem"; }
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf f, a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.1f%%", 100 * a / b }'; }

echo
echo "== summary ($CONNS connections; $(nproc) cores shared with the load generators; $(date -u +%Y-%m-%d))"
if [ -f "$WORK/nginx.sum" ] || [ -f "$WORK/txv0.sum" ] || [ -f "$WORK/txv20.sum" ] || [ -n "${SQLITE_64:-}" ]; then
  echo
  echo "| what | rate | p50 | p99 | p99.9 | CPU µs/request | peak RSS | notes |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
fi
closed_row() {  # label name
  [ -f "$WORK/$2.sum" ] || return 0
  local note="" bad; bad=$(sum_col "$2" 3)
  [ "$bad" != "0" ] && note="$bad non-2xx"
  echo "| $1 | $(sum_col "$2" 1)/s | $(fmt_ms "$(w "$2" p50_us)") | $(fmt_ms "$(w "$2" p99_us)") | $(fmt_ms "$(w "$2" p999_us)") | $(sum_col "$2" 2) | $(fmt_mb "$(mem_col "$2" 1)") | $note |"
}
open_row() {  # label name
  [ -f "$WORK/$2.out" ] || return 0
  local note; note="sent p99 $(fmt_ms "$(w "$2" send_delay_p99_us)") after schedule; generator timer lag p99 $(fmt_ms "$(w "$2" timer_lag_p99_us)")"
  [ "$(w "$2" timeouts)" != "0" ] && note="$note; $(w "$2" timeouts) timeouts"
  [ "$(w "$2" non2xx)" != "0" ] && note="$note; $(w "$2" non2xx) non-2xx"
  [ "$(w "$2" errors)" != "0" ] && note="$note; $(w "$2" errors) errors"
  echo "| $1, open-loop at $(w "$2" target_rate)/s | $(w "$2" achieved_rate)/s | $(fmt_ms "$(w "$2" p50_us)") | $(fmt_ms "$(w "$2" p99_us)") | $(fmt_ms "$(w "$2" p999_us)") | | | $note |"
}
closed_row "nginx static 200 (wrk)" nginx
open_row "nginx static 200" nginx-open
[ -n "${SQLITE_64:-}" ] && echo "| SQLite group commit alone, 64 writers | ${SQLITE_64}/s | | | | | | 1 writer ${SQLITE_1:-?}/s; without batching ${SQLITE_NOBATCH:-?}/s |"
closed_row "txv validate, 0 rules (wrk)" txv0
open_row "txv validate, 0 rules" txv0-open
closed_row "txv validate, 20 rules (wrk)" txv20
open_row "txv validate, 20 rules" txv20-open
echo
if [ -f "$WORK/nginx.sum" ]; then
  for n in txv0 txv20; do
    [ -f "$WORK/$n.sum" ] || continue
    echo "- $n / nginx: $(pct "$(sum_col $n 1)" "$(sum_col nginx 1)") of nginx's req/s;" \
      "CPU per decision $(ratio "$(sum_col $n 2)" "$(sum_col nginx 2)" '%.1f')× nginx's per request"
  done
fi
[ -f "$WORK/txv0.sum" ] && [ -f "$WORK/txv20.sum" ] && \
  echo "- cost of 20 rules: $(awk -v a="$(sum_col txv20 1)" -v b="$(sum_col txv0 1)" 'BEGIN { printf "%.1f%%", 100 * (1 - a / b) }') of decisions/s"
[ -f "$WORK/txv20.sum" ] && [ -f "$WORK/txv20nt.sum" ] && \
  echo "- cost of decision traces (20 rules): $(awk -v a="$(sum_col txv20 1)" -v b="$(sum_col txv20nt 1)" 'BEGIN { printf "%.1f%%", 100 * (1 - a / b) }') of decisions/s" \
    "($(sum_col txv20 1)/s with, $(sum_col txv20nt 1)/s without; CPU per decision $(sum_col txv20 2) vs $(sum_col txv20nt 2) µs);" \
    "${TRACE_BYTES:-?} bytes of trace stored per decision"
[ -f "$WORK/alloc0.sum" ] && echo "- allocations per validate: $(sum_col alloc0 1) with 0 rules, $(sum_col alloc20 1) with 20 rules"
[ -n "${CHURN_RSS1:-}" ] && echo "- RSS across $RULE_CHANGES rule changes: $(fmt_mb "$CHURN_RSS0") -> $(fmt_mb "$CHURN_RSS1")" \
  "($(awk -v a="$CHURN_RSS0" -v b="$CHURN_RSS1" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'))"
[ -n "${SOAK_RSS_END:-}" ] && echo "- RSS over a ${SOAK_SECONDS}s validate run at $SOAK_RATE/s: $(fmt_mb "$SOAK_RSS_START") -> $(fmt_mb "$SOAK_RSS_END")" \
  "($(awk -v a="$SOAK_RSS_START" -v b="$SOAK_RSS_END" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'), max $(fmt_mb "$SOAK_RSS_MAX"); $SOAK_BYTES_PER bytes/decision);" \
  "p99 $(fmt_ms "$(w soak p99_us)"), p99.9 $(fmt_ms "$(w soak p999_us)")"

if [ -f "$WORK/r1.rep" ] || [ -f "$WORK/r3.rep" ]; then
  echo
  echo "Replica mode, 20 rules (wrk: $CONNS connections, 3 replicas $((CONNS / 3 * 3)), one wrk thread per replica; open loop: $CONNS connections round-robin over the replicas;" \
    "txv, postgres, redis-server and the generators all on the same $(nproc) cores):"
  echo
  echo "| what | decisions/s | p50 | p99 | p99.9 | CPU µs/decision: txv (each replica) | postgres | redis | all three | round trips/decision (mean time): Redis, PostgreSQL | notes |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  if [ -f "$WORK/$EMB.sum" ]; then
    note=""; [ "$(sum_col "$EMB" 3)" != 0 ] && note="$(sum_col "$EMB" 3) non-2xx"
    echo "| embedded (SQLite), wrk | $(sum_col "$EMB" 1)/s | $(fmt_ms "$(w "$EMB" p50_us)") | $(fmt_ms "$(w "$EMB" p99_us)") | $(fmt_ms "$(w "$EMB" p999_us)") | $(sum_col "$EMB" 2) | | | $(sum_col "$EMB" 2) | | $note |"
  fi
  for r in r1 r3; do
    [ -f "$WORK/$r.rep" ] || continue
    label="1 replica"; [ "$r" = r3 ] && label="3 replicas"
    note="$(sum_col "$r" 3) non-2xx"
    [ "$(w "$r" socket_errors)" != 0 ] && note="$note, $(w "$r" socket_errors) socket errors"
    [ "$(cat "$WORK/$r.loglines" 2>/dev/null || echo 0)" != 0 ] && note="$note, $(cat "$WORK/$r.loglines") log lines"
    note="$note; cores: txv $(rep "$r" txv_cores), postgres $(rep "$r" pg_cores), redis $(rep "$r" redis_cores), rest $(rep "$r" rest_cores); machine busy $(rep "$r" machine_busy)"
    note="$note; EVALSHA $(rep "$r" eval_us) µs inside Redis; $(rep "$r" wal_syncs) WAL fsyncs per decision"
    each=""; [ "$r" = r3 ] && each=" ($(rep "$r" txv_each_us))"
    echo "| $label, wrk | $(sum_col "$r" 1)/s | $(fmt_ms "$(w "$r" p50_us)") | $(fmt_ms "$(w "$r" p99_us)") | $(fmt_ms "$(w "$r" p999_us)") | $(rep "$r" txv_us)$each | $(rep "$r" pg_us) | $(rep "$r" redis_us) | $(rep "$r" all_us) | $(rep "$r" redis_rt) ($(rep "$r" redis_rt_ms) ms), $(rep "$r" db_rt) ($(rep "$r" db_rt_ms) ms) | $note |"
    if [ -f "$WORK/$r-open.out" ]; then
      note="sent p99 $(fmt_ms "$(w "$r-open" send_delay_p99_us)") after schedule; timer lag p99 $(fmt_ms "$(w "$r-open" timer_lag_p99_us)")"
      for k in timeouts non2xx errors; do [ "$(w "$r-open" $k)" != 0 ] && note="$note; $(w "$r-open" $k) $k"; done
      echo "| $label, open loop at $(w "$r-open" target_rate)/s | $(w "$r-open" achieved_rate)/s | $(fmt_ms "$(w "$r-open" p50_us)") | $(fmt_ms "$(w "$r-open" p99_us)") | $(fmt_ms "$(w "$r-open" p999_us)") | | | | | | $note |"
    fi
  done
  [ -n "${PGB_TPS:-}" ] && echo "| pgbench, one-row INSERT per transaction, $CONNS clients | ${PGB_TPS}/s | | | | | $PGB_PG_US | | | | latency average $PGB_LAT ms; $PGB_SYNCS WAL fsyncs per insert; machine busy $PGB_BUSY |"
  echo
  [ -f "$WORK/r3.sum" ] && [ -f "$WORK/r1.sum" ] && echo "- 3 replicas / 1 replica: $(ratio "$(sum_col r3 1)" "$(sum_col r1 1)" '%.2f')× the decisions/s"
  [ -f "$WORK/r3.sum" ] && [ -n "${PGB_TPS:-}" ] && echo "- 3 replicas / pgbench single-row inserts: $(pct "$(sum_col r3 1)" "$PGB_TPS") (aim ≥ 100%)"
  [ -f "$WORK/r1.sum" ] && [ -f "$WORK/$EMB.sum" ] && echo "- 1 replica / embedded: $(pct "$(sum_col r1 1)" "$(sum_col "$EMB" 1)") of the decisions/s;" \
    "CPU per decision, all processes: $(ratio "$(rep r1 all_us)" "$(sum_col "$EMB" 2)" '%.1f')× embedded's"
  [ -f "$WORK/r3-open.out" ] && echo "- p99 at half the maximum rate, 3 replicas: $(fmt_ms "$(w r3-open p99_us)") (aim < 10 ms)"
fi
if want startup; then
  echo
  TXV_BIN=$TXV_BIN BENCH_DIR=$WORK BENCH_TXV_PORT=$TXV_PORT bash "$ROOT/bench/startup_bench.sh"
fi
if want backtest; then
  echo
  TXV_BIN=$TXV_BIN BENCH_DIR=$WORK BENCH_TXV_PORT=$TXV_PORT BENCH_OPENLOOP_BIN=$OPENLOOP \
    bash "$ROOT/bench/backtest_bench.sh"
fi
echo
echo "bench: $((SECONDS - BENCH_START)) s; at the end: $(machine_load)"
