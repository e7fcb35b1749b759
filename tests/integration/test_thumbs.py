"""Scrub thumbnails (issue 13): /api/thumbnails/{camera}/start/…/end/… gives
a WebVTT thumbnails track over JPEG sprite sheets and an I-frame playlist,
made from keyframes by a worker and cached. Checked with ffprobe/ffmpeg on
what the daemon serves."""
import math
import os
import re
import shutil
import subprocess
import time

import harness
from harness import ADMIN_TOKEN, VIEWER_TOKEN, Daemon

T0 = 1704067200  # 2024-01-01
AUTH = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
SECONDS = 60     # each of the two recordings; a 10 s gap between them
GAP = 10
TW, TH, COLS, ROWS = 160, 90, 10, 10


def _clip():
    """320x240 (4:3) H.264, a keyframe every second, frames that change
    (testsrc's counter and moving bar), no audio."""
    return harness.make_media(f"thumbs_testsrc_320x240_{SECONDS}s.mp4", [
        "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={SECONDS}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
        "-keyint_min", "25", "-sc_threshold", "0"])


def _rotated_clip():
    """testsrc 320x240 with a display matrix: shown turned by 90 degrees (240x320)."""
    plain = harness.make_media("thumbs_testsrc_320x240_3s.mp4", [
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"])
    return harness.make_media("thumbs_testsrc_320x240_3s_rot90.mp4", [
        "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90"])


def _daemon(name):
    d = harness.tmpdir(name)
    state = os.path.join(d, "state")
    a = os.path.join(d, "a.mp4")
    b = os.path.join(d, "b.mp4")
    shutil.copy(_clip(), a)
    shutil.copy(_clip(), b)
    clips = [(a, "cam1", T0), (b, "cam1", T0 + SECONDS + GAP),
             (harness.clip_rec_h265(4), "cam2", T0), (_rotated_clip(), "cam3", T0)]
    for path, cam, start in clips:
        p = harness.run([harness.HLSD, "recordings", "add", path, "--camera", cam, "--start",
                         str(start), "--state-dir", state], timeout=60)
        assert p.returncode == 0, p.stderr
    config = ("ports: []\n" + harness.auth_users_yaml(viewer_cameras=("cam2",)) +
              "vod:\n  sample_recording: false\n  segment_seconds: 2\n  fast_start: []\n")
    return Daemon(config, name=name, state_dir=state, hevc_variant=True), state


def _vtt(text):
    """[(start, end, payload)] of a WebVTT file."""
    lines = text.split("\n")
    assert lines[0] == "WEBVTT", text[:100]

    def secs(s):
        h, m, rest = s.split(":")
        return int(h) * 3600 + int(m) * 60 + float(rest)
    cues = []
    for i, l in enumerate(lines):
        if "-->" in l:
            a, b = [x.strip() for x in l.split("-->")]
            cues.append((secs(a), secs(b), lines[i + 1]))
    return cues


def _gray(jpeg_path):
    """(width, height, bytes) of a JPEG decoded to 8-bit gray."""
    j = harness.ffprobe(jpeg_path, "-show_entries", "stream=width,height")
    w, h = j["streams"][0]["width"], j["streams"][0]["height"]
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", jpeg_path, "-f", "rawvideo", "-pix_fmt",
                        "gray", "-"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) == w * h
    return w, h, p.stdout


def _tile(img, x, y, w, h):
    W, _, data = img
    return b"".join(data[(y + r) * W + x:(y + r) * W + x + w] for r in range(h))


def _get(dm, path, token=None, timeout=60):
    return dm.get(path, token=token, timeout=timeout)


def test_thumbnails_track_sheets_and_iframes():
    dm, state = _daemon("thumbs")
    with dm:
        base = f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 2 * SECONDS + GAP}"
        r = _get(dm, base + "?interval=1")
        assert r.status == 200, r
        j = r.json()
        sid = j["id"]
        folder = os.path.join(state, "thumbs", sid)
        # 60 thumbnails in each recording, none in the 10 s gap.
        assert j["count"] == 2 * SECONDS and j["interval"] == 1, j
        assert j["sheets"] == math.ceil(j["count"] / (COLS * ROWS)) == 2, j
        assert (j["width"], j["height"]) == (TW, TH), j
        expect_times = [T0 + k for k in range(SECONDS)] + \
            [T0 + SECONDS + GAP + k for k in range(SECONDS)]
        assert j["times"] == expect_times, j["times"]
        assert j["vtt"] == f"/stream/thumbs/{sid}/thumbs.vtt"
        assert j["iframes"] == f"/stream/thumbs/{sid}/iframes.m3u8"

        # Asking for the description starts nothing: no worker, no sheet
        # until a sheet is asked for.
        started = f"[thumbs {sid[:8]}] worker started"
        time.sleep(0.5)
        assert started not in dm.log_text(), dm.log_text()[-2000:]
        assert not [f for f in os.listdir(folder) if f.startswith("sheet-")], os.listdir(folder)
        # The last sheet, asked for before anything was made: the request
        # starts the worker, waits and gets the sheet (never a 404).
        r = _get(dm, f"/stream/thumbs/{sid}/sheet-1.jpg")
        assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg", r
        assert dm.log_text().count(started) == 1

        # The VTT: one cue per thumbnail, on the session timeline (the gap
        # removed), each pointing into a sheet.
        r = _get(dm, j["vtt"])
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/vtt"), r
        cues = _vtt(r.body.decode())
        assert len(cues) == j["count"]
        sheets = {}
        for K in range(j["sheets"]):
            path = os.path.join(harness.tmpdir("sheet"), f"sheet-{K}.jpg")
            rr = _get(dm, f"/stream/thumbs/{sid}/sheet-{K}.jpg")
            assert rr.status == 200, rr
            with open(path, "wb") as f:
                f.write(rr.body)
            sheets[K] = _gray(path)
        assert sheets[0][:2] == (COLS * TW, ROWS * TH), sheets[0][:2]
        assert sheets[1][:2] == (COLS * TW, 2 * TH), sheets[1][:2]  # 20 tiles: 2 rows
        for k, (a, b, payload) in enumerate(cues):
            assert abs(a - k) < 0.002 and abs(b - (k + 1)) < 0.002, (k, a, b)
            m = re.fullmatch(r"sheet-(\d+)\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)", payload)
            assert m, payload
            K, x, y, w, h = map(int, m.groups())
            assert K == k // (COLS * ROWS) and (w, h) == (TW, TH), payload
            W, H, _ = sheets[K]
            assert 0 <= x and x + w <= W and 0 <= y and y + h <= H, (payload, W, H)

        # Real, different pictures: 4:3 fitted into 16:9 leaves black bars
        # (20 px each side), the picture is not black, and consecutive
        # thumbnails differ (testsrc's counter changes every second).
        tiles = []
        for k in range(j["count"]):
            m = re.fullmatch(r"sheet-(\d+)\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)", cues[k][2])
            K, x, y, w, h = map(int, m.groups())
            tiles.append((_tile(sheets[K], x, y, w, h), sheets[K], x, y))
        for k in (0, 59, 60, 119):
            img, x, y = tiles[k][1], tiles[k][2], tiles[k][3]
            bar = _tile(img, x + 2, y + 5, 12, 80)
            pic = _tile(img, x + 30, y + 5, 100, 80)
            assert sum(bar) / len(bar) < 24, (k, sum(bar) / len(bar))
            assert sum(pic) / len(pic) > 60, (k, sum(pic) / len(pic))
        distinct = len({t[0] for t in tiles[:SECONDS]})
        assert distinct == SECONDS, f"only {distinct} of {SECONDS} thumbnails differ"
        # the same recording again after the gap: the same pictures
        assert tiles[0][0] != tiles[1][0]

        # The I-frame playlist: one single-IDR TS per thumbnail.
        r = _get(dm, j["iframes"])
        assert r.status == 200, r
        text = r.body.decode()
        for tag in ("#EXT-X-VERSION:4", "#EXT-X-I-FRAMES-ONLY", "#EXT-X-PLAYLIST-TYPE:VOD",
                    "#EXT-X-ENDLIST"):
            assert tag in text, (tag, text[:300])
        entries = re.findall(r"#EXTINF:([0-9.]+),\n(\S+)", text)
        assert len(entries) == j["count"], len(entries)
        assert all(abs(float(d) - 1) < 0.002 for d, _ in entries)
        url = dm.base + j["iframes"]
        p = harness.run(["ffprobe", "-v", "error", "-headers", AUTH, "-count_frames",
                         "-show_entries", "stream=codec_name,width,height,nb_read_frames",
                         "-of", "csv=p=0", url], timeout=180)
        assert p.returncode == 0, p.stderr[-1500:]
        # (the HLS demuxer prints the program's stream and the stream)
        assert p.stdout.split()[0] == f"h264,{TW},{TH},{j['count']}", p.stdout
        # What the master playlist's CODECS says: baseline, level 1.1.
        body = _get(dm, f"/stream/thumbs/{sid}/{entries[0][1]}").body
        i = body.find(b"\x00\x00\x01\x67")
        assert i >= 0 and body[i + 4:i + 7] == bytes([0x42, 0xC0, 0x0B]), body[i:i + 8].hex()
        sizes = [os.path.getsize(os.path.join(folder, f)) for _, f in entries]
        assert max(sizes) <= 12000, max(sizes)

        # Cached: the same call gives the same set, no new worker.
        assert dm.log_text().count(started) == 1, dm.log_text()[-3000:]
        assert _get(dm, base + "?interval=1").json()["id"] == sid
        assert dm.log_text().count(started) == 1

    # Across a restart: served from the cache by id alone, no worker.
    dm2 = Daemon(dm_config(), name="thumbs2", state_dir=state, hevc_variant=True)
    with dm2:
        r = _get(dm2, f"/stream/thumbs/{sid}/sheet-0.jpg")
        assert r.status == 200 and len(r.body) > 1000, r
        assert _get(dm2, f"/stream/thumbs/{sid}/thumbs.vtt").status == 200
        assert "worker started" not in dm2.log_text()

    # A request for a later sheet moves the worker there: with the sheets
    # gone, asking for sheet 1 gets it made before sheet 0.
    for K in range(2):
        os.unlink(os.path.join(folder, f"sheet-{K}.jpg"))
    dm3 = Daemon(dm_config(), name="thumbs3", state_dir=state, hevc_variant=True)
    with dm3:
        r = _get(dm3, f"/stream/thumbs/{sid}/sheet-1.jpg")
        assert r.status == 200, r
        assert _get(dm3, f"/stream/thumbs/{sid}/sheet-0.jpg").status == 200
        m0 = os.stat(os.path.join(folder, "sheet-0.jpg")).st_mtime_ns
        m1 = os.stat(os.path.join(folder, "sheet-1.jpg")).st_mtime_ns
        assert m1 < m0, (m1, m0)
        assert dm3.log_text().count("worker started") == 1


