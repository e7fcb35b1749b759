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
# A camera-like recording: libx265 ultrafast 1 Mbit/s, 2 s closed GOP, no B-frames.
clip="$BENCH_MEDIA/h265_1080p30_${S}s_cam.mp4"
if [[ ! -s $clip ]]; then
  echo "seek: generating a ${S} s 1080p30 H.265 clip (slow on 2 cores, once)" >&2
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$S" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$S" \
    -c:v libx265 -preset ultrafast -b:v 1M \
    -x265-params log-level=error:keyint=60:min-keyint=60:open-gop=0:bframes=0 \
    -pix_fmt yuv420p -tag:v hvc1 -c:a aac -b:a 128k -shortest "$clip.tmp.mp4" >&2
  mv "$clip.tmp.mp4" "$clip"
fi
echo "### Instant seek in hls.js (cold 1080p H.265 recording, Chromium)"
echo
exec node bench/seek.mjs --hlsd "$BUILD/hlsd" --clip "$clip" --runs "$RUNS" \
  --vod 'before={transcode_segment_seconds: 6}'
