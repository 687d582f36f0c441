#!/usr/bin/env bash
# Builds the analyst console (console/, TypeScript + Vite) into console/dist, which the
# C++ build embeds in the binary (src/console). `npm ci` runs only when package-lock.json
# changed since the last install; the npm registry is the only network it needs.
set -euo pipefail
cd "$(dirname "$0")/../console"
if ! command -v npm >/dev/null 2>&1; then
  echo "build-console: npm is missing (Node.js 20 and npm are needed to build the console)" >&2
  exit 1
fi
stamp=node_modules/.txv-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi
npm run --silent build >&2
