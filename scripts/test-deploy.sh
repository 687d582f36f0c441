#!/usr/bin/env bash
# Validates txv's deployment as code, offline: the container image (built for real with podman
# on a debootstrapped Debian base), the Helm chart (lint, render for Kubernetes 1.28, schema and
# unknown-field checks, policy), the Prometheus rules (promtool check + unit tests), Terraform
# (parsed and checked structurally; fmt/validate/mocked plan when a terraform binary and the AWS
# provider are on the machine), the Grafana dashboard (its metrics against the ones txv exports),
# the GitHub Actions workflows (actionlint) and every shell script (shellcheck). Entry point of
# `make test-deploy`; see deploy/README.md for what each step proves.
#
# Needs root on Debian bookworm, and nothing from the network but Debian's mirror and the npm
# registry. Installs what it lacks (apt: podman buildah debootstrap shellcheck nodejs npm;
# promtool from Debian's prometheus package, unpacked; npm ci in deploy/).
#
# Environment:
#   TXV_CI_CACHE           cache outside the repo (debootstrap tarball, promtool)   /var/cache/txv-ci
#   TXV_BINARY             binary to put in the image                               build/txv
#   TXV_IMAGE_FROM_SOURCE  1: also build the Dockerfile's default target (compiles txv, slow)
#   TXV_TF_PLUGIN_DIR      provider mirror for terraform validate/test              /opt/tf-plugins
#   TXV_SKIP_IMAGE         1: skip the container image steps
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY="$ROOT/deploy"
CACHE=${TXV_CI_CACHE:-/var/cache/txv-ci}
BINARY=${TXV_BINARY:-$ROOT/build/txv}
TF_PLUGIN_DIR=${TXV_TF_PLUGIN_DIR:-/opt/tf-plugins}
IMAGE=localhost/txv:test-deploy
WORK=$(mktemp -d /tmp/txv-test-deploy.XXXXXX)
export DEBIAN_FRONTEND=noninteractive

declare -a SUMMARY=()
FAILED=0
STARTED=$(date +%s)

cleanup() {
  if [ -n "${MOUNTED:-}" ]; then podman image unmount "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '\n==> %s\n' "$*"; }

# step NAME COMMAND...: runs a command, keeps its output, records PASS/FAIL and the time.
step() {
  local name=$1 out start rc
  shift
  out="$WORK/$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_').log"
  log "$name"
  start=$(date +%s)
  "$@" >"$out" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    tail -n 5 "$out"
    SUMMARY+=("PASS  $(printf '%4ss' $(($(date +%s) - start)))  $name")
  else
    tail -n 60 "$out"
    SUMMARY+=("FAIL  $(printf '%4ss' $(($(date +%s) - start)))  $name")
    FAILED=1
  fi
  return $rc
}

skip() {
  log "$1"
  echo "skipped: $2"
  SUMMARY+=("SKIP         $1 ($2)")
}

# ---- tools --------------------------------------------------------------------------------

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test-deploy.sh needs root (apt, podman storage, chroot)" >&2
    exit 2
  fi
}

