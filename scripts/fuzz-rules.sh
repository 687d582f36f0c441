#!/usr/bin/env bash
# Fuzzes the rule expression compiler and evaluator (fuzz/rules_parse.cc).
#
# Configures build-fuzz/ with clang (libFuzzer + AddressSanitizer +
# UndefinedBehaviorSanitizer), builds rules_parse_fuzz only, and runs it for
# ${FUZZ_SECONDS:-60} seconds over a copy of fuzz/corpus/rules_parse (the seed
# corpus in the repository is never modified). Exits non-zero on any crash,
# leak, timeout, out-of-memory or UB report; the reproducer is left in
# build-fuzz/artifacts/rules_parse/ and the log in build-fuzz/rules_parse_fuzz.log.
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_BUILD_DIR (default build-fuzz),
# FUZZ_MAX_LEN (default 4096), NINJA_JOBS (default 2).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
MAX_LEN="${FUZZ_MAX_LEN:-4096}"
JOBS="${NINJA_JOBS:-2}"

log() { echo "fuzz-rules: $*" >&2; }

find_clang() {
  for c in clang++-14 clang++; do
    if command -v "$c" >/dev/null 2>&1; then
      local rt
      rt="$("$c" -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)"
      if [ -n "$rt" ] && [ -f "$rt" ]; then
        command -v "$c"
        return 0
      fi
    fi
  done
  return 1
}

CXX_BIN="$(find_clang || true)"
if [ -z "$CXX_BIN" ]; then
  log "clang with the libFuzzer runtime not found; installing clang-14 libclang-rt-14-dev"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >&2
  CXX_BIN="$(find_clang)" || { log "clang++ with libFuzzer still unavailable"; exit 2; }
fi
log "using $CXX_BIN"

cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" \
  -DTXV_BUILD_FUZZ=ON \
  -DTXV_BUILD_BENCH=OFF >&2
ninja -C "$BUILD" -j "$JOBS" rules_parse_fuzz >&2

FUZZER="$BUILD/fuzz/rules_parse_fuzz"
CORPUS="$BUILD/corpus/rules_parse"
ARTIFACTS="$BUILD/artifacts/rules_parse"
LOG="$BUILD/rules_parse_fuzz.log"
rm -rf "$CORPUS" "$ARTIFACTS"
mkdir -p "$CORPUS" "$ARTIFACTS"
cp "$ROOT"/fuzz/corpus/rules_parse/* "$CORPUS"/

export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

log "running for ${FUZZ_SECONDS}s (log: $LOG)"
set +e
"$FUZZER" \
  -max_total_time="$FUZZ_SECONDS" \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -max_len="$MAX_LEN" \
  -dict="$ROOT/fuzz/rules_parse.dict" \
  -artifact_prefix="$ARTIFACTS/" \
  -print_final_stats=1 \
  "$CORPUS" >"$LOG" 2>&1
rc=$?
set -e
tail -n 25 "$LOG" >&2

status=0
if [ "$rc" -ne 0 ]; then
  log "fuzzer exited with status $rc"
  status=1
fi
if grep -qE 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: UndefinedBehaviorSanitizer' "$LOG"; then
  log "sanitizer or libFuzzer error reported in $LOG"
  status=1
fi
if compgen -G "$ARTIFACTS/*" >/dev/null; then
  log "reproducers left in $ARTIFACTS:"
  ls -l "$ARTIFACTS" >&2
  status=1
fi
if [ "$status" -eq 0 ]; then
  log "OK: no crash, leak or UB in ${FUZZ_SECONDS}s ($(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$LOG" || echo 'runs unknown'))"
fi
exit "$status"
