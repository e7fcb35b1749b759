"""Clip export (/api/export/{camera}/start/{s}/end/{e}[.mp4], issue 13): a
real daemon, recordings made with the ffmpeg CLI, downloads checked with
ffprobe/ffmpeg and by reading the MP4's top-level boxes here."""
import glob
import os
import re
import shutil
import struct
import subprocess
import threading
import time

import harness
from harness import ADMIN_TOKEN, VIEWER_TOKEN, Daemon, make_media, run, tmpdir, wait_until

T0 = 1700000000.0  # 2023-11-14 22:13:20 UTC
FPS = 25


def _rec_h265():
    """12 s 320x240 H.265 (keyframe every second) + AAC: transcoded."""
    return make_media("export_h265_320x240_12s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=12",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-x265-params", "log-level=error:keyint=25", "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "64k",
        "-shortest"])


def _rec_h264():
    """12 s 320x240 H.264 High (B-frames, a keyframe every 2 s) + AAC: remuxed."""
    return make_media("export_h264_320x240_12s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=12",
        "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=12",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
        "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-shortest"])


def _daemon(name, max_seconds=60, extra="", viewer_cameras=("other",)):
    d = tmpdir(name)
    state = os.path.join(d, "state")
    recs = [(_rec_h265(), "cam265", T0), (_rec_h264(), "cam264", T0)]
    # Two recordings of 12 s with an 8 s gap between them (copies: the index
    # keys recordings by path).
    for src, cam in ((_rec_h265(), "gap265"), (_rec_h264(), "gap264")):
        for i, start in enumerate((T0, T0 + 20)):
            copy = os.path.join(d, f"{cam}-{i}.mp4")
            shutil.copy(src, copy)
            recs.append((copy, cam, start))
    for rec, cam, start in recs:
        p = run([harness.HLSD, "recordings", "add", rec, "--camera", cam, "--start", str(start),
                 "--state-dir", state], timeout=60)
        assert p.returncode == 0, p.stderr
    config = ("ports: []\n" + harness.auth_users_yaml(viewer_cameras=viewer_cameras) +
              "vod:\n  sample_recording: false\n  max_concurrent: 2\n"
              f"  export_max_seconds: {max_seconds}\n" + extra)
    return Daemon(config, name=name, state_dir=state)


def _top_boxes(path):
    """Top-level MP4 box types in file order."""
    boxes = []
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                return boxes
            size, kind = struct.unpack(">I4s", head)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                boxes.append(kind.decode())
                return boxes
            else:
                f.seek(size - 8, 1)
            boxes.append(kind.decode())


def _video_packets(path):
    j = harness.ffprobe(path, "-select_streams", "v:0", "-show_packets",
                        "-show_entries", "packet=pts_time,flags")
    return sorted(j["packets"], key=lambda p: float(p["pts_time"]))


def _frame_md5s(path):
    """The video packets' MD5s in decode order (no decoding: -c copy)."""
    p = run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framemd5",
             "-"], timeout=60, check=True)
    return [line.split(",")[-1].strip() for line in p.stdout.splitlines()
            if line and not line.startswith("#")]


def _decodes_cleanly(path):
    p = run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"], timeout=120)
    assert p.returncode == 0 and not p.stderr.strip(), f"{path} decodes with errors: {p.stderr[-800:]}"


def _continuous(pkts):
    """No hole in the video timeline (the gap between recordings is removed)."""
    ts = [float(p["pts_time"]) for p in pkts]
    steps = [b - a for a, b in zip(ts, ts[1:])]
    assert max(steps) < 1.5 / FPS, f"a hole of {max(steps)} s in the timeline"


def _audio_follows_video(path):
    """The audio track lasts as long as the video within 0.1 s (no audio
    lost or doubled where recordings join)."""
    streams = harness.probe_streams(path)["streams"]
    v = next(st for st in streams if st["codec_type"] == "video")
    a = next(st for st in streams if st["codec_type"] == "audio")
    assert abs(float(a["duration"]) - float(v["duration"])) <= 0.1, (a["duration"], v["duration"])


def _save(r, d, name):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(r.body)
    return path


