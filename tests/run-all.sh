#!/usr/bin/env bash
# The whole suite: unit tests (plain and ASan+UBSan builds), integration tests
# against the real daemon and CLI (plain, then ASan+UBSan), browser tests,
# and the fuzz targets (clang build: replay of tests/fuzz/corpus + a short
# fixed-seed run each).
# Prints one closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ASAN_BUILD=${2:-build-asan}
FUZZ_BUILD=${3:-build-fuzz}
passed=0
failed=0
failures=()

count_meson() { # build-dir label
  local dir=$1 label=$2 log
  log=$(mktemp)
  meson test -C "$dir" --suite unit --print-errorlogs >"$log" 2>&1
  local ok fail
  ok=$(grep -E '^Ok:' "$log" | awk '{print $2}')
  fail=$(( $(grep -E '^Fail:' "$log" | awk '{print $2}') + $(grep -E '^Timeout:' "$log" | awk '{print $2}') ))
  cat "$log"
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
  if [[ ${fail:-0} -ne 0 ]]; then failures+=("$label unit"); fi
  rm -f "$log"
}

count_fuzz() { # label, command... (prints "fuzz: N passed, N failed")
  local label=$1; shift
  local log line
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [[ -z $line ]]; then
    failed=$((failed + 1)); failures+=("$label (runner died)")
  else
    local p f
    p=$(sed -E 's/^fuzz: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f))
    if [[ $f -ne 0 ]]; then failures+=("$label"); fi
  fi
  rm -f "$log"
}

count_py() { # label, command...
  local label=$1; shift
  local log
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local line
  line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [[ -z $line ]]; then
    failed=$((failed + 1)); failures+=("$label (runner died)")
  else
    local p f
    p=$(sed -E 's/^integration: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f))
    if [[ $f -ne 0 ]]; then failures+=("$label"); fi
  fi
  rm -f "$log"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}

count_meson "$BUILD" plain
count_meson "$ASAN_BUILD" asan
count_py "integration (plain)" /usr/bin/python3 tests/integration/run.py --hlsd "$BUILD/hlsd" --work "$BUILD/it"
count_py "integration (asan)" /usr/bin/python3 tests/integration/run.py --hlsd "$ASAN_BUILD/hlsd" --work "$ASAN_BUILD/it" --asan
if [[ -f tests/browser/run.mjs ]]; then
  count_py "browser" node tests/browser/run.mjs --hlsd "$BUILD/hlsd" --work "$BUILD/browser"
fi
if [[ -f tests/browser/llhls.mjs ]]; then
  count_py "browser (LL-HLS)" node tests/browser/llhls.mjs --hlsd "$BUILD/hlsd" --work "$BUILD/browser-llhls"
fi
count_fuzz "fuzz" tests/fuzz/run.sh check "$FUZZ_BUILD"

if ((${#failures[@]})); then echo "failed groups: ${failures[*]}"; fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
