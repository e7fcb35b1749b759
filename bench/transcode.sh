#!/usr/bin/env bash
# Transcode throughput: the same 60 s 1080p30 H.265 clip through `hlsd transcode`
# and through the ffmpeg CLI with the same settings (<=720p, libx264 ultrafast
# crf 26 high@4.1, AAC 128k, 6 s HLS segments), alternating runs.
# Usage: bench/transcode.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
source bench/lib.sh
clip=$(bench_clip_h265 60)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/hlsd.txt"; : >"$work/cli.txt"; : >"$work/cli6.txt"
for i in $(seq "$RUNS"); do
  rm -rf "$work/h" "$work/c" "$work/c6"; mkdir -p "$work/h" "$work/c" "$work/c6"
  bench_measure "$work/hlsd.txt" "$BUILD/hlsd" transcode "$clip" "$work/h" --segment-seconds 6 \
    --max-height 720 --crf 26 --preset ultrafast
  bench_measure "$work/cli.txt" ffmpeg -hide_banner -loglevel error -y -i "$clip" \
    -vf "scale=-2:'min(720,ih)'" -c:v libx264 -preset ultrafast -crf 26 -profile:v high \
    -level:v 4.1 -pix_fmt yuv420p -c:a aac -b:a 128k -f hls -hls_time 6 -hls_list_size 0 \
    -hls_segment_type mpegts -hls_flags independent_segments \
    -hls_segment_filename "$work/c/segment-%d.ts" "$work/c/master.m3u8"
  # The same command made to cut the 6 s segments it asks for (a keyframe every
  # 6 s, as hlsd does): the same amount of work as hlsd's exact grid.
  bench_measure "$work/cli6.txt" ffmpeg -hide_banner -loglevel error -y -i "$clip" \
    -vf "scale=-2:'min(720,ih)'" -c:v libx264 -preset ultrafast -crf 26 -profile:v high \
    -level:v 4.1 -pix_fmt yuv420p -force_key_frames "expr:gte(t,n_forced*6)" \
    -c:a aac -b:a 128k -f hls -hls_time 6 -hls_list_size 0 \
    -hls_segment_type mpegts -hls_flags independent_segments \
    -hls_segment_filename "$work/c6/segment-%d.ts" "$work/c6/master.m3u8"
done
hw=$(bench_median "$work/hlsd.txt" 1); hc=$(bench_median "$work/hlsd.txt" 2); hr=$(bench_median "$work/hlsd.txt" 3)
cw=$(bench_median "$work/cli.txt" 1); cc=$(bench_median "$work/cli.txt" 2); cr=$(bench_median "$work/cli.txt" 3)
segs_h=$(grep -c EXTINF "$work/h/"*.m3u8 || true)
segs_c=$(grep -c EXTINF "$work/c/master.m3u8" || true)
c6w=$(bench_median "$work/cli6.txt" 1); c6c=$(bench_median "$work/cli6.txt" 2); c6r=$(bench_median "$work/cli6.txt" 3)
segs_c6=$(grep -c EXTINF "$work/c6/master.m3u8" || true)
echo "### Transcode throughput (60 s 1080p30 H.265 -> 720p H.264 HLS, median of $RUNS)"
echo
echo "Command: \`bench/transcode.sh $BUILD $RUNS\`"
echo
bench_machine
echo
echo "| | wall s | CPU s | peak RSS MB | segments |"
echo "|---|---|---|---|---|"
echo "| hlsd transcode | $hw | $hc | $((hr / 1024)) | $segs_h |"
echo "| ffmpeg CLI | $cw | $cc | $((cr / 1024)) | $segs_c |"
echo "| ratio hlsd/CLI | $(awk "BEGIN{printf \"%.2f\", $hw/$cw}") | $(awk "BEGIN{printf \"%.2f\", $hc/$cc}") | $(awk "BEGIN{printf \"%.2f\", $hr/$cr}") | |"
echo "| ffmpeg CLI + \`-force_key_frames\` every 6 s | $c6w | $c6c | $((c6r / 1024)) | $segs_c6 |"
echo "| ratio hlsd/(CLI with 6 s keyframes) | $(awk "BEGIN{printf \"%.2f\", $hw/$c6w}") | $(awk "BEGIN{printf \"%.2f\", $hc/$c6c}") | $(awk "BEGIN{printf \"%.2f\", $hr/$c6r}") | |"
