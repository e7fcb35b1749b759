"""Live previews (issue 3): API, rolling playlist, UDP and RTSP inputs,
reconnect with discontinuity, stall detection, on-demand start and idle
stop, daemon and worker SIGKILL. Small sizes and 1 s segments keep it fast;
every wait is a poll with a deadline."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
LAVFI_VIDEO = "testsrc2=size=320x180:rate=25"
LAVFI_AUDIO = "sine=frequency=440:sample_rate=48000"


def config(ports, preview_extra=""):
    """A test configuration: tokens for an admin and a viewer of studio-a,
    short segments, timeouts and backoff."""
    return f"""
ports:
{ports}
preview:
  video: {{ width: 320, height: 180, bitrate: 300k }}
  audio: {{ bitrate: 64k }}
  hls: {{ variant: mpegts, segment_seconds: 1, list_size: 3, delete_segments: true }}
  stall_timeout: 2
  io_timeout: 2
  backoff: [0.5, 0.5, 1]
  idle_seconds: 3
  start_timeout: 15
{preview_extra}
vod:
  sample_recording: false
auth:
  enabled: true
  users:
    - name: admin
      role: admin
      token_sha256: {h.sha256(h.ADMIN_TOKEN)}
    - name: viewer
      role: viewer
      cameras: [studio-a]
      token_sha256: {h.sha256(h.VIEWER_TOKEN)}
"""


def lavfi_port(index, name, audio=True, extra=""):
    s = f"""  - index: {index}
    name: {name}
    input: {{ format: lavfi, url: "{LAVFI_VIDEO}" }}
"""
    if audio:
        s += f"""    audio_input: {{ format: lavfi, url: "{LAVFI_AUDIO}" }}
