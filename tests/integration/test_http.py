"""HTTP server: built-in routes, JSON errors, hostile request targets,
confinement of the web folder, Range/HEAD, limits (slowloris, body size) and
suspended requests (through the HLSD_TEST_ROUTES=1 test hook)."""
import os
import socket
import threading
import time

import harness
from harness import Daemon, http, raw_request, wait_until

SECRET = "TOP-SECRET-CONTENT-1234"


def _config(web_dir, extra=""):
    return (f"web_dir: {web_dir}\n"
            "ports: []\n"
            "vod: {sample_recording: false}\n" + extra)


def _web_folder():
    d = harness.tmpdir("web")
    web = os.path.join(d, "web")
    os.makedirs(os.path.join(web, "sub"))
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<!doctype html><title>hlsd test page</title>")
    with open(os.path.join(web, "data.bin"), "wb") as f:
        f.write(bytes(range(256)) * 40)  # 10240 bytes
    with open(os.path.join(web, "sub", "live.m3u8"), "w") as f:
        f.write("#EXTM3U\n")
    with open(os.path.join(web, "sub", "seg_1.ts"), "wb") as f:
        f.write(b"\x47" * 188)
    with open(os.path.join(d, "secret.txt"), "w") as f:
        f.write(SECRET)
    os.symlink(os.path.join(d, "secret.txt"), os.path.join(web, "leak.txt"))
    os.symlink(d, os.path.join(web, "parent"))
    os.mkfifo(os.path.join(web, "fifo"))
    return d, web


def _status(raw):
    line = raw.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _get_raw(port, target, extra=b""):
    return raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                       + extra + b"\r\n")


def test_builtin_routes_and_json_errors():
    _, web = _web_folder()
    with Daemon(_config(web), name="http-basic") as d:
        r = d.get("/api/health", token="")
        assert r.status == 200 and r.json() == {"status": "ok"}, r
        assert r.headers["Content-Type"] == "application/json"
        r = d.get("/api/version", token="")
        assert r.status == 200, r
        j = r.json()
        assert j["name"] == "hlsd" and isinstance(j["version"], str) and j["version"], j

        r = d.get("/nope/x", token="")
        assert r.status == 404, r
        assert r.json() == {"success": False, "message": "not found: /nope/x"}, r

        r = d.req("POST", "/api/health", body=b"", token="")
        assert r.status == 405, r
        assert r.json()["success"] is False
        assert "GET" in r.headers.get("Allow", ""), r.headers

        r = http("HEAD", d.base + "/api/health")
        assert r.status == 200 and r.body == b"", r

        # a body over limits.max_request_bytes (default 65536) is refused before routing
        r = d.req("POST", "/api/health", body=b"x" * 70000, token="")
        assert r.status == 413, r
        assert r.json()["success"] is False


