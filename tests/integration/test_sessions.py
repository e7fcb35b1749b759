"""Transcode sessions of recordings: /api/transcode, /stream/transcode/…,
complete playlists, segments on demand, seek, passthrough, limits, TTL."""
import json
import os
import re
import signal
import subprocess
import threading
import time

import harness

T0 = 1700000000


def add(state, path, camera, start):
    p = harness.run([harness.HLSD, "recordings", "add", path, "--camera", camera,
                     "--start", str(start), "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr


def copy(src, d, name):
    dst = os.path.join(d, name)
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    return dst


def config(vod="", auth="auth: { enabled: false }\n"):
    # Some tests hold 50 requests from one address: above the default
    # per-address connection limit (32), which test_abuse.py tests.
    return ("ports: []\nlimits: {per_ip_connections: 0}\n" + auth +
            "vod:\n  sample_recording: false\n" + vod)


def daemon(name, recs, vod="", auth="auth: { enabled: false }\n"):
    """recs: [(file, camera, start)] indexed before the daemon starts."""
    d = harness.tmpdir(name + "-rec")
    state = os.path.join(d, "state")
    for i, (src, cam, start) in enumerate(recs):
        add(state, copy(src, d, f"{cam}-{i}.mp4"), cam, start)
    return harness.Daemon(config(vod, auth), name=name, state_dir=state)


def start(dm, camera, a, b, token=None, timeout=60):
    return dm.get(f"/api/transcode/{camera}/start/{a}/end/{b}", token=token, timeout=timeout)


def sessions(dm):
    r = dm.get("/api/transcode")
    assert r.status == 200, r
    return {s["session_id"]: s for s in r.json()["sessions"]}


def session_dir(dm, sid):
    return os.path.join(dm.state, "transcode", sid)


def playlist(dm, sid):
    r = dm.get(f"/stream/transcode/{sid}/master.m3u8")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("application/vnd.apple.mpegurl"), r.headers
    return harness.parse_playlist(r.body.decode())


def pdt_epoch(s):
    # 2023-11-14T22:13:20.000Z
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d(?:\.\d+)?)Z$", s)
    assert m, s
    t = time.struct_time((int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), 0, 0, 0, 0))
    import calendar
    return calendar.timegm(t) + float(m[6])


def test_playlist_complete_and_decodes():
    clip = harness.clip_rec_h265(4)
    # [T0, T0+4) [T0+4, T0+8)  gap  [T0+12, T0+16)
    recs = [(clip, "cam1", T0), (clip, "cam1", T0 + 4), (clip, "cam1", T0 + 12)]
    with daemon("vod-play", recs) as dm:
        t = time.monotonic()
        r = start(dm, "cam1", T0, T0 + 16)
        answered = time.monotonic() - t
        assert r.status == 200, r
        j = r.json()
        assert j["success"] is True, j
        sid = j["session_id"]
        assert re.fullmatch(r"[0-9a-f]{24}", sid), sid
        assert j["playlist"] == f"/stream/transcode/{sid}/master.m3u8", j
        assert j["passthrough"] is False, j
        assert abs(j["duration"] - 12.0) < 0.15, j
        assert answered < 20, answered

        # Complete from the first response: VOD, ENDLIST, every segment listed.
        tags, segs = playlist(dm, sid)
        assert tags.get("EXT-X-PLAYLIST-TYPE") == ["VOD"], tags
        assert "EXT-X-ENDLIST" in tags, tags
        assert len(segs) == j["segments"], (len(segs), j)
        total = sum(s["duration"] for s in segs)
        assert abs(total - 12.0) < 0.15, [s["duration"] for s in segs]
        disc = [i for i, s in enumerate(segs) if s.get("discontinuity")]
        assert len(disc) == 1, segs
        assert "pdt" in segs[0] and abs(pdt_epoch(segs[0]["pdt"]) - T0) < 0.05, segs[0]
        assert abs(pdt_epoch(segs[disc[0]]["pdt"]) - (T0 + 12)) < 0.05, segs[disc[0]]
        assert abs(sum(s["duration"] for s in segs[:disc[0]]) - 8.0) < 0.1, segs

        # Same range again: the same session, the same worker.
        pid = sessions(dm)[sid].get("pid")
        r2 = start(dm, "cam1", f"{T0}.0", f"{T0 + 16}.000")
        assert r2.status == 200 and r2.json()["session_id"] == sid, r2
        ss = sessions(dm)
        assert list(ss) == [sid], ss
        assert ss[sid]["restarts"] == 0, ss[sid]
        if pid:
            assert ss[sid]["pid"] in (pid, 0), (pid, ss[sid])

        # The whole stream decodes over HTTP: H.264 <= 720p + AAC.
        url = dm.base + j["playlist"]
        harness.ffmpeg_decode(url, timeout=120)
        info = harness.probe_streams(url)
        v = [s for s in info["streams"] if s["codec_type"] == "video"][0]
        a = [s for s in info["streams"] if s["codec_type"] == "audio"]
        assert v["codec_name"] == "h264" and v["height"] <= 720 and v["pix_fmt"] == "yuv420p", v
        assert v["width"] == 320 and v["height"] == 180, v
        assert a and a[0]["codec_name"] == "aac", a

        # Each EXTINF matches the produced segment within one frame.
        for i, s in enumerate(segs):
            seg = harness.segment_video_info(f"{dm.base}/stream/transcode/{sid}/{s['uri']}")
            assert seg["first_is_key"], (i, seg)
            assert abs(seg["duration"] - s["duration"]) <= 0.041, (i, s, seg)

        st = sessions(dm)[sid]
        assert st["camera"] == "cam1" and st["start"] == T0 and st["end"] == T0 + 16, st
        assert st["state"] in ("done", "paused", "encoding"), st
        assert st["viewers"] >= 1 and st["idle"] < 30, st
        assert "percent" in st["progress"] and "speed" in st["progress"], st


