#!/usr/bin/env bash
# Live latency: how far behind the source hls.js plays in headless Chromium
# (Date.now() - hls.playingDate after PLAY seconds of play) and the time to the
# first picture, for hlsd LL-HLS, hlsd MPEG-TS (5 s segments, list 3) and the
# ffmpeg CLI's `-hls_time 5 -hls_list_size 3` output served statically, same
# source and encoder settings, alternating runs; plus the part-appearance delay
# of hlsd's LL-HLS. The work is in bench/latency.mjs (node, playwright-core,
# Debian's /usr/bin/chromium). Prints a Markdown section.
# Usage: bench/latency.sh [BUILD_DIR] [RUNS] [PLAY_SECONDS]
#   Env SIZE (default 1280x720) and FPS (default 30) of the test source,
#   CATCHUP (hls.js maxLiveSyncPlaybackRate, default 1.5; 1 = never catch up).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
PLAY=${3:-15}
[[ -x $BUILD/hlsd ]] || { echo "no $BUILD/hlsd (build first)" >&2; exit 1; }
[[ -d node_modules/playwright-core && -d node_modules/hls.js ]] || { echo "run npm ci first" >&2; exit 1; }
exec node bench/latency.mjs --hlsd "$BUILD/hlsd" --runs "$RUNS" --play "$PLAY" \
  --size "${SIZE:-1280x720}" --fps "${FPS:-30}" --catchup "${CATCHUP:-1.5}"
