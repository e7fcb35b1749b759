"""The live job inside `hlsd worker`, driven directly over fd 3 (this test
plays the daemon): rolling playlist with exact segments, deletion of old
segments, stop, reconnect with a discontinuity, continuing a playlist, and
stopping or detecting a stall on an input that never delivers. The daemon's
preview API is covered by test_live.py."""
import json
import os
import time

import harness


class LiveWorker:
    def __init__(self, job):
        self.dir = job["out_dir"]
        self.log_path = os.path.join(self.dir, "..", os.path.basename(self.dir) + "-worker.log")
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, HLSD_PARENT_PID=str(os.getpid()))
        self.proc, self.sock = harness.start_worker(env, "info", self.log, self.log)
        self.lines = harness.JsonLines(self.sock)
        self.events = []
        self.t0 = time.monotonic()
        self.sock.sendall((json.dumps(job) + "\n").encode())

    def next_event(self, timeout):
        ev = self.lines.read(timeout, lambda: f"; last: {self.events[-4:]}; "
                                              f"log: {self.log_text()[-1500:]}")
        if ev is None:
            return None
        ev["_t"] = time.monotonic() - self.t0
        self.events.append(ev)
        return ev

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.01, deadline - time.monotonic()))
            assert ev is not None, f"worker closed the channel before {what}: {self.events[-4:]}"
            assert ev["type"] != "error", ev
            if pred(ev):
                return ev

    def stop(self, within=1.5):
        t = time.monotonic()
        self.sock.sendall(b'{"cmd":"stop"}\n')
        rest = []
        while True:
            ev = self.next_event(5)
            if ev is None:
                break
            rest.append(ev)
        code = self.proc.wait(5)
        took = time.monotonic() - t
        self.log.close()
        harness.check_sanitizer_log(self.log_text(), self.log_path)
        assert code == 0, f"worker exited {code}: {self.log_text()[-1500:]}"
        assert rest and rest[-1]["type"] == "done", rest[-3:]
        assert took < within, f"stop took {took:.2f}s"
        return rest

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


def live_job(out, **kw):
    job = {
        "kind": "live", "name": "it live", "out_dir": out, "playlist": "port_9.m3u8",
        "segment_prefix": "port_9-r1-",
        "input": {"format": "lavfi", "url": "testsrc2=size=320x240:rate=25"},
        "audio_input": {"format": "lavfi", "url": "sine=frequency=440:sample_rate=48000"},
        "realtime": True,
        "video": {"encoder": "libx264", "preset": "ultrafast", "tune": "zerolatency",
                  "bitrate": "400k", "crf": 23, "max_width": 320, "max_height": 240},
        "audio": {"bitrate": "64k"},
        "hls": {"variant": "mpegts", "segment_seconds": 1, "list_size": 3, "delete_segments": True},
        "stall_timeout": 2, "io_timeout": 2, "backoff": [0.5], "continue": False,
    }
    job.update(kw)
    return job


def playlist(out):
    with open(os.path.join(out, "port_9.m3u8")) as f:
        return harness.parse_playlist(f.read())


def test_live_rolls_exact_segments_and_stops():
    out = harness.tmpdir("live")
    w = LiveWorker(live_job(out))
    try:
        started = w.wait_for(lambda e: e["type"] == "started", 10, "started")
        assert (started["width"], started["height"], started["audio"]) == (320, 240, True), started
        first = w.wait_for(lambda e: e["type"] == "segment", 10, "the first segment")
        assert first["_t"] < 4.0, f"first segment after {first['_t']:.1f}s"
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] >= 6, 15, "segment 6")
        seg_events = [e for e in w.events if e["type"] == "segment"]
        # About real time: 6 more one-second segments took about 6 s.
        pace = (seg_events[-1]["_t"] - seg_events[0]["_t"]) / (len(seg_events) - 1)
        assert 0.8 < pace < 1.25, pace
        assert any(e["type"] == "progress" and e["fps"] > 15 for e in w.events), w.events[-5:]

        tags, segs = playlist(out)
        assert tags["EXT-X-TARGETDURATION"] == ["1"], tags
        assert "EXT-X-ENDLIST" not in tags
        assert len(segs) == 3, segs
        seq = int(tags["EXT-X-MEDIA-SEQUENCE"][0])
        assert seq >= 4
        assert [s["uri"] for s in segs] == [f"port_9-r1-{seq + i}.ts" for i in range(3)], segs
        for s in segs:
            assert s["duration"] == 1.0, s
            assert "pdt" in s, s
            path = os.path.join(out, s["uri"])
            vi = harness.segment_video_info(path)
            assert vi["first_is_key"], s
            assert abs(vi["duration"] - 1.0) <= vi["frame_duration"] + 1e-3, vi
            info = harness.probe_streams(path)
            kinds = sorted(st["codec_name"] for st in info["streams"])
            assert kinds == ["aac", "h264"], kinds
            # Audio and video of a segment start together (one input each, same clock).
            starts = {st["codec_type"]: float(st["start_time"]) for st in info["streams"]}
            assert abs(starts["audio"] - starts["video"]) < 0.1, starts
        # Segments that left the window are deleted after a grace period.
        assert not os.path.exists(os.path.join(out, "port_9-r1-0.ts"))
        assert os.path.exists(os.path.join(out, f"port_9-r1-{seq - 1}.ts"))  # grace

        rest = w.stop()
        tags, segs = playlist(out)
        assert "EXT-X-ENDLIST" in tags, tags
        assert segs[-1]["duration"] <= 1.0
        last = [e for e in w.events if e["type"] == "segment"][-1]
        assert segs[-1]["uri"] == last["file"], (segs[-1], last)
        harness.ffmpeg_decode(os.path.join(out, "port_9.m3u8"))
    finally:
        w.kill()


