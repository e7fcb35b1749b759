#!/usr/bin/env bash
# Installs what hlsd needs on Debian 12, only what is missing: build tools and
# libraries (found later through pkg-config), the media tools the tests check
# output with, Chromium + GStreamer for the browser and RTSP tests, and the npm
# packages (hls.js served by the web page, playwright-core for browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  gcc clang make meson ninja-build pkg-config
  libavformat-dev libavcodec-dev libavfilter-dev libavdevice-dev libavutil-dev
  libswscale-dev libswresample-dev
  libmicrohttpd-dev libcjson-dev libfyaml-dev libsqlite3-dev libcmocka-dev
  libclang-rt-14-dev
  ffmpeg sqlite3 curl procps time
  chromium
  python3 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
  wrk nginx-light
)

# Node.js may come from elsewhere than Debian (a newer build with its own npm):
# Debian's nodejs/npm are only installed when the commands are missing, as
# installing Debian's npm over another Node.js conflicts.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]} (run as root)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # nginx-light starts a service on :80 when installed; the benchmarks start their own.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi

if [[ ! -f node_modules/hls.js/dist/hls.min.js || ! -d node_modules/playwright-core ]]; then
  echo "install-deps: installing npm packages" >&2
  if [[ -f package-lock.json ]]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
fi