def test_hostile_request_targets():
    _, web = _web_folder()
    with Daemon(_config(web), name="http-hostile") as d:
        cases = [
            b"/../etc/passwd", b"/web/../../etc/passwd", b"/%2e%2e/", b"/%2e%2e/etc/passwd",
            b"/web/%2e%2e%2fsecret.txt", b"/web/..%2fsecret.txt", b"/web/%2E%2E/secret.txt",
            b"/web/parent%2fsecret.txt", b"/web/a%00b", b"/web/index.html%00.js",
            b"/web\\..\\secret.txt", b"/web/%5c..%5csecret.txt", b"/web/./index.html",
            b"/" + b"a" * 2000, b"/web/" + b"%61" * 1500, b"http://evil/x", b"*",
            b"/web//etc/passwd",
        ]
        for target in cases:
            raw = _get_raw(d.port, target)
            st = _status(raw)
            assert st in (400, 403, 404, 414), (target, raw[:300])
            assert SECRET.encode() not in raw and b"root:" not in raw, (target, raw[:300])
            body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
            assert b'"success":false' in body, (target, raw[:300])
        # raw bytes the parser must survive: NUL and CR inside the request line
        for raw_req in (b"GET /web/index.html\x00/../../secret.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        b"GET /web/\x01x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"):
            raw = raw_request(d.port, raw_req, timeout=5)
            assert _status(raw) == 400, raw[:300]
            assert SECRET.encode() not in raw, raw[:300]
        # symlinks inside the web folder that lead out, a folder and a FIFO
        for target in (b"/web/leak.txt", b"/web/parent/secret.txt", b"/web/sub", b"/web/fifo"):
            raw = _get_raw(d.port, target)
            assert _status(raw) in (403, 404), (target, raw[:300])
            assert SECRET.encode() not in raw
        # the daemon is still fine
        assert d.get("/api/health").status == 200


def test_web_files_range_and_head():
    _, web = _web_folder()
    with open(os.path.join(web, "data.bin"), "rb") as f:
        data = f.read()
    with Daemon(_config(web), name="http-files") as d:
        r = d.get("/", token="")
        assert r.status == 200 and b"hlsd test page" in r.body, r
        assert r.headers["Content-Type"].startswith("text/html"), r.headers
        r = d.get("/web/index.html", token="")
        assert r.status == 200 and b"hlsd test page" in r.body

        r = d.get("/web/sub/live.m3u8", token="")
        assert r.status == 200 and r.body == b"#EXTM3U\n", r
        assert r.headers["Content-Type"] == "application/vnd.apple.mpegurl", r.headers
        assert r.headers["Cache-Control"] == "no-cache", r.headers
        assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers
        r = d.get("/web/sub/seg_1.ts", token="")
        assert r.status == 200 and len(r.body) == 188
        assert r.headers["Content-Type"] == "video/mp2t", r.headers
        assert "immutable" in r.headers["Cache-Control"], r.headers

        r = d.get("/web/data.bin", token="", headers={"Range": "bytes=100-199"})
        assert r.status == 206, r
        assert r.body == data[100:200]
        assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}", r.headers
        r = d.get("/web/data.bin", token="", headers={"Range": "bytes=-10"})
        assert r.status == 206 and r.body == data[-10:], r
        r = d.get("/web/data.bin", token="", headers={"Range": "bytes=10000-"})
        assert r.status == 206 and r.body == data[10000:], r
        r = d.get("/web/data.bin", token="", headers={"Range": "bytes=20000-"})
        assert r.status == 416, r
        assert r.headers["Content-Range"] == f"bytes */{len(data)}", r.headers
        assert r.json()["success"] is False
        r = d.get("/web/data.bin", token="")
        assert r.status == 200 and r.body == data
        assert r.headers.get("Accept-Ranges") == "bytes"

        r = http("HEAD", d.base + "/web/data.bin")
        assert r.status == 200 and r.body == b"", r
        assert r.headers["Content-Length"] == str(len(data)), r.headers

        # hls.js comes from the checkout's node_modules (next to build/)
        hlsjs = os.path.join(os.path.dirname(os.path.dirname(harness.HLSD)), "node_modules",
                             "hls.js", "dist", "hls.min.js")
        r = d.get("/web/vendor/hls.min.js", token="")
        if os.path.exists(hlsjs):
            with open(hlsjs, "rb") as f:
                assert r.status == 200 and r.body == f.read(), r
            assert r.headers["Content-Type"].startswith("text/javascript"), r.headers
        else:
            assert r.status == 404 and r.json()["success"] is False, r

        r = d.get("/web/missing.js", token="")
        assert r.status == 404 and r.json()["success"] is False, r

    # a web folder without index.html: JSON 404, not a crash
    empty = harness.tmpdir("emptyweb")
    with Daemon(_config(empty), name="http-noindex") as d:
        r = d.get("/", token="")
        assert r.status == 404 and r.json()["success"] is False, r