def test_bad_requests_and_limits():
    long = harness.clip_rec_h265_long()
    clip = harness.clip_rec_h265(4)
    recs = [(long, "cam1", T0), (clip, "cam2", T0)]
    with daemon("vod-limits", recs, vod="  max_concurrent: 1\n  max_range: 3600\n") as dm:
        for a, b in (("abc", T0 + 10), ("nan", T0 + 10), ("NaN", T0 + 10), ("inf", T0 + 10),
                     (T0, "Infinity"), ("-inf", T0), ("-5", T0), (T0, "1e999"), ("0x10", T0),
                     (T0, f"{T0}abc"), (T0, T0), (T0 + 10, T0), (T0, T0 + 3601), ("1e2", "-1"),
                     ("%205", T0), ("5%00", T0)):
            r = start(dm, "cam1", a, b)
            assert r.status == 400, (a, b, r)
            assert r.json()["success"] is False and r.json()["message"], r
        assert start(dm, "bad%20name", T0, T0 + 10).status == 400
        assert start(dm, "nocam", T0, T0 + 10).status == 404
        assert start(dm, "cam1", T0 + 500, T0 + 600).status == 404  # no recording there
        assert start(dm, "cam1", 0, 1000).status == 404

        r = start(dm, "cam1", T0, T0 + 180)
        assert r.status == 200, r
        sid, n = r.json()["session_id"], r.json()["segments"]
        assert n > 20, r.json()
        # One active session (its worker pauses ahead of the viewer, alive):
        # a second range is refused.
        r = start(dm, "cam2", T0, T0 + 4)
        assert r.status == 429, r
        assert r.json() == {"success": False, "message": "Too many concurrent transcode sessions"}

        # Session ids and file names in /stream/.
        for bad in ("xyz", sid.upper(), sid + "0", sid[:-1], "g" * 24, f"{sid[:-1]}%2f"):
            assert dm.get(f"/stream/transcode/{bad}/master.m3u8").status == 400, bad
        assert dm.get("/stream/transcode/%2e%2e/master.m3u8").status in (400, 404)
        assert dm.get(f"/stream/transcode/{'0' * 24}/master.m3u8").status == 404
        prefix = harness.parse_playlist(dm.get(f"/stream/transcode/{sid}/master.m3u8").body.decode())[1][0]["uri"]
        prefix = prefix[: prefix.rindex("-") + 1]
        for name in ("evil.ts", "seg-0000-1.ts", f"{prefix}{n}.ts", f"{prefix}-1.ts",
                     f"{prefix}01.ts", f"{prefix}1.ts.tmp", "master.m3u8.tmp", "recordings.db",
                     f"{prefix}1.mp4", f"{prefix}99999999999.ts"):
            r = dm.get(f"/stream/transcode/{sid}/{name}")
            assert r.status == 404, (name, r)
        resp = harness.raw_request(dm.port, (f"GET /stream/transcode/{sid}/..%2f..%2frecordings.db "
                                             "HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").encode())
        assert not resp.startswith(b"HTTP/1.1 200"), resp[:200]

        # DELETE: malformed 400, unknown 404, then the real one frees the slot.
        assert dm.delete("/api/transcode/xyz").status == 400
        assert dm.delete(f"/api/transcode/{sid.upper()}").status == 400
        assert dm.delete(f"/api/transcode/{'f' * 24}").status == 404
        folder = session_dir(dm, sid)
        assert os.path.isdir(folder)
        pid = sessions(dm)[sid]["pid"]
        r = dm.delete(f"/api/transcode/{sid}")
        assert r.status == 200 and r.json()["success"] is True, r
        assert not os.path.exists(folder)
        assert dm.get(f"/stream/transcode/{sid}/master.m3u8").status == 404
        assert dm.delete(f"/api/transcode/{sid}").status == 404
        assert sid not in sessions(dm)
        harness.wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                           open(f"/proc/{pid}/stat").read().split()[2] == "Z", 5,
                           what="the deleted session's worker gone")
        r = start(dm, "cam2", T0, T0 + 4)
        assert r.status == 200, r
        assert sorted(os.listdir(os.path.join(dm.state, "transcode"))) == [r.json()["session_id"]]
        # The replaced NVR's paths (without /api) stay available.
        r2 = dm.get(f"/transcode/cam2/start/{T0}/end/{T0 + 4}")
        assert r2.status == 200 and r2.json()["session_id"] == r.json()["session_id"], r2
        assert dm.delete(f"/transcode/{r.json()['session_id']}").status == 200
        assert sessions(dm) == {}


