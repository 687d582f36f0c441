#!/usr/bin/env bash
# `make bench`: reproducible throughput figures on this machine.
#  1. nginx serving a static 200 (the ceiling for HTTP on this box),
#  2. txv embedded, durable (synchronous=FULL), POST /v1/transactions/validate with unique ids,
#  both with wrk at 64 connections for BENCH_SECONDS (default 15) in the same run,
#  then the Google Benchmark micro-benchmarks that were built.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${BENCH_SECONDS:-15}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_WRK_THREADS:-2}
WORK=$(mktemp -d /tmp/txv-bench.XXXXXX)
NGINX_PORT=18081
TXV_PORT=18080
cleanup() {
  [ -n "${TXV_PID:-}" ] && kill "$TXV_PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

summarise() {  # name, wrk output file
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$2")
  p50=$(awk '$1=="50%" {print $2}' "$2")
  p99=$(awk '$1=="99%" {print $2}' "$2")
  printf '%-28s %12s req/s   p50 %-9s p99 %-9s\n' "$1" "$rps" "$p50" "$p99"
  echo "$rps" > "$WORK/$1.rps"
}

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
wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$NGINX_PORT/" > "$WORK/nginx.out"

export TXV_DATABASE_URL="sqlite:$WORK/data/txv.db"
KEY=$(./build/txv apikey create --role admin --name bench)
./build/txv serve --listen "127.0.0.1:$TXV_PORT" --log-level warn > "$WORK/txv.log" 2>&1 &
TXV_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$TXV_PORT/startupz" >/dev/null && break; sleep 0.1; done
wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -s bench/validate.lua \
  "http://127.0.0.1:$TXV_PORT" -- "$KEY" "run$$" > "$WORK/txv.out"

# Same server, now with 20 rules (3 velocity, 1 over a 100k-entry list): the cost of rules.
API="http://127.0.0.1:$TXV_PORT"
auth=(-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json')
/usr/bin/python3 -c 'import json; print(json.dumps({"entries": ["%06d" % (100000 + i) for i in range(100000)]}))' \
  > "$WORK/list.json"
curl -sf -X PUT "${auth[@]}" "$API/v1/lists/bench_bins" --data-binary @"$WORK/list.json" > /dev/null
add_rule() { curl -sf "${auth[@]}" "$API/v1/rules" -d "$1" > /dev/null; }
add_rule '{"name":"v1","expression":"velocity(\"card\", \"1h\").count > 1000000","action":"decline","code":"v_card"}'
add_rule '{"name":"v2","expression":"velocity(\"customer\", \"24h\").amount > 900000000","action":"review","code":"v_customer"}'
add_rule '{"name":"v3","expression":"velocity(\"email\", \"10m\").count > 100000","action":"review","code":"v_email"}'
add_rule '{"name":"list","expression":"card.bin in list(\"bench_bins\")","action":"decline","code":"bad_bin"}'
for i in $(seq 1 16); do
  add_rule '{"name":"r'$i'","expression":"amount > '$((100000 + i))' && customer.country != \"ZZ\" && merchant.mcc in [\"7995\", \"6051\"] && customer.email.endsWith(\"@bad'$i'.test\")","action":"review","code":"r'$i'"}'
done
wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -s bench/validate.lua \
  "$API" -- "$KEY" "rules$$" > "$WORK/txv-rules.out"

echo "== HTTP throughput, $CONNS connections, ${SECONDS_PER_RUN}s each, $(nproc) cores (load generator shares them)"
summarise "nginx static 200" "$WORK/nginx.out"
summarise "txv validate (durable)" "$WORK/txv.out"
non2xx=$(awk '/Non-2xx/ {print $4}' "$WORK/txv.out"); echo "txv non-2xx responses: ${non2xx:-0}"
summarise "txv validate, 20 rules" "$WORK/txv-rules.out"
non2xx=$(awk '/Non-2xx/ {print $4}' "$WORK/txv-rules.out"); echo "txv (20 rules) non-2xx responses: ${non2xx:-0}"
awk -v a="$(cat "$WORK/txv validate (durable).rps")" -v b="$(cat "$WORK/nginx static 200.rps")" \
  'BEGIN { printf "txv / nginx: %.1f%%\n", 100 * a / b }'
awk -v a="$(cat "$WORK/txv validate, 20 rules.rps")" -v b="$(cat "$WORK/txv validate (durable).rps")" \
  'BEGIN { printf "cost of 20 rules: %.1f%% of throughput\n", 100 * (1 - a / b) }'

for b in build/bench/*_bench; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.2 2>/dev/null || true
done
