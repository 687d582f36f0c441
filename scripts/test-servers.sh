#!/usr/bin/env bash
# Throw-away PostgreSQL and Redis servers on loopback for the integration
# suites, in a temporary directory, as an unprivileged user.
#
#   scripts/test-servers.sh start DIR   starts them and writes DIR/env (shell exports):
#       TXV_TEST_DATABASE_URL   postgres://txv:txv@127.0.0.1:PORT/txv?sslmode=disable
#       TXV_TEST_REDIS_URL      redis://:PASSWORD@127.0.0.1:PORT/0
#       TXV_TEST_REDIS_TLS_URL  rediss://:PASSWORD@localhost:PORT/0   (a certificate made here)
#       TXV_TEST_REDIS_CA_FILE  the CA that signed it (OpenSSL honours SSL_CERT_FILE=it)
#       TXV_TEST_REDIS_PID / TXV_TEST_REDIS_TLS_PID / TXV_TEST_PG_DATA (for fault tests)
#   scripts/test-servers.sh stop DIR    stops them (whatever state they are in) and removes DIR
#
# The servers' own binaries come from Debian (postgresql, redis-server;
# scripts/install-deps.sh installs them). As root, they run as the `postgres`
# user, which the postgresql package creates.
set -euo pipefail

cmd=${1:?usage: test-servers.sh start|stop DIR}
dir=${2:?usage: test-servers.sh start|stop DIR}

as_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "test-servers: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  echo "$d"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "test-servers: $what did not come up" >&2; return 1; fi
    sleep 0.1
  done
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  local bin pg_port redis_port tls_port password
  bin=$(pg_bin)
  pg_port=$(free_port)
  redis_port=$(free_port)
  tls_port=$(free_port)
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')

  # PostgreSQL: trust on loopback is enough for a throw-away cluster.
  as_user "$bin/initdb" -D "$dir/pg" -U txv --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
  cat >>"$dir/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 128MB
fsync = on
synchronous_commit = on
log_min_messages = warning
EOF
  as_user "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 start >/dev/null
  as_user "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U txv txv

  # Redis, plain and TLS, with a password (AUTH from the URL is exercised).
  mkdir -p "$dir/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=txv-test-ca" \
    -keyout "$dir/tls/ca.key" -out "$dir/tls/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/tls/server.key" -out "$dir/tls/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/tls/ext.cnf"
  openssl x509 -req -in "$dir/tls/server.csr" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/tls/ext.cnf" -out "$dir/tls/server.pem" >/dev/null 2>&1
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir/tls"; fi

  cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $redis_port
requirepass $password
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
EOF
  cat >"$dir/redis-tls.conf" <<EOF
bind 127.0.0.1
port 0
tls-port $tls_port
tls-cert-file $dir/tls/server.pem
tls-key-file $dir/tls/server.key
tls-ca-cert-file $dir/tls/ca.pem
tls-auth-clients no
requirepass $password
daemonize yes
pidfile $dir/redis-tls.pid
logfile $dir/redis-tls.log
dir $dir
dbfilename dump-tls.rdb
save ""
appendonly no
EOF
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/redis.conf" "$dir/redis-tls.conf"; fi
  as_user redis-server "$dir/redis.conf"
  as_user redis-server "$dir/redis-tls.conf"
  wait_for 20 "redis" redis-cli -h 127.0.0.1 -p "$redis_port" -a "$password" --no-auth-warning ping
  wait_for 20 "redis (TLS)" redis-cli --tls --cacert "$dir/tls/ca.pem" -h localhost -p "$tls_port" -a "$password" \
    --no-auth-warning ping
  wait_for 20 "redis pid file" test -s "$dir/redis.pid"
  wait_for 20 "redis (TLS) pid file" test -s "$dir/redis-tls.pid"

  cat >"$dir/env" <<EOF
export TXV_TEST_DATABASE_URL='postgres://txv@127.0.0.1:$pg_port/txv?sslmode=disable'
export TXV_TEST_REDIS_URL='redis://:$password@127.0.0.1:$redis_port/0'
export TXV_TEST_REDIS_TLS_URL='rediss://:$password@localhost:$tls_port/0'
export TXV_TEST_REDIS_CA_FILE='$dir/tls/ca.pem'
export TXV_TEST_REDIS_CONF='$dir/redis.conf'
export TXV_TEST_REDIS_PID_FILE='$dir/redis.pid'
export TXV_TEST_PG_DATA='$dir/pg'
export TXV_TEST_PG_BIN='$bin'
export TXV_TEST_SERVERS_DIR='$dir'
EOF
  echo "test-servers: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port (TLS :$tls_port); env in $dir/env" >&2
}

stop() {
  [ -d "$dir" ] || return 0
  local bin
  bin=$(pg_bin)
  if [ -f "$dir/pg/postmaster.pid" ]; then
    as_user "$bin/pg_ctl" -D "$dir/pg" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  for pidfile in "$dir/redis.pid" "$dir/redis-tls.pid"; do
    if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  # A fault test that restarts Redis reuses the same config, so the pid files stay current.
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: test-servers.sh start|stop DIR" >&2; exit 2 ;;
esac
