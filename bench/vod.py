#!/usr/bin/env python3
"""Recordings playback: hlsd transcode sessions vs the ffmpeg CLI method they
replace (CONTEXT.md section 2), side by side in one run, alternating.

  (a) time to first segment: API call -> first segment's last byte at the client
      CLI: start ffmpeg, poll every 0.5 s for the playlist and a segment (as the
      replaced NVR does), then read the playlist and the first segment
  (b) cold seek to the segment holding 50% of a long recording
      CLI: it cannot seek; time until the segment holding that instant exists
  (c) whole range: wall time, CPU time and peak RSS of the worker vs ffmpeg

Called by bench/vod.sh, which makes the media; prints Markdown tables on
stdout and progress on stderr. Standard library only."""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import re
import time
import urllib.parse

T0 = 1700000000
TICK = os.sysconf("SC_CLK_TCK")
NICE = 10  # the replaced system runs ffmpeg "at low priority"; hlsd's vod.nice default


def log(*a):
    print("vod:", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def parse_playlist(text):
    """[(uri, extinf)] in order."""
    segs, dur = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            segs.append((line, dur))
            dur = None
    return segs


def segment_at(segs, t):
    """Index and start time of the segment holding instant t (seconds), or None."""
    start = 0.0
    for i, (_, d) in enumerate(segs):
        if start <= t < start + d:
            return i, start
        start += d
    return None


def get(conn, path, method="GET"):
    conn.request(method, path)
    r = conn.getresponse()
    return r.status, r.read()


def check_ts(what, status, data):
    if status != 200 or len(data) < 188 or data[0] != 0x47:
        raise RuntimeError(f"{what}: HTTP {status}, {len(data)} bytes: {data[:200]!r}")


def proc_stat_cpu(pid):
    """(utime+stime, cutime+cstime) in seconds from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state); utime..cstime are fields 14..17
    u, s, cu, cs = (int(x) for x in rest[11:15])
    return (u + s) / TICK, (cu + cs) / TICK


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Hlsd:
    """hlsd serve on a free loopback port with the given recordings indexed."""

    def __init__(self, binary, work, recs):
        self.dir = os.path.join(work, "hlsd")
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")
        for path, camera, start in recs:
            p = subprocess.run([binary, "recordings", "add", path, "--camera", camera, "--start",
                                str(start), "--state-dir", self.state],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise RuntimeError(f"hlsd recordings add {path}: {p.stderr.strip()}")
        cfg = os.path.join(self.dir, "hlsd.yaml")
        with open(cfg, "w") as f:
            # Everything else at its defaults: 6 s segments with fast start [1, 2, 3],
            # lookahead 10, nice 10, libx264 ultrafast crf 26, <=720p, AAC 128k.
            f.write("ports: []\nauth: { enabled: false }\nvod:\n  sample_recording: false\n")
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "hlsd.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", cfg, "--listen", f"127.0.0.1:{self.port}",
             "--state-dir", self.state], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hlsd exited {self.proc.returncode}, see {self.log_path}")
            try:
                if get(self.conn(5), "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hlsd did not become healthy in 30 s")
            time.sleep(0.05)

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def children(self):
        """Pids of the daemon's live child processes (its transcode workers:
        the config has no ports, no sample recording and no watch folders)."""
        pids = []
        base = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(base):
            try:
                with open(f"{base}/{tid}/children") as f:
                    pids += [int(x) for x in f.read().split()]
            except OSError:
                pass
        return pids

    def open_session(self, conn, camera, a, b, query="?variant=h264"):
        # (a)-(c) compare the transcode with the CLI's: an HEVC recording's
        # default session also offers the copy (section (d)).
        st, body = get(conn, f"/api/transcode/{camera}/start/{a}/end/{b}{query}")
        if st != 200:
            raise RuntimeError(f"session {camera} {a}-{b}: HTTP {st} {body[:300]!r}")
        j = json.loads(body)
        st, pl = get(conn, j["playlist"])
        if st != 200:
            raise RuntimeError(f"playlist {j['playlist']}: HTTP {st}")
        segs = [(urllib.parse.urljoin(j["playlist"], u), d) for u, d in parse_playlist(pl.decode())]
        if not segs or segs[0][1] is None:
            raise RuntimeError(f"empty playlist: {pl[:300]!r}")
        return j, segs

    def remove_session(self, sid):
        """DELETE the session and wait until its worker is gone, so the next run is cold."""
        st, body = get(self.conn(30), f"/api/transcode/{sid}", method="DELETE")
        if st != 200:
            raise RuntimeError(f"DELETE {sid}: HTTP {st} {body[:200]!r}")
        deadline = time.monotonic() + 15
        while self.children() or os.path.exists(os.path.join(self.state, "transcode", sid)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"session {sid}: worker or files still there 15 s after DELETE")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class WorkerSampler(threading.Thread):
    """Samples VmHWM (peak RSS) of the daemon's children every 20 ms; the high-water
    mark only grows, so the last sample before a worker exits is its peak (within
    the growth of its last 20 ms)."""

    def __init__(self, hlsd):
        super().__init__(daemon=True)
        self.hlsd = hlsd
        self.peak = {}
        self.cpu = {}
        self.halt = threading.Event()

    def sample(self):
        for pid in self.hlsd.children():
            try:
                self.peak[pid] = max(self.peak.get(pid, 0), vm_hwm_kb(pid))
                self.cpu[pid] = proc_stat_cpu(pid)[0]
            except (OSError, IndexError, ValueError):
                pass  # exited between listing and reading

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(0.02)

    def stop(self):
        self.halt.set()
        self.join()


def cli_command(clip):
    # CONTEXT.md section 2, verbatim but for the input (the recording file itself
    # instead of an HLS list of the range's recordings), run in the output folder.
    return ["nice", "-n", str(NICE), "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-i", clip, "-vf", "scale=-2:'min(720,ih)'", "-c:v", "libx264",
            "-preset", "ultrafast", "-crf", "26", "-profile:v", "high", "-level:v", "4.1",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "hls", "-hls_time", "6",
            "-hls_list_size", "0", "-hls_segment_type", "mpegts",
            "-hls_flags", "independent_segments+append_list",
            "-hls_segment_filename", "segment-%d.ts", "master.m3u8"]


class Cli:
    def __init__(self, clip, work, name):
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.playlist = os.path.join(self.dir, "master.m3u8")
        self.err = open(os.path.join(work, name + ".stderr"), "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cli_command(clip), cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err)

    def segments(self):
        try:
            with open(self.playlist) as f:
                return parse_playlist(f.read())
        except OSError:
            return []

    def read(self, uri):
        with open(os.path.join(self.dir, uri), "rb") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def failed(self):
        return self.proc.poll() not in (None, 0)


# ---- (a) time to first segment -------------------------------------------------

def hlsd_first(h, camera, a, b):
    conn = h.conn()
    t0 = time.monotonic()
    j, segs = h.open_session(conn, camera, a, b)
    st, data = get(conn, segs[0][0])
    t = time.monotonic() - t0
    check_ts("hlsd segment 0", st, data)
    h.remove_session(j["session_id"])
    return {"t": t, "bytes": len(data), "len": segs[0][1]}


def cli_first(clip, work):
    c = Cli(clip, work, "cli-first")
    try:
        deadline = c.t0 + 30
        # The replaced NVR: every 0.5 s, is there a playlist and a segment? (504 after 30 s)
        while True:
            if os.path.exists(c.playlist) and any(
                    n.startswith("segment-") and n.endswith(".ts") for n in os.listdir(c.dir)):
                break
            if c.failed() or time.monotonic() > deadline:
                raise RuntimeError(f"CLI: no first segment (ffmpeg rc {c.proc.poll()})")
            time.sleep(0.5)
        segs = c.segments()
        data = c.read(segs[0][0])
        t = time.monotonic() - c.t0
        check_ts("CLI segment 0", 200, data)
        return {"t": t, "bytes": len(data), "len": segs[0][1]}
    finally:
        c.kill()


# ---- (b) cold seek to 50% ------------------------------------------------------

def hlsd_seek(h, camera, a, b):
    conn = h.conn()
    t0 = time.monotonic()
    j, segs = h.open_session(conn, camera, a, b)
    i, start = segment_at(segs, j["duration"] / 2)
    st, data = get(conn, segs[i][0])
    t = time.monotonic() - t0
    check_ts(f"hlsd segment {i}", st, data)
    h.remove_session(j["session_id"])
    return {"t": t, "index": i, "start": start, "len": segs[i][1]}


def cli_seek(clip, work, target, timeout):
    c = Cli(clip, work, "cli-seek")
    try:
        deadline = c.t0 + timeout
        # Polled every 0.1 s (finer than the NVR's 0.5 s, in the CLI's favour).
        while True:
            segs = c.segments()
            hit = segment_at(segs, target) if segs else None
            if hit:
                break
            if c.failed() or time.monotonic() > deadline:
                raise RuntimeError(f"CLI: segment at {target} s never appeared (rc {c.proc.poll()})")
            time.sleep(0.1)
        i, start = hit
        data = c.read(segs[i][0])
        t = time.monotonic() - c.t0
        check_ts(f"CLI segment {i}", 200, data)
        return {"t": t, "index": i, "start": start, "len": segs[i][1]}
    finally:
        c.kill()


# ---- (c) whole range -----------------------------------------------------------

def hlsd_whole(h, camera, a, b):
    sampler = WorkerSampler(h)
    _, c0 = proc_stat_cpu(h.proc.pid)
    sampler.start()
    conn = h.conn()
    t0 = time.monotonic()
    j, segs = h.open_session(conn, camera, a, b)
    for i, (uri, _) in enumerate(segs):  # in order, as a player would, each in full
        st, data = get(conn, uri)
        check_ts(f"hlsd segment {i}", st, data)
    t = time.monotonic() - t0
    # The worker exits after its last segment; once reaped, its CPU time is in the
    # daemon's cutime+cstime. One still alive is counted from its own stat.
    deadline = time.monotonic() + 10
    while h.children() and time.monotonic() < deadline:
        time.sleep(0.02)
    sampler.stop()
    _, c1 = proc_stat_cpu(h.proc.pid)
    live = h.children()
    cpu = c1 - c0 + sum(sampler.cpu.get(p, 0) for p in live)
    peak = max(sampler.peak.values(), default=0)
    h.remove_session(j["session_id"])
    return {"t": t, "cpu": cpu, "rss_kb": peak, "segments": len(segs),
            "workers": len(sampler.peak)}


def cli_whole(clip, work):
    c = Cli(clip, work, "cli-whole")
    try:
        _, status, ru = os.wait4(c.proc.pid, 0)
        t = time.monotonic() - c.t0
        c.proc.returncode = os.waitstatus_to_exitcode(status)
        if c.proc.returncode != 0:
            raise RuntimeError(f"CLI whole range: ffmpeg exit {c.proc.returncode}")
        total = sum(os.path.getsize(os.path.join(c.dir, f)) for f in os.listdir(c.dir))
        return {"t": t, "cpu": ru.ru_utime + ru.ru_stime, "rss_kb": ru.ru_maxrss,
                "segments": len(c.segments()), "bytes": total}
    finally:
        c.kill()


# ---- (d) CPU per viewer-minute: the HEVC copy vs the H.264 transcode ----------

def hlsd_rendition(h, camera, a, b, variant):
    """A player of the default (two-rendition) session reading `variant`: the
    master, its playlist, the init segments and every segment in order. CPU of
    every worker the session ran (reaped after the DELETE, so all of it)."""
    _, c0 = proc_stat_cpu(h.proc.pid)
    conn = h.conn()
    t0 = time.monotonic()
    st, body = get(conn, f"/api/transcode/{camera}/start/{a}/end/{b}")
    if st != 200:
        raise RuntimeError(f"session: HTTP {st} {body[:200]!r}")
    j = json.loads(body)
    st, master = get(conn, j["playlist"])
    if st != 200 or f"{variant}.m3u8" not in master.decode():
        raise RuntimeError(f"master playlist without {variant}: {master[:300]!r}")
    url = urllib.parse.urljoin(j["playlist"], f"{variant}.m3u8")
    st, pl = get(conn, url)
    text = pl.decode()
    files = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text) + [u for u, _ in parse_playlist(text)]
    total = 0
    for u in files:
        st, data = get(conn, urllib.parse.urljoin(url, u))
        if st != 200 or not data:
            raise RuntimeError(f"{variant} {u}: HTTP {st}")
        total += len(data)
    t = time.monotonic() - t0
    h.remove_session(j["session_id"])
    _, c1 = proc_stat_cpu(h.proc.pid)
    return {"t": t, "cpu": c1 - c0, "bytes": total, "segments": len(files)}


def cli_copy(clip, work):
    """The ffmpeg CLI doing the same copy: HEVC into fMP4 HLS, no encoder."""
    d = os.path.join(work, "cli-copy")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.monotonic()
    p = subprocess.Popen(["nice", "-n", str(NICE), "ffmpeg", "-hide_banner", "-loglevel", "error",
                          "-y", "-i", clip, "-c", "copy", "-tag:v", "hvc1", "-f", "hls",
                          "-hls_time", "6", "-hls_list_size", "0", "-hls_playlist_type", "vod",
                          "-hls_segment_type", "fmp4", "-hls_segment_filename", "seg-%d.m4s",
                          "index.m3u8"], cwd=d, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"CLI copy: ffmpeg exit {p.returncode}")
    total = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return {"t": time.monotonic() - t0, "cpu": ru.ru_utime + ru.ru_stime, "bytes": total,
            "segments": len(os.listdir(d)) - 1}


def report_variants(o, minutes, hv, cv):
    print(f"#### (d) CPU per viewer-minute: HEVC copy vs H.264 transcode "
          f"({minutes * 60:.0f} s range; median of {o.runs})")
    print()
    print("hlsd: the default session of an HEVC recording (master playlist with both "
          "renditions); a player reads one rendition's playlist, init segments and every "
          "segment in order; CPU of all the session's workers (the copy's planning included "
          "when the H.264 rendition is read), taken from the daemon's reaped children after "
          "the DELETE. CLI: `ffmpeg -c copy -tag:v hvc1 -f hls -hls_segment_type fmp4` and the "
          "CONTEXT.md transcode, CPU from wait4(). Per viewer-minute = CPU s / minutes of video.")
    print()
    print("| | CPU s | CPU s per viewer-minute | MB | wall s | CPU runs s |")
    print("|---|---|---|---|---|---|")
    rows = [("hlsd HEVC rendition (copy)", hv["hlsd_hevc"]),
            ("hlsd H.264 rendition (transcode)", hv["hlsd_h264"]),
            ("ffmpeg CLI copy to fMP4", cv["copy"]), ("ffmpeg CLI transcode", cv["transcode"])]
    for name, rs in rows:
        print(f"| {name} | {med(rs, 'cpu'):.3f} | {med(rs, 'cpu') / minutes:.3f} | "
              f"{med(rs, 'bytes') / 1048576:.1f} | {med(rs, 't'):.2f} | {fmt_runs(rs, 'cpu')} |")
    copy, enc = med(hv["hlsd_hevc"], "cpu"), med(hv["hlsd_h264"], "cpu")
    print(f"| ratio hlsd copy / hlsd transcode | {ratio(copy, enc)} | | | | |")
    print(f"| ratio hlsd copy / CLI copy | {ratio(copy, med(cv['copy'], 'cpu'))} | | | | |")
    print()
    print("Target: copy ≤ 0.02 of the transcode's CPU.")


def run_variants(o, h, ra, rb):
    hv, cv = {"hlsd_hevc": [], "hlsd_h264": []}, {"copy": [], "transcode": []}
    for i in range(o.runs):
        jobs = [("hlsd_hevc", hv, lambda: hlsd_rendition(h, "range", ra, rb, "hevc")),
                ("copy", cv, lambda: cli_copy(o.range_clip, o.work)),
                ("hlsd_h264", hv, lambda: hlsd_rendition(h, "range", ra, rb, "h264")),
                ("transcode", cv, lambda: cli_whole(o.range_clip, o.work))]
        for name, res, f in (jobs if i % 2 == 0 else jobs[::-1]):
            r = f()
            log(f"variants run {i + 1}/{o.runs} {name}: cpu={r['cpu']:.3f} t={r['t']:.2f}")
            res[name].append(r)
    return hv, cv


# ---- report --------------------------------------------------------------------

def alternate(runs, what, fh, fc):
    """runs x (hlsd, CLI), the order swapped every run."""
    res = {"hlsd": [], "cli": []}
    for i in range(runs):
        order = [("hlsd", fh), ("cli", fc)] if i % 2 == 0 else [("cli", fc), ("hlsd", fh)]
        for name, f in order:
            r = f()
            log(f"{what} run {i + 1}/{runs} {name}: " + ", ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
            res[name].append(r)
    return res


def med(rs, k):
    return statistics.median(r[k] for r in rs)


def fmt_runs(rs, k="t"):
    return ", ".join(f"{r[k]:.2f}" for r in rs)


def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hlsd", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--range-clip", required=True, help="H.265 recording for (a) and (c)")
    ap.add_argument("--seek-clip", required=True, help="long H.265 recording for (b)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", choices=["variants"], help="run section (d) alone")
    o = ap.parse_args()
    o.range_clip = os.path.abspath(o.range_clip)  # ffmpeg runs in its output folder
    o.seek_clip = os.path.abspath(o.seek_clip)

    def probe_duration(p):
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                              "-of", "csv=p=0", p], capture_output=True, text=True, check=True)
        return float(out.stdout.strip())

    rdur = probe_duration(o.range_clip)
    sdur = probe_duration(o.seek_clip)
    ra, rb = T0, T0 + int(rdur)
    sa, sb = T0, T0 + int(sdur)
    for p in (o.range_clip, o.seek_clip):  # same page-cache state for both sides
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass

    recs = [(o.range_clip, "range", ra)] + ([] if o.only else [(o.seek_clip, "long", sa)])
    h = Hlsd(o.hlsd, o.work, recs)
    if o.only == "variants":
        try:
            variants = run_variants(o, h, ra, rb)
        finally:
            h.stop()
        report_variants(o, (rb - ra) / 60, *variants)
        return
    try:
        first = alternate(o.runs, "first segment", lambda: hlsd_first(h, "range", ra, rb),
                          lambda: cli_first(o.range_clip, o.work))
        target = (sb - sa) / 2
        seek = alternate(o.runs, "cold seek", lambda: hlsd_seek(h, "long", sa, sb),
                         lambda: cli_seek(o.seek_clip, o.work, target, timeout=60 + 2 * sdur))
        whole = alternate(o.runs, "whole range", lambda: hlsd_whole(h, "range", ra, rb),
                          lambda: cli_whole(o.range_clip, o.work))
        variants = run_variants(o, h, ra, rb)
    finally:
        h.stop()

    fh, fc = first["hlsd"], first["cli"]
    print(f"#### (a) Time to first segment ({rb - ra} s range; median of {o.runs})")
    print()
    print("hlsd: `GET /api/transcode/…` → `GET` the playlist → `GET` segment 0 in full, one "
          "keep-alive connection. CLI: start ffmpeg, check every 0.5 s for the playlist and a "
          "segment (the replaced NVR's loop), then read the playlist and segment 0 from disk "
          "(no HTTP hop, in the CLI's favour).")
    print()
    print("| | first segment s | runs s | segment 0 length s | segment 0 KB |")
    print("|---|---|---|---|---|")
    print(f"| hlsd | {med(fh, 't'):.2f} | {fmt_runs(fh)} | {fh[0]['len']:.3f} | "
          f"{fh[0]['bytes'] // 1024} |")
    print(f"| ffmpeg CLI, polled | {med(fc, 't'):.2f} | {fmt_runs(fc)} | {fc[0]['len']:.3f} | "
          f"{fc[0]['bytes'] // 1024} |")
    print(f"| ratio hlsd/CLI | {ratio(med(fh, 't'), med(fc, 't'))} | | | |")
    print()
    print("Target: ratio < 0.25.")
    print()

    sh, sc = seek["hlsd"], seek["cli"]
    print(f"#### (b) Cold seek to 50% of a {sb - sa} s recording (median of {o.runs})")
    print()
    print("hlsd: a new session (previous one deleted, worker gone), then its playlist and the "
          "segment holding the middle instant, requested directly. CLI: the replaced system "
          "cannot seek; the time until ffmpeg has written the segment holding that instant "
          "(playlist polled every 0.1 s), read from disk.")
    print()
    print("| | time to segment s | runs s | segment (index, start s, length s) |")
    print("|---|---|---|---|")
    print(f"| hlsd | {med(sh, 't'):.2f} | {fmt_runs(sh)} | "
          f"{sh[0]['index']}, {sh[0]['start']:.1f}, {sh[0]['len']:.3f} |")
    print(f"| ffmpeg CLI | {med(sc, 't'):.2f} | {fmt_runs(sc)} | "
          f"{sc[0]['index']}, {sc[0]['start']:.1f}, {sc[0]['len']:.3f} |")
    print(f"| ratio hlsd/CLI | {ratio(med(sh, 't'), med(sc, 't'))} | | |")
    print()

    wh, wc = whole["hlsd"], whole["cli"]
    print(f"#### (c) Whole {rb - ra} s range (median of {o.runs})")
    print()
    print("hlsd: new session, every segment requested in order and read in full (wall time to "
          "the last segment's last byte); CPU of the worker process(es) (reaped children's "
          "time); peak RSS = VmHWM of the worker sampled every 20 ms. CLI: until ffmpeg exits; "
          "CPU and peak RSS from wait4().")
    print()
    print("| | wall s | CPU s | peak RSS MB | segments | wall runs s |")
    print("|---|---|---|---|---|---|")
    print(f"| hlsd (worker) | {med(wh, 't'):.2f} | {med(wh, 'cpu'):.2f} | "
          f"{med(wh, 'rss_kb') / 1024:.0f} | {wh[0]['segments']} | {fmt_runs(wh)} |")
    print(f"| ffmpeg CLI | {med(wc, 't'):.2f} | {med(wc, 'cpu'):.2f} | "
          f"{med(wc, 'rss_kb') / 1024:.0f} | {wc[0]['segments']} | {fmt_runs(wc)} |")
    print(f"| ratio hlsd/CLI | {ratio(med(wh, 't'), med(wc, 't'))} | "
          f"{ratio(med(wh, 'cpu'), med(wc, 'cpu'))} | "
          f"{ratio(med(wh, 'rss_kb'), med(wc, 'rss_kb'))} | | |")
    if any(r["workers"] != 1 for r in wh):
        print()
        print(f"(workers per hlsd run: {[r['workers'] for r in wh]}; peak RSS is the largest one)")
    print()
    report_variants(o, (rb - ra) / 60, *variants)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log(f"failed: {e}")
        sys.exit(1)