def short_clip():
    return harness.make_media("live_src_320x240_2s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"])


def test_live_reconnects_then_continues_playlist():
    out = harness.tmpdir("live")
    w = LiveWorker(live_job(out, input={"url": short_clip()}, audio_input=None,
                            hls={"segment_seconds": 1, "list_size": 10}))
    try:
        err = w.wait_for(lambda e: e["type"] == "input_error", 10, "input_error at the file's end")
        assert err["restarts"] == 1 and err["retry_in"] == 0.5, err
        assert "ended" in err["message"], err
        n_before = len([e for e in w.events if e["type"] == "segment"])
        assert n_before == 2, w.events
        w.wait_for(lambda e: e["type"] == "segment" and e["index"] == n_before, 10,
                   "a segment after the reconnect")
        w.stop()
    finally:
        w.kill()
    tags, segs = playlist(out)
    assert "EXT-X-ENDLIST" in tags
    assert [s["uri"] for s in segs[:3]] == ["port_9-r1-0.ts", "port_9-r1-1.ts", "port_9-r1-2.ts"]
    assert segs[2].get("discontinuity") and not segs[1].get("discontinuity"), segs

    # A new worker continues this playlist (as after a crash): same window,
    # continuing media sequence, a discontinuity, no ENDLIST while running.
    n = len(segs)
    w = LiveWorker(live_job(out, segment_prefix="port_9-r2-", audio_input=None,
                            hls={"segment_seconds": 1, "list_size": 10}, **{"continue": True}))
    try:
        ev = w.wait_for(lambda e: e["type"] == "segment", 10, "a continued segment")
        assert ev["index"] == n and ev["file"] == f"port_9-r2-{n}.ts", ev
        tags, segs2 = playlist(out)
        assert "EXT-X-ENDLIST" not in tags
        assert [s["uri"] for s in segs2[:n]] == [s["uri"] for s in segs]
        assert segs2[n]["discontinuity"], segs2
        w.stop()
    finally:
        w.kill()


def udp_bound(port):
    with open("/proc/net/udp") as f:
        return any(l.split()[1].endswith(f":{port:04X}") for l in f.readlines()[1:])


def test_live_blocked_input_stall_and_stop():
    # A UDP input nobody sends to: opening blocks. A short stall timeout
    # turns that into input_error and a retry; stop ends it at once.
    port = harness.free_port()
    out = harness.tmpdir("live")
    w = LiveWorker(live_job(out, input={"format": "mpegts", "url": f"udp://127.0.0.1:{port}"},
                            audio_input=None, stall_timeout=1, io_timeout=1, backoff=[0.3, 30]))
    try:
        e1 = w.wait_for(lambda e: e["type"] == "input_error", 8, "a stall report")
        assert e1["restarts"] == 1 and e1["retry_in"] == 0.3, e1
        e2 = w.wait_for(lambda e: e["type"] == "input_error", 8, "a second stall report")
        assert e2["restarts"] == 2 and e2["retry_in"] == 30, e2
        # Now waiting 30 s before the next try: a stop ends that wait at once.
        w.stop(within=1.5)
    finally:
        w.kill()
    assert not os.path.exists(os.path.join(out, "port_9.m3u8"))
    port = harness.free_port()

    w = LiveWorker(live_job(harness.tmpdir("live"),
                            input={"format": "mpegts", "url": f"udp://127.0.0.1:{port}"},
                            audio_input=None, stall_timeout=30, io_timeout=30))
    try:
        # Stop once it is blocked inside avformat_open_input on that socket.
        harness.wait_until(lambda: udp_bound(port), 5, what=f"a UDP socket on port {port}")
        w.stop(within=1.5)
    finally:
        w.kill()
