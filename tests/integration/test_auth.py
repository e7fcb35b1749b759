"""Access control over HTTP: Bearer tokens, login sessions (cookie), logout,
the failed-login rate limit, the generated admin token of a first start, and
auth disabled."""
import os
import re
import stat

import harness
from harness import ADMIN_TOKEN, VIEWER_TOKEN, Daemon, http, sha256

# Quick daemons: no ports, no sample recording.
BASE = """
ports: []
vod: { sample_recording: false }
"""


def users_config(extra=""):
    return BASE + f"""
auth:
  enabled: true
  users:
    - {{ name: boss, role: admin, token_sha256: {sha256(ADMIN_TOKEN)} }}
    - {{ name: watcher, role: viewer, cameras: [cam-a, cam-b], token_sha256: {sha256(VIEWER_TOKEN)} }}
{extra}"""


def cookie_from(resp):
    sc = resp.headers.get("Set-Cookie", "")
    m = re.match(r"hlsd_session=([0-9a-f]*)", sc)
    return (m.group(1) if m else None), sc


def test_bearer_tokens():
    with Daemon(users_config(), name="auth-bearer") as d:
        r = d.get("/api/me", token="")
        assert r.status == 401, r
        assert r.json() == {"success": False, "message": "authentication required"}, r
        assert "Bearer" in r.headers.get("WWW-Authenticate", ""), r.headers

        r = d.get("/api/me", token="not-the-token")
        assert r.status == 401, r
        assert r.json()["success"] is False

        r = d.get("/api/me", headers={"Authorization": "Basic Ym9zczp4"}, token="")
        assert r.status == 401, r

        r = d.get("/api/me", token=ADMIN_TOKEN)
        assert r.status == 200, r
        j = r.json()
        assert j["name"] == "boss" and j["role"] == "admin" and j["cameras"] == [], j

        # The scheme is case-insensitive; extra spaces are tolerated.
        r = d.get("/api/me", headers={"Authorization": f"bearer   {VIEWER_TOKEN}"}, token="")
        assert r.status == 200, r
        j = r.json()
        assert j["name"] == "watcher" and j["role"] == "viewer", j
        assert j["cameras"] == ["cam-a", "cam-b"], j

        # Health stays open.
        r = d.get("/api/health", token="")
        assert r.status == 200 and r.json()["status"] == "ok", r

        # An admin-only route refuses the viewer (when the route exists in this build).
        admin = d.delete("/api/previews", token=ADMIN_TOKEN)
        if admin.status not in (404, 405):
            r = d.delete("/api/previews", token=VIEWER_TOKEN)
            assert r.status == 403, r
            r = d.delete("/api/previews", token="")
            assert r.status == 401, r


def test_login_cookie_logout():
    with Daemon(users_config(), name="auth-login") as d:
        r = d.post("/api/login", body={"token": "wrong"}, token="")
        assert r.status == 401, r
        assert "Set-Cookie" not in r.headers, r.headers
        r = d.post("/api/login", body=b"not json", token="")
        assert r.status == 400, r
        r = d.post("/api/login", body={"tok": ADMIN_TOKEN}, token="")
        assert r.status == 400, r

        r = d.post("/api/login", body={"token": VIEWER_TOKEN}, token="")
        assert r.status == 200, r
        assert r.json()["name"] == "watcher" and r.json()["role"] == "viewer", r
        key, sc = cookie_from(r)
        assert key and len(key) == 64, sc
        attrs = [a.strip() for a in sc.split(";")[1:]]
        assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/" in attrs, sc
        assert not any(a.lower().startswith(("max-age", "expires")) for a in attrs), sc

        cookie = {"Cookie": f"hlsd_session={key}"}
        r = d.get("/api/me", headers=cookie, token="")
        assert r.status == 200 and r.json()["name"] == "watcher", r
        # A forged session key is not a session.
        r = d.get("/api/me", headers={"Cookie": "hlsd_session=" + "0" * 64}, token="")
        assert r.status == 401, r

        # A second login is a second, independent session.
        r2 = d.post("/api/login", body={"token": ADMIN_TOKEN}, token="")
        key2, _ = cookie_from(r2)
        assert r2.status == 200 and key2 and key2 != key, r2

        r = d.post("/api/logout", headers=cookie, token="")
        assert r.status == 200 and r.json()["ended"] is True, r
        _, sc = cookie_from(r)
        assert "Max-Age=0" in sc, sc
        r = d.get("/api/me", headers=cookie, token="")
        assert r.status == 401, r
        # Logging out again is harmless.
        r = d.post("/api/logout", headers=cookie, token="")
        assert r.status == 200 and r.json()["ended"] is False, r

        r = d.get("/api/me", headers={"Cookie": f"hlsd_session={key2}"}, token="")
        assert r.status == 200 and r.json()["name"] == "boss", r


