"""Hostile clients against a real daemon on loopback (issue 12): each test
reproduces an attack that worked before and asserts the fix, with bounded
counts and time."""
import re

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
