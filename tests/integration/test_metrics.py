"""GET /metrics (issue 6): Prometheus text format 0.0.4, who may read it
(loopback clients when metrics.loopback, admins always), per-port gauges of
a running preview, HTTP counters by route and status class, worker crashes.
Small sizes and 1 s segments keep it fast; every wait polls with a deadline."""
import os
import re
import signal
import socket

import harness as h

LAVFI_VIDEO = "testsrc2=size=320x180:rate=25"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def _unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m[1]], v)


def parse_metrics(text):
    """Strict reader of the exposition format: returns ({(name, ((label, value), ...)): value},
    {family: type}). Fails on a malformed line, a family declared twice or a
    sample that does not follow its family's TYPE line."""
    samples, types = {}, {}
    current = None
    assert text.endswith("\n"), text[-200:]
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            assert name not in types, f"family {name} declared twice"
            assert typ in ("counter", "gauge", "histogram", "untyped"), line
            types[name] = typ
            current = name
            continue
        assert not line.startswith("#"), line
        m = _SAMPLE.match(line)
        assert m, f"malformed sample line: {line!r}"
        name, labels_text, value = m[1], m[3], m[4]
        assert current and name.startswith(current), f"{name} outside its family ({current})"
        labels = []
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = _LABEL.match(labels_text, pos)
                assert lm, f"malformed labels in {line!r}"
                labels.append((lm[1], _unescape(lm[2])))
                pos = lm.end()
        v = float(value.replace("Inf", "inf"))
        key = (name, tuple(labels))
        assert key not in samples, f"sample {key} twice"
        samples[key] = v
    return samples, types


def value(samples, metric, /, **labels):
    """The sample's value, or None when absent (label order does not matter)."""
    want = set(labels.items())
    for (n, ls), v in samples.items():
        if n == metric and set(ls) == want:
            return v
    return None


def scrape(d, token=None):
    r = d.get("/metrics", token=token if token is not None else "")
    assert r.status == 200, r
    ct = r.headers.get("Content-Type", "")
    assert ct.startswith("text/plain") and "version=0.0.4" in ct, ct
    return parse_metrics(r.body.decode())


def config(ports="  []", metrics="", preview=""):
    return (f"ports:\n{ports}\n"
            "preview:\n"
            "  video: { width: 320, height: 180, bitrate: 300k }\n"
            "  hls: { variant: mpegts, segment_seconds: 1, list_size: 3, delete_segments: true }\n"
            "  backoff: [0.5, 0.5, 1]\n"
            f"{preview}"
            "vod:\n  sample_recording: false\n"
            f"{metrics}" + h.auth_users_yaml(attempts_per_minute=100))