def _check_download_headers(r, camera, name_ts):
    assert r.status == 200, r
    assert r.headers.get("Content-Type") == "video/mp4", r.headers
    assert int(r.headers.get("Content-Length")) == len(r.body), r.headers
    assert r.headers.get("Content-Disposition") == (
        f'attachment; filename="{camera}-{name_ts}.mp4"'), r.headers
    # made for users who may see the camera: no shared cache, no other origin
    assert r.headers.get("Cache-Control") == "private, no-store", r.headers
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers


def _folders(dm, export_id):
    """The export's instance folders (<state>/exports/<id>.<n>)."""
    return glob.glob(os.path.join(dm.state, "exports", export_id + ".*"))


def _fifo_camera(dm, cam):
    """A camera whose recording (indexed as H.265: a transcode) is a FIFO:
    its export's worker blocks in open() until _release_fifo, holding its
    slots meanwhile."""
    fifo = os.path.join(dm.dir, f"{cam}.mp4")
    shutil.copy(_rec_h265(), fifo)
    p = run([harness.HLSD, "recordings", "add", fifo, "--camera", cam, "--start", str(T0),
             "--state-dir", dm.state], timeout=60)
    assert p.returncode == 0, p.stderr
    os.remove(fifo)
    os.mkfifo(fifo)
    return fifo


