#!/usr/bin/env bash
# Instant seek (issue 13): hls.js in headless Chromium seeks to the middle of
# a cold 1080p30 H.265 recording; time from the seek to playback resuming at
# the target, hlsd's shipped defaults beside the settings before short
# transcode segments, and the ffmpeg CLI (which cannot seek: time until it
# has written the segment holding the target), alternating runs. The work is
# in bench/seek.mjs. Prints a Markdown section.
# Usage: bench/seek.sh [BUILD_DIR] [RUNS]
#   Env SEEK_SECONDS: length of the recording (default 120; cached in
#   build/bench-media, like bench/vod.sh's clips).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-5}
S=${SEEK_SECONDS:-120}
source bench/lib.sh
[[ -x $BUILD/hlsd ]] || { echo "no $BUILD/hlsd (build first)" >&2; exit 1; }
[[ -d node_modules/playwright-core && -d node_modules/hls.js ]] || { echo "run npm ci first" >&2; exit 1; }
clip=$(bench_clip_cam "$S")
echo "### Instant seek in hls.js (cold 1080p H.265 recording, Chromium)"
echo
exec node bench/seek.mjs --hlsd "$BUILD/hlsd" --clip "$clip" --runs "$RUNS" \
  --vod 'before={transcode_segment_seconds: 6}'
