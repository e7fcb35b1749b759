#!/usr/bin/env bash
# HTTP serving: wrk fetching the same ~500 KB MPEG-TS segment and the same
# playlist from hlsd (a finished VOD session's files, the real /stream/ path)
# and from nginx (nginx-light, its own minimal config on a free loopback port,
# serving a byte-identical copy), alternating. Loopback only.
# Usage: bench/serve.sh [BUILD_DIR] [RUNS]
# Env: SERVE_SECONDS (default 10), SERVE_CONNECTIONS (100), SERVE_THREADS (2),
# NGINX_WORKERS (1: hlsd serves from one thread; "auto" = one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-${RUNS:-2}}
DUR=${SERVE_SECONDS:-10}
CONNS=${SERVE_CONNECTIONS:-100}
THREADS=${SERVE_THREADS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-1}
source bench/lib.sh
for t in wrk nginx curl python3; do
  command -v "$t" >/dev/null || { echo "serve: $t is missing (make deps installs wrk and nginx-light)" >&2; exit 1; }
done

# 12 s of 720p30 H.264 + AAC, a keyframe every second, ~470 kbit/s video: hlsd
# remuxes it (passthrough) into two 6 s segments of about 500 KB.
clip="$BENCH_MEDIA/h264_720p30_12s_470k.mp4"
if [[ ! -s $clip ]]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=12" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=12" \
    -c:v libx264 -preset veryfast -b:v 470k -maxrate 520k -bufsize 470k -g 30 -pix_fmt yuv420p \
    -c:a aac -b:a 64k -shortest "$clip.tmp.mp4"
  mv "$clip.tmp.mp4" "$clip"
fi

work=$(mktemp -d)
chmod 755 "$work" # nginx's worker process runs as nobody
hlsd_pid="" nginx_pid=""
cleanup() {
  [[ -n $nginx_pid ]] && kill -QUIT "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  [[ -n $hlsd_pid ]] && kill -TERM "$hlsd_pid" 2>/dev/null && wait "$hlsd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
wait_for() { # seconds command...: polls every 0.1 s
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "serve: timed out waiting for: $*" >&2; return 1; }
    sleep 0.1
  done
}

# --- hlsd with one finished session ---
"$BUILD/hlsd" recordings add "$clip" --camera serve --start 1700000000 --state-dir "$work/state" >/dev/null
printf 'ports: []\nauth: { enabled: false }\nlimits: { per_ip_connections: 0 }\nvod: { sample_recording: false, fast_start: [], segment_seconds: 6 }\n' >"$work/hlsd.yaml"
hport=$(free_port)
H=http://127.0.0.1:$hport
"$BUILD/hlsd" serve --config "$work/hlsd.yaml" --listen "127.0.0.1:$hport" --state-dir "$work/state" \
  </dev/null >"$work/hlsd.log" 2>&1 &
hlsd_pid=$!
wait_for 20 curl -sf "$H/api/health"
session=$(curl -sf "$H/api/transcode/serve/start/1700000000/end/1700000012")
playlist=$(json '["playlist"]' <<<"$session")
sid=$(json '["session_id"]' <<<"$session")
curl -sf "$H$playlist" >"$work/playlist.m3u8"
seguri=$(grep -v '^#' "$work/playlist.m3u8" | head -1)
segpath="${playlist%/*}/$seguri"
curl -sf --max-time 60 "$H$segpath" >"$work/segment.ts"
# Wait until the worker has finished and exited, so nothing else runs during wrk.
session_done() { curl -sf "$H/api/transcode/$sid" | json '["state"]' | grep -qx done; }
wait_for 60 session_done
passthrough=$(curl -sf "$H/api/transcode/$sid" | json '["passthrough"]')

# --- nginx serving copies at the same paths ---
mkdir -p "$work/nginx/www${playlist%/*}" "$work/nginx/tmp"
cp "$work/playlist.m3u8" "$work/nginx/www$playlist"
cp "$work/segment.ts" "$work/nginx/www$segpath"
nport=$(free_port)
N=http://127.0.0.1:$nport
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:$nport;
    root $work/nginx/www;
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
wait_for 10 curl -sf -o /dev/null "$N$playlist"

# Both serve the same bytes.
for p in "$playlist" "$segpath"; do
  cmp -s <(curl -sf "$H$p") <(curl -sf "$N$p") || { echo "serve: $p differs between hlsd and nginx" >&2; exit 1; }
done

# --- wrk, alternating ---
# wrk_run NAME URL: appends "name rps p99_ms non2xx socket_errors" to $work/results
wrk_run() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency "$2")
  awk -v name="$1" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%s %s %.3f %d %d\n", name, rps, p99, non2xx, errs }' <<<"$out" >>"$work/results"
  echo "serve: $(tail -1 "$work/results")" >&2
}
: >"$work/results"
for i in $(seq "$RUNS"); do
  for f in segment playlist; do
    [[ $f == segment ]] && p=$segpath || p=$playlist
    if ((i % 2)); then
      wrk_run "hlsd-$f" "$H$p"; wrk_run "nginx-$f" "$N$p"
    else
      wrk_run "nginx-$f" "$N$p"; wrk_run "hlsd-$f" "$H$p"
    fi
  done
done

col() { # NAME COLUMN -> median over runs
  awk -v n="$1" '$1 == n' "$work/results" >"$work/col"
  bench_median "$work/col" "$2"
}
sum_col() { awk -v n="$1" -v c="$2" '$1 == n { s += $c } END { print s + 0 }' "$work/results"; }
runs_of() { awk -v n="$1" '$1 == n { printf "%s%.0f", sep, $2; sep = ", " }' "$work/results"; }
hlsd_rss=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$hlsd_pid/status")

echo "### HTTP serving: hlsd vs nginx (same files, median of $RUNS)"
echo
echo "Command: \`bench/serve.sh $BUILD $RUNS\`"
echo
bench_machine
echo "- nginx: $(nginx -v 2>&1 | cut -d/ -f2) (nginx-light), worker_processes $NGINX_WORKERS, sendfile on, access_log off, keepalive_requests 1000000; hlsd: one thread (libmicrohttpd, epoll), auth off, log level info"
echo "- files: segment $(($(stat -c %s "$work/segment.ts") / 1024)) KB (\`$segpath\`, a finished VOD session's first segment, passthrough=$passthrough), playlist $(stat -c %s "$work/playlist.m3u8") B; nginx serves byte-identical copies at the same paths"
echo "- load: \`wrk -t$THREADS -c$CONNS -d${DUR}s --latency URL\` on loopback (wrk shares the $(nproc) cores), runs alternate hlsd / nginx"
echo
echo "| file | server | requests/s | runs | p99 latency ms | non-2xx | socket errors |"
echo "|---|---|---|---|---|---|---|"
for f in segment playlist; do
  for s in hlsd nginx; do
    echo "| $f | $s | $(col "$s-$f" 2) | $(runs_of "$s-$f") | $(col "$s-$f" 3) | $(sum_col "$s-$f" 4) | $(sum_col "$s-$f" 5) |"
  done
  echo "| $f | ratio hlsd/nginx | $(awk "BEGIN{printf \"%.2f\", $(col "hlsd-$f" 2)/$(col "nginx-$f" 2)}") | | $(awk "BEGIN{printf \"%.2f\", $(col "hlsd-$f" 3)/$(col "nginx-$f" 3)}") | | |"
done
echo
echo "Target: hlsd requests/s >= 80% of nginx's. hlsd peak RSS after the runs: ${hlsd_rss} MB."