"""
    return s + extra


def status(d, index):
    r = d.get(f"/api/ports/{index}/preview")
    assert r.status == 200, r
    return r.json()


def playlist(d, index, timeout=30):
    r = d.get(f"/hls/port_{index}.m3u8", timeout=timeout)
    if r.status != 200:
        return None
    return h.parse_playlist(r.body.decode())


def pid_gone(pid):
    """True when pid no longer runs (absent, or a zombie waiting for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def hls_files(d, prefix):
    try:
        return sorted(f for f in os.listdir(os.path.join(d.state, "hls")) if f.startswith(prefix))
    except FileNotFoundError:
        return []


def wait_segments(d, index, n, timeout=30):
    """Waits until the playlist lists at least n segments; returns (tags, segs)."""
    def check():
        pl = playlist(d, index)
        return pl if pl and len(pl[1]) >= n else None
    return h.wait_until(check, timeout, interval=0.2, what=f"{n} segments on port {index}")


def wait_stopped(d, index, timeout=10):
    return h.wait_until(lambda: (lambda s: s if s["state"] == "stopped" else None)(status(d, index)),
                        timeout, what=f"port {index} stopped")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A helper process killed at the end of the test whatever happens."""

    def __init__(self, cmd, **kw):
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGCONT)
                self.p.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def rtsp_server(port=0):
    """Starts tests/integration/rtsp_server.py; returns (Proc, port)."""
    proc = Proc(["/usr/bin/python3", os.path.join(HERE, "rtsp_server.py"), "--port", str(port)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.p.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise AssertionError(f"RTSP server did not start (printed {line!r})")
    return proc, int(line)


def test_lavfi_preview():
    ports = (lavfi_port(0, "studio-a") + lavfi_port(1, "studio-b", audio=False) +
             """  - index: 5
    name: cam-secret
    input: { format: rtsp, url: "rtsp://admin:hunter2@127.0.0.1:9/stream?token=abc&x=1" }
""")
    with h.Daemon(config(ports), name="live-lavfi") as d:
        # The list: every port, credentials removed.
        r = d.get("/api/ports")
        assert r.status == 200, r
        lst = r.json()["ports"]
        assert [p["index"] for p in lst] == [0, 1, 5], lst
        p5 = lst[2]
        assert p5["input"]["format"] == "rtsp"
        assert "hunter2" not in r.body.decode() and "admin:" not in p5["input"]["url"], p5
        assert p5["input"]["url"].startswith("rtsp://127.0.0.1:9/stream"), p5
        assert lst[0]["name"] == "studio-a" and lst[0]["previewing"] is False
        assert lst[0]["playlist"] == "/hls/port_0.m3u8" and lst[0]["on_demand"] is False

        # Access: no token 401; the viewer sees only studio-a and may not start.
        assert d.get("/api/ports", token="").status == 401
        rv = d.get("/api/ports", token=h.VIEWER_TOKEN)
        assert rv.status == 200 and [p["name"] for p in rv.json()["ports"]] == ["studio-a"], rv
        assert d.get("/api/ports/1/preview", token=h.VIEWER_TOKEN).status == 403
        assert d.get("/api/ports/0/preview", token=h.VIEWER_TOKEN).status == 200
        assert d.post("/api/ports/0/preview", token=h.VIEWER_TOKEN).status == 403
        assert d.delete("/api/previews", token=h.VIEWER_TOKEN).status == 403

        # Unknown and malformed indices.
        for method in ("GET", "POST", "DELETE"):
            assert d.req(method, "/api/ports/7/preview", body=b"" if method == "POST" else None
                         ).status == 404
            for bad in ("abc", "-1", "1x", "%201", "+1", "99999999999999999999", "1.0"):
                r = d.req(method, f"/api/ports/{bad}/preview",
                          body=b"" if method == "POST" else None)
                assert r.status == 400, (method, bad, r)
                assert r.json()["success"] is False
        assert d.get("/hls/port_7.m3u8").status == 404
        assert d.get("/hls/other.m3u8").status == 404

        # Stop when stopped: a no-op.
        r = d.delete("/api/ports/0/preview")
        assert r.status == 200 and r.json()["state"] == "stopped", r

        # Start; a second start is a no-op answering the same worker.
        t_start = time.monotonic()
        r = d.post("/api/ports/0/preview")
        assert r.status == 200, r
        st = r.json()
        assert st["previewing"] is True and st["state"] in ("starting", "running"), st
        assert st["playlist"] == "/hls/port_0.m3u8" and st["started_at"], st
        pid = st["pid"]
        assert isinstance(pid, int) and not pid_gone(pid), st
        r2 = d.post("/api/ports/0/preview")
        assert r2.status == 200 and r2.json()["pid"] == pid, r2

        # The playlist request waits for the first segment instead of a 404.
        pl = playlist(d, 0)
        assert pl and len(pl[1]) >= 1, pl
        first_latency = time.monotonic() - t_start

        # Segments arrive one per second of video, each exactly 1 s long.
        seen = {}  # uri -> first time seen
        seqs = []
        def collect():
            tags, segs = playlist(d, 0)
            now = time.monotonic()
            assert "EXT-X-ENDLIST" not in tags, "ENDLIST while running"
            assert len(segs) <= 3, segs
            assert int(tags["EXT-X-TARGETDURATION"][0]) == 1, tags
            seqs.append(int(tags["EXT-X-MEDIA-SEQUENCE"][0]))
            for s in segs:
                if s["uri"] not in seen:
                    seen[s["uri"]] = (now, s["duration"])
            return len(seen) >= 8
        h.wait_until(collect, 30, interval=0.1, what="8 segments")
        assert seqs == sorted(seqs) and seqs[-1] > seqs[0], seqs  # the window rolls
        durs = [v[1] for v in seen.values()]
        assert all(abs(x - 1.0) <= 0.05 for x in durs), durs
        # Arrival pace: the first segment seen after polling began up to the last.
        times = sorted(v[0] for v in seen.values())[3:]  # skip the initial window
        span, n = times[-1] - times[0], len(times) - 1
        assert 0.6 * n <= span <= 1.7 * n, f"{n} segments in {span:.2f} s (not real-time)"

        # A segment on disk: ffprobe's duration equals the EXTINF within a frame.
        tags, segs = playlist(d, 0)
        seg = segs[-1]
        info = h.segment_video_info(os.path.join(d.state, "hls", seg["uri"]))
        assert info["first_is_key"], info
        assert abs(info["duration"] - seg["duration"]) <= 0.045, (info, seg)
        streams = h.probe_streams(os.path.join(d.state, "hls", seg["uri"]))["streams"]
        kinds = sorted(s["codec_name"] for s in streams)
        assert kinds == ["aac", "h264"], kinds
        # Over HTTP with the right types.
        r = d.get("/hls/" + seg["uri"])
        assert r.status == 200 and r.headers.get("Content-Type") == "video/mp2t", r.headers
        assert d.get("/hls/" + seg["uri"], token=h.VIEWER_TOKEN).status == 200
        assert d.get("/hls/port_0.m3u8", token="").status == 401

        # A player reads the live playlist over HTTP for 6 s without an error.
        h.ffmpeg_decode(d.base + "/hls/port_0.m3u8", timeout=60,
                        extra=["-headers", f"Authorization: Bearer {h.ADMIN_TOKEN}\r\n",
                               "-t", "6"])

        # Segments that left the window are deleted from disk (after a grace period).
        oldest = min(seen, key=lambda u: seen[u][0])
        h.wait_until(lambda: not os.path.exists(os.path.join(d.state, "hls", oldest)), 15,
                     what=f"{oldest} deleted")
        assert len(hls_files(d, "port_0-")) <= 3 + 6, hls_files(d, "port_0-")

        st = status(d, 0)
        assert st["state"] == "running" and st["segments"] >= 8, st
        assert st["fps"] > 0 and st["bitrate"] > 0 and st["restarts"] == 0, st
        assert st["last_error"] is None, st

        # Stop: ENDLIST, the worker is gone; a second stop is a no-op.
        r = d.delete("/api/ports/0/preview")
        assert r.status == 200 and r.json()["state"] in ("stopping", "stopped"), r
        st = wait_stopped(d, 0, timeout=8)
        assert st["previewing"] is False and st["pid"] is None, st
        h.wait_until(lambda: pid_gone(pid), 5, what="worker exit")
        tags, segs = playlist(d, 0)
        assert "EXT-X-ENDLIST" in tags, tags
        assert segs and all(os.path.exists(os.path.join(d.state, "hls", s["uri"])) for s in segs)
        r = d.delete("/api/ports/0/preview")
        assert r.status == 200 and r.json()["state"] == "stopped", r

        # Stop all: two running previews end with one call.
        assert d.post("/api/ports/0/preview").status == 200
        assert d.post("/api/ports/1/preview").status == 200
        pids = [status(d, i)["pid"] for i in (0, 1)]
        wait_segments(d, 1, 1)
        r = d.delete("/api/previews")
        assert r.status == 200 and r.json()["stopped"] == 2, r
        for i in (0, 1):
            wait_stopped(d, i, timeout=8)
        h.wait_until(lambda: all(pid_gone(p) for p in pids), 5, what="workers exit")
        print(f"  first playlist after {first_latency:.2f} s", file=sys.stderr)


def test_udp_mpegts_input():
    udp = free_udp_port()
    ports = f"""  - index: 3
    name: udp-feed
    input: {{ format: mpegts, url: "udp://127.0.0.1:{udp}?pkt_size=1316&fifo_size=100000&overrun_nonfatal=1" }}
"""
    sender = Proc(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                   "-f", "lavfi", "-i", LAVFI_VIDEO, "-f", "lavfi", "-i", LAVFI_AUDIO,
                   "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
                   "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                   "-f", "mpegts", f"udp://127.0.0.1:{udp}?pkt_size=1316"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with h.Daemon(config(ports), name="live-udp") as d:
            assert d.post("/api/ports/3/preview").status == 200
            tags, segs = wait_segments(d, 3, 3, timeout=30)
            durs = [s["duration"] for s in segs]
            assert all(abs(x - 1.0) <= 0.05 for x in durs), durs
            path = os.path.join(d.state, "hls", segs[-1]["uri"])
            kinds = sorted(s["codec_name"] for s in h.probe_streams(path)["streams"])
            assert kinds == ["aac", "h264"], kinds
            info = h.segment_video_info(path)
            assert info["first_is_key"] and abs(info["duration"] - segs[-1]["duration"]) <= 0.045
            st = status(d, 3)
            assert st["state"] == "running" and st["width"] == 320, st
            assert d.delete("/api/ports/3/preview").status == 200
            wait_stopped(d, 3)
            assert "EXT-X-ENDLIST" in playlist(d, 3)[0]
    finally:
        sender.kill()


def rtsp_port_config(rport):
    return f"""  - index: 2
    name: camera
    input:
      format: rtsp
      url: "rtsp://127.0.0.1:{rport}/cam"
      options: {{ rtsp_transport: tcp }}
"""


def test_rtsp_server_killed_and_back():
    server, rport = rtsp_server()
    try:
        with h.Daemon(config(rtsp_port_config(rport)), name="live-rtsp") as d:
            assert d.post("/api/ports/2/preview").status == 200
            tags, segs = wait_segments(d, 2, 2, timeout=30)
            pid = status(d, 2)["pid"]
            seen_before = {s["uri"] for s in segs}

            server.kill(signal.SIGKILL)
            def failing():
                st = status(d, 2)
                return st if st["state"] == "reconnecting" and st["restarts"] > 0 and st["last_error"] else None
            st = h.wait_until(failing, 15, what="the failure in the status")
            assert st["previewing"] is True, st
            # The worker reconnects by itself: same process.
            assert st["pid"] == pid, st

            server, _ = rtsp_server(rport)
            def recovered():
                tags, segs = playlist(d, 2)
                new = [s for s in segs if s["uri"] not in seen_before]
                return (tags, segs) if any(s.get("discontinuity") for s in new) else None
            tags, segs = h.wait_until(recovered, 30, interval=0.2,
                                      what="segments after a discontinuity")
            h.wait_until(lambda: status(d, 2)["state"] == "running", 10, what="running again")
            seqs = int(tags["EXT-X-MEDIA-SEQUENCE"][0])
            assert seqs >= 0
            after = [s for s in segs if s["uri"] not in seen_before]
            path = os.path.join(d.state, "hls", after[-1]["uri"])
            info = h.segment_video_info(path)
            assert info["first_is_key"], info
            assert d.delete("/api/ports/2/preview").status == 200
            wait_stopped(d, 2)
    finally:
        server.kill()


def test_rtsp_server_frozen():
    server, rport = rtsp_server()
    try:
        with h.Daemon(config(rtsp_port_config(rport)), name="live-stall") as d:
            assert d.post("/api/ports/2/preview").status == 200
            wait_segments(d, 2, 1, timeout=30)
            pid = status(d, 2)["pid"]
            os.kill(server.p.pid, signal.SIGSTOP)
            def stalled():
                st = status(d, 2)
                err = (st["last_error"] or "").lower()
                return st if st["state"] == "reconnecting" and any(
                    w in err for w in ("timeout", "timed out", "stall", "no packet")) else None
            st = h.wait_until(stalled, 20, what="stall detected")
            assert st["restarts"] >= 1, st
            # Stopping works while the input is still blocked.
            t0 = time.monotonic()
            assert d.delete("/api/ports/2/preview").status == 200
            wait_stopped(d, 2, timeout=8)
            h.wait_until(lambda: pid_gone(pid), 3, what="worker exit")
            print(f"  stopped in {time.monotonic() - t0:.2f} s with the input frozen",
                  file=sys.stderr)
            assert "EXT-X-ENDLIST" in playlist(d, 2)[0]

            # Start again with the server still frozen: the worker connects
            # (the kernel accepts) and blocks waiting for the RTSP answer.
            # A stop must still end it quickly, before the ladder's SIGTERM.
            assert d.post("/api/ports/2/preview").status == 200
            pid = status(d, 2)["pid"]
            h.wait_until(lambda: tcp_established_to(rport), 5, what="worker connected")
            assert status(d, 2)["state"] == "starting"
            t0 = time.monotonic()
            assert d.delete("/api/ports/2/preview").status == 200
            wait_stopped(d, 2, timeout=8)
            took = time.monotonic() - t0
            assert took < 2.5, f"blocked open stopped after {took:.2f} s (ladder, not the request)"
            h.wait_until(lambda: pid_gone(pid), 3, what="worker exit")
    finally:
        server.kill()


def tcp_established_to(port):
    """True when some local socket has an established connection to 127.0.0.1:port."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[3] == "01" and int(parts[2].split(":")[1], 16) == port:
                return True
    return False


def test_on_demand():
    udp = free_udp_port()  # nobody sends there: a port that never gets a segment
    ports = lavfi_port(0, "studio-a", extra="    on_demand: true\n") + f"""  - index: 4
    name: silent
    on_demand: true
    input: {{ format: mpegts, url: "udp://127.0.0.1:{udp}" }}
    preview: {{ start_timeout: 2 }}
"""
    with h.Daemon(config(ports), name="live-ondemand") as d:
        st = status(d, 0)
        assert st["on_demand"] is True and st["previewing"] is False and st["pid"] is None, st
        # The first playlist request (by a viewer allowed to watch) starts it and waits.
        t0 = time.monotonic()
        r = d.get("/hls/port_0.m3u8", token=h.VIEWER_TOKEN, timeout=30)
        waited = time.monotonic() - t0
        assert r.status == 200, r
        tags, segs = h.parse_playlist(r.body.decode())
        assert len(segs) >= 1 and "EXT-X-ENDLIST" not in tags, r.body
        st = status(d, 0)
        assert st["previewing"] is True and isinstance(st["pid"], int), st
        pid = st["pid"]
        # A viewer that may not see the port does not start it.
        assert d.get("/hls/port_4.m3u8", token=h.VIEWER_TOKEN).status == 403
        assert status(d, 4)["previewing"] is False

        # Requests keep it alive past idle_seconds (3 s)...
        until = time.monotonic() + 4.5
        while time.monotonic() < until:
            assert d.get("/hls/port_0.m3u8").status == 200
            time.sleep(0.5)
        st = status(d, 0)
        assert st["state"] == "running" and st["pid"] == pid, st
        # ...and without requests it stops.
        wait_stopped(d, 0, timeout=3 + 8)
        h.wait_until(lambda: pid_gone(pid), 3, what="worker exit")

        # No segment within start_timeout: 504, and the port keeps trying until idle.
        # The waiting request is suspended: the server keeps answering others.
        result = {}
        def waiting():
            t = time.monotonic()
            result["r"] = d.get("/hls/port_4.m3u8", timeout=30)
            result["t"] = time.monotonic() - t
        th = threading.Thread(target=waiting)
        th.start()
        h.wait_until(lambda: status(d, 4)["previewing"], 5, what="port 4 started by the request")
        t1 = time.monotonic()
        assert d.get("/api/health", token="").status == 200
        assert time.monotonic() - t1 < 0.5 and "r" not in result, result
        th.join(30)
        r = result["r"]
        assert r.status == 504 and r.json()["success"] is False, r
        assert 1.5 <= result["t"] <= 6, result["t"]
        assert d.delete("/api/ports/4/preview").status == 200
        wait_stopped(d, 4)
        print(f"  on-demand playlist answered after {waited:.2f} s", file=sys.stderr)


def test_daemon_sigkill_leaves_no_worker():
    ports = lavfi_port(0, "studio-a") + lavfi_port(1, "studio-b", audio=False)
    cfg = config(ports)
    d = h.Daemon(cfg, name="live-kill9")
    assert d.post("/api/ports/0/preview").status == 200
    assert d.post("/api/ports/1/preview").status == 200
    wait_segments(d, 0, 1)
    wait_segments(d, 1, 1)
    pids = [status(d, i)["pid"] for i in (0, 1)]
    assert all(isinstance(p, int) for p in pids), pids
    assert hls_files(d, "port_")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(5)
    t0 = time.monotonic()
    h.wait_until(lambda: all(pid_gone(p) for p in pids), 2, interval=0.05,
                 what=f"workers {pids} gone after the daemon's SIGKILL")
    print(f"  workers gone {time.monotonic() - t0:.2f} s after SIGKILL", file=sys.stderr)
    assert hls_files(d, "port_")  # the stale files are still there...
    d2 = h.Daemon(cfg, name="live-kill9b", state_dir=d.state)
    try:
        assert hls_files(d2, "") == [], hls_files(d2, "")  # ...until the next start
        assert status(d2, 0)["state"] == "stopped"
    finally:
        d2.stop()


def test_worker_sigkill_restarts():
    with h.Daemon(config(lavfi_port(0, "studio-a")), name="live-wkill") as d:
        assert d.post("/api/ports/0/preview").status == 200
        tags, segs = wait_segments(d, 0, 2)
        pid = status(d, 0)["pid"]
        seq0 = int(tags["EXT-X-MEDIA-SEQUENCE"][0])
        before = {s["uri"] for s in segs}
        os.kill(pid, signal.SIGKILL)
        def restarted():
            st = status(d, 0)
            return st if st["restarts"] >= 1 and st["last_error"] else None
        st = h.wait_until(restarted, 10, what="the crash in the status")
        assert "signal 9" in st["last_error"], st
        assert st["previewing"] is True, st
        def back():
            st = status(d, 0)
            return st if st["state"] == "running" and st["pid"] not in (None, pid) else None
        st = h.wait_until(back, 15, what="a new worker")
        assert pid_gone(pid)
        # The same playlist continues after a discontinuity, media sequence not reset.
        def continued():
            tags, segs = playlist(d, 0)
            new = [s for s in segs if s["uri"] not in before]
            return (tags, segs) if new and any(s.get("discontinuity") for s in segs) else None
        tags, segs = h.wait_until(continued, 15, interval=0.2, what="a discontinuity")
        assert int(tags["EXT-X-MEDIA-SEQUENCE"][0]) >= seq0, tags
        assert "EXT-X-ENDLIST" not in tags

        # A worker that cannot answer the stop request (frozen): the ladder
        # kills it (ask 3 s, SIGTERM 2 s, SIGKILL) and the daemon ends the
        # playlist itself.
        pid2 = st["pid"]
        os.kill(pid2, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            assert d.delete("/api/ports/0/preview").status == 200
            assert status(d, 0)["state"] == "stopping"
            wait_stopped(d, 0, timeout=3 + 2 + 4)
            took = time.monotonic() - t0
            assert took >= 2.5, f"stopped after {took:.2f} s although the worker was frozen"
            h.wait_until(lambda: pid_gone(pid2), 2, what="frozen worker killed")
        finally:
            try:
                os.kill(pid2, signal.SIGCONT)
            except ProcessLookupError:
                pass
        tags, segs = playlist(d, 0)
        assert "EXT-X-ENDLIST" in tags and segs, tags
