#!/usr/bin/env bash
# Builds a local stand-in for debian:bookworm-slim with debootstrap and imports it into
# podman's image store, so that `podman build --pull=never` works without a registry.
#
# The rootfs tarball is cached outside the repository (TXV_CI_CACHE, default /var/cache/txv-ci),
# so only the first run pays for debootstrap. The packages come from the Debian mirror that
# this machine's own apt configuration already uses (/etc/apt/sources.list*), nowhere else.
#
# Usage: deploy/docker/make-base-image.sh [IMAGE_NAME]   (default debian:bookworm-slim)
set -euo pipefail

IMAGE="${1:-debian:bookworm-slim}"
CACHE="${TXV_CI_CACHE:-/var/cache/txv-ci}"
SUITE=bookworm
TARBALL="$CACHE/debian-$SUITE-minbase.tar"

log() { printf 'make-base-image: %s\n' "$*" >&2; }

# The first "URIs:" (deb822) or "deb URL bookworm" (one-line) entry for Debian proper.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && $0 ~ /(^| )bookworm( |$)/ && u != "" {print u; exit}' "$f")
    if [ -n "$uri" ]; then printf '%s\n' "$uri"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' "$f")
    if [ -n "$uri" ]; then printf '%s\n' "$uri"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

if podman image exists "$IMAGE" && [ "${TXV_REBUILD_BASE:-0}" != 1 ]; then
  log "$IMAGE already in podman's store"
  exit 0
fi

mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ] || [ "${TXV_REBUILD_BASE:-0}" = 1 ]; then
  mirror=$(debian_mirror)
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  log "debootstrap --variant=minbase $SUITE from $mirror (first run only, a few minutes)"
  debootstrap --variant=minbase --arch="$(dpkg --print-architecture)" "$SUITE" "$root" "$mirror" >&2
  # Same apt sources as the host's Debian entries (main suite, updates, security) so that
  # `apt-get install` inside the build stages reaches the same mirror.
  rm -f "$root/etc/apt/sources.list"
  mkdir -p "$root/etc/apt/sources.list.d"
  found=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if grep -qE '^URIs:.*debian' "$f"; then cp "$f" "$root/etc/apt/sources.list.d/"; found=1; fi
  done
  if [ "$found" = 0 ]; then
    printf 'deb %s %s main\n' "$mirror" "$SUITE" > "$root/etc/apt/sources.list"
  fi
  # What the official slim image trims: apt lists, caches, docs and man pages.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
         "$root"/var/log/*.log "$root"/tmp/* 2>/dev/null || true
  tar --numeric-owner --xattrs -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$root"
  trap - EXIT
fi

log "importing $TARBALL as $IMAGE"
podman import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$TARBALL" "$IMAGE" >/dev/null
# Short-name resolution differs between tools; make both spellings resolve locally.
podman tag "$IMAGE" "docker.io/library/$IMAGE" >/dev/null 2>&1 || true
log "done: $(podman image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-12)"
