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
#     just measured: p99 with queueing.
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
# Benchmarks report; nothing here asserts a timing.
#
# Environment: TXV_BIN (default build/txv), BENCH_SECONDS (closed-loop runs, 15),
# BENCH_OPEN_SECONDS (open-loop runs, 10), BENCH_SOAK_SECONDS (60), BENCH_SOAK_RATE (default half
# the stability server's closed-loop rate), BENCH_CONNECTIONS (64), BENCH_WRK_THREADS (2),
# BENCH_ALLOC_REQUESTS (5000), BENCH_RULE_CHANGES (1000), BENCH_DIR (where data goes; default
# build/, on the disk you want to measure: a tmpfs makes fsync free), BENCH_PARTS (any of
# "nginx sqlite txv alloc stability micro replica"; default all), BENCH_PGBENCH_SECONDS (20),
# BENCH_PERF_SECONDS (profile of the 1-replica run, 10; 0: none), BENCH_REPLICA_PORT (18090).
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
PARTS=" ${BENCH_PARTS:-nginx sqlite txv alloc stability micro replica} "
PY=/usr/bin/python3
NGINX_PORT=${BENCH_NGINX_PORT:-18081}
TXV_PORT=${BENCH_TXV_PORT:-18080}
CLK_TCK=$(getconf CLK_TCK)
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-20}
PERF_SECONDS=${BENCH_PERF_SECONDS:-10}
REPLICA_PORT=${BENCH_REPLICA_PORT:-18090}

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

# The 20-rule set: 3 velocity rules, 1 over a 100k-entry list, 16 ordinary ones.
install_rules() {
  local url="http://127.0.0.1:$TXV_PORT"
  [ -f "$WORK/list.json" ] || $PY -c 'import json; print(json.dumps({"entries": ["%06d" % (100000 + i) for i in range(100000)]}))' \
    > "$WORK/list.json"
  api -X PUT "$url/v1/lists/bench_bins" --data-binary @"$WORK/list.json" > /dev/null
  add_rule() { api "$url/v1/rules" -d "$1" > /dev/null; }
  add_rule '{"name":"v1","expression":"velocity(\"card\", \"1h\").count > 1000000","action":"decline","code":"v_card"}'
  add_rule '{"name":"v2","expression":"velocity(\"customer\", \"24h\").amount > 900000000","action":"review","code":"v_customer"}'
  add_rule '{"name":"v3","expression":"velocity(\"email\", \"10m\").count > 100000","action":"review","code":"v_email"}'
  add_rule '{"name":"list","expression":"card.bin in list(\"bench_bins\")","action":"decline","code":"bad_bin"}'
  local i
  for i in $(seq 1 16); do
    add_rule '{"name":"r'$i'","expression":"amount > '$((100000 + i))' && customer.country != \"ZZ\" && merchant.mcc in [\"7995\", \"6051\"] && customer.email.endsWith(\"@bad'$i'.test\")","action":"review","code":"r'$i'"}'
  done
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

# ---------------------------------------------------------------- summary table

w() { [ -f "$WORK/$1.out" ] && field "$WORK/$1.out" "$2"; }
sum_col() { [ -f "$WORK/$1.sum" ] && awk -v c="$2" '{print $c}' "$WORK/$1.sum"; }
mem_col() { [ -f "$WORK/$1.mem" ] && awk -v c="$2" '{print $c}' "$WORK/$1.mem"; }
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf f, a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.1f%%", 100 * a / b }'; }

echo
echo "== summary ($CONNS connections; $(nproc) cores shared with the load generators; $(date -u +%Y-%m-%d))"
echo
echo "| what | rate | p50 | p99 | p99.9 | CPU µs/request | peak RSS | notes |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
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
[ -f "$WORK/alloc0.sum" ] && echo "- allocations per validate: $(sum_col alloc0 1) with 0 rules, $(sum_col alloc20 1) with 20 rules"
[ -n "${CHURN_RSS1:-}" ] && echo "- RSS across $RULE_CHANGES rule changes: $(fmt_mb "$CHURN_RSS0") -> $(fmt_mb "$CHURN_RSS1")" \
  "($(awk -v a="$CHURN_RSS0" -v b="$CHURN_RSS1" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'))"
[ -n "${SOAK_RSS_END:-}" ] && echo "- RSS over a ${SOAK_SECONDS}s validate run at $SOAK_RATE/s: $(fmt_mb "$SOAK_RSS_START") -> $(fmt_mb "$SOAK_RSS_END")" \
  "($(awk -v a="$SOAK_RSS_START" -v b="$SOAK_RSS_END" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'), max $(fmt_mb "$SOAK_RSS_MAX"); $SOAK_BYTES_PER bytes/decision);" \
  "p99 $(fmt_ms "$(w soak p99_us)"), p99.9 $(fmt_ms "$(w soak p999_us)")"
echo
echo "bench: $((SECONDS - BENCH_START)) s; at the end: $(machine_load)"
