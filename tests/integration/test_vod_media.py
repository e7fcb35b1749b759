"""The worker-side "vod" job driven directly: `hlsd worker` with a socketpair
as fd 3 (docs/WORKER-PROTOCOL.md), no daemon. Everything is checked with
ffprobe/ffmpeg and the files on disk, not with hlsd's own code."""
import fcntl
import json
import os
import queue
import socket
import subprocess
import threading
import time

import harness
from harness import make_media, parse_playlist, run, segment_video_info, tmpdir

T0 = 1700000000.0  # wall clock of the first recording


class VodWorker:
    """`hlsd worker` running one job; events arrive on a background thread."""

    def __init__(self, job, name="vod"):
        self.job = job
        self.events = []
        self.q = queue.Queue()
        self.log_path = os.path.join(job["out_dir"], "..", f"{name}-worker.log")
        # Nothing we pass may sit on fd 3 itself: move the log above it.
        raw = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.log_fd = fcntl.fcntl(raw, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(raw)
        ours, theirs = socket.socketpair()
        self.sock = ours
        # The worker's end must be fd 3 in the child. Python's close_fds keeps
        # only pass_fds, so put it at fd 3 in this process for the spawn.
        saved = None
        try:
            saved = os.dup(3)
        except OSError:
            saved = None
        os.dup2(theirs.fileno(), 3)
        try:
            env = dict(os.environ, HLSD_PARENT_PID=str(os.getpid()))
            self.proc = subprocess.Popen([harness.HLSD, "worker", "--log-level", "debug"],
                                         pass_fds=(3,), stdin=subprocess.DEVNULL,
                                         stdout=self.log_fd, stderr=subprocess.STDOUT, env=env)
        finally:
            if saved is not None:
                os.dup2(saved, 3)
                os.close(saved)
            else:
                os.close(3)
            theirs.close()
        self.send(job)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    self.q.put(json.loads(line))
        self.q.put(None)

    def send(self, msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def want(self, n):
        self.send({"cmd": "want", "segment": n})

    def next_event(self, timeout):
        ev = self.q.get(timeout=timeout)
        if ev is not None:
            self.events.append(ev)
        return ev

    def wait_for(self, pred, timeout, what="event"):
        """Returns the first event matching pred; fails on error/EOF/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; log: {self.log_text()[-3000:]}")
            try:
                ev = self.next_event(left)
            except queue.Empty:
                continue
            if ev is None:
                raise AssertionError(f"worker closed the channel before {what}; log: {self.log_text()[-3000:]}")
            if ev.get("type") == "error":
                raise AssertionError(f"worker error: {ev}; log: {self.log_text()[-3000:]}")
            if pred(ev):
                return ev

    def wait_exit(self, timeout):
        code = self.proc.wait(timeout)
        while True:  # collect the remaining events
            try:
                if self.next_event(5) is None:
                    break
            except queue.Empty:
                break
        self._close_log()
        harness.check_sanitizer_log(self.log_text(), self.log_path)
        return code

    def _close_log(self):
        if self.log_fd >= 0:
            os.close(self.log_fd)
            self.log_fd = -1

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()
        self.sock.close()


def vod_job(out_dir, sources, start, end, seg=3, fast=(1, 2), lookahead=10, passthrough=False,
            prefix="seg-t1-", tseg=None):
    """tseg: transcode_segment_seconds (default: seg, one length for both)."""
    return {
        "kind": "vod", "name": "vod test", "out_dir": out_dir, "playlist": "master.m3u8",
        "segment_prefix": prefix, "sources": sources, "range_start": start, "range_end": end,
        "segment_seconds": seg, "transcode_segment_seconds": seg if tseg is None else tseg,
        "fast_start": list(fast), "lookahead": lookahead,
        "passthrough": passthrough,
        "video": {"encoder": "libx264", "preset": "ultrafast", "tune": None, "bitrate": None,
                  "crf": 30, "max_width": 0, "max_height": 720},
        "audio": {"bitrate": "64k"},
    }


def h265_rec(name, seconds, size="320x180", rate=25, gop=50):
    return make_media(name, [
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-x265-params", f"log-level=error:keyint={gop}:min-keyint={gop}",
        "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "64k", "-shortest"])


def playlist_of(out_dir):
    with open(os.path.join(out_dir, "master.m3u8")) as f:
        return parse_playlist(f.read())


def ts_files(out_dir):
    return sorted(f for f in os.listdir(out_dir) if f.endswith(".ts"))


def test_gap_complete_playlist_then_segments():
    a = h265_rec("vod_a_8s.mp4", 8)
    b = h265_rec("vod_b_8s.mp4", 8)
    out = os.path.join(tmpdir("vodgap"), "out")
    os.makedirs(out)
    # b starts 4 s after a ends: a gap. The range starts between frames.
    sources = [{"path": a, "start_time": T0, "end_time": T0 + 8},
               {"path": b, "start_time": T0 + 12, "end_time": T0 + 20}]
    w = VodWorker(vod_job(out, sources, T0 + 1.31, T0 + 18.5))
    try:
        plan = w.wait_for(lambda e: e["type"] in ("plan", "segment"), 30, "plan")
        assert plan["type"] == "plan", f"a segment came before the plan: {plan}"
        assert plan["passthrough"] is False
        # The playlist is complete as soon as the plan is announced.
        with open(os.path.join(out, "master.m3u8")) as f:
            first_text = f.read()
        tags, segs = parse_playlist(first_text)
        assert tags.get("EXT-X-PLAYLIST-TYPE") == ["VOD"], tags
        assert "EXT-X-ENDLIST" in tags
        assert len(segs) == plan["segments"]
        total = sum(s["duration"] for s in segs)
        want_total = (8 - 1.31) + (18.5 - 12)
        assert abs(total - want_total) < 2 / 25 + 0.002, (total, want_total)
        assert abs(plan["duration"] - total) < 0.002
        # fast start, then 3 s; the segment after the gap is a discontinuity
        assert [s["duration"] for s in segs[:3]] == [1.0, 2.0, 3.0], segs[:3]
        disc = [i for i, s in enumerate(segs) if s.get("discontinuity")]
        assert len(disc) == 1, segs
        assert segs[disc[0]]["pdt"] == "2023-11-14T22:13:32.000Z", segs[disc[0]]
        assert segs[0]["pdt"] == "2023-11-14T22:13:21.320Z", segs[0]  # first frame at/after 1.31 s
        target = int(tags["EXT-X-TARGETDURATION"][0])
        assert all(round(s["duration"]) <= target for s in segs)

        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == len(segs) - 1, 120,
                   "the last segment")
        assert w.wait_exit(30) == 0
        types = [e["type"] for e in w.events]
        assert types.index("plan") < types.index("segment")
        assert types[-1] == "done", types[-5:]
        started = [e for e in w.events if e["type"] == "started"]
        assert len(started) == 1 and started[0]["passthrough"] is False, started
        assert (started[0]["width"], started[0]["height"], started[0]["fps"]) == (320, 180, 25), started
        prog = [e for e in w.events if e["type"] == "progress"]
        assert prog and prog[-1]["percent"] == 100 and prog[-1]["segments"] == len(segs), prog[-1:]
        assert sorted(e["index"] for e in w.events if e["type"] == "segment") == list(range(len(segs)))
        with open(os.path.join(out, "master.m3u8")) as f:
            assert f.read() == first_text, "the playlist changed after the plan"
        assert not [f for f in os.listdir(out) if ".tmp" in f]

        # Browser-safe output, every segment decodable on its own, EXTINF
        # matching the measured duration within a frame, one timeline.
        harness.ffmpeg_decode(os.path.join(out, "master.m3u8"))
        pos = 0.0
        for s in segs:
            path = os.path.join(out, s["uri"])
            info = harness.probe_streams(path)
            v = [st for st in info["streams"] if st["codec_type"] == "video"][0]
            assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p", v
            assert int(v["height"]) <= 720 and int(v["width"]) == 320, v
            assert any(st["codec_type"] == "audio" and st["codec_name"] == "aac" for st in info["streams"])
            m = segment_video_info(path)
            assert m["first_is_key"], s
            assert abs(m["duration"] - s["duration"]) <= 1 / 25 + 0.001, (s, m)
            assert abs(m["start"] - (10.0 + pos)) <= 1 / 25 + 0.001, (s, m, pos)
            harness.ffmpeg_decode(path)
            pos += s["duration"]
    finally:
        w.close()


def test_seek_far_segment_first():
    # 150 s at 5 fps, 160x90: a multi-minute recording that encodes fast.
    rec = h265_rec("vod_long_150s.mp4", 150, size="160x90", rate=5, gop=10)
    out = os.path.join(tmpdir("vodseek"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": rec, "start_time": T0, "end_time": T0 + 150}], T0, T0 + 150,
                  seg=6, fast=(), lookahead=2, prefix="seg-s1-")
    w = VodWorker(job, "seek")
    try:
        plan = w.wait_for(lambda e: e["type"] == "plan", 30, "plan")
        n = plan["segments"]
        assert n == 25, plan
        # Nobody asked for anything but segment 0: the encoder pauses
        # `lookahead` segments later and says so.
        w.wait_for(lambda e: e["type"] == "progress" and e["speed"] == 0 and e["encoded_up_to"] == 2,
                   30, "a paused progress report")
        assert ts_files(out) == ["seg-s1-0.ts", "seg-s1-1.ts", "seg-s1-2.ts"], ts_files(out)
        last = n - 1
        w.want(last)
        t0 = time.monotonic()
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == last, 60, "the last segment")
        took = time.monotonic() - t0
        present = {int(f[len("seg-s1-"):-3]) for f in ts_files(out)}
        middle = set(range(5, last - 1))
        assert not (present & middle), f"middle segments exist: {sorted(present & middle)}"
        harness.ffmpeg_decode(os.path.join(out, f"seg-s1-{last}.ts"))
        m = segment_video_info(os.path.join(out, f"seg-s1-{last}.ts"))
        assert abs(m["start"] - (10.0 + 6 * last)) < 0.21, m  # same timeline as a run from 0
        # A middle one next.
        w.want(12)
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == 12, 60, "segment 12")
        assert os.path.exists(os.path.join(out, "seg-s1-12.ts"))
        # Then everything, in order: the worker fills the holes and ends.
        for i in range(n):
            w.want(i)
        assert w.wait_exit(120) == 0, w.log_text()[-2000:]
        assert len(ts_files(out)) == n
        print(f"    seek to the last segment answered in {took:.2f}s")
        # Decodes as one stream with continuous timestamps across the runs.
        j = harness.ffprobe(os.path.join(out, "master.m3u8"), "-select_streams", "v:0",
                            "-show_entries", "packet=pts_time", "-show_packets")
        pts = sorted(float(p["pts_time"]) for p in j["packets"])
        steps = {round(b - a, 3) for a, b in zip(pts, pts[1:])}
        assert steps == {0.2}, f"timestamp steps {sorted(steps)[:10]}"
        assert abs(pts[0] - 10.0) < 0.01 and abs(pts[-1] - (10.0 + 150 - 0.2)) < 0.01, (pts[0], pts[-1])
        harness.ffmpeg_decode(os.path.join(out, "master.m3u8"))
    finally:
        w.close()


def test_transcodes_cut_short_segments_by_default():
    """transcode_segment_seconds (default 1 s): a seek waits for one short
    segment's encoding; segment_seconds (6) and fast-start lengths that are not
    shorter no longer apply to what is transcoded."""
    rec = h265_rec("vod_h265_12s.mp4", 12, gop=50)
    out = os.path.join(tmpdir("vodshort"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": rec, "start_time": T0, "end_time": T0 + 12}], T0, T0 + 12,
                  seg=6, fast=(1, 2, 3), prefix="seg-q1-")
    del job["transcode_segment_seconds"]  # the worker's default
    w = VodWorker(job, "short")
    try:
        plan = w.wait_for(lambda e: e["type"] == "plan", 30, "plan")
        assert plan["durations"] == [1] * 12, plan
        w.want(7)  # far ahead: the encoder starts there, mid-GOP (keyframes every 2 s)
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == 7, 60, "segment 7")
        m = segment_video_info(os.path.join(out, "seg-q1-7.ts"))
        assert m["first_is_key"], m
        assert abs(m["duration"] - 1.0) <= 1 / 25 + 0.001, m
        assert abs(m["start"] - 17.0) <= 1 / 25 + 0.001, m  # the VOD timeline: 10 s + 7
        harness.ffmpeg_decode(os.path.join(out, "seg-q1-7.ts"))
    finally:
        w.close()


def test_long_ranges_get_longer_transcode_segments():
    """At most 7200 transcode segments per playlist: a longer range gets
    proportionally longer ones (a day's playlist stays small)."""
    rec = make_media("vod_h264_7300s_1fps.mp4", [
        "-f", "lavfi", "-i", "testsrc=size=64x64:rate=1:duration=7300",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p"])
    out = os.path.join(tmpdir("vodlong"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": rec, "start_time": T0, "end_time": T0 + 7300}], T0, T0 + 7300,
                  seg=6, fast=(), lookahead=1, prefix="seg-l1-")
    del job["transcode_segment_seconds"]
    w = VodWorker(job, "long")
    try:
        plan = w.wait_for(lambda e: e["type"] == "plan", 60, "plan")
        assert 7100 <= plan["segments"] <= 7200, plan["segments"]
        assert abs(plan["duration"] - 7300) < 1.5, plan["duration"]
        assert min(plan["durations"][:-1]) >= 1.0 and max(plan["durations"]) <= 2.0, \
            (min(plan["durations"]), max(plan["durations"]))
    finally:
        w.close()


def framemd5(args):
    p = run(["ffmpeg", "-hide_banner", "-loglevel", "error"] + args +
            ["-map", "0:v:0", "-f", "framemd5", "-"], timeout=120, check=True)
    return [l.split(",")[-1].strip() for l in p.stdout.splitlines() if l and not l.startswith("#")]


def test_passthrough_identical_frames():
    src = make_media("vod_h264_aac_10s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=10",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=10",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-keyint_min", "25",
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest"])
    out = os.path.join(tmpdir("vodpass"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": src, "start_time": T0, "end_time": T0 + 10}], T0 + 2.5, T0 + 8.7,
                  seg=2, fast=(1,), passthrough=True, prefix="seg-p1-")
    w = VodWorker(job, "pass")
    try:
        plan = w.wait_for(lambda e: e["type"] == "plan", 30, "plan")
        assert plan["passthrough"] is True, plan
        started = w.wait_for(lambda e: e["type"] == "started", 30, "started")
        assert started["passthrough"] is True
        assert w.wait_exit(60) == 0, w.log_text()[-2000:]
        assert "libx264" not in w.log_text(), "a video encoder ran"
        tags, segs = playlist_of(out)
        # Nothing is cut inside a GOP: from the keyframe at 2 s to the one at
        # 9 s; boundaries on keyframes (1 s apart): 1 s fast start, then 2 s.
        assert segs[0]["pdt"] == "2023-11-14T22:13:22.000Z", segs[0]
        assert [s["duration"] for s in segs] == [1.0, 2.0, 2.0, 2.0], segs
        for s in segs:
            m = segment_video_info(os.path.join(out, s["uri"]))
            assert m["first_is_key"] and abs(m["duration"] - s["duration"]) <= 0.041, (s, m)
        want = framemd5(["-ss", "2.5", "-to", "8.7", "-i", src])
        got = framemd5(["-i", os.path.join(out, "master.m3u8")])
        whole = framemd5(["-ss", "2.0", "-to", "9.0", "-i", src])  # keyframe to keyframe
        assert len(want) == 155 and len(whole) == 175, (len(want), len(whole))
        assert got == whole, "decoded frames differ from the source's"
        lead = 13  # 2.00 .. 2.48
        assert got[lead:lead + len(want)] == want
        a = [st for st in harness.probe_streams(os.path.join(out, segs[1]["uri"]))["streams"]
             if st["codec_type"] == "audio"]
        assert a and a[0]["codec_name"] == "aac" and a[0]["sample_rate"] == "48000", a
        harness.ffmpeg_decode(os.path.join(out, "master.m3u8"))
    finally:
        w.close()


def test_existing_segments_skipped_and_stop():
    rec = h265_rec("vod_a_8s.mp4", 8)
    out = os.path.join(tmpdir("vodskip"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": rec, "start_time": T0, "end_time": T0 + 8}], T0, T0 + 8,
                  seg=2, fast=(), prefix="seg-k1-")
    w = VodWorker(job, "skip1")
    try:
        assert w.wait_exit(60) == 0
        n = len(ts_files(out))
        assert n == 4
        mtimes = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in ts_files(out)}
        os.unlink(os.path.join(out, "seg-k1-2.ts"))
    finally:
        w.close()
    # A second worker on the same folder writes only the missing one.
    w = VodWorker(job, "skip2")
    try:
        assert w.wait_exit(60) == 0
        written = [e["index"] for e in w.events if e["type"] == "segment"]
        assert written == [2], written
        for f, t in mtimes.items():
            if f != "seg-k1-2.ts":
                assert os.stat(os.path.join(out, f)).st_mtime_ns == t, f
        harness.ffmpeg_decode(os.path.join(out, "master.m3u8"))
    finally:
        w.close()
    # Stop while encoding: exits 0 quickly, no temp file left behind.
    long_rec = h265_rec("vod_long_150s.mp4", 150, size="160x90", rate=5, gop=10)
    out2 = os.path.join(tmpdir("vodstop"), "out")
    os.makedirs(out2)
    job = vod_job(out2, [{"path": long_rec, "start_time": T0, "end_time": T0 + 150}], T0, T0 + 150,
                  seg=6, fast=(), lookahead=1000, prefix="seg-x1-")
    w = VodWorker(job, "stop")
    try:
        w.wait_for(lambda e: e["type"] == "segment", 30, "a segment")
        t0 = time.monotonic()
        w.send({"cmd": "stop"})
        assert w.wait_exit(10) == 0
        assert time.monotonic() - t0 < 2.0
        assert w.events[-1]["type"] == "done"
        assert not [f for f in os.listdir(out2) if ".tmp" in f], os.listdir(out2)
        assert len(ts_files(out2)) < 25
    finally:
        w.close()


def test_bad_sources_fail_cleanly():
    out = os.path.join(tmpdir("vodbad"), "out")
    os.makedirs(out)
    junk = os.path.join(out, "..", "junk.mp4")
    with open(junk, "wb") as f:
        f.write(os.urandom(5000))
    for sources, expect in [
        ([{"path": "/nonexistent/a.mp4", "start_time": T0, "end_time": T0 + 10}], "No such file"),
        ([{"path": junk, "start_time": T0, "end_time": T0 + 10}], "junk.mp4"),
        ([{"path": junk, "start_time": T0 + 100, "end_time": T0 + 110}], "no recording"),
    ]:
        w = VodWorker(vod_job(out, sources, T0, T0 + 10), "bad")
        try:
            assert w.wait_exit(30) == 1
            err = [e for e in w.events if e["type"] == "error"]
            assert err and expect in err[0]["message"], (expect, w.events)
            assert not os.path.exists(os.path.join(out, "master.m3u8"))
        finally:
            w.close()


def test_passthrough_reencodes_only_the_audio():
    # H.264 (browser-safe) with PCM audio (not) in Matroska: video copied
    # (keyframes found by reading the packets: no MP4 index), audio to AAC.
    src = make_media("vod_h264_pcm_6s.mkv", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=6",
        "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=44100:duration=6",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-keyint_min", "25",
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", "-ac", "2", "-shortest"])
    out = os.path.join(tmpdir("vodpcm"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": src, "start_time": T0, "end_time": T0 + 6}], T0 + 1, T0 + 5,
                  seg=2, fast=(), passthrough=True, prefix="seg-a1-")
    w = VodWorker(job, "pcm")
    try:
        plan = w.wait_for(lambda e: e["type"] == "plan", 30, "plan")
        assert plan["passthrough"] is True and plan["durations"] == [2.0, 2.0], plan
        assert w.wait_exit(60) == 0, w.log_text()[-2000:]
        tags, segs = playlist_of(out)
        for s in segs:
            info = harness.probe_streams(os.path.join(out, s["uri"]))
            a = [st for st in info["streams"] if st["codec_type"] == "audio"]
            assert a and a[0]["codec_name"] == "aac" and a[0]["sample_rate"] == "44100", a
            assert a[0]["channels"] == 2, a
        got = framemd5(["-i", os.path.join(out, "master.m3u8")])
        assert got == framemd5(["-ss", "1.0", "-to", "5.0", "-i", src]), "video was not copied"
        harness.ffmpeg_decode(os.path.join(out, "master.m3u8"))
    finally:
        w.close()


def test_mpegts_source_trimmed_and_seeked():
    # MPEG-TS has no index: seeking by timestamp lands inside a GOP, and its
    # timestamps do not start at 0. Range start mid-GOP, then a far seek.
    # (x264 with B-frames in TS: a seek to 2.5 s lands after the keyframe at 2 s.)
    src = make_media("vod_h264_12s.ts", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=12",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50",
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest"])
    out = os.path.join(tmpdir("vodts"), "out")
    os.makedirs(out)
    job = vod_job(out, [{"path": src, "start_time": T0, "end_time": T0 + 12}], T0 + 2.5, T0 + 11.5,
                  seg=1, fast=(), lookahead=1, prefix="seg-ts1-")
    w = VodWorker(job, "ts")
    try:
        plan = w.wait_for(lambda e: e["type"] == "plan", 30, "plan")
        assert plan["durations"] == [1.0] * 9, plan
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == 0, 30, "segment 0")
        w.want(8)
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == 8, 30, "segment 8")
        assert not {f"seg-ts1-{i}.ts" for i in range(3, 8)} & set(ts_files(out)), ts_files(out)
        for i in range(9):
            w.want(i)
        assert w.wait_exit(60) == 0
        tags, segs = playlist_of(out)
        pos = 0.0
        for s in segs:
            m = segment_video_info(os.path.join(out, s["uri"]))
            assert m["first_is_key"], s
            assert abs(m["start"] - (10.0 + pos)) <= 0.041, (s, m, pos)
            assert abs(m["duration"] - s["duration"]) <= 0.041, (s, m)
            pos += s["duration"]
        harness.ffmpeg_decode(os.path.join(out, "master.m3u8"))
    finally:
        w.close()