def _get_segment(dm, sid, uri, out, i):
    try:
        out[i] = dm.get(f"/stream/transcode/{sid}/{uri}", timeout=90)
    except Exception as e:  # noqa: BLE001
        out[i] = e


def test_waiting_requests_do_not_block_and_worker_faults():
    long = harness.clip_rec_h265_long()
    with daemon("vod-wait", [(long, "cam1", T0)]) as dm:
        r = start(dm, "cam1", T0, T0 + 180)
        assert r.status == 200, r
        sid = r.json()["session_id"]
        _, segs = playlist(dm, sid)
        pid = sessions(dm)[sid]["pid"]
        assert pid > 0
        # Freeze the worker: nothing new is written while requests wait.
        os.kill(pid, signal.SIGSTOP)
        try:
            wanted = [20, 21, 22, 23, 24]
            out = [None] * 50
            threads = [threading.Thread(target=_get_segment,
                                        args=(dm, sid, segs[wanted[i % 5]]["uri"], out, i))
                       for i in range(50)]
            for th in threads:
                th.start()
            harness.wait_until(lambda: sessions(dm)[sid]["waiting"] == 50, 20,
                               what="50 suspended segment requests")
            for _ in range(5):
                t = time.monotonic()
                h = dm.get("/api/health", timeout=5)
                assert h.status == 200 and time.monotonic() - t < 1.0, h
            assert all(o is None for o in out), "a request was answered while the worker was frozen"
        finally:
            os.kill(pid, signal.SIGCONT)
        for th in threads:
            th.join(90)
        for i, o in enumerate(out):
            assert not isinstance(o, Exception) and o.status == 200, (i, o)
            assert o.body[:1] == b"\x47" and len(o.body) % 188 == 0, (i, o.body[:8])

        # A worker killed while a request waits: that request gets 502, the
        # session reports the failure, and the next request restarts it.
        pid = sessions(dm)[sid]["pid"]
        os.kill(pid, signal.SIGSTOP)
        out = [None]
        th = threading.Thread(target=_get_segment, args=(dm, sid, segs[len(segs) - 3]["uri"], out, 0))
        th.start()
        harness.wait_until(lambda: sessions(dm)[sid]["waiting"] == 1, 20, what="a waiting request")
        os.kill(pid, signal.SIGKILL)
        th.join(30)
        assert out[0] is not None and out[0].status == 502, out[0]
        assert out[0].json()["success"] is False and out[0].json()["message"], out[0]
        st = sessions(dm)[sid]
        assert st["state"] == "failed" and st["error"], st
        r = dm.get(f"/stream/transcode/{sid}/{segs[len(segs) - 3]['uri']}", timeout=60)
        assert r.status == 200, r
        st = sessions(dm)[sid]
        assert st["restarts"] == 1 and st["pid"] not in (0, pid), st
        assert dm.proc.poll() is None