def dm_config():
    return ("ports: []\n" + harness.auth_users_yaml(viewer_cameras=("cam2",)) +
            "vod:\n  sample_recording: false\n  segment_seconds: 2\n  fast_start: []\n")


def test_thumbnails_refusals():
    dm, state = _daemon("thumbs-refuse")
    with dm:
        ok = f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 20}"
        r = _get(dm, ok)
        assert r.status == 200, r
        j = r.json()
        sid = j["id"]
        # default interval: a round step, at most 300 thumbnails
        assert j["interval"] == 1 and j["count"] == 20, j
        day = _get(dm, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 86400}").json()
        assert day["interval"] == 300 and day["count"] == 1, day

        # A viewer of cam2 only: 403 for cam1's thumbnails and files.
        r = _get(dm, ok, token=VIEWER_TOKEN)
        assert r.status == 403, r
        assert _get(dm, j["vtt"], token=VIEWER_TOKEN).status == 403
        assert _get(dm, f"/stream/thumbs/{sid}/sheet-0.jpg", token=VIEWER_TOKEN).status == 403
        assert _get(dm, f"/api/thumbnails/cam2/start/{T0}/end/{T0 + 4}",
                    token=VIEWER_TOKEN).status == 200
        assert _get(dm, ok, token="").status == 401

        # Bad numbers: 400.
        for q in (f"/api/thumbnails/cam1/start/abc/end/{T0 + 20}",
                  f"/api/thumbnails/cam1/start/{T0}/end/nan",
                  f"/api/thumbnails/cam1/start/-5/end/{T0 + 20}",
                  f"/api/thumbnails/cam1/start/{T0 + 20}/end/{T0}",
                  ok + "?interval=0", ok + "?interval=0.5", ok + "?interval=3601",
                  ok + "?interval=x", ok + "?interval=1e9",
                  f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 90000}"):
            r = _get(dm, q)
            assert r.status == 400, (q, r)
        # Unknown camera, or no recording in the range: 404.
        assert _get(dm, f"/api/thumbnails/nosuch/start/{T0}/end/{T0 + 20}").status == 404
        assert _get(dm, f"/api/thumbnails/cam1/start/{T0 + 5000}/end/{T0 + 6000}").status == 404
        assert _get(dm, f"/api/thumbnails/..%2fcam1/start/{T0}/end/{T0 + 20}").status in (400, 404)

        # Ids and file names: only what the set has.
        for bad in ("xyz", sid.upper(), sid + "0", sid[:-1], "g" * 24, "..", f"{sid[:-1]}%2f"):
            assert _get(dm, f"/stream/thumbs/{bad}/thumbs.vtt").status == 400, bad
        assert _get(dm, f"/stream/thumbs/{'0' * 24}/thumbs.vtt").status == 404
        for name in ("meta.json", "sheet-1.jpg", "sheet-01.jpg", "sheet--1.jpg", "sheet-0.jpg.tmp",
                     "iframe-20.ts", "iframe-00.ts", "thumbs.vtt.tmp", "evil.jpg",
                     "sheet-99999999999.jpg"):
            r = _get(dm, f"/stream/thumbs/{sid}/{name}")
            assert r.status == 404, (name, r)
        for raw in (f"/stream/thumbs/{sid}/..%2f..%2frecordings.db",
                    f"/stream/thumbs/..%2f..%2f{sid}/thumbs.vtt",
                    f"/stream/thumbs/{sid}/%2e%2e/meta.json"):
            resp = harness.raw_request(dm.port, (f"GET {raw} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                 f"{AUTH}Connection: close\r\n\r\n").encode())
            assert resp.startswith(b"HTTP/1.1 4"), (raw, resp[:200])


def test_dual_master_names_iframe_playlist():
    dm, _ = _daemon("thumbs-dual")
    with dm:
        r = _get(dm, f"/api/transcode/cam2/start/{T0}/end/{T0 + 4}")
        assert r.status == 200, r
        sid = r.json()["session_id"]
        text = _get(dm, f"/stream/transcode/{sid}/master.m3u8").body.decode()
        lines = [l for l in text.splitlines() if l.startswith("#EXT-X-I-FRAME-STREAM-INF:")]
        assert len(lines) == 1, text
        attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', lines[0].split(":", 1)[1]))
        assert attrs["CODECS"] == '"avc1.42c00b"' and attrs["RESOLUTION"] == f"{TW}x{TH}", attrs
        assert int(attrs["BANDWIDTH"]) > 0
        uri = attrs["URI"].strip('"')
        assert re.fullmatch(r"/stream/thumbs/[0-9a-f]{24}/iframes\.m3u8", uri), uri
        assert text.count("#EXT-X-STREAM-INF:") == 2, text
        # The playlist it names plays: one frame per entry (the worker
        # starts at the first file asked for).
        pl = _get(dm, uri).body.decode()
        n = pl.count("#EXTINF:")
        assert n == 4, pl
        p = harness.run(["ffprobe", "-v", "error", "-headers", AUTH, "-count_frames",
                         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                         dm.base + uri], timeout=180)
        assert p.returncode == 0 and p.stdout.split()[0] == str(n), (p.stdout, p.stderr[-1000:])
        # A single-rendition session's master stays a media playlist.
        r = _get(dm, f"/api/transcode/cam1/start/{T0}/end/{T0 + 6}")
        assert r.status == 200, r
        one = _get(dm, r.json()["playlist"]).body.decode()
        assert "#EXTINF:" in one and "I-FRAME" not in one, one


def test_thumbnails_follow_rotation():
    """A recording with a display matrix: its thumbnails are upright, as
    ffmpeg (autorotate) shows them, fitted as a portrait picture."""
    dm, _ = _daemon("thumbs-rot")
    with dm:
        j = _get(dm, f"/api/thumbnails/cam3/start/{T0}/end/{T0 + 3}").json()
        assert j["count"] == 3, j
        path = os.path.join(harness.tmpdir("rot"), "sheet.jpg")
        r = _get(dm, f"/stream/thumbs/{j['id']}/sheet-0.jpg")
        assert r.status == 200, r
        with open(path, "wb") as f:
            f.write(r.body)
        img = _gray(path)
    # 240x320 shown: 68x90 in the 160x90 tile, 46 px bars
    mine = _tile(img, 46, 0, 68, 90)
    bars = _tile(img, 0, 0, 40, 90) + _tile(img, 120, 0, 40, 90)
    assert sum(bars) / len(bars) < 24, sum(bars) / len(bars)

    def ref(extra):
        p = subprocess.run(["ffmpeg", "-v", "error", "-i", _rotated_clip(), "-frames:v", "1", "-vf",
                            f"scale=68:90{extra}", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                           capture_output=True, timeout=60)
        assert p.returncode == 0 and len(p.stdout) == 68 * 90, p.stderr
        return p.stdout

    def diff(a, b):
        return sum(abs(x - y) for x, y in zip(a, b)) / len(a)
    right, wrong = diff(mine, ref("")), diff(mine, ref(",hflip,vflip"))
    assert right < 12 and right < wrong / 2, (right, wrong)


def test_thumbnails_snap_to_intervals():
    """A range panned or zoomed a little (within the same intervals) is the
    same set: the page reuses it instead of making a new one."""
    dm, _ = _daemon("thumbs-snap")
    with dm:
        a = _get(dm, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 20}?interval=2").json()
        b = _get(dm, f"/api/thumbnails/cam1/start/{T0 + 0.7}/end/{T0 + 19.2}?interval=2").json()
        assert a["id"] == b["id"], (a, b)
        assert b["start"] == T0 and b["end"] == T0 + 20 and b["times"][0] == T0, b
        # 2.0004 and 2 are the same interval (the id keeps milliseconds)
        c = _get(dm, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 20}?interval=2.0004").json()
        assert c["id"] == a["id"] and c["interval"] == 2, c
        assert "worker started" not in dm.log_text()


def test_thumbnails_missing_recording_not_cached():
    """A recording that cannot be read: the sheet comes back (black tiles)
    with one warning for the source, but is not kept; once the file is back
    the next request makes the real sheet."""
    d = harness.tmpdir("thumbs-missing")
    state = os.path.join(d, "state")
    a = os.path.join(d, "a.mp4")
    shutil.copy(_clip(), a)
    p = harness.run([harness.HLSD, "recordings", "add", a, "--camera", "cam1", "--start", str(T0),
                     "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr
    with Daemon(dm_config(), name="thumbs-missing", state_dir=state) as dm:
        j = _get(dm, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 20}").json()
        folder = os.path.join(state, "thumbs", j["id"])
        os.rename(a, a + ".away")
        r = _get(dm, f"/stream/thumbs/{j['id']}/sheet-0.jpg")
        assert r.status == 200, r
        log = dm.log_text()
        assert "20 thumbnails failed: not cached" in log, log[-3000:]
        assert log.count("its thumbnails stay black") == 1, log[-3000:]
        assert "left black" not in log
        harness.wait_until(lambda: not os.path.exists(os.path.join(folder, "sheet-0.jpg")), 10,
                           what="the failed sheet dropped")
        os.rename(a + ".away", a)
        r = _get(dm, f"/stream/thumbs/{j['id']}/sheet-0.jpg")
        assert r.status == 200, r
        path = os.path.join(d, "s.jpg")
        with open(path, "wb") as f:
            f.write(r.body)
        pic = _tile(_gray(path), 30, 5, 100, 80)
        assert sum(pic) / len(pic) > 60, sum(pic) / len(pic)
        assert os.path.exists(os.path.join(folder, "sheet-0.jpg"))


def test_dual_master_without_x264():
    """No libx264 (HLSD_TEST_NO_X264 stands for it): no I-frame files can be
    made, so the master names no I-frame playlist (it would only 404)."""
    os.environ["HLSD_TEST_NO_X264"] = "1"
    try:
        dm, _ = _daemon("thumbs-nox264")
    finally:
        del os.environ["HLSD_TEST_NO_X264"]
    with dm:
        r = _get(dm, f"/api/transcode/cam2/start/{T0}/end/{T0 + 4}")
        assert r.status == 200, r
        text = _get(dm, f"/stream/transcode/{r.json()['session_id']}/master.m3u8").body.decode()
        assert text.count("#EXT-X-STREAM-INF:") == 2 and "I-FRAME" not in text, text
        # the thumbnails themselves still work
        j = _get(dm, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 5}").json()
        assert _get(dm, f"/stream/thumbs/{j['id']}/sheet-0.jpg").status == 200


def test_thumbnails_cache_bound_across_restarts():
    """Sets left by an earlier run count in the 32-set bound (pruned at start,
    then the oldest go first); half-written temps are removed at start."""
    dm, state = _daemon("thumbs-bound")
    root = os.path.join(state, "thumbs")
    with dm:
        j = _get(dm, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 10}").json()
    keep = j["id"]
    stale = os.path.join(root, keep, "sheet-0.jpg.tmp.12345")
    open(stale, "w").close()
    now = time.time()
    for i in range(40):  # older sets of an earlier run
        fake = os.path.join(root, f"{i:024x}")
        os.makedirs(fake)
        os.utime(fake, (now - 1000 - i, now - 1000 - i))
    with Daemon(dm_config(), name="thumbs-bound2", state_dir=state, hevc_variant=True) as dm2:
        assert len(os.listdir(root)) == 32, len(os.listdir(root))
        assert os.path.isdir(os.path.join(root, keep)) and not os.path.exists(stale)
        for k in range(5):  # new sets: the oldest of the earlier run make room
            r = _get(dm2, f"/api/thumbnails/cam1/start/{T0 + k}/end/{T0 + 11 + k}?interval=1")
            assert r.status == 200, r
            assert len(os.listdir(root)) <= 32, len(os.listdir(root))
        assert os.path.isdir(os.path.join(root, keep))
        assert _get(dm2, f"/stream/thumbs/{keep}/thumbs.vtt").status == 200


def _gop2_clip():
    """20 s of 320x180 25 fps H.265, a keyframe every 2 s (50 frames)."""
    return harness.make_media("thumbs_rec_h265_gop2_20s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=20",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-x265-params", "log-level=error:keyint=50:min-keyint=50:scenecut=0", "-tag:v", "hvc1"])


def _pdt(s):
    import datetime
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def test_iframes_follow_session_timeline():
    """A range starting 1.3 s after a keyframe: the HEVC copy starts at that
    keyframe (session time 0 = T0 + 2). The I-frame playlist, the VTT and
    the I-frame files' PTS are on that same timeline, and the thumbnail of a
    session time shows the keyframe of that wall time."""
    d = harness.tmpdir("thumbs-gop")
    state = os.path.join(d, "state")
    clip = _gop2_clip()
    p = harness.run([harness.HLSD, "recordings", "add", clip, "--camera", "cam4", "--start",
                     str(T0), "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr
    with Daemon(dm_config(), name="thumbs-gop", state_dir=state, hevc_variant=True) as dm:
        r = _get(dm, f"/api/transcode/cam4/start/{T0 + 3.3}/end/{T0 + 15}")
        assert r.status == 200, r
        sid = r.json()["session_id"]
        master = _get(dm, f"/stream/transcode/{sid}/master.m3u8").body.decode()
        uri = re.search(r'#EXT-X-I-FRAME-STREAM-INF:.*URI="([^"]+)"', master).group(1)
        media = [l for l in master.splitlines() if l and not l.startswith("#")]
        # The session's media playlists: first segment's PDT = the keyframe.
        pdt0 = None
        for m in media:
            pl = _get(dm, f"/stream/transcode/{sid}/{m}").body.decode()
            first = _pdt(re.search(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", pl).group(1))
            assert pdt0 is None or abs(first - pdt0) < 0.04, (m, first, pdt0)
            pdt0 = first
        assert abs(pdt0 - (T0 + 2)) < 0.04, pdt0 - T0

        text = _get(dm, uri).body.decode()
        entries = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)\n#EXTINF:([0-9.]+),\n(\S+)", text)
        assert len(entries) == text.count("#EXTINF:") and entries, text
        set_dir = uri.rsplit("/", 1)[0]
        vtt = _vtt(_get(dm, set_dir + "/thumbs.vtt").body.decode())
        assert len(vtt) == len(entries)
        assert abs(_pdt(entries[0][0]) - pdt0) < 0.001, (entries[0], pdt0)
        for k, (pdt, dur, name) in enumerate(entries):
            session_t = _pdt(pdt) - pdt0
            assert abs(vtt[k][0] - session_t) < 0.002, (k, vtt[k], session_t)
            if k % 4:
                continue
            body = _get(dm, f"{set_dir}/{name}").body
            ts = os.path.join(d, name)
            with open(ts, "wb") as f:
                f.write(body)
            j = harness.ffprobe(ts, "-show_entries", "stream=start_time")
            pts = float(j["streams"][0]["start_time"]) - 10.0  # MEDIA_TS_OFFSET
            assert abs(pts - session_t) < 0.04, (k, pts, session_t)

        # Session time 4.0 (= T0 + 6, a keyframe): the cue there shows what
        # ffmpeg shows for the keyframe at 6 s, not the one 2 s off.
        k = next(i for i, c in enumerate(vtt) if abs(c[0] - 4.0) < 0.002)
        m = re.fullmatch(r"sheet-(\d+)\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)", vtt[k][2])
        K, x, y, w, h = map(int, m.groups())
        r = _get(dm, f"{set_dir}/sheet-{K}.jpg")
        assert r.status == 200, r
        path = os.path.join(d, "sheet.jpg")
        with open(path, "wb") as f:
            f.write(r.body)
        mine = _tile(_gray(path), x, y, w, h)

    def ref(at):
        p = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(at), "-noaccurate_seek", "-i", clip,
                            "-frames:v", "1", "-vf", f"scale={w}:{h}", "-f", "rawvideo",
                            "-pix_fmt", "gray", "-"], capture_output=True, timeout=60)
        assert p.returncode == 0 and len(p.stdout) == w * h, p.stderr
        return p.stdout

    def diff(a, b):
        return sum(abs(x - y) for x, y in zip(a, b)) / len(a)
    right = diff(mine, ref(6))
    assert right < 12 and right < diff(mine, ref(4)) / 2 and right < diff(mine, ref(8)) / 2, \
        (right, diff(mine, ref(4)), diff(mine, ref(8)))


def test_thumbnails_cluster_shared_record():
    """Two nodes sharing vod.shared_dir (no nginx needed): a set made through
    node A's API is served by node B, which never saw the API call (its
    record in <shared_dir>/thumbs/<id>.json); a record that does not hash
    to its id is refused."""
    d = harness.tmpdir("thumbs-cluster")
    shared = os.path.join(d, "shared")
    clip = os.path.join(d, "a.mp4")
    shutil.copy(_clip(), clip)
    states = []
    for n in ("a", "b"):
        state = os.path.join(d, f"state-{n}")
        p = harness.run([harness.HLSD, "recordings", "add", clip, "--camera", "cam1", "--start",
                         str(T0), "--state-dir", state], timeout=60)
        assert p.returncode == 0, p.stderr
        states.append(state)
    cfg = dm_config() + f"  shared_dir: {shared}\n"
    with Daemon(cfg, name="thumbs-node-a", state_dir=states[0]) as a, \
            Daemon(cfg, name="thumbs-node-b", state_dir=states[1]) as b:
        j = _get(a, f"/api/thumbnails/cam1/start/{T0}/end/{T0 + 20}").json()
        record = os.path.join(shared, "thumbs", j["id"] + ".json")
        assert os.path.exists(record)
        r = _get(b, j["vtt"])
        assert r.status == 200 and len(_vtt(r.body.decode())) == 20, r
        r = _get(b, f"/stream/thumbs/{j['id']}/sheet-0.jpg")
        assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg", r
        assert "worker started" in b.log_text() and "worker started" not in a.log_text()
        # a forged record (another range under this id) is not believed
        fake = "0" * 24
        with open(record) as f:
            text = f.read()
        with open(os.path.join(shared, "thumbs", fake + ".json"), "w") as f:
            f.write(text)
        assert _get(b, f"/stream/thumbs/{fake}/thumbs.vtt").status == 404


def test_lying_start_pdt_ignored():
    """A worker claiming session time 0 is far from the range: the claim is
    ignored (the range start is used), the master is still written."""
    os.environ["HLSD_TEST_LYING_WORKER"] = "start_pdt"
    try:
        dm, _ = _daemon("thumbs-lie")
    finally:
        del os.environ["HLSD_TEST_LYING_WORKER"]
    with dm:
        r = _get(dm, f"/api/transcode/cam2/start/{T0}/end/{T0 + 4}")
        assert r.status == 200, r
        text = _get(dm, f"/stream/transcode/{r.json()['session_id']}/master.m3u8").body.decode()
        uri = re.search(r'#EXT-X-I-FRAME-STREAM-INF:.*URI="([^"]+)"', text).group(1)
        pl = _get(dm, uri).body.decode()
        first = re.search(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", pl).group(1)
        assert abs(_pdt(first) - T0) < 0.001, first
