"""Hostile clients against a real daemon on loopback (issue 12): each test
reproduces an attack that worked before and asserts the fix, with bounded
counts and time."""
import os
import re
import shutil
import socket
import threading
import time

import harness
from harness import ADMIN_TOKEN, VIEWER_TOKEN, Daemon


def _config(extra=""):
    return ("ports: []\nvod: {sample_recording: false}\n" + harness.auth_users_yaml() + extra)


def _cookie(resp):
    m = re.match(r"hlsd_session=([0-9a-f]{64})", resp.headers.get("Set-Cookie", ""))
    return m.group(1) if m else None


def test_viewer_logins_do_not_log_out_the_admin():
    """4100 logins by a viewer once ended the admin's session (one global LRU
    of 4096). Now logins are rate-limited per user and per address, and a
    user's sessions beyond 16 end that user's own oldest."""
    with Daemon(_config(), name="abuse-logins") as d:
        r = d.post("/api/login", body={"token": ADMIN_TOKEN}, token="")
        assert r.status == 200, r
        admin = _cookie(r)
        statuses = []
        viewer_keys = []
        for _ in range(60):
            r = d.post("/api/login", body={"token": VIEWER_TOKEN}, token="")
            statuses.append(r.status)
            if r.status == 200:
                viewer_keys.append(_cookie(r))
        # 20 per minute per user (and per address; the admin login counted)
        assert statuses.count(200) == 19, statuses
        assert all(s == 429 for s in statuses[19:]), statuses
        assert "Retry-After" in r.headers, r.headers
        r = d.get("/api/me", headers={"Cookie": f"hlsd_session={admin}"}, token="")
        assert r.status == 200 and r.json()["name"] == "admin", r
        # the viewer kept 16 sessions: the newest; the oldest ended
        newest = d.get("/api/me", headers={"Cookie": f"hlsd_session={viewer_keys[-1]}"}, token="")
        oldest = d.get("/api/me", headers={"Cookie": f"hlsd_session={viewer_keys[0]}"}, token="")
        assert newest.status == 200 and oldest.status == 401, (newest, oldest)
        assert "too many logins for viewer" in d.log_text()


def test_log_and_error_json_escape_line_breaks():
    """U+0085 / U+2028 / a raw newline in a request path reached log lines raw
    (log forging); they are escaped now, in the log and in error JSON."""
    with Daemon(_config(), name="abuse-logforge") as d:
        for path in ("/api/ports/x%E2%80%A8FAKE/preview", "/library/y%C2%85FAKE/a.m3u8",
                     "/api/nope%0aFAKE"):
            r = d.get(path)
            assert r.status in (400, 404), (path, r)
            assert all(b < 0x80 for b in r.body), r.body
        # the messages that echo the path carry it escaped
        assert "x\\xe2\\x80\\xa8FAKE" in d.get("/api/ports/x%E2%80%A8FAKE/preview").json()["message"]
        assert "y\\xc2\\x85FAKE" in d.get("/library/y%C2%85FAKE/a.m3u8").json()["message"]
        raw = open(d.log_path, "rb").read()
        assert b"\xe2\x80\xa8" not in raw and b"\xc2\x85" not in raw, "raw separator in the log"
        assert b"\\xe2\\x80\\xa8" in raw, raw[-2000:]
        for line in raw.split(b"\n"):
            # every line starts with a timestamp: nothing injected a line
            assert not line or re.match(rb"^\d{4}-\d\d-\d\dT", line), line


