"""The recordings index: `hlsd recordings add|scan|list`, the daemon's
watched folders, /api/cameras and /api/recordings (with gaps)."""
import json
import os
import shutil
import sqlite3
import time

import harness

T0 = 1700000000  # 2023-11-14T22:13:20Z


def clip_h265_small():
    return harness.clip_rec_h265(4)


def recordings(*args, state):
    return harness.run([harness.HLSD, "recordings"] + list(args) + ["--state-dir", state],
                       timeout=60)


def listed(state, camera=None):
    """Rows of `hlsd recordings list` as dicts (header names lowercased)."""
    args = ["list"] + (["--camera", camera] if camera else [])
    p = recordings(*args, state=state)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    head = lines[0].split()
    assert head[:3] == ["ID", "CAMERA", "START"], lines[0]
    rows = []
    for l in lines[1:]:
        cols = l.split(None, len(head) - 1)
        rows.append(dict(zip([h.lower() for h in head], cols)))
    return rows


def utc_path(root, camera, t, ext=".mp4"):
    tm = time.gmtime(t)
    d = os.path.join(root, camera, time.strftime("%Y-%m-%d", tm), time.strftime("%H", tm))
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, time.strftime("%M.%S", tm) + ext)


def put(src, dst, age=60):
    """Copies src to dst and dates it `age` seconds back (settled, not growing)."""
    shutil.copyfile(src, dst)
    t = time.time() - age
    os.utime(dst, (t, t))
    return dst


def one_line_error(p):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode != 0, f"expected failure, got 0: {p.stdout}"
    assert len(lines) == 1, f"expected one line on stderr, got: {p.stderr!r}"
    return lines[0]