install_packages() {
  local wanted=(podman buildah debootstrap shellcheck ca-certificates binutils)
  command -v node >/dev/null 2>&1 || wanted+=(nodejs)
  command -v npm >/dev/null 2>&1 || wanted+=(npm)
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "all present: ${wanted[*]}"
    return 0
  fi
  echo "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}

# promtool from Debian's prometheus package, unpacked under the cache (the Prometheus server
# itself is neither installed nor started).
PROMTOOL=$(command -v promtool || true)
install_promtool() {
  if [ -n "$PROMTOOL" ]; then
    "$PROMTOOL" --version 2>&1 | head -1
    return 0
  fi
  local version dir
  version=$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq || return 1
    version=$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')
  fi
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    echo "no prometheus package in the configured Debian sources"
    return 1
  fi
  dir="$CACHE/promtool/$version"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    mkdir -p "$dir" "$WORK/deb"
    chmod 777 "$WORK/deb"
    (cd "$WORK/deb" && apt-get download -qq "prometheus=$version") || return 1
    dpkg -x "$WORK"/deb/prometheus_*.deb "$WORK/deb/x" || return 1
    install -D -m 0755 "$WORK/deb/x/usr/bin/promtool" "$dir/usr/bin/promtool" || return 1
  fi
  PROMTOOL="$dir/usr/bin/promtool"
  "$PROMTOOL" --version 2>&1 | head -1
}

# npm ci, skipped when node_modules already matches package-lock.json.
npm_ci() {
  local stamp="$DEPLOY/node_modules/.txv-package-lock.sha256" want
  want=$(sha256sum "$DEPLOY/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "node_modules matches package-lock.json ($want)"
    return 0
  fi
  (cd "$DEPLOY" && npm ci --no-audit --no-fund --loglevel=error) || return 1
  echo "$want" >"$stamp"
  node --version
  "$DEPLOY/node_modules/.bin/helm" version --short
}

node_test() {
  (cd "$DEPLOY" && HELM="$DEPLOY/node_modules/.bin/helm" PROMTOOL="$PROMTOOL" \
    node --test --test-reporter=spec "$@")
}

# ---- terraform (optional: only with a terraform binary, and a provider mirror for validate) --

terraform_fmt() {
  TF_CLI_CONFIG_FILE=/dev/null terraform -chdir="$DEPLOY/terraform" fmt -check -recursive -diff
}

terraform_validate_and_plan() {
  local tf="$WORK/terraform" env rc=0
  local -A pids=()
  mkdir -p "$tf"
  cp -r "$DEPLOY/terraform/modules" "$DEPLOY/terraform/envs" "$tf/"
  # Both environments at once: most of the time goes to the provider plugin, not the CPU.
  for env in dev prod; do
    cp -r "$DEPLOY/terraform/tests" "$tf/envs/$env/tests"
    (
      cd "$tf/envs/$env" &&
        export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 &&
        terraform init -backend=false -input=false -no-color -plugin-dir="$TF_PLUGIN_DIR" >/dev/null &&
        terraform validate -no-color &&
        terraform test -no-color
    ) >"$tf/$env.log" 2>&1 &
    pids[$env]=$!
  done
  for env in dev prod; do
    wait "${pids[$env]}" || rc=1
    echo "--- envs/$env"
    cat "$tf/$env.log"
  done
  return $rc
}

# ---- container image ------------------------------------------------------------------------

ensure_binary() {
  if [ -x "$BINARY" ]; then
    echo "using $BINARY"
    return 0
  fi
  if [ "$BINARY" != "$ROOT/build/txv" ]; then
    echo "$BINARY does not exist"
    return 1
  fi
  echo "build/txv missing: building it (cmake --preset dev, target txv)"
  "$ROOT/scripts/install-deps.sh" &&
    (cd "$ROOT" && cmake --preset dev && cmake --build --preset dev --target txv)
}

build_image() {
  local stage="$WORK/prebuilt" previous rc
  previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  "$DEPLOY/docker/collect-runtime.sh" "$BINARY" "$stage" || return 1
  podman build --pull=never --isolation=chroot \
    --file "$DEPLOY/docker/Dockerfile" \
    --ignorefile "$DEPLOY/docker/Dockerfile.dockerignore" \
    --target runtime-prebuilt \
    --build-context "prebuilt=$stage" \
    --build-arg "VERSION=$("$BINARY" version 2>/dev/null | awk '{print $NF}' | head -1)" \
    --build-arg "REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg "CREATED=$(git -C "$ROOT" log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)" \
    --tag "$IMAGE" \
    "$ROOT"
  rc=$?
  # the previous run's image (its labels differ, so it is a new image each time)
  if [ $rc -eq 0 ] && [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  return $rc
}

check_image() {
  local user entrypoint stopsignal labels ports mnt
  user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE") || return 1
  entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
  stopsignal=$(podman image inspect --format '{{.Config.StopSignal}}' "$IMAGE")
  ports=$(podman image inspect --format '{{json .Config.ExposedPorts}}' "$IMAGE")
  labels=$(podman image inspect --format '{{json .Config.Labels}}' "$IMAGE")
  echo "user=$user entrypoint=$entrypoint stopsignal=$stopsignal ports=$ports"
  echo "size=$(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
  local ok=0
  # numeric uid:gid, neither of them root
  if ! [[ "$user" =~ ^[0-9]+(:[0-9]+)?$ ]] || [ "${user%%:*}" = 0 ] || [ "${user#*:}" = 0 ]; then
    echo "FAIL: image user '$user' must be a numeric, non-root uid:gid"
    ok=1
  fi
  [ "$entrypoint" = '["/usr/local/bin/txv","serve"]' ] || { echo "FAIL: entrypoint must be exec-form txv serve"; ok=1; }
  [ "$stopsignal" = SIGTERM ] || { echo "FAIL: STOPSIGNAL must be SIGTERM"; ok=1; }
  [[ "$ports" == *'8080/tcp'* ]] || { echo "FAIL: port 8080 not exposed"; ok=1; }
  for l in title description version revision created source; do
    [[ "$labels" == *"org.opencontainers.image.$l"* ]] || { echo "FAIL: OCI label org.opencontainers.image.$l missing"; ok=1; }
  done

  mnt=$(podman image mount "$IMAGE") || return 1
  MOUNTED=1
  echo "mounted at $mnt"
  # txv runs from the image's own files, as the image's user: proves the library closure.
  if ! chroot --userspec="$user" "$mnt" /usr/local/bin/txv version; then
    echo "FAIL: txv version does not run inside the image"
    ok=1
  fi
  # only txv and the preStop sleep: no shell, no package manager
  for f in /bin/sh /bin/bash /usr/bin/apt-get /usr/bin/dpkg; do
    [ -e "$mnt$f" ] && { echo "FAIL: $f in the runtime image"; ok=1; }
  done
  [ -x "$mnt/bin/sleep" ] || { echo "FAIL: /bin/sleep (preStop) missing"; ok=1; }
  chroot --userspec="$user" "$mnt" /bin/sleep 0 || { echo "FAIL: /bin/sleep does not run"; ok=1; }
  [ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || { echo "FAIL: CA certificates missing (rediss://, sslmode)"; ok=1; }
  echo "package records for scanners: $(cd "$mnt/var/lib/dpkg/status.d" && echo *)"
  # nothing writable by the runtime user outside its data directory and /tmp
  local writable
  writable=$(find "$mnt" -xdev \( -path "$mnt/tmp" -o -path "$mnt/var/lib/txv" \) -prune -o \( -perm -o+w -o -user 10001 \) ! -type l -print | sed "s|^$mnt||")
  [ -z "$writable" ] || { echo "FAIL: writable by the runtime user: $writable"; ok=1; }
  [ "$(stat -c %u "$mnt/var/lib/txv")" = 10001 ] || { echo "FAIL: /var/lib/txv not owned by 10001"; ok=1; }
  podman image unmount "$IMAGE" >/dev/null
  MOUNTED=
  return $ok
}

build_image_from_source() {
  podman build --pull=never --isolation=chroot \
    --file "$DEPLOY/docker/Dockerfile" \
    --ignorefile "$DEPLOY/docker/Dockerfile.dockerignore" \
    --tag localhost/txv:from-source "$ROOT" &&
    chroot --userspec=10001:10001 "$(podman image mount localhost/txv:from-source)" /usr/local/bin/txv version
  local rc=$?
  podman image unmount localhost/txv:from-source >/dev/null 2>&1 || true
  return $rc
}

# ---- run ------------------------------------------------------------------------------------

need_root
mkdir -p "$CACHE"

step "install Debian packages" install_packages || true
step "promtool (Debian prometheus package, unpacked)" install_promtool || true
step "npm ci (deploy/package-lock.json)" npm_ci || true

if [ -d "$DEPLOY/node_modules" ]; then
  step "Helm: lint --strict, template (k8s 1.28), schemas + unknown fields, policy" node_test tests/helm.test.mjs
  step "Prometheus: promtool check rules + unit tests for every alert" node_test tests/prometheus.test.mjs
  step "Grafana dashboard: metrics the binary exports, PromQL, \${datasource}, Helm ConfigMap" node_test tests/grafana.test.mjs
  step "Terraform: hcl2json parse, references, architecture, Helm wiring" node_test tests/terraform.test.mjs
  step "Workflows and scripts: actionlint, shellcheck" node_test tests/workflows.test.mjs
  step "Dockerfile: static checks" node_test tests/dockerfile.test.mjs
fi

if command -v terraform >/dev/null 2>&1; then
  step "terraform fmt -check" terraform_fmt
  if [ -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]; then
    step "terraform validate + test (plan against a mocked AWS provider)" terraform_validate_and_plan
  else
    skip "terraform validate + test" "no hashicorp/aws provider mirror at $TF_PLUGIN_DIR"
  fi
else
  skip "terraform fmt/validate/test" "no terraform binary (not in Debian); hcl2json checks ran instead"
fi

if [ "${TXV_SKIP_IMAGE:-0}" = 1 ]; then
  skip "container image" "TXV_SKIP_IMAGE=1"
elif step "txv binary ($BINARY)" ensure_binary; then
  step "base image debian:bookworm-slim (debootstrap, cached in $CACHE)" "$DEPLOY/docker/make-base-image.sh" debian:bookworm-slim &&
    step "podman build --pull=never --isolation=chroot (target runtime-prebuilt)" build_image &&
    step "image: non-root user, entrypoint, labels; txv version via image mount + chroot" check_image
  if [ "${TXV_IMAGE_FROM_SOURCE:-0}" = 1 ]; then
    step "podman build default target (from source)" build_image_from_source
  fi
fi

printf '\n==> summary (%ss)\n' $(($(date +%s) - STARTED))
printf '  %s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "test-deploy: FAILED"
  exit 1
fi
echo "test-deploy: OK"
