#!/usr/bin/env bash
# Installs every Debian package txv needs to build, test and benchmark.
# Idempotent: skips apt entirely when every package is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3
  libmimalloc-dev
  libssl-dev
  libspdlog-dev libfmt-dev
  prometheus-cpp-dev
  libyaml-cpp-dev
  libcli11-dev
  libhowardhinnant-date-dev
  libpq-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iso-codes
  postgresql redis-server
  wrk nginx-light
  clang-format
  clang libclang-rt-14-dev
  python3 python3-pytest python3-yaml
)

# --browser: also Debian's Chromium, for the console's browser suite (make test only).
if [ "${1:-}" = "--browser" ]; then
  PACKAGES+=(chromium)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
# policy-rc.d keeps Debian from starting postgresql/redis/nginx system services on install;
# the tests start their own instances on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