def test_add_and_list():
    clip = clip_h265_small()
    d = harness.tmpdir("rec-add")
    state = os.path.join(d, "state")
    a = shutil.copy(clip, os.path.join(d, "a.mp4"))
    b = shutil.copy(clip, os.path.join(d, "b.mp4"))

    p = recordings("add", a, "--camera", "cam1", "--start", str(T0), state=state)
    assert p.returncode == 0, p.stderr
    # Without --start: the container's creation_time.
    p = recordings("add", b, "--camera", "cam1", state=state)
    assert p.returncode == 0, p.stderr
    rows = listed(state)
    assert len(rows) == 2, rows
    by_path = {r["path"]: r for r in rows}
    ra, rb = by_path[os.path.realpath(a)], by_path[os.path.realpath(b)]
    assert ra["start"] == "2023-11-14T22:13:20.000Z", ra
    assert rb["start"] == "2024-01-01T00:00:00.000Z", rb
    assert abs(float(ra["duration"]) - 4.0) < 0.1, ra
    assert ra["video"] == "hevc" and ra["size"] == "320x180" and ra["audio"] == "aac", ra
    assert int(ra["bytes"]) == os.path.getsize(a)

    # Adding the same file again updates it, never duplicates it.
    p = recordings("add", a, "--camera", "cam1", "--start", str(T0 + 100), state=state)
    assert p.returncode == 0, p.stderr
    rows = listed(state, camera="cam1")
    assert len(rows) == 2, rows
    assert any(r["start"] == "2023-11-14T22:15:00.000Z" for r in rows), rows
    assert listed(state, camera="cam9") == []

    # The database: WAL mode, versioned schema, the (camera, start_time) index.
    db = sqlite3.connect(os.path.join(state, "recordings.db"))
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
        idx = [r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE type='index'") if r[0]]
        assert any("camera" in s and "start_time" in s for s in idx), idx
        cols = {r[1] for r in db.execute("PRAGMA table_info(recordings)")}
        for c in ("id", "camera", "path", "start_time", "end_time", "duration", "video_codec",
                  "width", "height", "audio_codec", "size"):
            assert c in cols, cols
    finally:
        db.close()


def test_add_errors_and_hostile_names():
    clip = clip_h265_small()
    d = harness.tmpdir("rec-adderr")
    state = os.path.join(d, "state")
    good = shutil.copy(clip, os.path.join(d, "good.mp4"))
    rnd = os.path.join(d, "random.mp4")
    with open(rnd, "wb") as f:
        f.write(os.urandom(20000))
    trunc = os.path.join(d, "truncated.mp4")
    with open(clip, "rb") as f, open(trunc, "wb") as g:
        g.write(f.read()[: os.path.getsize(clip) // 3])
    empty = os.path.join(d, "empty.mp4")
    open(empty, "wb").close()

    for path in (os.path.join(d, "missing.mp4"), rnd, trunc, empty, d):
        line = one_line_error(recordings("add", path, "--camera", "cam1", "--start", "1",
                                         state=state))
        assert os.path.basename(path) in line, line
    for name in ("../etc", "a/b", "a b", "$(id)", "cam;rm", "..", ".", "x" * 65, "",
                 "cam\nx", "caméra"):
        line = one_line_error(recordings("add", good, "--camera", name, "--start", "1",
                                         state=state))
        assert "camera" in line, line
    for start in ("abc", "nan", "inf", "-5", "1e999"):
        one_line_error(recordings("add", good, "--camera", "cam1", "--start", start, state=state))
    one_line_error(recordings("add", good, state=state))  # no --camera
    assert listed(state) == []


def test_scan_layout_idempotent_and_errors():
    clip = clip_h265_small()
    d = harness.tmpdir("rec-scan")
    state, root = os.path.join(d, "state"), os.path.join(d, "nvr")
    f1 = put(clip, utc_path(root, "cam1", T0))
    put(clip, utc_path(root, "cam1", T0 + 4))
    put(clip, utc_path(root, "cam1", T0 + 3600 + 7))  # next hour folder
    put(clip, utc_path(root, "cam2", T0))
    bad = utc_path(root, "cam1", T0 + 600)
    with open(bad, "wb") as f:
        f.write(os.urandom(30000))
    os.utime(bad, (time.time() - 60,) * 2)
    trunc = utc_path(root, "cam2", T0 + 600)
    with open(clip, "rb") as f, open(trunc, "wb") as g:
        g.write(f.read()[:5000])
    os.utime(trunc, (time.time() - 60,) * 2)
    # Not the layout: ignored, never indexed.
    put(clip, os.path.join(root, "cam1", "loose.mp4"))
    os.makedirs(os.path.join(root, "bad name", "2023-11-14", "22"))
    put(clip, os.path.join(root, "bad name", "2023-11-14", "22", "13.20.mp4"))

    p = recordings("scan", root, state=state)
    assert p.returncode == 0, p.stderr
    assert "4 indexed" in p.stdout and "3 failed" in p.stdout, p.stdout
    assert bad in p.stderr and trunc in p.stderr, p.stderr
    assert "bad name" in p.stderr, p.stderr
    rows = listed(state)
    assert len(rows) == 4, rows
    cam1 = listed(state, camera="cam1")
    assert [r["start"] for r in cam1] == ["2023-11-14T22:13:20.000Z", "2023-11-14T22:13:24.000Z",
                                          "2023-11-14T23:13:27.000Z"], cam1
    assert all(r["video"] == "hevc" for r in rows)
    assert not any(bad in r["path"] or trunc in r["path"] for r in rows)

    # Rescan: nothing changes, the unreadable files are reported again.
    p2 = recordings("scan", root, state=state)
    assert p2.returncode == 0, p2.stderr
    assert "0 indexed, 4 unchanged" in p2.stdout, p2.stdout
    assert bad in p2.stderr and trunc in p2.stderr, p2.stderr
    assert listed(state) == rows

    # A deleted recording leaves the index at the next scan; a fixed file enters it.
    os.unlink(f1)
    put(clip, bad)
    p3 = recordings("scan", root, state=state)
    assert p3.returncode == 0, p3.stderr
    assert "1 removed" in p3.stdout and "1 indexed" in p3.stdout, p3.stdout
    starts = [r["start"] for r in listed(state, camera="cam1")]
    assert starts == ["2023-11-14T22:13:24.000Z", "2023-11-14T22:23:20.000Z",
                      "2023-11-14T23:13:27.000Z"], starts

    # Fatal: no such folder -> exit 1 with one line.
    line = one_line_error(recordings("scan", os.path.join(d, "nope"), state=state))
    assert "nope" in line


def test_scan_skips_growing_file():
    clip = clip_h265_small()
    d = harness.tmpdir("rec-grow")
    state, root = os.path.join(d, "state"), os.path.join(d, "nvr")
    path = utc_path(root, "cam1", T0)
    data = open(clip, "rb").read()
    # The recorder is still writing: half the file, just now.
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    p = recordings("scan", root, state=state)
    assert p.returncode == 0, p.stderr
    assert "1 still being written" in p.stdout, p.stdout
    assert listed(state) == []
    with open(path, "ab") as f:
        f.write(data[len(data) // 2:])
    written = time.monotonic()

    # Picked up by a later scan once it stopped growing.
    def indexed():
        q = recordings("scan", root, state=state)
        assert q.returncode == 0, q.stderr
        return "1 indexed" in q.stdout and time.monotonic() - written

    after = harness.wait_until(indexed, 15, interval=0.5, what="the settled file indexed")
    assert after >= 1.0, f"indexed {after:.1f}s after the last write: not settled yet"
    rows = listed(state)
    assert len(rows) == 1 and abs(float(rows[0]["duration"]) - 4.0) < 0.1, rows


def _cameras(dm, token=None):
    r = dm.get("/api/cameras", token=token)
    assert r.status == 200, r
    return {c["name"]: c for c in r.json()["cameras"]}


def test_api_cameras_recordings_and_watch():
    clip = clip_h265_small()
    d = harness.tmpdir("rec-api")
    root = os.path.join(d, "nvr")
    # cam1: [T0, T0+4) [T0+4, T0+8) gap [T0+20, T0+24); cam2: [T0, T0+4)
    for t in (T0, T0 + 4, T0 + 20):
        put(clip, utc_path(root, "cam1", t))
    put(clip, utc_path(root, "cam2", T0))
    cfg = ("ports: []\nvod:\n  sample_recording: false\n"
           f"  watch_dirs: [{json.dumps(root)}]\n" + harness.auth_users_yaml(["cam1"]))
    with harness.Daemon(cfg, name="rec-api") as dm:
        cams = harness.wait_until(lambda: len(_cameras(dm)) == 2 and _cameras(dm), 20,
                                  what="the watched folder indexed")
        c1 = cams["cam1"]
        assert c1["recordings"] == 3, c1
        assert abs(c1["first"] - T0) < 1e-3 and abs(c1["last"] - (T0 + 24)) < 0.1, c1
        assert cams["cam2"]["recordings"] == 1

        r = dm.get("/api/recordings/cam1")
        assert r.status == 200, r
        j = r.json()
        recs = j["recordings"]
        assert [round(x["start"]) for x in recs] == [T0, T0 + 4, T0 + 20], recs
        assert all(x["video_codec"] == "hevc" and x["width"] == 320 for x in recs), recs
        assert "path" not in recs[0]  # file system layout stays private
        assert len(j["gaps"]) == 1, j["gaps"]
        g = j["gaps"][0]
        assert abs(g["start"] - (T0 + 8)) < 0.1 and abs(g["end"] - (T0 + 20)) < 1e-3, g

        # Range filter: overlapping recordings only.
        r = dm.get(f"/api/recordings/cam1?after={T0 + 5}&before={T0 + 21}")
        assert r.status == 200, r
        assert [round(x["start"]) for x in r.json()["recordings"]] == [T0 + 4, T0 + 20]
        r = dm.get(f"/api/recordings/cam1?after={T0 + 9}&before={T0 + 19.5}")
        assert r.status == 200 and r.json()["recordings"] == [] and r.json()["gaps"] == [], r

        for q in ("after=abc", "after=nan", "after=inf", "before=-Infinity", "after=-1",
                  f"after={T0 + 10}&before={T0}", "after=1e999", "after=0x10"):
            r = dm.get(f"/api/recordings/cam1?{q}")
            assert r.status == 400, (q, r)
            assert r.json()["success"] is False
        assert dm.get("/api/recordings/nocam").status == 404
        assert dm.get("/api/recordings/bad%20name").status == 400
        assert dm.get("/api/recordings/..").status in (400, 404)

        # A viewer limited to cam1 sees only cam1.
        v = _cameras(dm, token=harness.VIEWER_TOKEN)
        assert list(v) == ["cam1"], v
        assert dm.get("/api/recordings/cam2", token=harness.VIEWER_TOKEN).status == 403
        assert dm.get("/api/recordings/cam1", token=harness.VIEWER_TOKEN).status == 200
        assert dm.get("/api/cameras", token="").status == 401

        # A new file in the watched folder is indexed by the daemon by itself,
        # once it has stopped growing.
        put(clip, utc_path(root, "cam2", T0 + 60))
        harness.wait_until(lambda: _cameras(dm)["cam2"]["recordings"] == 2, 30, interval=0.5,
                           what="the new recording indexed by the periodic scan")


def test_daemon_survives_bad_files_in_watched_folder():
    """Probing runs in a child: hostile files never reach the daemon process."""
    clip = clip_h265_small()
    d = harness.tmpdir("rec-hostile")
    root = os.path.join(d, "nvr")
    put(clip, utc_path(root, "cam1", T0))
    for i, blob in enumerate((b"", os.urandom(100000), open(clip, "rb").read()[:2000],
                              b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000))):
        p = utc_path(root, "cam1", T0 + 100 + i)
        with open(p, "wb") as f:
            f.write(blob)
        os.utime(p, (time.time() - 60,) * 2)
    cfg = ("ports: []\nauth: { enabled: false }\nvod:\n  sample_recording: false\n"
           f"  watch_dirs: [{json.dumps(root)}]\n")
    with harness.Daemon(cfg, name="rec-hostile") as dm:
        harness.wait_until(lambda: _cameras(dm).get("cam1", {}).get("recordings") == 1, 20,
                           what="the good recording indexed")
        assert dm.proc.poll() is None
        assert dm.get("/api/health").status == 200


@harness.plain_only
def test_sample_recording_at_first_start():
    cfg = "ports: []\nauth: { enabled: false }\nvod: { sample_recording: true }\n"
    state = os.path.join(harness.tmpdir("rec-sample"), "state")
    with harness.Daemon(cfg, name="rec-sample", state_dir=state) as dm:
        # Generated by a child process while the daemon already serves.
        assert dm.get("/api/health").status == 200
        cams = harness.wait_until(lambda: "sample" in _cameras(dm) and _cameras(dm), 120,
                                  interval=0.5, what="the sample recording indexed")
        s = cams["sample"]
        assert s["recordings"] == 1 and abs(s["duration"] - 30) < 0.5, s
        recs = dm.get("/api/recordings/sample").json()["recordings"]
        assert recs[0]["video_codec"] == "hevc" and recs[0]["audio_codec"] == "aac", recs
        assert (recs[0]["width"], recs[0]["height"]) == (640, 360), recs
        r = dm.get(f"/api/transcode/sample/start/{s['first']}/end/{s['last']}", timeout=60)
        assert r.status == 200 and abs(r.json()["duration"] - s["duration"]) < 0.5, r
    # A second start finds it: nothing generated again.
    with harness.Daemon(cfg, name="rec-sample2", state_dir=state) as dm:
        assert _cameras(dm)["sample"]["recordings"] == 1
        assert "generating the sample" not in dm.log_text()
