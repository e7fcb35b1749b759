# Shared helpers for the benchmarks (sourced). Measures wall time, CPU time and
# peak RSS of a command with GNU time, and prints machine facts.
BENCH_MEDIA=${BENCH_MEDIA:-build/bench-media}
mkdir -p "$BENCH_MEDIA"

bench_machine() {
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- ffmpeg: $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
}

# bench_measure OUTFILE cmd... : appends "wall cpu rss_kb" to OUTFILE
bench_measure() {
  local out=$1; shift
  local tf
  tf=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >/dev/null 2>&1 || { echo "command failed: $*" >&2; rm -f "$tf"; return 1; }
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$tf" >>"$out"
  rm -f "$tf"
}

# bench_median FILE COLUMN(1-based)
bench_median() {
  sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'
}

bench_clip_h265() { # seconds -> path of a 1080p30 H.265 + AAC clip
  local s=$1 f="$BENCH_MEDIA/h265_1080p30_${1}s.mp4"
  if [[ ! -s $f ]]; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$s" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$s" \
      -c:v libx265 -preset ultrafast -x265-params log-level=error -pix_fmt yuv420p -tag:v hvc1 \
      -c:a aac -b:a 128k -shortest "$f.tmp.mp4" && mv "$f.tmp.mp4" "$f"
  fi
  echo "$f"
}

# A long 1080p30 H.265 + AAC recording, made once and cached: libx265 ultrafast
# at 1 Mbit/s with a 2 s closed GOP and no B-frames, like a typical camera.
# Its generation time is kept next to it for the report.
bench_clip_cam() { # seconds -> path
  local s=$1 f="$BENCH_MEDIA/h265_1080p30_${1}s_cam.mp4"
  if [[ ! -s $f ]]; then
    echo "bench: generating a ${s} s 1080p30 H.265 clip (slow on 2 cores, once)" >&2
    local t0=$SECONDS
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$s" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$s" \
      -c:v libx265 -preset ultrafast -b:v 1M \
      -x265-params log-level=error:keyint=60:min-keyint=60:open-gop=0:bframes=0 \
      -pix_fmt yuv420p -tag:v hvc1 -c:a aac -b:a 128k -shortest "$f.tmp.mp4" >&2
    mv "$f.tmp.mp4" "$f"
    echo $((SECONDS - t0)) >"$f.gen-seconds"
  fi
  echo "$f"
}