def _wait_closed(s, deadline):
    """Reads until the server closes; returns the time it happened or None."""
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            if not s.recv(4096):
                return time.monotonic()
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic()
    except socket.timeout:
        pass
    return None


def test_slowloris_is_disconnected():
    _, web = _web_folder()
    cfg = _config(web, "limits: {connection_timeout: 2, header_timeout: 2}\n")
    with Daemon(cfg, name="http-slow") as d:
        t0 = time.monotonic()
        # 1: headers started, then silence (MHD's idle timeout)
        idle = socket.create_connection(("127.0.0.1", d.port), timeout=15)
        idle.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # 2: one header byte every 0.3 s, never idle long (our request deadline)
        drip = socket.create_connection(("127.0.0.1", d.port), timeout=15)
        drip_closed = [None]

        def dripper():
            msg = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
            try:
                for i in range(len(msg)):
                    drip.sendall(msg[i:i + 1])
                    time.sleep(0.3)
                    if time.monotonic() - t0 > 10:
                        break
            except OSError:
                drip_closed[0] = time.monotonic()

        th = threading.Thread(target=dripper)
        th.start()
        # others are served meanwhile
        assert d.get("/api/health").status == 200
        t_idle = _wait_closed(idle, t0 + 10)
        th.join(15)
        t_drip = drip_closed[0] or _wait_closed(drip, t0 + 10)
        idle.close()
        drip.close()
        assert t_idle is not None, "idle connection never closed"
        assert t_drip is not None, "drip-feeding connection never closed"
        assert 1.5 <= t_idle - t0 < 6, f"idle connection closed after {t_idle - t0:.1f}s"
        assert 1.5 <= t_drip - t0 < 6, f"drip connection closed after {t_drip - t0:.1f}s"
        assert "did not send its request" in d.log_text()
        assert d.get("/api/health").status == 200


def _with_test_routes(fn):
    old = os.environ.get("HLSD_TEST_ROUTES")
    os.environ["HLSD_TEST_ROUTES"] = "1"
    try:
        return fn()
    finally:
        if old is None:
            del os.environ["HLSD_TEST_ROUTES"]
        else:
            os.environ["HLSD_TEST_ROUTES"] = old


def test_many_suspended_requests_and_health():
    _, web = _web_folder()
    # 50 clients from one address: above the default per-address limit (32)
    d = _with_test_routes(lambda: Daemon(_config(web, "limits: {per_ip_connections: 0}\n"),
                                         name="http-susp"))
    with d:
        n = 50
        results = [None] * n
        t0 = time.monotonic()

        def worker(i):
            r = http("GET", d.base + "/api/test/suspend?seconds=3", timeout=30)
            results[i] = (r.status, r.body, time.monotonic() - t0)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        # health must answer while the sleepers wait (they answer after 3 s)
        health_times = []
        for _ in range(5):
            t1 = time.monotonic()
            r = d.get("/api/health", timeout=5)
            assert r.status == 200, r
            health_times.append(time.monotonic() - t1)
        health_done = time.monotonic() - t0
        for t in threads:
            t.join(30)
        assert all(r is not None for r in results), results
        for st, body, el in results:
            assert st == 200 and b'"slept":3' in body, (st, body)
            assert el >= 2.9, el
        assert health_done < 2.9, f"health blocked behind suspended requests ({health_done:.2f}s)"
        assert max(health_times) < 1.0, health_times

        # the server's deadline answers 504 when the handler never does
        r = d.get("/api/test/suspend?seconds=30&deadline=0.5", timeout=10)
        assert r.status == 504 and r.json()["success"] is False, r

        # a client leaving while suspended is noticed and cleaned up
        waits = d.log_text().count("waiting up to")
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(b"GET /api/test/suspend?seconds=20 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        wait_until(lambda: d.log_text().count("waiting up to") > waits, 5,
                   what="request suspended")
        s.close()
        wait_until(lambda: "client left while waiting" in d.log_text(), 5,
                   what="abort noticed")
        assert d.get("/api/health").status == 200
