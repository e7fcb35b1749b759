"""Transcode capacity (issue 11): a paused worker nobody watches gives its
slot back, its segments stay and are reused; each user's sessions are
capped without touching other users'."""
import os

import harness
from harness import ADMIN_TOKEN, Daemon

T0 = 1704067200  # the recording's start (2024-01-01)
USERS = {"u1": "token-user-1", "u2": "token-user-2", "u3": "token-user-3"}


def _config():
    users = "".join(f"    - {{ name: {n}, role: viewer, token_sha256: {harness.sha256(t)} }}\n"
                    for n, t in USERS.items())
    return ("ports: []\nlimits: {per_ip_connections: 0}\n"
            "auth:\n  enabled: true\n  login_attempts_per_minute: 1000\n  users:\n"
            f"    - {{ name: admin, role: admin, token_sha256: {harness.sha256(ADMIN_TOKEN)} }}\n"
            + users +
            "vod:\n  sample_recording: false\n  max_concurrent: 2\n  lookahead: 1\n"
            "  segment_seconds: 2\n  fast_start: []\n  passthrough: false\n"
            "  pause_release_seconds: 2\n  max_sessions_per_user: 2\n")


def _daemon(name):
    d = harness.tmpdir(name)
    state = os.path.join(d, "state")
    p = harness.run([harness.HLSD, "recordings", "add", harness.clip_rec_h265_long(), "--camera",
                     "cam", "--start", str(T0), "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr
    return Daemon(_config(), name=name, state_dir=state)


def _start(dm, user, a, b):
    return dm.get(f"/api/transcode/cam/start/{T0 + a}/end/{T0 + b}", token=USERS[user], timeout=60)


def _sessions(dm):
    r = dm.get("/api/transcode", token=ADMIN_TOKEN)
    assert r.status == 200, r
    return {s["session_id"]: s for s in r.json()["sessions"]}


def _state(dm, sid):
    s = _sessions(dm).get(sid)
    return s and s["state"]


def _segments(dm, sid):
    r = dm.get(f"/stream/transcode/{sid}/master.m3u8", token=ADMIN_TOKEN)
    assert r.status == 200, r
    return [s["uri"] for s in harness.parse_playlist(r.body.decode())[1]]


def test_idle_sessions_release_their_slots_and_resume():
    with _daemon("cap-release") as dm:
        sids = []
        for user, (a, b) in (("u1", (0, 60)), ("u2", (60, 120))):
            r = _start(dm, user, a, b)
            assert r.status == 200, r
            sid = r.json()["session_id"]
            sids.append(sid)
            first = _segments(dm, sid)[0]
            assert dm.get(f"/stream/transcode/{sid}/{first}", token=USERS[user]).status == 200
        # both encode their lookahead, pause, and are released within ~2 s
        for sid in sids:
            harness.wait_until(lambda: _state(dm, sid) == "idle", 20,
                               what=f"session {sid} released")
        st = _sessions(dm)
        assert all(st[s]["pid"] == 0 and not st[s]["active"] for s in sids), st
        m = dm.get("/metrics", token=ADMIN_TOKEN).body.decode()
        assert "hlsd_transcode_workers_encoding 0" in m, m
        assert 'hlsd_transcode_sessions{state="idle"} 2' in m, m
        assert "hlsd_transcode_released_total 2" in m, m
        # a third user is served (max_concurrent 2), not refused
        r = _start(dm, "u3", 120, 180)
        assert r.status == 200, r
        # u1 comes back: what was made is reused, the next segment is made
        sid = sids[0]
        folder = os.path.join(dm.state, "transcode", sid)
        segs = _segments(dm, sid)
        made = {f: os.stat(os.path.join(folder, f)) for f in segs
                if os.path.exists(os.path.join(folder, f))}
        assert len(made) >= 2, made
        nxt = segs[len(made)]
        r = dm.get(f"/stream/transcode/{sid}/{nxt}", token=USERS["u1"], timeout=60)
        assert r.status == 200 and r.body[:1] == b"\x47", r
        for f, before in made.items():
            after = os.stat(os.path.join(folder, f))
            assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), f
        assert _sessions(dm)[sid]["restarts"] == 1  # one new worker, after the release


def test_per_user_session_limit_takes_the_users_own_oldest():
    with _daemon("cap-user") as dm:
        def idle_start(user, a, b):
            r = _start(dm, user, a, b)
            assert r.status == 200, r
            sid = r.json()["session_id"]
            harness.wait_until(lambda: _state(dm, sid) in ("paused", "idle"), 20,
                               what=f"session {sid} paused")
            return sid
        a1 = idle_start("u1", 0, 30)
        b1 = idle_start("u2", 0, 30 + 1)
        a2 = idle_start("u1", 30, 60)
        a3 = idle_start("u1", 60, 90)
        st = _sessions(dm)
        assert a1 not in st, "u1's oldest session was kept"
        assert a2 in st and a3 in st and b1 in st, st.keys()
        assert dm.get(f"/stream/transcode/{a1}/master.m3u8", token=USERS["u1"]).status == 404
        assert "replaced by a newer session of u1" in dm.log_text()
        # an admin DELETE still stops any session
        assert dm.delete(f"/api/transcode/{b1}", token=ADMIN_TOKEN).status == 200
        assert b1 not in _sessions(dm)
