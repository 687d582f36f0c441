#!/usr/bin/env bash
# `make run-cluster`: txv in replica mode on loopback. A throw-away PostgreSQL and Redis
# (scripts/test-servers.sh), 3 replicas of `txv serve` sharing them and one PAN key, and nginx in
# front as the load balancer on 127.0.0.1:8080; all of it in a temporary directory. Creates an
# admin key and a validator key for merchant m_demo, prints how to try it, then waits: Ctrl-C or
# SIGTERM (or a hangup) stops everything and removes the directory.
#
# Environment:
#   TXV_CLUSTER_PORT           the load balancer's port                          8080
#   TXV_BIN                    the txv binary                                    build/txv
#   TXV_CLUSTER_READY_TIMEOUT  seconds for every replica to answer /readyz 200   60
# TXV_RATE_LIMIT, TXV_DRAIN_DELAY, TXV_THREADS... set by the caller reach every replica.
# PostgreSQL and Redis run as the `postgres` user when started as root (runuser).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${TXV_BIN:-$ROOT/build/txv}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
LB_PORT=${TXV_CLUSTER_PORT:-8080}
READY_TIMEOUT=${TXV_CLUSTER_READY_TIMEOUT:-60}
REPLICAS=3
MERCHANT=m_demo

die() { echo "run-cluster: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN is not an executable txv binary (make build, or set TXV_BIN)"
if ! [[ "$LB_PORT" =~ ^[0-9]{1,5}$ ]] || [ "$LB_PORT" -lt 1 ] || [ "$LB_PORT" -gt 65535 ]; then
  die "TXV_CLUSTER_PORT must be a port number, not '$LB_PORT'"
fi
[[ "$READY_TIMEOUT" =~ ^[0-9]+$ ]] || die "TXV_CLUSTER_READY_TIMEOUT must be a number of seconds"
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || die "nginx not found (apt-get install nginx-light)"
for tool in curl python3 setsid; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
# Something already answering on the port would take the requests meant for this cluster.
if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$LB_PORT/"; then
  die "127.0.0.1:$LB_PORT is already in use (set TXV_CLUSTER_PORT)"
fi

WORK=$(mktemp -d /tmp/txv-cluster.XXXXXX)
# PostgreSQL and Redis (user postgres, as root) and nginx's workers must reach their files.
chmod 755 "$WORK"
SERVERS="$WORK/servers"
NGX="$WORK/nginx"
declare -a REPLICA_PIDS=() REPLICA_PORTS=()
NGINX_PID=
SERVERS_STARTED=0
CLEANED=0
FORCE=0

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# stop_and_wait SECONDS PID...: SIGTERM, then SIGKILL whatever is left after SECONDS (or at once
# after a second Ctrl-C).
# shellcheck disable=SC2317  # reached through the traps
stop_and_wait() {
  local seconds=$1 pid deadline alive
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$((SECONDS + seconds))
  while :; do
    alive=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || break
    if [ "$FORCE" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "${alive[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1 || true
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# shellcheck disable=SC2317  # reached through the traps
cleanup() {
  [ "$CLEANED" = 0 ] || return 0
  CLEANED=1
  # Stop everything even if a step fails (a second Ctrl-C also kills the foreground sleep).
  set +e
  # A second Ctrl-C while stopping: stop waiting for the drain.
  trap 'FORCE=1' INT TERM HUP
  if [ ${#REPLICA_PIDS[@]} -gt 0 ]; then
    echo "run-cluster: stopping the replicas (they drain for TXV_DRAIN_DELAY, 5 s by default; Ctrl-C again to kill)" >&2
    # TXV_GRACE_PERIOD (25 s by default) bounds a replica's exit; 5 s of margin.
    stop_and_wait 30 "${REPLICA_PIDS[@]}"
  fi
  if [ -n "$NGINX_PID" ]; then stop_and_wait 10 "$NGINX_PID"; fi
  if [ "$SERVERS_STARTED" = 1 ]; then "$ROOT/scripts/test-servers.sh" stop "$SERVERS" || true; fi
  rm -rf "$WORK"
}
# shellcheck disable=SC2317  # reached through the trap
on_signal() {
  echo >&2
  cleanup
  echo "run-cluster: stopped" >&2
  exit 0
}
trap cleanup EXIT
trap on_signal INT TERM HUP

# show_replica N: what a replica wrote (txv logs to stderr), for a failure report.
show_replica() {
  local n=$1
  echo "---- replica $n (127.0.0.1:${REPLICA_PORTS[$((n - 1))]}), last 40 lines of its stderr and stdout:" >&2
  tail -n 40 "$WORK/replica-$n/txv.log" >&2 2>/dev/null || true
  echo "----" >&2
}
show_nginx() {
  echo "---- nginx, last 20 lines of $NGX/error.log:" >&2
  tail -n 20 "$NGX/error.log" >&2 2>/dev/null || true
  echo "----" >&2
}

# ---- PostgreSQL and Redis -------------------------------------------------------------------
echo "run-cluster: starting PostgreSQL and Redis in $SERVERS" >&2
SERVERS_STARTED=1
"$ROOT/scripts/test-servers.sh" start "$SERVERS"
# shellcheck source=/dev/null
. "$SERVERS/env"
DATABASE_URL=$TXV_TEST_DATABASE_URL
REDIS_URL=$TXV_TEST_REDIS_URL
# One fingerprint key for the whole fleet: 32 random bytes, hex.
PAN_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

# ---- replicas -------------------------------------------------------------------------------
for n in $(seq 1 $REPLICAS); do
  port=$(free_port)
  REPLICA_PORTS+=("$port")
  mkdir -p "$WORK/replica-$n"
  # Every replica migrates at start; `txv serve` does it under an advisory lock. setsid: the
  # terminal's Ctrl-C reaches this script only, which then stops the replicas in order.
  (
    cd "$WORK/replica-$n"
    export TXV_DATABASE_URL="$DATABASE_URL" TXV_REDIS_URL="$REDIS_URL" TXV_PAN_KEY="$PAN_KEY" \
      TXV_LISTEN="127.0.0.1:$port" TXV_LOG_LEVEL=info
    exec setsid "$BIN" serve
  ) >"$WORK/replica-$n/txv.log" 2>&1 </dev/null &
  REPLICA_PIDS+=($!)
done
echo "run-cluster: started $REPLICAS replicas on 127.0.0.1:${REPLICA_PORTS[*]}; waiting up to ${READY_TIMEOUT}s for /readyz" >&2

deadline=$((SECONDS + READY_TIMEOUT))
for n in $(seq 1 $REPLICAS); do
  pid=${REPLICA_PIDS[$((n - 1))]}
  port=${REPLICA_PORTS[$((n - 1))]}
  until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rc=0
      wait "$pid" || rc=$?
      echo "run-cluster: replica $n exited with status $rc before it was ready" >&2
      show_replica "$n"
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "run-cluster: replica $n did not answer /readyz 200 within ${READY_TIMEOUT}s; it answers:" >&2
      curl -s --max-time 2 "http://127.0.0.1:$port/readyz" >&2 || echo "(no answer)" >&2
      echo >&2
      show_replica "$n"
      exit 1
    fi
    sleep 0.1
  done
done

# ---- nginx ----------------------------------------------------------------------------------
mkdir -p "$NGX/tmp"
upstreams=""
for port in "${REPLICA_PORTS[@]}"; do
  # Passive health: after a failed attempt, a replica gets no requests for 10 s.
  upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=10s;"$'\n'
done
user_line=""
if [ "$(id -u)" -eq 0 ]; then user_line="user nobody nogroup;"; fi
cat >"$NGX/nginx.conf" <<EOF
# Generated by scripts/run-cluster.sh
$user_line
daemon off;
worker_processes 2;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events {
    worker_connections 1024;
}
http {
    # Keep a client's X-Request-Id (txv logs and echoes it), else make one: one id from the LB's
    # access log to the replica's log line.
    map \$http_x_request_id \$txv_request_id {
        default \$http_x_request_id;
        ""      \$request_id;
    }
    log_format txv '\$remote_addr [\$time_iso8601] "\$request" \$status \$request_time '
                   'upstream=\$upstream_addr upstream_status=\$upstream_status id=\$txv_request_id';
    access_log $NGX/access.log txv;
    client_body_temp_path $NGX/tmp/client_body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    client_max_body_size 1m;

    upstream txv {
$upstreams        keepalive 32;
    }
    server {
        listen 127.0.0.1:$LB_PORT;
        location / {
            proxy_pass http://txv;
            # Keep-alive connections to the replicas.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Request-Id \$txv_request_id;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            # nginx's default: another replica on a connection error or timeout, never for a
            # POST once it was sent (validations are not retried behind txv's back).
            proxy_next_upstream error timeout;
            # Which replica answered (try a few requests and watch it change).
            add_header X-Txv-Upstream \$upstream_addr always;
        }
    }
}
EOF
"$NGINX" -t -q -p "$NGX/" -e "$NGX/error.log" -c "$NGX/nginx.conf" || die "nginx rejects $NGX/nginx.conf"
# Its stderr repeats error.log.
setsid "$NGINX" -p "$NGX/" -e "$NGX/error.log" -c "$NGX/nginx.conf" </dev/null >/dev/null 2>&1 &
NGINX_PID=$!
deadline=$((SECONDS + READY_TIMEOUT))
until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$LB_PORT/readyz"; do
  if ! kill -0 "$NGINX_PID" 2>/dev/null; then
    echo "run-cluster: nginx exited" >&2
    show_nginx
    exit 1
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "run-cluster: nginx on 127.0.0.1:$LB_PORT did not pass /readyz within ${READY_TIMEOUT}s" >&2
    show_nginx
    exit 1
  fi
  sleep 0.1
done

# ---- keys -----------------------------------------------------------------------------------
apikey() {
  TXV_DATABASE_URL="$DATABASE_URL" TXV_PAN_KEY="$PAN_KEY" TXV_LOG_LEVEL=warn "$BIN" apikey create "$@"
}
ADMIN_KEY=$(cd "$WORK" && apikey --role admin --name cluster-admin) || die "txv apikey create (admin) failed"
VALIDATOR_KEY=$(cd "$WORK" && apikey --role validator --merchant "$MERCHANT" --name "$MERCHANT-shop") ||
  die "txv apikey create (validator) failed"

LB="http://127.0.0.1:$LB_PORT"
readyz=""
for n in $(seq 1 $REPLICAS); do
  readyz+="  curl -s http://127.0.0.1:${REPLICA_PORTS[$((n - 1))]}/readyz; echo    # replica $n"$'\n'
done
cat <<EOF

txv cluster: nginx on $LB -> $REPLICAS replicas (127.0.0.1:${REPLICA_PORTS[*]})
  PostgreSQL  $DATABASE_URL
  Redis       $REDIS_URL
  files       $WORK  (replica-N/txv.log: a replica's log; nginx/access.log: which replica served)

  admin key              $ADMIN_KEY
  validator key, $MERCHANT  $VALIDATOR_KEY

In another terminal:

  # validate through the load balancer (the X-Txv-Upstream header names the replica)
  curl -si $LB/v1/transactions/validate \\
    -H 'Authorization: Bearer $VALIDATOR_KEY' -H 'Content-Type: application/json' \\
    -d '{"transaction_id":"ord-1","merchant_id":"$MERCHANT","amount":1250,"currency":"USD",
         "card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030}}'

  # a rule created through one replica is live on every replica: create it through the LB,
  # then send a large amount to each replica directly (each answers "review", code large_amount)
  curl -s $LB/v1/rules -H 'Authorization: Bearer $ADMIN_KEY' -H 'Content-Type: application/json' \\
    -d '{"name":"large amount","expression":"amount > 100000","action":"review","code":"large_amount","priority":10}'; echo
  for port in ${REPLICA_PORTS[*]}; do
    curl -s http://127.0.0.1:\$port/v1/transactions/validate \\
      -H 'Authorization: Bearer $VALIDATOR_KEY' -H 'Content-Type: application/json' \\
      -d '{"transaction_id":"big-'\$port'","merchant_id":"$MERCHANT","amount":250000,"currency":"USD",
           "card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030}}'; echo
  done

  # each replica's readiness, directly
$readyz
Stop with Ctrl-C.
EOF

# ---- wait -----------------------------------------------------------------------------------
# Returns when a child exits (or a signal's trap runs). A replica or nginx dying on its own is
# an error: report it and stop the rest.
rc=0
wait -n "${REPLICA_PIDS[@]}" "$NGINX_PID" || rc=$?
for n in $(seq 1 $REPLICAS); do
  if ! kill -0 "${REPLICA_PIDS[$((n - 1))]}" 2>/dev/null; then
    echo "run-cluster: replica $n exited (status $rc)" >&2
    show_replica "$n"
  fi
done
if ! kill -0 "$NGINX_PID" 2>/dev/null; then
  echo "run-cluster: nginx exited (status $rc)" >&2
  show_nginx
fi
exit 1
