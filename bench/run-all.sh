#!/usr/bin/env bash
# Runs every benchmark and writes docs/BENCHMARKS.md (hlsd vs the ffmpeg CLI,
# same jobs, same run). Takes several minutes; not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
out=docs/BENCHMARKS.md
tmp=$(mktemp)
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (\`bench/run-all.sh $BUILD\`). Each section names its own command."
  echo "hlsd and the ffmpeg CLI (nginx for HTTP serving) run the same job with the same settings in the same run, alternating."
  echo
  for b in bench/transcode.sh bench/vod.sh bench/seek.sh bench/live.sh bench/serve.sh bench/latency.sh; do
    [[ -x $b ]] || continue
    "$b" "$BUILD" || echo "($b failed)"
    echo
  done
} >"$tmp"
mv "$tmp" "$out"
echo "wrote $out"
