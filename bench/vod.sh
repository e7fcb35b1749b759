#!/usr/bin/env bash
# Recordings playback: hlsd transcode sessions vs the replaced NVR's ffmpeg CLI
# method (CONTEXT.md section 2) in the same run, alternating: time to first
# segment, cold seek to 50% of a 10-minute recording, whole-range wall time,
# CPU and peak RSS. The measuring is done by bench/vod.py.
# Usage: bench/vod.sh [BUILD_DIR] [RUNS]
# Env: VOD_RANGE_SECONDS (default 60), VOD_SEEK_SECONDS (default 600): clip
# lengths; shorter ones are for smoke runs only. VOD_ONLY=variants: section (d)
# alone (CPU per viewer-minute of the HEVC copy vs the H.264 transcode).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-${RUNS:-3}}
RANGE_S=${VOD_RANGE_SECONDS:-60}
SEEK_S=${VOD_SEEK_SECONDS:-600}
source bench/lib.sh

ONLY=${VOD_ONLY:-}
range_clip=$(bench_clip_h265 "$RANGE_S")
if [[ $ONLY == variants ]]; then
  seek_clip=$range_clip # not used by section (d)
else
  seek_clip=$(bench_clip_cam "$SEEK_S")
fi
gen=$(cat "$seek_clip.gen-seconds" 2>/dev/null || echo "?")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/vod.py --hlsd "$BUILD/hlsd" --runs "$RUNS" --range-clip "$range_clip" \
  --seek-clip "$seek_clip" --work "$work" ${ONLY:+--only "$ONLY"} >"$work/tables.md"

size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN{printf "%.1f", b / 1048576}'; }
if [[ $ONLY == variants ]]; then
  echo "Command: \`VOD_ONLY=variants bench/vod.sh $BUILD $RUNS\`"
  echo
  bench_machine
  echo "- range clip: ${RANGE_S} s 1080p30 H.265 + AAC ($(basename "$range_clip"), $(size_mb "$range_clip") MB, made by bench/lib.sh)"
  echo "- hlsd: \`hlsd serve\`, auth off, vod defaults (hevc_variant on); CLI runs at nice 10 like hlsd's workers"
  echo
  cat "$work/tables.md"
  exit 0
fi

echo "### Recordings playback: hlsd sessions vs the ffmpeg CLI method (median of $RUNS)"
echo
echo "Command: \`bench/vod.sh $BUILD $RUNS\`$( [[ $RANGE_S != 60 || $SEEK_S != 600 ]] &&
  echo " with \`VOD_RANGE_SECONDS=$RANGE_S VOD_SEEK_SECONDS=$SEEK_S\`")"
echo
bench_machine
echo "- range clip: ${RANGE_S} s 1080p30 H.265 + AAC ($(basename "$range_clip"), $(size_mb "$range_clip") MB, made by bench/lib.sh)"
echo "- seek clip: ${SEEK_S} s 1080p30 H.265 + AAC, libx265 ultrafast 1 Mbit/s, 2 s closed GOP, no B-frames ($(size_mb "$seek_clip") MB; generated once in ${gen} s, cached in $BENCH_MEDIA)"
echo "- hlsd: \`hlsd serve\`, auth off, vod defaults (transcodes cut 1 s segments, copies 6 s after fast-start 1, 2, 3 s; lookahead 60 s; nice 10; libx264 ultrafast crf 26, <=720p, swscale area, AAC 128k), recordings indexed with \`hlsd recordings add\`"
echo "- CLI: the replaced NVR's command from CONTEXT.md section 2 (\`nice -n 10 ffmpeg -i REC -vf scale=-2:'min(720,ih)' -c:v libx264 -preset ultrafast -crf 26 -profile:v high -level:v 4.1 -pix_fmt yuv420p -c:a aac -b:a 128k -f hls -hls_time 6 -hls_list_size 0 -hls_segment_type mpegts -hls_flags independent_segments+append_list -hls_segment_filename segment-%d.ts master.m3u8\`), reading the recording file directly"
echo "- runs alternate hlsd / CLI, the order swapped every run"
echo
cat "$work/tables.md"