def test_seek_last_then_middle_then_all():
    long = harness.clip_rec_h265_long()
    with daemon("vod-seek", [(long, "cam1", T0)]) as dm:
        r = start(dm, "cam1", T0, T0 + 180)
        assert r.status == 200, r
        sid = r.json()["session_id"]
        _, segs = playlist(dm, sid)
        n = len(segs)
        assert n >= 25 and abs(sum(s["duration"] for s in segs) - 180) < 0.3, n
        folder = session_dir(dm, sid)
        work = harness.tmpdir("vod-seek-out")

        def fetch(i):
            r = dm.get(f"/stream/transcode/{sid}/{segs[i]['uri']}", timeout=60)
            assert r.status == 200, (i, r)
            assert r.headers.get("Content-Type", "").startswith("video/mp2t"), r.headers
            p = os.path.join(work, f"{i:04d}.ts")
            with open(p, "wb") as f:
                f.write(r.body)
            return p

        mid = n // 2
        t = time.monotonic()
        last = fetch(n - 1)
        took = time.monotonic() - t
        middle_there = [i for i in range(mid - 2, mid + 3)
                        if os.path.exists(os.path.join(folder, segs[i]["uri"]))]
        assert not middle_there, f"middle segments {middle_there} exist: no seek happened"
        assert took < 20, took
        harness.ffmpeg_decode(last)
        harness.ffmpeg_decode(fetch(mid))
        info = harness.segment_video_info(last)
        assert info["first_is_key"], info

        paths = [fetch(i) for i in range(n)]
        cat = os.path.join(work, "all.ts")
        with open(cat, "wb") as g:
            for p in paths:
                with open(p, "rb") as f:
                    g.write(f.read())
        harness.ffmpeg_decode(cat)
        j = harness.ffprobe(cat, "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time")
        pts = sorted(float(p["pts_time"]) for p in j["packets"])
        assert abs(len(pts) - 900) <= 2, len(pts)
        steps = [b - a for a, b in zip(pts, pts[1:])]
        assert min(steps) > 0.1 and max(steps) < 0.3, (min(steps), max(steps))
        dts = [float(p["dts_time"]) for p in j["packets"] if "dts_time" in p]
        assert all(b > a for a, b in zip(dts, dts[1:])), "decode timestamps go backwards at a join"


def _framemd5(target):
    p = harness.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", target, "-map", "0:v:0",
                     "-f", "framemd5", "-"], timeout=120)
    assert p.returncode == 0, p.stderr
    return [l.split(",")[-1].strip() for l in p.stdout.splitlines() if l and not l.startswith("#")]


def test_passthrough_identical_frames():
    clip = harness.clip_rec_h264(6)
    with daemon("vod-pass", [(clip, "cam1", T0)]) as dm:
        r = start(dm, "cam1", T0, T0 + 6)
        assert r.status == 200, r
        j = r.json()
        assert j["passthrough"] is True, j
        sid = j["session_id"]
        assert sessions(dm)[sid]["passthrough"] is True
        tags, segs = playlist(dm, sid)
        assert abs(sum(s["duration"] for s in segs) - 6.0) < 0.1, segs
        src = _framemd5(clip)
        out = _framemd5(dm.base + j["playlist"])
        assert len(src) == 150, len(src)
        assert out == src, f"{len(out)} frames vs {len(src)}; first difference at " \
            f"{next((i for i, (a, b) in enumerate(zip(out, src)) if a != b), None)}"


def test_ttl_removes_idle_session():
    clip = harness.clip_rec_h265(4)
    with daemon("vod-ttl", [(clip, "cam1", T0)], vod="  ttl: 3\n") as dm:
        r = start(dm, "cam1", T0, T0 + 4)
        assert r.status == 200, r
        sid = r.json()["session_id"]
        playlist(dm, sid)
        last = time.monotonic()
        folder = session_dir(dm, sid)
        assert os.path.isdir(folder) and sid in sessions(dm)
        harness.wait_until(lambda: sid not in sessions(dm) and not os.path.exists(folder), 20,
                           interval=0.2, what="the idle session removed")
        assert time.monotonic() - last >= 2.5, "removed before its ttl"
        assert dm.get(f"/stream/transcode/{sid}/master.m3u8").status == 404
        assert os.listdir(os.path.join(dm.state, "transcode")) == []