def test_login_rate_limit():
    with Daemon(users_config("  login_attempts_per_minute: 3\n"), name="auth-rate") as d:
        for i in range(3):
            r = d.post("/api/login", body={"token": f"guess-{i}"}, token="")
            assert r.status == 401, (i, r)
        r = d.post("/api/login", body={"token": "guess-3"}, token="")
        assert r.status == 429, r
        assert int(r.headers.get("Retry-After", "0")) > 0, r.headers
        # While limited, even the right token is refused: a guess must not be
        # confirmable, whether through the login or through a Bearer header.
        r = d.post("/api/login", body={"token": ADMIN_TOKEN}, token="")
        assert r.status == 429, r
        r = d.get("/api/me", token=ADMIN_TOKEN)
        assert r.status == 429, r
        # Requests without credentials are not affected.
        assert d.get("/api/health", token="").status == 200
        assert "failed login from 127.0.0.1" in d.log_text()


def test_bearer_guesses_are_rate_limited():
    with Daemon(users_config("  login_attempts_per_minute: 2\n"), name="auth-rate-bearer") as d:
        assert d.get("/api/me", token="x1").status == 401
        assert d.get("/api/me", token="x2").status == 401
        r = d.get("/api/me", token="x3")
        assert r.status == 429, r
        r = d.post("/api/login", body={"token": ADMIN_TOKEN}, token="")
        assert r.status == 429, r


def test_first_start_generates_admin_token():
    d = Daemon(BASE, name="auth-first", token="")
    try:
        m = re.search(r"generated admin token: ([0-9a-f]+)", d.log_text())
        assert m, d.log_text()[-3000:]
        token = m.group(1)
        assert len(token) == 48, token
        assert re.search(r"WARN.*generated admin token", d.log_text()), d.log_text()[-2000:]
        path = os.path.join(d.state, "admin_token.sha256")
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        with open(path) as f:
            assert f.read().strip() == sha256(token)

        assert d.get("/api/me", token="").status == 401
        r = d.get("/api/me", token=token)
        assert r.status == 200, r
        assert r.json()["role"] == "admin" and r.json()["name"] == "admin", r

        # Second start: the hash is read back, the token is not printed again.
        d.stop()
        d.start()
        log = d.log_text()
        assert log.count("generated admin token") == 1, log[-3000:]
        assert log.count(token) == 1, "token printed again"
        assert d.get("/api/me", token=token).status == 200
        assert d.get("/api/me", token="").status == 401
    finally:
        d.stop()


def test_corrupt_admin_token_file_fails_start():
    d = Daemon(BASE, name="auth-corrupt", token="")
    path = os.path.join(d.state, "admin_token.sha256")
    d.stop()
    with open(path, "w") as f:
        f.write("garbage\n")
    d.start(wait=False)
    code = d.proc.wait(20)
    d.log.close()
    assert code != 0, code
    assert "does not hold a SHA-256" in d.log_text(), d.log_text()[-2000:]


def test_auth_disabled():
    cfg = BASE + "auth: { enabled: false }\n"
    with Daemon(cfg, name="auth-off", token="") as d:
        r = d.get("/api/me", token="")
        assert r.status == 200, r
        j = r.json()
        assert j["name"] == "anonymous" and j["role"] == "admin" and j["auth"] is False, j
        r = d.post("/api/login", body={"token": "anything"}, token="")
        assert r.status == 200 and "Set-Cookie" not in r.headers, r
        assert "anyone who can reach" not in d.log_text()
        assert not os.path.exists(os.path.join(d.state, "admin_token.sha256"))
    # Not loopback: a warning at start.
    port = harness.free_port()
    with Daemon(cfg, name="auth-off-any", token="", port=port,
                extra_args=["--listen", f"0.0.0.0:{port}"]) as d:
        assert re.search(r"WARN.*auth.enabled is false.*anyone who can reach", d.log_text()), \
            d.log_text()[-2000:]
        assert d.get("/api/me", token="").status == 200


def test_login_works_when_a_token_is_also_sent():
    """The web page may hold a stale cookie; a Bearer header still decides."""
    with Daemon(users_config(), name="auth-both") as d:
        r = d.get("/api/me", headers={"Cookie": "hlsd_session=" + "1" * 64})
        assert r.status == 200 and r.json()["name"] == "boss", r
        r = http("GET", d.base + "/api/me", headers={"Cookie": "hlsd_session=" + "1" * 64})
        assert r.status == 401, r