def test_range_unit_case_and_huge_content_length():
    """`Range: BYTES=` was ignored (the unit is case-insensitive); a
    Content-Length of 2^31 or more skipped the early 413."""
    with Daemon(_config(), name="abuse-range") as d:
        r = d.get("/web/index.html", headers={"Range": "BYTES=0-9"}, token="")
        assert r.status == 206 and len(r.body) == 10, r
        assert r.headers.get("Content-Range", "").startswith("bytes 0-9/"), r.headers
        for length in ("2147483648", "99999999999999999999999", "0000000000000000000001000000000"):
            ans = harness.raw_request(d.port, (
                "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode(), timeout=5)
            # answered at once, without the body ever being sent
            assert ans.startswith(b"HTTP/1.1 413"), (length, ans[:200])


def test_viewers_see_no_recording_paths_in_worker_errors():
    """A worker's error names the recording's path; viewers got it verbatim.
    Now it is logged and shown to admins; viewers get a generic message."""
    d = harness.tmpdir("abuse-paths")
    state = os.path.join(d, "state")
    rec = os.path.join(d, "secret-nvr-folder", "cam.mp4")
    os.makedirs(os.path.dirname(rec))
    shutil.copy(harness.clip_rec_h265(), rec)
    p = harness.run([harness.HLSD, "recordings", "add", rec, "--camera", "cam", "--start",
                     "1700000000", "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr
    with open(rec, "r+b") as f:  # the file goes bad after indexing
        f.write(b"\0" * 65536)
    with Daemon(_config(), name="abuse-paths", state_dir=state) as dm:
        r = dm.get("/api/transcode/cam/start/1700000000/end/1700000003", token=VIEWER_TOKEN,
                   timeout=60)
        assert r.status == 502, r
        assert "secret-nvr-folder" not in r.body.decode(), r.body
        assert "details in the server log" in r.json()["message"], r.body
        # again, now that the session has failed: still no path
        r = dm.get("/api/transcode/cam/start/1700000000/end/1700000003", token=VIEWER_TOKEN,
                   timeout=60)
        assert r.status == 502 and "secret-nvr-folder" not in r.body.decode(), r.body
        r = dm.get("/api/transcode", token=ADMIN_TOKEN)
        errs = [s["error"] for s in r.json()["sessions"]]
        assert any(e and "secret-nvr-folder" in e for e in errs), errs
        assert "secret-nvr-folder" in dm.log_text()


def test_transcode_refuses_ts_without_a_whole_picture():
    """A header-only MPEG-TS (PAT/PMT and a fragment of the first picture)
    made `hlsd transcode` exit 0 with one segment of a concealed, corrupt
    frame. It fails now with one line, as other bad inputs do."""
    ts = harness.make_media("h264_320x240_1s.ts", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=1", "-c:v", "libx264",
        "-f", "mpegts"])
    with open(ts, "rb") as f:
        data = f.read()
    for packets in (2, 12, 20):
        d = harness.tmpdir("abuse-ts")
        cut = os.path.join(d, "cut.ts")
        with open(cut, "wb") as f:
            f.write(data[:188 * packets])
        out = os.path.join(d, "out")
        p = harness.run([harness.HLSD, "transcode", cut, out], timeout=60)
        assert p.returncode != 0, (packets, p.stdout, p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert lines and lines[-1].startswith("hlsd transcode: ") and "cut.ts" in lines[-1], lines
        assert not os.path.exists(os.path.join(out, "index.m3u8")), os.listdir(out)
    # the whole file still transcodes
    p = harness.run([harness.HLSD, "transcode", ts, os.path.join(harness.tmpdir("abuse-ts"), "o")],
                    timeout=120)
    assert p.returncode == 0, p.stderr


def _open_from(addr, port, data=b""):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((addr, 0))
    s.connect(("127.0.0.1", port))
    if data:
        s.sendall(data)
    return s


def test_one_client_cannot_take_every_connection_slot():
    """150 sockets sending a partial request line made /api/health time out
    for everyone until the connection timeout. Now one address gets 32
    connections (the rest are closed at once), and a request must arrive
    whole within header_timeout."""
    cfg = _config("limits: {header_timeout: 2}\n")
    with Daemon(cfg, name="abuse-slots") as d:
        held = []
        try:
            for _ in range(150):  # the attacker's address: 127.0.0.2
                try:
                    held.append(_open_from("127.0.0.2", d.port, b"GET /api/hea"))
                except OSError:
                    pass
            t = time.monotonic()
            r = d.get("/api/health", timeout=5)  # from 127.0.0.1
            assert r.status == 200 and time.monotonic() - t < 2, r

            def alive(s):
                try:
                    s.settimeout(0.05)
                    return s.recv(1) != b""
                except socket.timeout:
                    return True
                except OSError:
                    return False
            harness.wait_until(lambda: sum(alive(s) for s in held) <= 32, 5,
                               what="connections over the per-address limit closed")
            # the 32 left are closed once header_timeout passes without a whole request
            harness.wait_until(lambda: not any(alive(s) for s in held), 8,
                               what="partial requests closed after header_timeout")
            m = d.get("/metrics").body.decode()
            assert re.search(r"^hlsd_http_refused_connections_total (\d+)", m, re.M), m[-500:]
            assert int(re.search(r"^hlsd_http_refused_connections_total (\d+)", m, re.M)
                       .group(1)) >= 100
        finally:
            for s in held:
                s.close()


def test_host_and_origin_checks():
    """With auth off on loopback, a foreign Host/Origin POST started a
    preview (DNS rebinding, CSRF), /metrics answered any Host, and
    /api/login took text/plain."""
    cfg = ("ports:\n  - {index: 0, name: p0, input: {format: lavfi, url: "
           "\"testsrc2=size=160x90:rate=10\"}}\nvod: {sample_recording: false}\n"
           "auth: {enabled: false}\n")
    with Daemon(cfg, name="abuse-host") as d:
        def raw(method, path, headers, body=b""):
            h = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            ans = harness.raw_request(d.port, (
                f"{method} {path} HTTP/1.1\r\n{h}Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode() + body)
            return int(ans.split(b" ", 2)[1]), ans
        st, _ = raw("POST", "/api/ports/0/preview", {"Host": "evil.example:8080"})
        assert st == 421, st
        st, _ = raw("GET", "/metrics", {"Host": "rebound.attacker.example"})
        assert st == 421, st
        st, _ = raw("POST", "/api/ports/0/preview",
                    {"Host": f"127.0.0.1:{d.port}", "Origin": "http://evil.example"})
        assert st == 403, st
        st, _ = raw("POST", "/api/ports/0/preview",
                    {"Host": f"127.0.0.1:{d.port}", "Origin": "null"})
        assert st == 403, st
        st, _ = raw("POST", "/api/login", {"Host": f"127.0.0.1:{d.port}",
                                           "Content-Type": "text/plain"}, b'{"token":"x"}')
        assert st == 415, st
        st, _ = raw("POST", "/api/login", {"Host": f"127.0.0.1:{d.port}",
                                           "Content-Type": "application/x-www-form-urlencoded"},
                    b"token=x")
        assert st == 415, st
        # nothing was started by the refused requests
        assert d.get("/api/ports/0/preview").json()["state"] == "stopped"
        # our own page's requests pass: same-origin Origin, JSON, localhost names
        st, _ = raw("POST", "/api/ports/0/preview", {"Host": f"localhost:{d.port}",
                                                     "Origin": f"http://localhost:{d.port}"})
        assert st == 200, st
        st, _ = raw("GET", "/api/health", {"Host": "LOCALHOST"})
        assert st == 200, st
        assert "authentication is disabled" in d.log_text()


def test_trusted_proxy_forwards_the_client_address():
    """Behind a reverse proxy every client was 127.0.0.1: /metrics became
    public, and ten wrong tokens locked out every client. With
    server.trusted_proxies the forwarded address counts; others' forwarding
    headers are ignored."""
    cfg = _config("server: {trusted_proxies: [127.0.0.1]}\n")
    with Daemon(cfg, name="abuse-proxy") as d:
        def req(path, xff, token=""):
            h = {"X-Forwarded-For": xff} if xff else {}
            return d.get(path, headers=h, token=token)
        # a remote client through the proxy: /metrics is not public for it
        assert req("/metrics", "203.0.113.9").status == 401
        assert req("/metrics", None).status == 200  # the proxy host itself (loopback)
        # ten wrong tokens from one client lock out that client only
        for _ in range(10):
            assert req("/api/me", "203.0.113.66", token="wrong").status == 401
        assert req("/api/me", "203.0.113.66", token=ADMIN_TOKEN).status == 429
        assert req("/api/me", "203.0.113.77", token=ADMIN_TOKEN).status == 200
        assert req("/api/me", "198.51.100.1, 203.0.113.78", token=ADMIN_TOKEN).status == 200
        # a forged header from a peer that is no trusted proxy is ignored
        s = _open_from("127.0.0.2", d.port, (
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.9\r\n"
            "Connection: close\r\n\r\n").encode())
        ans = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            ans += c
        s.close()
        # believed, it would make the client remote (401); ignored, 127.0.0.2 is loopback
        assert ans.startswith(b"HTTP/1.1 200"), ans[:100]
        assert "203.0.113.66" in d.log_text()


def test_origin_port_and_forwarded_headers():
    """A page of another local server (other port) is a foreign Origin; a
    Forwarded header is not believed, X-Forwarded-For lines are joined."""
    cfg = _config("server: {trusted_proxies: [127.0.0.1]}\n")
    with Daemon(cfg, name="abuse-origin") as d:
        def raw(headers, method="POST", path="/api/logout"):
            h = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            ans = harness.raw_request(d.port, (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n{h}"
                "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
            return int(ans.split(b" ", 2)[1])
        assert raw({"Origin": "http://127.0.0.1:3000"}) == 403
        assert raw({"Origin": f"https://127.0.0.1:{d.port}"}) == 200
        assert raw({"Origin": f"http://127.0.0.1:{d.port}"}) == 200
        # a client's own Forwarded claim is ignored: it stays loopback (via XFF-less proxy)
        assert raw({"Forwarded": "for=203.0.113.5"}, "GET", "/metrics") == 200
        # two X-Forwarded-For lines: the last one's address is the client
        assert raw({"X-Forwarded-For": "127.0.0.1", "X-forwarded-for": "203.0.113.5"},
                   "GET", "/metrics") == 401


def test_lying_worker_is_not_believed():
    """A worker's plan of 10 M segments was stat()ed on the event loop (every
    client stalled), and its numbers were cast unchecked. The daemon now
    checks what a worker claims against the job: the plan is ignored, the
    loop keeps answering, the request gets a clean error."""
    d = harness.tmpdir("abuse-liar")
    state = os.path.join(d, "state")
    rec = shutil.copy(harness.clip_rec_h265(), os.path.join(d, "cam.mp4"))
    p = harness.run([harness.HLSD, "recordings", "add", rec, "--camera", "cam", "--start",
                     "1700000000", "--state-dir", state], timeout=60)
    assert p.returncode == 0, p.stderr
    os.environ["HLSD_TEST_LYING_WORKER"] = "1"
    try:
        dm = Daemon("ports: []\nvod: {sample_recording: false, ready_timeout: 3}\n" +
                    harness.auth_users_yaml(),
                    name="abuse-liar", state_dir=state)
    finally:
        del os.environ["HLSD_TEST_LYING_WORKER"]
    with dm:
        out = {}
        th = threading.Thread(target=lambda: out.setdefault("r", dm.get(
            "/api/transcode/cam/start/1700000000/end/1700000004", token=ADMIN_TOKEN, timeout=30)))
        t0 = time.monotonic()
        th.start()
        harness.wait_until(lambda: "plan ignored" in dm.log_text(), 15, what="the plan refused")
        t = time.monotonic()
        assert dm.get("/api/health", timeout=5).status == 200
        assert time.monotonic() - t < 1.0, "the event loop stalled"
        th.join(30)
        r = out["r"]
        assert r.status in (502, 504) and r.json()["success"] is False, r
        assert time.monotonic() - t0 < 15
        st = dm.get("/api/transcode", token=ADMIN_TOKEN).json()["sessions"][0]
        assert "planned 1e+07 segments" in st["error"], st
        assert st["segments"] == 0 and 0 <= st["progress"]["percent"] <= 100, st