def non_loopback_ipv4():
    """An address of this machine that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def test_metrics_access():
    # metrics.loopback true (the default): loopback clients need no token.
    with h.Daemon(config(), name="metrics-lo") as d:
        samples, types = scrape(d, token="")
        assert types.get("hlsd_http_requests_total") == "counter", types
        assert types.get("hlsd_segment_wait_seconds") == "histogram", types
        assert value(samples, "hlsd_transcode_rejected_total") == 0, samples
        assert value(samples, "hlsd_workers") == 0, samples
        assert value(samples, "process_resident_memory_bytes") > 1e6, samples
        # Any credentials are fine too; a wrong token does not matter on loopback.
        assert d.get("/metrics", token=h.VIEWER_TOKEN).status == 200
        assert d.get("/metrics", token="wrong").status == 200
        # Not another method.
        assert d.post("/metrics", token="").status == 405

        # A client that is not loopback needs an admin even so.
        ip = non_loopback_ipv4()
    if ip:
        port = h.free_port()
        with h.Daemon(config(), name="metrics-remote", port=port,
                      extra_args=["--listen", f"0.0.0.0:{port}"]) as d:
            base = f"http://{ip}:{port}/metrics"
            r = h.http("GET", base)
            assert r.status == 401, r
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
            assert h.http("GET", base, headers=d.auth(h.VIEWER_TOKEN)).status == 403
            r = h.http("GET", base, headers=d.auth(h.ADMIN_TOKEN))
            assert r.status == 200 and b"hlsd_workers " in r.body, r
            assert h.http("GET", f"http://127.0.0.1:{port}/metrics").status == 200

    # metrics.loopback false: admins only, on loopback as well.
    with h.Daemon(config(metrics="metrics:\n  loopback: false\n"), name="metrics-nolo") as d:
        r = d.get("/metrics", token="")
        assert r.status == 401, r
        assert r.json()["success"] is False, r
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
        assert b"hlsd_" not in r.body
        assert d.get("/metrics", token="wrong").status == 401
        r = d.get("/metrics", token=h.VIEWER_TOKEN)
        assert r.status == 403 and b"hlsd_" not in r.body, r
        samples, _ = scrape(d, token=h.ADMIN_TOKEN)
        assert value(samples, "hlsd_workers") == 0, samples
        # The login cookie of an admin works like the token; a viewer's does not.
        for token, want in ((h.ADMIN_TOKEN, 200), (h.VIEWER_TOKEN, 403)):
            r = d.post("/api/login", body={"token": token}, token="")
            assert r.status == 200, r
            cookie = r.headers["Set-Cookie"].split(";")[0]
            assert d.get("/metrics", token="", headers={"Cookie": cookie}).status == want
        assert d.get("/metrics", token="", headers={"Cookie": "hlsd_session=nope"}).status == 401


def test_metrics_http_counters():
    with h.Daemon(config(metrics="metrics:\n  loopback: false\n"), name="metrics-http") as d:
        s0, _ = scrape(d, token=h.ADMIN_TOKEN)

        def health(s):
            return value(s, "hlsd_http_requests_total", method="GET", route="/api/health",
                         code="2xx") or 0

        def count(s, **labels):
            return value(s, "hlsd_http_requests_total", **labels) or 0

        for _ in range(3):
            assert d.get("/api/health").status == 200
        assert d.get("/no/such/path").status == 404
        assert d.get("/api/ports", token="").status == 401
        assert d.get("/api/ports").status == 200
        s1, _ = scrape(d, token=h.ADMIN_TOKEN)
        assert health(s1) - health(s0) == 3, (health(s0), health(s1))
        assert count(s1, method="*", route="(unmatched)", code="4xx") - \
            count(s0, method="*", route="(unmatched)", code="4xx") == 1
        assert count(s1, method="GET", route="/api/ports", code="4xx") - \
            count(s0, method="GET", route="/api/ports", code="4xx") == 1
        assert count(s1, method="GET", route="/api/ports", code="2xx") - \
            count(s0, method="GET", route="/api/ports", code="2xx") == 1
        # The first scrape itself was counted (a response is counted once sent).
        assert count(s1, method="GET", route="/metrics", code="2xx") == \
            count(s0, method="GET", route="/metrics", code="2xx") + 1
        assert count(s1, method="GET", route="/metrics", code="4xx") == 0
        assert d.get("/metrics", token="").status == 401
        s2, _ = scrape(d, token=h.ADMIN_TOKEN)
        assert count(s2, method="GET", route="/metrics", code="4xx") == 1, s2


def test_metrics_preview():
    ports = (f"  - index: 0\n    name: studio-a\n"
             f"    input: {{ format: lavfi, url: \"{LAVFI_VIDEO}\" }}\n"
             f"  - index: 3\n    name: studio-b\n"
             f"    input: {{ format: lavfi, url: \"{LAVFI_VIDEO}\" }}\n")
    with h.Daemon(config(ports), name="metrics-live") as d:
        s, types = scrape(d)
        for fam in ("hlsd_port_up", "hlsd_port_fps", "hlsd_port_bitrate_bps"):
            assert types.get(fam) == "gauge", (fam, types)
        for fam in ("hlsd_port_restarts_total", "hlsd_port_segments_total",
                    "hlsd_worker_crashes_total"):
            assert types.get(fam) == "counter", (fam, types)
        assert value(s, "hlsd_port_up", index="0", name="studio-a") == 0, s
        assert value(s, "hlsd_port_up", index="3", name="studio-b") == 0, s
        crashes0 = value(s, "hlsd_worker_crashes_total")
        assert crashes0 == 0, s

        assert d.post("/api/ports/0/preview").status == 200

        def running(min_segments):
            s, _ = scrape(d)
            ok = (value(s, "hlsd_port_up", index="0", name="studio-a") == 1 and
                  value(s, "hlsd_port_fps", index="0", name="studio-a") > 0 and
                  value(s, "hlsd_port_segments_total", index="0", name="studio-a")
                  >= min_segments and
                  value(s, "hlsd_port_bitrate_bps", index="0", name="studio-a") > 0)
            return s if ok else None

        s = h.wait_until(lambda: running(2), 30, interval=0.3, what="port 0 up in /metrics")
        assert value(s, "hlsd_port_up", index="3", name="studio-b") == 0, s
        assert value(s, "hlsd_workers") == 1, s
        assert value(s, "hlsd_workers_resident_memory_bytes") > 1e6, s
        # The numbers agree with the port's status.
        st = d.get("/api/ports/0/preview").json()
        assert value(s, "hlsd_port_segments_total", index="0", name="studio-a") <= st["segments"]
        assert st["state"] == "running", st

        # A worker killed from outside is a crash; the preview restarts.
        os.kill(st["pid"], signal.SIGKILL)

        def crashed():
            s, _ = scrape(d)
            return s if (value(s, "hlsd_worker_crashes_total") == crashes0 + 1 and
                         value(s, "hlsd_port_restarts_total", index="0", name="studio-a")
                         >= 1) else None
        h.wait_until(crashed, 15, interval=0.2, what="the crash in /metrics")
        h.wait_until(lambda: running(1), 30, interval=0.3, what="port 0 up again")

        # A stop requested through the API is not a crash.
        assert d.delete("/api/ports/0/preview").status == 200

        def stopped():
            s, _ = scrape(d)
            return s if (value(s, "hlsd_port_up", index="0", name="studio-a") == 0 and
                         value(s, "hlsd_workers") == 0) else None
        s = h.wait_until(stopped, 15, interval=0.2, what="port 0 down in /metrics")
        assert value(s, "hlsd_worker_crashes_total") == crashes0 + 1, s


T0 = 1700000000
VOD_STATES = ("starting", "encoding", "paused", "done", "failed", "stopped")


def test_metrics_transcode():
    """Transcode sessions by state, 429s and the segment wait histogram
    (counted by src/vod through the metrics registry)."""
    long_clip = h.clip_rec_h265_long()
    short_clip = h.clip_rec_h265(4)
    d0 = h.tmpdir("metrics-vod-rec")
    state = os.path.join(d0, "state")
    for cam, src in (("cam1", long_clip), ("cam2", short_clip)):
        p = h.run([h.HLSD, "recordings", "add", src, "--camera", cam, "--start", str(T0),
                   "--state-dir", state], timeout=60)
        assert p.returncode == 0, p.stderr
    cfg = ("ports: []\nauth: { enabled: false }\n"
           "vod:\n  sample_recording: false\n  max_concurrent: 1\n")
    with h.Daemon(cfg, name="metrics-vod", state_dir=state) as d:
        s, types = scrape(d)
        assert "hlsd_transcode_sessions" in types, types
        assert types["hlsd_transcode_sessions"] == "gauge", types
        for st in VOD_STATES:
            assert value(s, "hlsd_transcode_sessions", state=st) == 0, (st, s)
        assert value(s, "hlsd_transcode_rejected_total") == 0, s
        assert value(s, "hlsd_segment_wait_seconds_count") == 0, s

        r = d.get(f"/api/transcode/cam1/start/{T0}/end/{T0 + 180}")
        assert r.status == 200, r
        sid = r.json()["session_id"]
        pl = d.get(r.json()["playlist"])
        assert pl.status == 200, pl
        _, segs = h.parse_playlist(pl.body.decode())
        for seg in segs[:2]:
            rs = d.get(f"/stream/transcode/{sid}/{seg['uri']}", timeout=60)
            assert rs.status == 200, rs
        # One session is active (paused ahead of the viewer): another range is refused.
        assert d.get(f"/api/transcode/cam2/start/{T0}/end/{T0 + 4}").status == 429
        assert d.get(f"/transcode/cam2/start/{T0}/end/{T0 + 4}").status == 429

        s, _ = scrape(d)
        assert value(s, "hlsd_transcode_rejected_total") == 2, s
        n = value(s, "hlsd_segment_wait_seconds_count")
        assert n >= 2, s
        assert value(s, "hlsd_segment_wait_seconds_bucket", le="+Inf") == n, s
        assert value(s, "hlsd_segment_wait_seconds_sum") >= 0, s
        by_state = {st: value(s, "hlsd_transcode_sessions", state=st) for st in VOD_STATES}
        assert sum(by_state.values()) == 1, by_state
        assert by_state["encoding"] + by_state["paused"] + by_state["done"] == 1, by_state

        assert d.delete(f"/api/transcode/{sid}").status == 200
        s, _ = scrape(d)
        assert sum(value(s, "hlsd_transcode_sessions", state=st) for st in VOD_STATES) == 0, s
        assert value(s, "hlsd_transcode_rejected_total") == 2, s
