#!/usr/bin/env bash
# Live previews: CPU per 1080p30 -> 720p preview and how many simultaneous
# previews stay real-time, for hlsd (a daemon with N lavfi ports, previews
# started through the API) and for the ffmpeg CLI running the same settings
# (N processes), alternating in the same run.
#
# Settings on both sides: testsrc2 1920x1080@30 + a 440 Hz tone, paced in real
# time (-re), scaled to 1280x720, libx264 ultrafast zerolatency 5M, AAC 128k,
# MPEG-TS HLS with 5 s segments, 3 in the playlist, old ones deleted.
#
# Measures, over a window after a warm-up: CPU (utime+stime of /proc/PID/stat)
# of the encoding processes (hlsd: the workers; the daemon's own share is shown
# apart), peak RSS (VmHWM), and the speed (frames encoded per second / 30;
# hlsd: the mean of the ports' reported fps, CLI: the frame counter of
# -progress). Capacity: N = 1, 2, ... until the slowest preview drops below
# 0.97x real time (each side stops at its own limit).
#
# Run it on an otherwise quiet machine; it takes a few minutes.
# Usage: bench/live.sh [BUILD_DIR] [SECONDS] [MAX_N]
#   SECONDS: measuring window of the CPU-per-preview run (default 20; the
#   capacity steps use min(SECONDS, 15)); MAX_N: largest N tried (default 8).
#   Env WARMUP (seconds before each window, default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECONDS_=${2:-20}
MAX_N=${3:-8}
WARMUP=${WARMUP:-4}
source bench/lib.sh
[[ -x $BUILD/hlsd ]] || { echo "no $BUILD/hlsd (build first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - "$BUILD/hlsd" "$work" "$SECONDS_" "$MAX_N" "$WARMUP" >"$work/result.md" <<'PY'
import json, os, signal, socket, subprocess, sys, time, urllib.request

HLSD, WORK, WINDOW, MAX_N, WARMUP = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
CAP_WINDOW = min(WINDOW, 15.0)
FPS = 30
REALTIME = 0.97
VIDEO = "testsrc2=size=1920x1080:rate=30"
AUDIO = "sine=frequency=440:sample_rate=48000"
HZ = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / HZ
    except (OSError, IndexError):
        return None


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http(method, url, timeout=10):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def measure(pids, window, sample):
    """CPU of pids over the window; sample() runs about once a second."""
    c0 = {p: cpu_seconds(p) for p in pids}
    t0 = time.monotonic()
    sample(first=True)
    while time.monotonic() - t0 < window:
        time.sleep(min(1.0, max(0.05, window - (time.monotonic() - t0))))
        sample(first=False)
    t1 = time.monotonic()
    c1 = {p: cpu_seconds(p) for p in pids}
    if any(c0[p] is None or c1[p] is None for p in pids):
        raise RuntimeError("a measured process ended during the window")
    return {p: (c1[p] - c0[p]) / (t1 - t0) for p in pids}, t1 - t0


def run_hlsd(n, window):
    d = os.path.join(WORK, f"hlsd-{n}")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ports = "".join(
        f"  - index: {i}\n    name: bench-{i}\n"
        f"    input: {{ format: lavfi, url: \"{VIDEO}\" }}\n"
        f"    audio_input: {{ format: lavfi, url: \"{AUDIO}\" }}\n" for i in range(n))
    cfg = (f"ports:\n{ports}"
           "preview:\n"
           "  video: { encoder: libx264, preset: ultrafast, tune: zerolatency, bitrate: 5M,"
           " width: 1280, height: 720 }\n"
           "  audio: { bitrate: 128k }\n"
           "  hls: { variant: mpegts, segment_seconds: 5, list_size: 3, delete_segments: true }\n"
           "auth: { enabled: false }\n"
           "vod: { sample_recording: false }\n")
    with open(os.path.join(d, "hlsd.yaml"), "w") as f:
        f.write(cfg)
    logf = open(os.path.join(d, "hlsd.log"), "wb")
    proc = subprocess.Popen([HLSD, "serve", "--config", os.path.join(d, "hlsd.yaml"),
                             "--listen", f"127.0.0.1:{port}", "--state-dir", os.path.join(d, "state"),
                             "--log-level", "warn"], stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_until(lambda: http("GET", base + "/api/health", 2)[0] == 200, 20, "hlsd health")
        for i in range(n):
            st, body = http("POST", f"{base}/api/ports/{i}/preview")
            if st != 200:
                raise RuntimeError(f"starting preview {i}: {st} {body[:200]!r}")

        def ports_status():
            return [json.loads(http("GET", f"{base}/api/ports/{i}/preview")[1]) for i in range(n)]

        wait_until(lambda: all(p["state"] == "running" and p["fps"] > 0 for p in ports_status()),
                   60, "every preview running")
        time.sleep(WARMUP)
        first = ports_status()
        pids = [p["pid"] for p in first]
        fps = [[] for _ in range(n)]

        def sample(first):
            if first:
                return
            for i, p in enumerate(ports_status()):
                fps[i].append(p["fps"])

        cpu, took = measure(pids + [proc.pid], window, sample)
        last = ports_status()
        if [p["pid"] for p in last] != pids:
            raise RuntimeError("a worker restarted during the window")
        speeds = [sum(f) / len(f) / FPS if f else 0 for f in fps]
        return {
            "n": n,
            "cpu_per": sum(cpu[p] for p in pids) / n,
            "daemon_cpu": cpu[proc.pid],
            "rss_mb": max(status_kb(p, "VmHWM") for p in pids) / 1024,
            "daemon_rss_mb": status_kb(proc.pid, "VmRSS") / 1024,
            "speed_min": min(speeds),
            "speed_mean": sum(speeds) / n,
            "window": took,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        logf.close()


def progress(path):
    """Last frame= of an ffmpeg -progress file, or None."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    frames = [int(l.split("=", 1)[1]) for l in text.splitlines()
              if l.startswith("frame=") and l.split("=", 1)[1].strip().isdigit()]
    return frames[-1] if frames else None


def progress_edge(path, timeout=5):
    """(frame, monotonic time) at the moment ffmpeg writes its next progress
    block: the file is rewritten only every 0.5 s, so reading it at an
    arbitrary time would be up to 0.5 s stale."""
    f0 = progress(path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f = progress(path)
        if f is not None and f != f0:
            return f, time.monotonic()
        time.sleep(0.01)
    raise RuntimeError(f"no progress from ffmpeg ({path})")


def run_cli(n, window):
    d = os.path.join(WORK, f"cli-{n}")
    os.makedirs(d, exist_ok=True)
    procs = []
    try:
        for i in range(n):
            prog = os.path.join(d, f"p{i}.progress")
            cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                   "-progress", prog, "-stats_period", "0.5",
                   "-re", "-f", "lavfi", "-i", VIDEO, "-re", "-f", "lavfi", "-i", AUDIO,
                   "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-b:v", "5M",
                   "-s", "1280x720", "-c:a", "aac", "-b:a", "128k",
                   "-f", "hls", "-hls_time", "5", "-hls_list_size", "3",
                   "-hls_flags", "delete_segments", os.path.join(d, f"port_{i}.m3u8")]
            procs.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                           start_new_session=True), prog))
        wait_until(lambda: all((progress(p) or 0) > 0 for _, p in procs), 60, "every ffmpeg encoding")
        time.sleep(WARMUP)
        e0 = [progress_edge(p) for _, p in procs]
        cpu, took = measure([p.pid for p, _ in procs], window, lambda first: None)
        e1 = [progress_edge(p) for _, p in procs]
        speeds = [(b[0] - a[0]) / (b[1] - a[1]) / FPS for a, b in zip(e0, e1)]
        return {
            "n": n,
            "cpu_per": sum(cpu.values()) / n,
            "rss_mb": max(status_kb(p.pid, "VmHWM") for p, _ in procs) / 1024,
            "speed_min": min(speeds),
            "speed_mean": sum(speeds) / n,
            "window": took,
        }
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # ffmpeg finishes the playlist and exits
        for p, _ in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def safe(fn, *a):
    try:
        return fn(*a)
    except RuntimeError as e:
        log(f"{fn.__name__}{a}: {e}")
        return None


# 1. CPU per preview: one preview, the full window, alternating.
log(f"CPU per preview: {WINDOW:.0f} s window")
h1 = safe(run_hlsd, 1, WINDOW)
c1 = safe(run_cli, 1, WINDOW)

# 2. Capacity: more previews until the slowest drops below real time.
rows, h_cap, c_cap = [], None, None
h_on = c_on = True
for n in range(1, MAX_N + 1):
    if not (h_on or c_on):
        break
    log(f"capacity: {n} preview(s)")
    if n == 1:  # measured above, over the longer window
        h, c = h1, c1
    else:
        h = safe(run_hlsd, n, CAP_WINDOW) if h_on else None
        c = safe(run_cli, n, CAP_WINDOW) if c_on else None
    rows.append((n, h, c))
    if h_on and (not h or h["speed_min"] < REALTIME):
        h_on, h_cap = False, n - 1
    if c_on and (not c or c["speed_min"] < REALTIME):
        c_on, c_cap = False, n - 1


def pct(x):
    return f"{x * 100:.0f}%"


def cap_text(cap):
    return f"≥ {MAX_N} (not reached)" if cap is None else str(cap)


print(f"CPU per preview (one preview, {WINDOW:g} s window after {WARMUP:g} s warm-up; 100% = one core):")
print()
print("| | CPU per preview | peak RSS MB | speed |")
print("|---|---|---|---|")
if h1:
    print(f"| hlsd (worker) | {pct(h1['cpu_per'])} | {h1['rss_mb']:.0f} | {h1['speed_min']:.3f}x |")
    print(f"| hlsd daemon (serving nothing) | {pct(h1['daemon_cpu'])} | {h1['daemon_rss_mb']:.0f} (RSS) | |")
else:
    print("| hlsd | failed | | |")
if c1:
    print(f"| ffmpeg CLI | {pct(c1['cpu_per'])} | {c1['rss_mb']:.0f} | {c1['speed_min']:.3f}x |")
else:
    print("| ffmpeg CLI | failed | | |")
if h1 and c1:
    print(f"| ratio hlsd/CLI | {h1['cpu_per'] / c1['cpu_per']:.2f} | {h1['rss_mb'] / c1['rss_mb']:.2f} | |")
print()
print(f"Simultaneous previews ({CAP_WINDOW:g} s window each, {WINDOW:g} s for 1; speed of the slowest preview, "
      f"real time = at least {REALTIME}x):")
print()
print("| previews | hlsd speed | hlsd CPU per preview | CLI speed | CLI CPU per preview |")
print("|---|---|---|---|---|")
for n, h, c in rows:
    hs = f"{h['speed_min']:.3f}x | {pct(h['cpu_per'])}" if h else "– | –"
    cs = f"{c['speed_min']:.3f}x | {pct(c['cpu_per'])}" if c else "– | –"
    print(f"| {n} | {hs} | {cs} |")
print()
print(f"Previews that stay real-time: hlsd {cap_text(h_cap)}, ffmpeg CLI {cap_text(c_cap)}.")
PY
echo "### Live previews (1080p30 test pattern -> 720p H.264 5M + AAC, 5 s HLS segments)"
echo
echo "Command: \`bench/live.sh $BUILD $SECONDS_ $MAX_N\`"
echo
bench_machine
echo
cat "$work/result.md"