def test_viewer_access_and_stale_folders():
    clip = harness.clip_rec_h265(4)
    recs = [(clip, "cam1", T0), (clip, "cam2", T0)]
    d = harness.tmpdir("vod-acl-rec")
    state = os.path.join(d, "state")
    for i, (src, cam, t) in enumerate(recs):
        add(state, copy(src, d, f"{i}.mp4"), cam, t)
    # Left by an earlier run: removed at start.
    stale = os.path.join(state, "transcode", "0123456789abcdef01234567")
    os.makedirs(stale)
    open(os.path.join(stale, "master.m3u8"), "w").close()
    cfg = config(auth=harness.auth_users_yaml(["cam1"]))
    with harness.Daemon(cfg, name="vod-acl", state_dir=state) as dm:
        assert not os.path.exists(stale)
        V = harness.VIEWER_TOKEN
        assert start(dm, "cam2", T0, T0 + 4, token=V).status == 403
        assert start(dm, "cam1", T0, T0 + 4, token="").status == 401
        r1 = start(dm, "cam1", T0, T0 + 4, token=V)
        assert r1.status == 200, r1
        id1 = r1.json()["session_id"]
        r2 = start(dm, "cam2", T0, T0 + 4)
        assert r2.status == 200, r2
        id2 = r2.json()["session_id"]
        assert dm.get(f"/stream/transcode/{id1}/master.m3u8", token=V).status == 200
        assert dm.get(f"/stream/transcode/{id2}/master.m3u8", token=V).status == 403
        assert dm.get(f"/stream/transcode/{id1}/master.m3u8", token="").status == 401
        assert dm.get(f"/api/transcode/{id1}", token=V).status == 200
        assert dm.get(f"/api/transcode/{id2}", token=V).status == 403
        assert dm.get("/api/transcode", token=V).status == 403
        assert dm.delete(f"/api/transcode/{id1}", token=V).status == 403
        assert dm.delete(f"/api/transcode/{id1}").status == 200


def test_missing_recording_file_gives_502():
    clip = harness.clip_rec_h265(4)
    d = harness.tmpdir("vod-502-rec")
    state = os.path.join(d, "state")
    gone = copy(clip, d, "gone.mp4")
    add(state, gone, "cam1", T0)
    os.unlink(gone)
    with harness.Daemon(config(), name="vod-502", state_dir=state) as dm:
        r = start(dm, "cam1", T0, T0 + 4)
        assert r.status == 502, r
        assert r.json()["success"] is False and r.json()["message"], r
        st = list(sessions(dm).values())
        assert st and st[0]["state"] == "failed" and st[0]["error"], st
        assert dm.get("/api/health").status == 200


def test_segment_not_ready_in_time_gives_504():
    long = harness.clip_rec_h265_long()
    with daemon("vod-504", [(long, "cam1", T0)], vod="  ready_timeout: 1.5\n") as dm:
        r = start(dm, "cam1", T0, T0 + 180)
        assert r.status == 200, r
        sid = r.json()["session_id"]
        _, segs = playlist(dm, sid)
        pid = sessions(dm)[sid]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            t = time.monotonic()
            r = dm.get(f"/stream/transcode/{sid}/{segs[25]['uri']}", timeout=30)
            took = time.monotonic() - t
            assert r.status == 504, r
            assert r.json()["success"] is False, r
            assert 1.2 < took < 6, took
            assert sessions(dm)[sid]["waiting"] == 0
        finally:
            os.kill(pid, signal.SIGCONT)
        # The worker got the request meanwhile: the segment comes.
        r = harness.wait_until(lambda: (lambda x: x.status == 200 and x)(
            dm.get(f"/stream/transcode/{sid}/{segs[25]['uri']}", timeout=30)), 30, interval=0.2,
            what="segment 25 after the worker resumed")
        assert r.body[:1] == b"\x47"


def test_session_ids_are_keyed_per_installation():
    clip = harness.clip_rec_h265(4)
    ids = []
    states = []
    for k in range(2):
        d = harness.tmpdir(f"vod-key{k}")
        state = os.path.join(d, "state")
        add(state, copy(clip, d, "a.mp4"), "cam1", T0)
        states.append(state)
    for state in (states[0], states[0], states[1]):
        with harness.Daemon(config(), name="vod-key", state_dir=state) as dm:
            r = start(dm, "cam1", T0, T0 + 4)
            assert r.status == 200, r
            ids.append(r.json()["session_id"])
    # Stable across restarts of one installation, unrelated between two.
    assert ids[0] == ids[1] and ids[0] != ids[2], ids
    for state in states:
        key = os.path.join(state, "session.key")
        st = os.stat(key)
        assert st.st_size == 32 and (st.st_mode & 0o777) == 0o600, oct(st.st_mode)
