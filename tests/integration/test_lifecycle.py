"""One whole daemon life: start → one live preview → one transcode session
→ SIGTERM. Under the ASan build LeakSanitizer checks the daemon and every
worker at exit (their reports land in the daemon log, which Daemon.stop()
scans); on both builds the shutdown must be clean (exit 0, workers gone,
playlists ended)."""
import os
import time

import harness

T0 = 1700000000


def test_start_preview_session_shutdown_clean():
    d = harness.tmpdir("life")
    state = os.path.join(d, "state")
    clip = harness.clip_rec_h265(4)
    p = harness.run([harness.HLSD, "recordings", "add", clip, "--camera", "cam1",
                     "--start", str(T0), "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr
    cfg = """
ports:
  - index: 0
    name: life
    input: { format: lavfi, url: "testsrc2=size=320x180:rate=25" }
    audio_input: { format: lavfi, url: "sine=frequency=440:sample_rate=48000" }
    preview:
      video: { width: 320, height: 180, bitrate: 400k }
      hls: { variant: mpegts, segment_seconds: 1, list_size: 3 }
vod: { sample_recording: false }
""" + harness.auth_users_yaml()
    dm = harness.Daemon(cfg, name="life", state_dir=state)
    try:
        r = dm.post("/api/ports/0/preview")
        assert r.status == 200, r
        harness.wait_until(lambda: dm.get("/api/ports/0/preview").json().get("segments", 0) >= 2,
                           30, what="two live segments")
        live_pid = dm.get("/api/ports/0/preview").json()["pid"]

        r = dm.get(f"/api/transcode/cam1/start/{T0}/end/{T0 + 4}", timeout=60)
        assert r.status == 200, r
        sid = r.json()["session_id"]
        tags, segs = harness.parse_playlist(dm.get(r.json()["playlist"]).body.decode())
        for s in segs:  # every segment, encoded on demand
            g = dm.get(f"/stream/transcode/{sid}/{s['uri']}", timeout=60)
            assert g.status == 200 and g.body[:1] == b"\x47", g
        ss = dm.get("/api/transcode").json()["sessions"]
        vod_pids = [s.get("pid") for s in ss if s.get("pid")]
    finally:
        code = dm.stop()  # raises on sanitizer reports (leaks included under ASan)
    assert code == 0
    for pid in [live_pid] + vod_pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", pid
    text = open(os.path.join(state, "hls", "port_0.m3u8")).read() if os.path.exists(
        os.path.join(state, "hls", "port_0.m3u8")) else ""
    # Either the playlist ended cleanly or the folder was already cleaned at stop.
    assert text == "" or "#EXT-X-ENDLIST" in text, text
    log = dm.log_text()
    assert "stopped" in log, log[-2000:]