def _release_fifo(fifo):
    """Lets a worker blocked on the FIFO go on (it reads junk and fails)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # nobody reads it
    os.write(fd, b"not a recording" * 100)
    os.close(fd)


def _metric(dm, name):
    for ln in dm.get("/metrics").body.decode().splitlines():
        if ln.startswith(name + " ") or ln.startswith(name + "{"):
            return float(ln.rsplit(" ", 1)[1])
    return 0.0


def test_export_h265_is_transcoded_cut_at_the_range():
    with _daemon("export-h265") as dm:
        s, e = T0 + 2.3, T0 + 7.3
        r = dm.get(f"/api/export/cam265/start/{s}/end/{e}.mp4", timeout=120)
        _check_download_headers(r, "cam265", "2023-11-14_22-13-22Z")
        path = _save(r, dm.dir, "clip.mp4")
        boxes = _top_boxes(path)
        assert "moov" in boxes and "mdat" in boxes, boxes
        assert boxes.index("moov") < boxes.index("mdat"), f"not fast-start: {boxes}"
        streams = harness.probe_streams(path)["streams"]
        codecs = sorted(st["codec_name"] for st in streams)
        assert codecs == ["aac", "h264"], codecs
        v = next(st for st in streams if st["codec_type"] == "video")
        assert v["pix_fmt"] == "yuv420p", v
        pkts = _video_packets(path)
        dur = len(pkts) / FPS
        assert abs(dur - 5.0) <= 1.0 / FPS + 1e-6, f"{len(pkts)} frames = {dur} s for a 5 s range"
        assert abs(float(v["duration"]) - 5.0) <= 1.0 / FPS + 1e-6, v["duration"]
        assert pkts[0]["flags"].startswith("K"), pkts[0]
        _decodes_cleanly(path)
        # the JSON side agrees
        j = dm.get(f"/api/export/cam265/start/{s}/end/{e}").json()
        assert j["state"] == "done" and j["remux"] is False and j["progress"] == 100, j
        assert j["download"] == f"/api/export/cam265/start/{s}/end/{e}.mp4", j
        assert j["bytes"] == len(r.body), j


def test_export_h264_is_remuxed_from_a_keyframe():
    with _daemon("export-h264") as dm:
        s, e = T0 + 3.3, T0 + 8.3
        j = dm.get(f"/api/export/cam264/start/{s}/end/{e}").json()
        assert j["remux"] is True and j["state"] in ("running", "done"), j
        wait_until(lambda: dm.get(f"/api/export/cam264/start/{s}/end/{e}").json()["state"] ==
                   "done", 60, what="export done")
        r = dm.get(j["download"], timeout=60)
        _check_download_headers(r, "cam264", "2023-11-14_22-13-23Z")
        path = _save(r, dm.dir, "clip.mp4")
        boxes = _top_boxes(path)
        assert boxes.index("moov") < boxes.index("mdat"), boxes
        src = harness.probe_streams(_rec_h264())["streams"]
        out = harness.probe_streams(path)["streams"]
        sv = next(st for st in src if st["codec_type"] == "video")
        ov = next(st for st in out if st["codec_type"] == "video")
        assert (ov["codec_name"], ov["profile"], ov["width"], ov["height"]) == (
            sv["codec_name"], sv["profile"], sv["width"], sv["height"]), (ov, sv)
        assert any(st["codec_type"] == "audio" and st["codec_name"] == "aac" for st in out), out
        pkts = _video_packets(path)
        assert pkts[0]["flags"].startswith("K"), pkts[0]
        # From the keyframe at 2 s (GOP 2 s) to the range end at 8.3 s, cut in
        # decode order: a few reordered frames (B-frames' references) may
        # follow the end.
        dur = len(pkts) / FPS
        assert 6.3 - 1.0 / FPS - 1e-6 <= dur <= 6.3 + 4.0 / FPS, f"{len(pkts)} frames = {dur} s"
        _decodes_cleanly(path)
        # Not re-encoded: the very packets of the source, from its frame at 2 s.
        got, want = _frame_md5s(path), _frame_md5s(_rec_h264())
        first = 2 * FPS
        assert got == want[first:first + len(got)], "video packets differ from the source's"
        # `curl -OJ` saves it under the server's name.
        out = tmpdir("curl")
        p = subprocess.run(["curl", "-sS", "-f", "-O", "-J", "-H",
                            f"Authorization: Bearer {ADMIN_TOKEN}", dm.base + j["download"]],
                           cwd=out, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert os.listdir(out) == ["cam264-2023-11-14_22-13-23Z.mp4"], os.listdir(out)
        with open(os.path.join(out, os.listdir(out)[0]), "rb") as f:
            assert f.read() == r.body


def test_export_access_rules_and_bad_numbers():
    with _daemon("export-access", max_seconds=6) as dm:
        ok = f"/api/export/cam265/start/{T0 + 1}/end/{T0 + 3}"
        r = dm.get(ok, token=VIEWER_TOKEN)
        assert r.status == 403, r
        r = dm.get(ok + ".mp4", token=VIEWER_TOKEN)
        assert r.status == 403, r
        assert dm.get(f"/api/export/nope/start/{T0}/end/{T0 + 2}").status == 404
        r = dm.get(f"/api/export/cam265/start/{T0 + 1000}/end/{T0 + 1002}")
        assert r.status == 404, r
        for start, end in (("abc", "10"), (str(T0), "xyz.mp4"), ("-5", str(T0)),
                           (str(T0 + 2), str(T0 + 1)), (str(T0), "1e400"), ("1e15", "1e15.5"),
                           ("nan", str(T0)), (str(T0), ".mp4")):
            r = dm.get(f"/api/export/cam265/start/{start}/end/{end}")
            assert r.status == 400, (start, end, r)
        assert dm.get("/api/export/bad$cam/start/1/end/2").status == 400
        r = dm.get(f"/api/export/cam265/start/{T0}/end/{T0 + 7}")  # max 6 s
        assert r.status == 400 and "export_max_seconds" in r.json()["message"], r
        assert dm.delete("/api/export/0123456789abcdef01234567", token=VIEWER_TOKEN).status == 403


def test_export_progress_and_concurrent_requests_share_one_export():
    with _daemon("export-share") as dm:
        s, e = T0 + 0.5, T0 + 10.5
        url = f"/api/export/cam265/start/{s}/end/{e}"
        results = [None, None]

        def fetch(i):
            results[i] = dm.get(url + ".mp4", timeout=120)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        states, progress = set(), []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            j = dm.get(url).json()
            states.add(j["state"])
            progress.append(j["progress"])
            if j["state"] != "running":
                break
            time.sleep(0.05)
        for t in threads:
            t.join(120)
        assert j["state"] == "done" and j["progress"] == 100, j
        assert progress == sorted(progress), f"progress went back: {progress}"
        a, b = results
        assert a.status == 200 and b.status == 200, (a, b)
        assert a.body == b.body
        starts = [ln for ln in dm.log_text().splitlines()
                  if "[export " in ln and "worker" in ln and "started for cam265" in ln]
        assert len(starts) == 1, starts
        metrics = dm.get("/metrics").body.decode()
        assert 'hlsd_exports{state="done"} 1' in metrics, [
            ln for ln in metrics.splitlines() if "export" in ln]
        # An admin may delete it; the next request makes it again.
        r = dm.delete(f"/api/export/{j['export_id']}")
        assert r.status == 200, r
        assert dm.get(url).json()["export_id"] == j["export_id"]


def test_export_joins_recordings_without_their_gap():
    """8..12 s of the first recording, then 0..4 s of the second (20..24 s):
    one file of about 8 s, continuous timestamps, both when transcoded and
    when remuxed."""
    with _daemon("export-gap") as dm:
        s, e = T0 + 8, T0 + 24
        r = dm.get(f"/api/export/gap265/start/{s}/end/{e}.mp4", timeout=120)
        assert r.status == 200, r
        path = _save(r, dm.dir, "gap265.mp4")
        _audio_follows_video(path)
        pkts = _video_packets(path)
        assert abs(len(pkts) / FPS - 8.0) <= 1.0 / FPS + 1e-6, len(pkts)
        assert pkts[0]["flags"].startswith("K"), pkts[0]
        _continuous(pkts)
        _decodes_cleanly(path)
        codecs = sorted(st["codec_name"] for st in harness.probe_streams(path)["streams"])
        assert codecs == ["aac", "h264"], codecs

        r = dm.get(f"/api/export/gap264/start/{s}/end/{e}.mp4", timeout=120)
        assert r.status == 200, r
        path = _save(r, dm.dir, "gap264.mp4")
        _audio_follows_video(path)
        pkts = _video_packets(path)
        # 8 s is on a keyframe; the second recording starts with one
        assert 8.0 - 1.0 / FPS - 1e-6 <= len(pkts) / FPS <= 8.0 + 8.0 / FPS, len(pkts)
        assert pkts[0]["flags"].startswith("K"), pkts[0]
        _continuous(pkts)
        _decodes_cleanly(path)
        assert dm.get(f"/api/export/gap264/start/{s}/end/{e}").json()["remux"] is True


def test_transcoding_exports_take_a_slot_remuxes_do_not():
    # export worker limits out of the way: only vod.max_concurrent counts here
    with _daemon("export-slots", max_seconds=60,
                 extra="  export_max_concurrent: 8\n  export_max_per_user: 0\n") as dm:
        running = []
        for i in range(2):  # vod.max_concurrent in _daemon
            r = dm.get(f"/api/export/cam265/start/{T0 + i * 0.5}/end/{T0 + 12}")
            assert r.status == 200 and r.json()["remux"] is False, r
            running.append(r.json())
        # Both slots are busy (an export of 11-12 s of video takes over a
        # second): another transcode is refused, a remux is not.
        r = dm.get(f"/api/export/cam265/start/{T0 + 2}/end/{T0 + 12}")
        assert r.status == 429 and r.headers.get("Retry-After") == "10", r
        r = dm.get(f"/api/export/cam264/start/{T0 + 2}/end/{T0 + 12}")
        assert r.status == 200 and r.json()["remux"] is True, r
        wait_until(lambda: all(dm.get(f"/api/export/cam265/start/{j['start']}/end/{j['end']}")
                               .json()["state"] == "done" for j in running), 120,
                   what="the transcoding exports")
        r = dm.get(f"/api/export/cam265/start/{T0 + 2}/end/{T0 + 12}")
        assert r.status == 200, r


def test_remux_reencodes_only_audio_that_is_not_aac():
    rec = make_media("export_h264_mp3_320x240_6s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
        "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=44100:duration=6",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
        "-c:a", "libmp3lame", "-b:a", "64k", "-shortest"])
    with _daemon("export-mp3") as dm:
        p = run([harness.HLSD, "recordings", "add", rec, "--camera", "mp3cam", "--start", str(T0),
                 "--state-dir", dm.state], timeout=60)
        assert p.returncode == 0, p.stderr
        r = dm.get(f"/api/export/mp3cam/start/{T0 + 1}/end/{T0 + 5}.mp4", timeout=120)
        assert r.status == 200, r
        path = _save(r, dm.dir, "mp3.mp4")
        streams = harness.probe_streams(path)["streams"]
        assert sorted(st["codec_name"] for st in streams) == ["aac", "h264"], streams
        got, want = _frame_md5s(path), _frame_md5s(rec)
        assert got == want[FPS:FPS + len(got)] and len(got) >= 4 * FPS, (len(got), len(want))
        _decodes_cleanly(path)


def test_recordings_of_different_sizes_fail_with_a_reason():
    """One MP4 track has one size: a range over a 320x240 and a 320x180
    recording fails (502 for the download), and says why to admins, right
    after the probe: nothing is transcoded first."""
    with _daemon("export-mixed") as dm:
        small = os.path.join(dm.dir, "small.mp4")
        shutil.copy(harness.clip_rec_h265(4), small)  # 320x180
        p = run([harness.HLSD, "recordings", "add", small, "--camera", "gap265", "--start",
                 str(T0 + 12), "--state-dir", dm.state], timeout=60)
        assert p.returncode == 0, p.stderr
        url = f"/api/export/gap265/start/{T0 + 10}/end/{T0 + 14}"
        r = dm.get(url + ".mp4", timeout=120)
        assert r.status == 502, r
        j = dm.get(url).json()
        assert j["state"] == "failed" and "differ in size" in j["error"], j
        [folder] = _folders(dm, j["export_id"])
        assert os.listdir(folder) == [], os.listdir(folder)  # no temp file left
        # refused before the worker started making anything
        tag = f"[export {j['export_id'][:8]}]"
        made = [ln for ln in dm.log_text().splitlines() if tag in ln and "export of" in ln]
        assert not made, made


def test_shutdown_during_an_export():
    """SIGTERM while an export runs (its worker blocked on a FIFO: it cannot
    finish first) and a download waits: the download gets 503, the daemon
    exits 0 and leaves no export folder."""
    with _daemon("export-stop") as dm:
        _fifo_camera(dm, "fifocam")
        url = f"/api/export/fifocam/start/{T0}/end/{T0 + 12}"
        j = dm.get(url).json()
        assert j["state"] == "running", j
        result = []
        t = threading.Thread(target=lambda: result.append(dm.get(url + ".mp4", timeout=60)))
        t.start()
        time.sleep(0.5)  # the download is suspended by now
        assert dm.stop() == 0
        t.join(60)
        assert result and result[0].status == 503, result
        assert "shutting down" in result[0].json()["message"], result[0]
        assert _folders(dm, j["export_id"]) == []
        assert os.listdir(os.path.join(dm.state, "exports")) == []


def test_download_deadline_504_then_failure():
    """A recording that blocks the worker (a FIFO put in its place after
    indexing): the download waits vod.export_timeout, then 504 while the
    export goes on; once the FIFO yields junk the export fails."""
    with _daemon("export-504", extra="  export_timeout: 1\n") as dm:
        fifo = os.path.join(dm.dir, "fifo.mp4")
        shutil.copy(_rec_h265(), fifo)
        p = run([harness.HLSD, "recordings", "add", fifo, "--camera", "fifocam", "--start",
                 str(T0), "--state-dir", dm.state], timeout=60)
        assert p.returncode == 0, p.stderr
        os.remove(fifo)
        os.mkfifo(fifo)
        url = f"/api/export/fifocam/start/{T0 + 1}/end/{T0 + 3}"
        t0 = time.monotonic()
        r = dm.get(url + ".mp4", timeout=30)
        waited = time.monotonic() - t0
        assert r.status == 504 and "not finished" in r.json()["message"], r
        assert 0.9 <= waited < 10, waited
        assert dm.get(url).json()["state"] == "running"
        # ENXIO until the worker waits in its open() of the FIFO
        fd = wait_until(lambda: os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), 30,
                        what="the worker reading the FIFO")
        os.write(fd, b"not a recording" * 100)
        os.close(fd)
        wait_until(lambda: dm.get(url).json()["state"] == "failed", 30, what="failed export")
        assert dm.get(url).json()["error"], "admins see the worker's reason"
        assert dm.get(url + ".mp4").status == 502


def _rec_h264_interlaced():
    """6 s 320x240 interlaced H.264 (yuv420p: the index alone predicts a
    remux) + AAC: the worker finds it cannot be copied."""
    return make_media("export_h264_interlaced_320x240_6s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-flags", "+ildct+ilme", "-x264opts", "interlaced=1", "-field_order", "tt",
        "-c:a", "aac", "-b:a", "64k", "-shortest"])


def test_predicted_remux_that_must_transcode_takes_a_slot():
    """vod.max_concurrent 1, taken by a transcoding export (blocked on a
    FIFO). An interlaced H.264 export is admitted as a remux (the index says
    H.264 4:2:0); its worker finds it must transcode and asks for a slot:
    none is free, so the waiting download gets 429 and nothing transcodes
    beyond the limit. Once the slot is free, the next request transcodes it."""
    rec = _rec_h264_interlaced()
    with _daemon("export-interlaced",
                 extra="  export_max_concurrent: 8\n  export_max_per_user: 0\n") as dm:
        cfg_limit = 2  # _daemon's vod.max_concurrent
        fifo = _fifo_camera(dm, "fifocam")
        fifo2 = _fifo_camera(dm, "fifocam2")
        p = run([harness.HLSD, "recordings", "add", rec, "--camera", "icam", "--start", str(T0),
                 "--state-dir", dm.state], timeout=60)
        assert p.returncode == 0, p.stderr
        busy = []
        for cam in ("fifocam", "fifocam2"):  # both slots taken
            r = dm.get(f"/api/export/{cam}/start/{T0}/end/{T0 + 5}")
            assert r.status == 200 and r.json()["remux"] is False, r
            busy.append(r.json()["export_id"])
        seen, stop = [], threading.Event()

        def watch():
            while not stop.is_set():
                seen.append(_metric(dm, "hlsd_transcode_workers_encoding"))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            url = f"/api/export/icam/start/{T0 + 1}/end/{T0 + 5}"
            j = dm.get(url).json()
            assert j["remux"] is True, j  # predicted
            r = dm.get(url + ".mp4", timeout=60)
            assert r.status == 429 and r.headers.get("Retry-After") == "10", r
            r = dm.get(url)  # asks again: still no slot
            assert r.status == 429, r
        finally:
            stop.set()
            watcher.join()
        assert seen and max(seen) <= cfg_limit, f"encoding workers went to {max(seen)}"
        assert any("needs a transcode" in ln for ln in dm.log_text().splitlines())
        # a slot frees up: the next request transcodes it
        assert dm.delete(f"/api/export/{busy[0]}").status == 200
        r = dm.get(url + ".mp4", timeout=120)
        assert r.status == 200, r
        j = dm.get(url).json()
        assert j["state"] == "done" and j["remux"] is False, j
        assert _metric(dm, "hlsd_transcode_workers_encoding") <= cfg_limit
        _release_fifo(fifo)
        _release_fifo(fifo2)


def test_export_worker_limit_is_its_own():
    """vod.export_max_concurrent counts remuxes too; its 429 says so and is
    not a transcode rejection."""
    with _daemon("export-cap", extra="  export_max_concurrent: 1\n") as dm:
        fifo = _fifo_camera(dm, "fifocam")
        assert dm.get(f"/api/export/fifocam/start/{T0}/end/{T0 + 5}").status == 200
        before = _metric(dm, "hlsd_transcode_rejected_total")
        r = dm.get(f"/api/export/cam264/start/{T0 + 1}/end/{T0 + 5}")  # a remux
        assert r.status == 429 and r.headers.get("Retry-After") == "10", r
        assert "vod.export_max_concurrent" in r.json()["message"], r.json()
        assert _metric(dm, "hlsd_transcode_rejected_total") == before
        # joining the running export is not a new worker
        assert dm.get(f"/api/export/fifocam/start/{T0}/end/{T0 + 5}").status == 200
        _release_fifo(fifo)


def test_export_per_user_limit():
    with _daemon("export-user", viewer_cameras=(),
                 extra="  export_max_concurrent: 8\n  export_max_per_user: 1\n") as dm:
        fifo = _fifo_camera(dm, "fifocam")
        assert dm.get(f"/api/export/fifocam/start/{T0}/end/{T0 + 5}").status == 200
        r = dm.get(f"/api/export/cam264/start/{T0 + 1}/end/{T0 + 5}")
        assert r.status == 429 and "vod.export_max_per_user" in r.json()["message"], r
        assert r.headers.get("Retry-After") == "10", r
        r = dm.get(f"/api/export/cam264/start/{T0 + 1}/end/{T0 + 5}", token=VIEWER_TOKEN)
        assert r.status == 200, r  # another user
        _release_fifo(fifo)


def test_export_refused_without_disk_space():
    """vod.export_min_free_mb above any disk's free space: 507 JSON, no
    worker, no folder."""
    with _daemon("export-disk", extra="  export_min_free_mb: 1000000000\n") as dm:
        r = dm.get(f"/api/export/cam264/start/{T0 + 1}/end/{T0 + 5}")
        assert r.status == 507 and r.json()["success"] is False, r
        assert "disk space" in r.json()["message"], r.json()
        assert os.listdir(os.path.join(dm.state, "exports")) == []
    # vod.export_max_mb smaller than the estimate (4 Mbit/s of transcode)
    with _daemon("export-maxmb", extra="  export_max_mb: 1\n") as dm:
        r = dm.get(f"/api/export/cam265/start/{T0 + 1}/end/{T0 + 5}")
        assert r.status == 507 and "export_max_mb" in r.json()["message"], r


def test_export_ttl_removes_the_file():
    with _daemon("export-ttl", extra="  export_ttl: 1\n") as dm:
        url = f"/api/export/cam264/start/{T0 + 1}/end/{T0 + 5}"
        r = dm.get(url + ".mp4", timeout=60)
        assert r.status == 200, r
        j = dm.get(url).json()
        [folder] = _folders(dm, j["export_id"])
        wait_until(lambda: not os.path.exists(folder), 15, what="the export removed after its TTL")
        assert 'hlsd_exports{state="done"} 0' in dm.get("/metrics").body.decode()
        # the next request makes it again, in a new folder
        j2 = dm.get(url).json()
        assert j2["export_id"] == j["export_id"] and j2["state"] in ("running", "done"), j2
        assert _folders(dm, j["export_id"]) != [folder]
        assert dm.get(url + ".mp4", timeout=60).body == r.body


def test_delete_while_a_download_waits():
    """DELETE of a running export answers its waiting download (410); a new
    export of the range gets a folder of its own."""
    with _daemon("export-delete") as dm:
        fifo = _fifo_camera(dm, "fifocam")
        url = f"/api/export/fifocam/start/{T0}/end/{T0 + 5}"
        j = dm.get(url).json()
        [old] = _folders(dm, j["export_id"])
        result = []
        t = threading.Thread(target=lambda: result.append(dm.get(url + ".mp4", timeout=60)))
        t.start()
        time.sleep(0.5)
        assert dm.delete(f"/api/export/{j['export_id']}").status == 200
        t.join(30)
        assert result and result[0].status == 410, result
        assert not os.path.exists(old)
        assert dm.get(url).status == 200
        [new] = _folders(dm, j["export_id"])
        assert new != old, new
        _release_fifo(fifo)


def test_export_max_mb_evicts_the_oldest_finished():
    """vod.export_max_mb 1: a finished remux of the whole 12 s recording
    (about 530 kB) and the estimate of another one (about 555 kB) do not fit
    together: the finished one is removed to make room."""
    with _daemon("export-evict", extra="  export_max_mb: 1\n") as dm:
        a = f"/api/export/cam264/start/{T0}/end/{T0 + 12}"
        assert dm.get(a + ".mp4", timeout=60).status == 200
        ja = dm.get(a).json()
        assert ja["bytes"] > 400000, ja
        [fa] = _folders(dm, ja["export_id"])
        b = f"/api/export/cam264/start/{T0 + 0.04}/end/{T0 + 12}"
        r = dm.get(b + ".mp4", timeout=60)
        assert r.status == 200, r
        assert not os.path.exists(fa), "the oldest finished export stays"
        assert "to make room (vod.export_max_mb)" in dm.log_text()
