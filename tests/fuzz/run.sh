#!/usr/bin/env bash
# libFuzzer targets of tests/fuzz: build them in a clang build dir, then
#   run.sh check [BUILD_DIR]          replay tests/fuzz/corpus/<target>/ and do a
#                                     short fixed-seed run per target (make test);
#                                     prints "fuzz: N passed, N failed"
#   run.sh fuzz [BUILD_DIR] [SECONDS] fuzz each target for SECONDS (make fuzz);
#                                     new inputs go to BUILD_DIR/corpus/<target>/
# Crashes are written to BUILD_DIR/artifacts/. To keep a crasher as a
# regression input, copy it into tests/fuzz/corpus/<target>/ once fixed;
# to fold new coverage into the kept corpus:
#   BUILD_DIR/tests/fuzz/<target> -merge=1 tests/fuzz/corpus/<target> BUILD_DIR/corpus/<target>
# tests/fuzz/known/<target>-*: inputs reproducing bugs not fixed yet (not
# replayed here); move each into corpus/<target>/ once its bug is fixed.
set -uo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-check}
B=${2:-build-fuzz}
SECONDS_PER_TARGET=${3:-60}
TARGETS=(fuzz_http_path fuzz_http_range fuzz_config fuzz_playlist)
# Short-run length per target in `check` mode (fixed seed: same inputs every time).
CHECK_RUNS=${FUZZ_CHECK_RUNS:-2000}

if ! command -v clang >/dev/null; then
  echo "fuzz: clang is missing (scripts/install-deps.sh installs it)" >&2
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
if [[ ! -f $B/build.ninja ]]; then
  # -Dwerror=false: the project's -Werror is enforced by the gcc builds; clang's
  # extra warnings must not stop the fuzzers from building.
  if ! CC=clang meson setup "$B" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
       -Dwerror=false >"$B.setup.log" 2>&1; then
    cat "$B.setup.log" >&2
    echo "fuzz: 0 passed, 1 failed"
    exit 1
  fi
  rm -f "$B.setup.log"
fi
if ! ninja -C "$B" fuzz-targets >&2; then
  echo "fuzz: build failed" >&2
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
mkdir -p "$B/artifacts"
passed=0
failed=0
for t in "${TARGETS[@]}"; do
  exe=$B/tests/fuzz/$t
  kept=tests/fuzz/corpus/$t
  dict=tests/fuzz/${t#fuzz_}.dict
  args=(-artifact_prefix="$B/artifacts/$t-" -timeout=10 -rss_limit_mb=2048 -max_len=65536)
  [[ -f $dict ]] && args+=(-dict="$dict")
  log=$B/$t.log
  if [[ $MODE == fuzz ]]; then
    # New inputs go to the build dir's corpus (first dir); the kept one is read only.
    mkdir -p "$B/corpus/$t"
    echo "fuzz: $t for ${SECONDS_PER_TARGET}s" >&2
    "$exe" "${args[@]}" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
      "$B/corpus/$t" "$kept" >"$log" 2>&1
  else
    # Replay every kept input, then a short fixed-seed run; new inputs go to a
    # scratch dir so the kept corpus never changes during `make test`.
    scratch=$(mktemp -d)
    "$exe" "${args[@]}" -seed=1 -runs="$CHECK_RUNS" -max_total_time=60 "$scratch" "$kept" >"$log" 2>&1
    rc=$?
    rm -rf "$scratch"
    (exit $rc)
  fi
  rc=$?
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    echo "PASS fuzz $t ($(grep -Eo '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true))"
  else
    failed=$((failed + 1))
    echo "FAIL fuzz $t (exit $rc), log $log:"
    grep -E -A40 'ERROR|runtime error|Test unit written|SUMMARY' "$log" | head -80
  fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
