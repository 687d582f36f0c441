#!/usr/bin/env bash
# Stages a binary and everything it needs at run time into DESTDIR, as a root filesystem for
# the runtime image (FROM scratch): the binary at /usr/local/bin, its shared libraries with
# their symlinks and the dynamic loader (from ldd), and the dpkg records of the packages those
# libraries come from (/var/lib/dpkg/status.d/<package>, the "distroless" layout), so that image
# scanners still see which Debian package versions are inside.
#
# Usage: collect-runtime.sh BINARY DESTDIR
# Runs in the Dockerfile's build stage and, for the prebuilt target, on the build host.
set -euo pipefail

bin=${1:?usage: collect-runtime.sh BINARY DESTDIR}
dest=${2:?usage: collect-runtime.sh BINARY DESTDIR}
[ -x "$bin" ] || { echo "collect-runtime: $bin is not an executable" >&2; exit 1; }

mkdir -p "$dest/usr/local/bin" "$dest/var/lib/dpkg/status.d"
install -m 0755 "$bin" "$dest/usr/local/bin/txv"
strip --strip-debug "$dest/usr/local/bin/txv" 2>/dev/null || true

# Copies a path and, if it is a symlink, what it points to, keeping the directory layout.
copy_path() {
  local p=$1
  while :; do
    mkdir -p "$dest$(dirname "$p")"
    cp -a "$p" "$dest$p"
    [ -L "$p" ] || break
    local target
    target=$(readlink "$p")
    case "$target" in /*) p=$target ;; *) p=$(dirname "$p")/$target ;; esac
  done
}

libs=$(ldd "$bin" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}')
[ -n "$libs" ] || { echo "collect-runtime: ldd found no libraries for $bin (static binary?)" >&2; }
packages=()
for lib in $libs; do
  copy_path "$lib"
  # dpkg -S wants the path the package installed; on merged-/usr systems /lib is /usr/lib.
  pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true)
  pkg=${pkg%%:*}
  [ -n "$pkg" ] && packages+=("$pkg")
done

# Debian's base files name the distribution for scanners.
[ -f /etc/os-release ] && { mkdir -p "$dest/etc"; cp -L /etc/os-release "$dest/etc/os-release"; }
if [ ${#packages[@]} -gt 0 ]; then
  for pkg in $(printf '%s\n' "${packages[@]}" | sort -u); do
    dpkg-query -s "$pkg" >"$dest/var/lib/dpkg/status.d/$pkg"
  done
fi
echo "collect-runtime: staged $(echo "$libs" | wc -w) libraries from ${#packages[@]} package records" >&2
