"""Hardening (issue 5): hostile request targets against the real media
routes (/hls/, /stream/transcode/) including symlinks planted in the output
folders, absurd numbers and unknown ids, HTTP limits (body, headers,
connection count, idle keep-alive), a corpus of malformed media through the
CLI and through the API beside a healthy session, worker faults (SIGKILL, full
disk) and the workers' filesystem confinement (landlock)."""
import ctypes
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import time

import harness
from harness import Daemon, raw_request, wait_until

T0 = 1700000000
PASSWD = open("/etc/passwd", "rb").read()
ADMIN = harness.ADMIN_TOKEN


# ---------------------------------------------------------------- helpers

def _status(raw):
    parts = raw.split(b"\r\n", 1)[0].split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _body(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


def _raw_or_reset(port, data, timeout=10):
    """Like harness.raw_request, but a reset by the server (a refusal) gives
    what was received before it instead of an exception."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    chunks = []
    try:
        s.sendall(data)
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    finally:
        s.close()
    return b"".join(chunks)


def _get_raw(port, target, token=ADMIN, extra=b""):
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n" if token else b""
    return raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                       + auth + extra + b"\r\n")


def _never_leaks(raw, what, secrets):
    for s in secrets:
        # the first 24 bytes of each secret are enough to spot a leak
        assert s[:24] not in raw, (what, raw[:300])


def _add_recording(state, src, camera, start=T0):
    """`hlsd recordings add`; returns the CompletedProcess (it may refuse)."""
    return harness.run([harness.HLSD, "recordings", "add", src, "--camera", camera,
                        "--start", str(start), "--state-dir", state], timeout=60)


def _copy(src, d, name):
    dst = os.path.join(d, name)
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    return dst


def _sessions(dm):
    r = dm.get("/api/transcode")
    assert r.status == 200, r
    return {s["session_id"]: s for s in r.json()["sessions"]}


def _playlist_uris(dm, sid):
    r = dm.get(f"/stream/transcode/{sid}/master.m3u8")
    assert r.status == 200, r
    return [s["uri"] for s in harness.parse_playlist(r.body.decode())[1]]


def _vod_config(extra_vod="", auth=None):
    return ("ports: []\n" + (auth or harness.auth_users_yaml(attempts_per_minute=1000)) +
            "vod:\n  sample_recording: false\n" + extra_vod)


def _landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(0, libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


# ---------------------------------------------------------------- hostile paths

def test_hostile_paths_on_media_routes():
    port_cfg = """ports:
  - index: 0
    name: cam0
    input: { format: lavfi, url: "testsrc2=size=320x180:rate=10" }
preview:
  video: { width: 320, height: 180, bitrate: 200k }
  hls: { segment_seconds: 1, list_size: 3 }
"""
    d = harness.tmpdir("hard-paths")
    state = os.path.join(d, "state")
    p = _add_recording(state, _copy(harness.clip_rec_h265_long(), d, "long.mp4"), "vodcam")
    assert p.returncode == 0, p.stderr
    cfg = port_cfg + harness.auth_users_yaml(attempts_per_minute=1000) + \
        "vod:\n  sample_recording: false\n"
    with Daemon(cfg, name="hard-paths", state_dir=state) as dm:
        # /etc/passwd and the recordings index (state/recordings.db) must never come back.
        secrets = [PASSWD, b"SQLite format 3\x00"]
        r = dm.post("/api/ports/0/preview")
        assert r.status == 200, r
        wait_until(lambda: dm.get("/hls/port_0.m3u8").status == 200, 30, what="live playlist")
        r = dm.get(f"/api/transcode/vodcam/start/{T0}/end/{T0 + 180}", timeout=60)
        assert r.status == 200, r
        sid = r.json()["session_id"]
        uris = _playlist_uris(dm, sid)
        assert len(uris) > 15, uris

        hls = os.path.join(state, "hls")
        sess = os.path.join(state, "transcode", sid)
        # Planted in the output folders under names the handlers would serve.
        os.symlink("/etc/passwd", os.path.join(hls, "port_0_planted.ts"))
        os.symlink("/etc", os.path.join(hls, "port_0_etc"))
        os.mkfifo(os.path.join(hls, "port_0_fifo.ts"))
        last = uris[-1]  # far beyond the lookahead: not encoded yet
        assert not os.path.exists(os.path.join(sess, last))
        os.symlink("/etc/passwd", os.path.join(sess, last))
        # The complete VOD playlist is written once: replace it by a symlink.
        os.rename(os.path.join(sess, "master.m3u8"), os.path.join(sess, "master.m3u8.saved"))
        os.symlink("/etc/passwd", os.path.join(sess, "master.m3u8"))

        s = sid.encode()
        cases = [
            b"/hls/../../etc/passwd", b"/hls/%2e%2e/%2e%2e/etc/passwd", b"/hls/%2E%2E%2Fetc%2Fpasswd",
            b"/hls/.%2e/recordings.db", b"/hls/..%2frecordings.db", b"/hls/port_0.m3u8%00.ts",
            b"/hls/port_0%2f..%2f..%2frecordings.db", b"/hls\\..\\recordings.db",
            b"/hls/%5c..%5crecordings.db", b"/hls/" + b"A" * 5000 + b".ts",
            b"/hls/" + b"%2e" * 400, b"/hls/port_0_planted.ts", b"/hls/port_0_etc/passwd",
            b"/hls/port_0_etc", b"/hls/port_0_fifo.ts", b"/hls/%252e%252e/recordings.db",
            b"/hls//etc/passwd", b"/hls/port_0.m3u8/..", b"/hls/./port_0.m3u8",
            b"/stream/transcode/" + s + b"/..%2f..%2frecordings.db",
            b"/stream/transcode/" + s + b"/%2e%2e/%2e%2e/recordings.db",
            b"/stream/transcode/%2e%2e/%2e%2e/recordings.db",
            b"/stream/transcode/../../recordings.db", b"/stream/transcode/" + s + b"/master.m3u8%00",
            b"/stream/transcode/" + s + b"\\..\\..\\recordings.db",
            b"/stream/transcode/" + s + b"/" + last.encode(),
            b"/stream/transcode/" + s + b"/master.m3u8",
            b"/stream/transcode/" + s + b"/master.m3u8.saved",
            b"/stream/transcode/" + b"0" * 4000 + b"/master.m3u8",
            b"/stream/transcode/" + s + b"/" + b"9" * 300 + b".ts",
            b"/stream/transcode/" + s.upper() + b"/master.m3u8",
        ]
        for target in cases:
            raw = _get_raw(dm.port, target)
            st = _status(raw)
            if target.endswith(last.encode()) and st == 200:
                # the worker replaced the planted link by the real segment (rename)
                assert _body(raw)[:1] == b"\x47", (target, raw[:200])
            else:
                assert st in (400, 403, 404, 414), (target, raw[:300])
                assert b'"success":false' in _body(raw), (target, raw[:300])
            _never_leaks(raw, target, secrets)
        # The request line itself with a NUL or a raw control byte.
        for raw_req in (b"GET /hls/port_0.m3u8\x00/../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        b"GET /stream/transcode/" + s + b"/\x01 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Connection: close\r\n\r\n"):
            raw = raw_request(dm.port, raw_req, timeout=5)
            assert _status(raw) in (400, None), raw[:300]
            _never_leaks(raw, raw_req, secrets)
        # Nothing outside was touched and the daemon still serves the real files.
        assert open("/etc/passwd", "rb").read() == PASSWD
        assert dm.get("/hls/port_0.m3u8").status == 200
        r = dm.get(f"/stream/transcode/{sid}/{uris[0]}", timeout=60)
        assert r.status == 200 and r.body[:1] == b"\x47", r
        assert dm.proc.poll() is None


# ---------------------------------------------------------------- numbers and ids

def test_absurd_numbers_and_unknown_ids():
    d = harness.tmpdir("hard-num")
    state = os.path.join(d, "state")
    p = _add_recording(state, _copy(harness.clip_rec_h265(4), d, "c.mp4"), "cam1")
    assert p.returncode == 0, p.stderr
    with Daemon(_vod_config("  max_range: 3600\n"), name="hard-num", state_dir=state) as dm:
        big = "9" * 400
        bad_pairs = [("NaN", T0 + 4), ("nan", T0 + 4), (T0, "inf"), ("-inf", T0), ("Infinity", T0),
                     (T0, "1e309"), ("1e309", "1e310"), ("-1", T0), (T0, -5), (big, big + "9"),
                     (T0, T0 + 10 ** 7), (T0 + 4, T0), (T0, T0), ("0x65", T0), ("%201", T0),
                     (f"{T0}.5.5", T0 + 4), ("1e-400", T0), (T0, "18446744073709551617"),
                     ("%2b1", T0), ("", T0)]
        for a, b in bad_pairs:
            for prefix in ("/api/transcode", "/transcode"):
                r = dm.get(f"{prefix}/cam1/start/{a}/end/{b}")
                if a == "":
                    assert r.status in (400, 404), (a, b, r)  # an empty segment matches no route
                else:
                    assert r.status == 400, (prefix, a, b, r)
                assert r.json()["success"] is False and r.json()["message"], r
        # Unknown camera and unknown (well-formed) session ids: 404.
        assert dm.get(f"/api/transcode/nocam/start/{T0}/end/{T0 + 4}").status == 404
        for path in (f"/api/transcode/{'a' * 24}", f"/stream/transcode/{'a' * 24}/master.m3u8"):
            r = dm.get(path)
            assert r.status == 404 and r.json()["success"] is False, (path, r)
        assert dm.delete(f"/api/transcode/{'b' * 24}").status == 404
        # Malformed ids: 400 (never looked up on disk).
        for bad in ("..", "%2e%2e", "a" * 300, "ABCDEF0123456789ABCDEF01", "xyz"):
            r = dm.get(f"/api/transcode/{bad}")
            assert r.status in (400, 404), (bad, r)
            assert r.json()["success"] is False
        # Port indices (the live API is mounted even without ports).
        for idx, want in (("-1", 400), ("1e3", 400), ("0x1", 400), ("99999999999999999999", 400),
                          ("nan", 400), ("7", 404), (" 1", 400)):
            r = dm.get(f"/api/ports/{idx.replace(' ', '%20')}/preview")
            assert r.status == want, (idx, r)
        # Recording queries with absurd bounds.
        for q in ("after=nan", "before=inf", "after=1e309", "after=-1", f"after={big}", "after=abc"):
            r = dm.get(f"/api/recordings/cam1?{q}")
            assert r.status == 400, (q, r)
        assert dm.get("/api/recordings/nocam").status in (200, 404)
        assert dm.get("/api/health").status == 200


# ---------------------------------------------------------------- HTTP limits

def _closed_by_server(s, timeout):
    """(closed, data): whether the server closed (or reset) the connection
    within timeout, and what it sent before."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return True, data
            data += c
    except (ConnectionResetError, BrokenPipeError):
        return True, data
    except socket.timeout:
        return False, data


def test_http_limits():
    cfg = ("ports: []\nvod: {sample_recording: false}\n" +
           harness.auth_users_yaml(attempts_per_minute=1000) +
           "limits:\n  max_connections: 40\n  per_ip_connections: 12\n  connection_timeout: 2\n"
           "  max_request_bytes: 4096\n  connection_memory: 8192\n")
    with Daemon(cfg, name="hard-limits") as dm:
        # Body over max_request_bytes: 413 before any handler (login is public).
        r = dm.post("/api/login", body=b'{"token":"' + b"x" * 8000 + b'"}', token="")
        assert r.status == 413 and r.json()["success"] is False, r
        raw = _raw_or_reset(dm.port, b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n")
        assert _status(raw) == 413, raw[:200]
        r = dm.post("/api/login", body={"token": "wrong"}, token="")
        assert r.status == 401, r  # a small body still reaches the handler

        # Headers over connection_memory: refused (status or closed), never served.
        raw = _raw_or_reset(dm.port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                            b"X-Big: " + b"h" * 20000 + b"\r\n\r\n")
        assert _status(raw) in (None, 400, 413, 414, 431), raw[:200]
        assert b'"status":"ok"' not in raw, raw[:200]
        raw = _raw_or_reset(dm.port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                            b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n")
        assert b'"status":"ok"' not in raw, raw[:200]
        assert dm.get("/api/health").status == 200

        # Idle keep-alive connection: closed after connection_timeout (2 s).
        s = socket.create_connection(("127.0.0.1", dm.port), timeout=10)
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buf = b""
        while b'"status":"ok"' not in buf:
            c = s.recv(4096)
            assert c, buf
            buf += c
        t = time.monotonic()
        closed, data = _closed_by_server(s, 8)
        assert closed and not data, f"idle keep-alive connection not closed ({data[:100]!r})"
        took = time.monotonic() - t
        s.close()
        assert 1.0 <= took < 6, f"idle connection closed after {took:.1f}s"

        # Per-address limit (12): the 13th concurrent connection is refused.
        held = []
        try:
            for _ in range(12):
                held.append(socket.create_connection(("127.0.0.1", dm.port), timeout=5))
            wait_until(lambda: _open_connections(dm) >= 12, 5, what="12 connections accepted")
            extra = socket.create_connection(("127.0.0.1", dm.port), timeout=5)
            try:
                extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            closed, data = _closed_by_server(extra, 3)
            assert closed and b"HTTP/1.1 200" not in data, \
                f"connection over per_ip_connections was served: {data[:100]!r}"
            extra.close()
        finally:
            for h in held:
                h.close()
        wait_until(lambda: dm.get("/api/health", timeout=3).status == 200, 10,
                   what="health after the held connections closed")
    # Total connection limit, from several loopback addresses (127.0.0.x): the
    # daemon stops accepting, so one more client waits in the kernel's backlog
    # (or is refused) and is not served until a connection is released.
    cfg2 = ("ports: []\nvod: {sample_recording: false}\nauth: {enabled: false}\n"
            "limits:\n  max_connections: 10\n  connection_timeout: 20\n")
    with Daemon(cfg2, name="hard-maxconn") as dm:
        held = []
        extra = None
        try:
            for i in range(10):
                c = socket.socket()
                c.bind((f"127.0.0.{2 + i}", 0))
                c.connect(("127.0.0.1", dm.port))
                held.append(c)
            wait_until(lambda: _open_connections(dm) >= 10, 5, what="10 connections accepted")
            extra = socket.create_connection(("127.0.0.1", dm.port), timeout=5)
            extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            extra.settimeout(2)
            try:
                got = extra.recv(4096)
            except socket.timeout:
                got = None  # waiting in the backlog
            except ConnectionResetError:
                got = b""
            assert not got, f"connection over max_connections was served: {got[:100]!r}"
            assert _open_connections(dm) <= 10
            for h in held:
                h.close()
            held = []
            if got is None:  # it was waiting: now it is served
                extra.settimeout(10)
                buf = b""
                while True:
                    c = extra.recv(4096)
                    if not c:
                        break
                    buf += c
                assert b'"status":"ok"' in buf, buf[:200]
        finally:
            for h in held:
                h.close()
            if extra:
                extra.close()
        assert dm.get("/api/health", timeout=5).status == 200


def _open_connections(dm):
    """TCP connections the daemon has accepted on its port (from /proc)."""
    inodes = set()
    fd_dir = f"/proc/{dm.proc.pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            t = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local_port = int(parts[1].split(":")[1], 16)
            if local_port == dm.port and parts[3] == "01" and parts[9] in inodes:
                n += 1  # ESTABLISHED and owned by the daemon
    return n


# ---------------------------------------------------------------- malformed media

def _sps_patch(nal, w_mbs, h_mbs):
    """Rewrites pic_width/height_in_mbs of a Baseline/Main H.264 SPS NAL."""
    def unescape(b):
        out, z = bytearray(), 0
        for x in b:
            if z >= 2 and x == 3:
                z = 0
                continue
            out.append(x)
            z = z + 1 if x == 0 else 0
        return bytes(out)

    def escape(b):
        out, z = bytearray(), 0
        for x in b:
            if z >= 2 and x <= 3:
                out.append(3)
                z = 0
            out.append(x)
            z = z + 1 if x == 0 else 0
        return bytes(out)

    rb = unescape(nal[1:])
    bits = "".join(f"{x:08b}" for x in rb)
    pos = [0]
    out = []

    def rd(n):
        v = int(bits[pos[0]:pos[0] + n], 2) if n else 0
        pos[0] += n
        return v

    def ue():
        z = 0
        while bits[pos[0]] == "0":
            z += 1
            pos[0] += 1
        pos[0] += 1
        return (1 << z) - 1 + rd(z)

    def w(v, n):
        out.append(format(v, f"0{n}b") if n else "")

    def wue(v):
        v += 1
        n = v.bit_length()
        out.append("0" * (n - 1) + format(v, "b"))

    prof = rd(8)
    assert prof in (66, 77), prof  # no chroma_format fields to skip
    w(prof, 8), w(rd(8), 8), w(rd(8), 8)
    wue(ue())                       # seq_parameter_set_id
    wue(ue())                       # log2_max_frame_num_minus4
    poc = ue()
    wue(poc)
    assert poc in (0, 2), poc
    if poc == 0:
        wue(ue())
    wue(ue())                       # max_num_ref_frames
    w(rd(1), 1)                     # gaps_in_frame_num_allowed
    ue(), ue()
    wue(w_mbs - 1), wue(h_mbs - 1)
    out.append(bits[pos[0]:])       # the rest, with its stop bit and alignment
    s = "".join(out)
    s += "0" * (-len(s) % 8)
    body = bytes(int(s[i:i + 8], 2) for i in range(0, len(s), 8))
    return nal[:1] + escape(body)


def _absurd_mp4(src, w_px, h_px):
    """A copy of a small Baseline H.264 MP4 (moov after mdat) claiming w_px x h_px
    in tkhd, the avc1 sample entry and the SPS inside avcC."""
    d = bytearray(open(src, "rb").read())
    assert d.find(b"moov") > d.find(b"mdat"), "needs moov after mdat (offsets stay valid)"
    i = d.find(b"avc1", d.find(b"stsd"))
    struct.pack_into(">HH", d, i + 4 + 24, min(w_px, 65535), min(h_px, 65535))
    j = d.find(b"tkhd")
    off = j + 4 + 4 + (32 if d[j + 4] == 1 else 20) + 8 + 2 + 2 + 2 + 2 + 36
    struct.pack_into(">II", d, off, min(w_px, 65535) << 16, min(h_px, 65535) << 16)
    a = d.find(b"avcC", i)
    p = a + 4 + 5
    assert d[p] & 31 == 1
    p += 1
    ln = struct.unpack(">H", d[p:p + 2])[0]
    new = _sps_patch(bytes(d[p + 2:p + 2 + ln]), (w_px + 15) // 16, (h_px + 15) // 16)
    d[p:p + 2 + ln] = struct.pack(">H", len(new)) + new
    delta = len(new) - ln
    if delta:
        for name in (b"avcC", b"avc1", b"stsd", b"stbl", b"minf", b"mdia", b"trak", b"moov"):
            k = d.rfind(name, 0, a + 4)
            size = struct.unpack(">I", d[k - 4:k])[0]
            struct.pack_into(">I", d, k - 4, size + delta)
    return bytes(d)


def _malformed_corpus():
    """name -> path of each malformed input (generated once per run)."""
    md = os.path.join(harness.media_dir(), "malformed")
    os.makedirs(md, exist_ok=True)
    base = harness.make_media("hard_base_160x96.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "32k", "-shortest"])
    ts = harness.make_media("hard_base_160x96.ts", [
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
    corpus = {
        "audio_only.m4a": ["-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac"],
        # a64multi has an encoder but no decoder, and NUT has no tag for it:
        # the demuxer reports a video stream of an unknown codec.
        "unknown_codec.nut": ["-f", "lavfi", "-i", "testsrc=size=320x200:rate=5:duration=1",
                              "-c:v", "a64multi", "-f", "nut"],
    }
    out = {name: harness.make_media("hard_" + name, args) for name, args in corpus.items()}
    out["subtitles_only.mp4"] = _no_video_mp4(md)
    rnd = random.Random(5)
    data = open(base, "rb").read()
    tsdata = open(ts, "rb").read()
    files = {
        "zero.mp4": b"",
        "random.mp4": bytes(rnd.getrandbits(8) for _ in range(65536)),
        "random_ts_sync.ts": b"".join(b"\x47" + bytes(rnd.getrandbits(8) for _ in range(187))
                                      for _ in range(200)),
        "truncated.mp4": data[: len(data) * 2 // 3],        # cut before the moov
        "header_only.mp4": data[:64],
        "truncated.ts": tsdata[:188 * 3],                    # not one whole frame
        "absurd_64000.mp4": _absurd_mp4(base, 64000, 64000),
        "absurd_16400x16.mp4": _absurd_mp4(base, 16400, 16),
    }
    for name, blob in files.items():
        path = os.path.join(md, name)
        if not os.path.exists(path):
            with open(path + ".part", "wb") as f:
                f.write(blob)
            os.rename(path + ".part", path)
        out[name] = path
    return out


def _no_video_mp4(md):
    """A valid MP4 holding one subtitle track: neither video nor audio."""
    srt = os.path.join(md, "subs.srt")
    with open(srt, "w") as f:
        f.write("1\n00:00:00,000 --> 00:00:01,500\nno video here\n\n"
                "2\n00:00:01,500 --> 00:00:03,000\nnor audio\n")
    return harness.make_media("hard_subtitles_only.mp4", ["-i", srt, "-c:s", "mov_text"])


def _one_line_failure(p, what):
    assert p.returncode != 0, f"{what}: exit 0 (stdout {p.stdout[-300:]!r})"
    assert p.returncode > 0, f"{what}: killed by signal {-p.returncode}: {p.stderr[-2000:]}"
    harness.check_sanitizer_log(p.stderr, what)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"{what}: {len(lines)} lines on stderr: {p.stderr[-2000:]}"
    return lines[0]


def test_malformed_media_cli():
    corpus = _malformed_corpus()
    out_root = harness.tmpdir("hard-cli")
    for name, path in sorted(corpus.items()):
        out = os.path.join(out_root, name.replace(".", "_"))
        p = harness.run([harness.HLSD, "transcode", path, out], timeout=60)
        line = _one_line_failure(p, name)
        assert path in line, (name, line)  # names the input...
        assert len(line) > len(path) + 16, (name, line)  # ...and says why
        # no playlist pretending to be complete
        if os.path.isdir(out):
            for f in os.listdir(out):
                assert not f.endswith(".m3u8"), (name, os.listdir(out))


def test_growing_input_cli():
    """A file that stops growing mid-read: the MP4 a camera was still writing
    (no moov yet) fails with one line; a TS that stopped half-way gives either
    one line or a valid, decodable partial playlist. A FIFO whose writer stalls
    is stopped by SIGTERM with one line (no stall timeout applies to files)."""
    base = harness.make_media("hard_grow_160x96.ts", [
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10:duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10"])
    mp4 = harness.make_media("hard_grow_160x96.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10:duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
    d = harness.tmpdir("hard-grow")
    for src, name in ((mp4, "growing.mp4"), (base, "growing.ts")):
        data = open(src, "rb").read()
        path = os.path.join(d, name)
        # The writer appends in chunks, then stops for good at 55%.
        with open(path, "wb") as f:
            stop = len(data) * 55 // 100
            for off in range(0, stop, 8192):
                f.write(data[off:min(off + 8192, stop)])
                f.flush()
        out = os.path.join(d, "out_" + name.replace(".", "_"))
        p = harness.run([harness.HLSD, "transcode", path, out], timeout=60)
        if name.endswith(".mp4") or p.returncode != 0:
            _one_line_failure(p, name)
        else:
            harness.check_sanitizer_log(p.stderr, name)
            pl = os.path.join(out, "index.m3u8")
            tags, segs = harness.parse_playlist(open(pl).read())
            assert "EXT-X-ENDLIST" in tags and segs, tags
            total = sum(s["duration"] for s in segs)
            assert 0.5 < total < 4.0, total  # the part that was there, not more
            harness.ffmpeg_decode(pl, timeout=60)

    fifo = os.path.join(d, "stalled.fifo")
    os.mkfifo(fifo)
    out = os.path.join(d, "out_fifo")
    proc = subprocess.Popen([harness.HLSD, "transcode", fifo, out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    w = open(fifo, "wb")
    try:
        w.write(open(base, "rb").read()[:20000])
        w.flush()
        time.sleep(1.5)  # the reader is blocked on the silent FIFO now
        assert proc.poll() is None, proc.communicate()
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - t < 5
    finally:
        w.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    p = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    _one_line_failure(p, "stalled fifo")


def test_malformed_media_api_beside_healthy_session():
    """Each malformed file, (1) given to `hlsd recordings add`: refused with one
    line naming it, or indexed; (2) through the API: either indexed as is, or a
    good recording indexed and then overwritten by the malformed bytes (a file
    corrupted after indexing). A transcode session of it answers a precise JSON
    error (at start or on its first segment), while a session of a good
    recording beside them is served completely and decodes."""
    corpus = _malformed_corpus()
    good_clip = harness.clip_rec_h265(4)
    d = harness.tmpdir("hard-api")
    state = os.path.join(d, "state")
    p = _add_recording(state, _copy(good_clip, d, "good.mp4"), "good")
    assert p.returncode == 0, p.stderr
    cams = []
    for i, (name, path) in enumerate(sorted(corpus.items())):
        cam = f"bad{i}"
        copy = _copy(path, d, f"{cam}_{name}")
        p = _add_recording(state, copy, cam)
        assert p.returncode >= 0, (name, p.returncode)
        harness.check_sanitizer_log(p.stderr, name)
        if p.returncode != 0:
            line = _one_line_failure(p, f"recordings add {name}")
            assert copy in line, (name, line)
            # Index a good recording under this camera, then corrupt it.
            ok = _copy(good_clip, d, f"{cam}_ok.mp4")
            p = _add_recording(state, ok, cam)
            assert p.returncode == 0, p.stderr
            with open(path, "rb") as f, open(ok, "wb") as g:
                g.write(f.read())
        cams.append((cam, name))
    # one user opens a session per bad file: no per-user cap here (test_capacity tests it)
    with Daemon(_vod_config("  max_concurrent: 16\n  max_sessions_per_user: 0\n"), name="hard-api",
                state_dir=state) as dm:
        r = dm.get(f"/api/transcode/good/start/{T0}/end/{T0 + 4}", timeout=60)
        assert r.status == 200, r
        good = r.json()["session_id"]
        for cam, name in cams:
            r = dm.get(f"/api/transcode/{cam}/start/{T0}/end/{T0 + 4}", timeout=60)
            if r.status == 200:
                # Set up from the index; the worker refuses the data: the
                # segment request carries the error.
                sid = r.json()["session_id"]
                pl = dm.get(f"/stream/transcode/{sid}/master.m3u8", timeout=60)
                if pl.status == 200:
                    uri = harness.parse_playlist(pl.body.decode())[1][0]["uri"]
                    r = dm.get(f"/stream/transcode/{sid}/{uri}", timeout=60)
                else:
                    r = pl
            if r.status == 200:
                # Served after all: then it must be browser-safe, whatever the
                # header claimed (never passed through unchecked).
                seg = os.path.join(d, f"{cam}.ts")
                open(seg, "wb").write(r.body)
                v = harness.ffprobe(seg, "-select_streams", "v:0", "-show_streams")["streams"]
                assert v and v[0]["codec_name"] == "h264", (name, v)
                assert 16 <= v[0]["width"] <= 1280 and 16 <= v[0]["height"] <= 720, \
                    (name, "served with", v[0]["width"], v[0]["height"])
                continue
            assert 400 <= r.status < 600 and r.status != 504, (name, r)
            j = r.json()
            assert j["success"] is False and len(j["message"]) > 10, (name, j)
            assert dm.proc.poll() is None, name
        # The healthy session beside them: every segment served and decodable.
        uris = _playlist_uris(dm, good)
        for u in uris:
            r = dm.get(f"/stream/transcode/{good}/{u}", timeout=60)
            assert r.status == 200 and r.body[:1] == b"\x47", (u, r)
        harness.ffmpeg_decode(f"{dm.base}/stream/transcode/{good}/master.m3u8",
                              extra=["-headers", f"Authorization: Bearer {ADMIN}\r\n"])
        assert dm.get("/api/health").status == 200


# ---------------------------------------------------------------- faults

def test_vod_worker_sigkill_and_full_disk():
    """SIGKILL of a VOD worker: the next request restarts it (or answers 502,
    then the one after restarts it). A full disk (a small tmpfs holding the
    state folder, where mounting is permitted): the waiting request answers
    502 with the reason, the playlist stays intact, and freeing space lets the
    next request succeed."""
    mnt = harness.tmpdir("hard-tmpfs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt],
                             capture_output=True).returncode == 0
    try:
        state = os.path.join(mnt if mounted else harness.tmpdir("hard-fault"), "state")
        p = _add_recording(state, harness.clip_rec_h265_long(), "cam1")
        assert p.returncode == 0, p.stderr
        with Daemon(_vod_config(), name="hard-fault", state_dir=state) as dm:
            r = dm.get(f"/api/transcode/cam1/start/{T0}/end/{T0 + 180}", timeout=60)
            assert r.status == 200, r
            sid = r.json()["session_id"]
            uris = _playlist_uris(dm, sid)
            r = dm.get(f"/stream/transcode/{sid}/{uris[0]}", timeout=60)
            assert r.status == 200, r
            pid = _sessions(dm)[sid]["pid"]
            assert pid > 0
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: _sessions(dm)[sid]["pid"] != pid, 10, what="the kill noticed")
            r = dm.get(f"/stream/transcode/{sid}/{uris[8]}", timeout=60)
            if r.status == 502:
                assert r.json()["success"] is False and r.json()["message"], r
                r = dm.get(f"/stream/transcode/{sid}/{uris[8]}", timeout=60)
            assert r.status == 200 and r.body[:1] == b"\x47", r
            assert dm.proc.poll() is None
            if not mounted:
                raise harness.Skip("mount -t tmpfs not permitted: full-disk part not run")

            sess = os.path.join(state, "transcode", sid)
            playlist_before = open(os.path.join(sess, "master.m3u8"), "rb").read()
            # (a worker killed mid-write leaves its temp file: never served, removed with the session)
            tmp_before = {f for f in os.listdir(sess) if ".tmp" in f}
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            far = len(uris) - 2  # not encoded: the worker must write it now
            r = dm.get(f"/stream/transcode/{sid}/{uris[far]}", timeout=60)
            assert r.status in (502, 503, 507), r
            msg = r.json()["message"]
            assert r.json()["success"] is False and "space" in msg.lower(), msg
            assert open(os.path.join(sess, "master.m3u8"), "rb").read() == playlist_before
            leftovers = [f for f in os.listdir(sess) if ".tmp" in f and f not in tmp_before]
            assert not leftovers, leftovers
            os.unlink(filler)
            r = dm.get(f"/stream/transcode/{sid}/{uris[far]}", timeout=60)
            assert r.status == 200 and r.body[:1] == b"\x47", r
            assert dm.get("/api/health").status == 200
    finally:
        if mounted:
            harness.cleanup_after_test()
            subprocess.run(["umount", "-l", mnt], capture_output=True)


def test_cli_file_size_limit():
    """RLIMIT_FSIZE on `hlsd transcode` (SIGXFSZ ignored, as a supervisor
    would): one line naming the cause, no playlist left half-written."""
    src = harness.clip_h264_640x480()
    out = os.path.join(harness.tmpdir("hard-fsize"), "out")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60000, 60000))

    p = subprocess.run([harness.HLSD, "transcode", src, out], capture_output=True, text=True,
                       timeout=60, preexec_fn=limit)
    line = _one_line_failure(p, "RLIMIT_FSIZE")
    assert "too large" in line.lower() or "space" in line.lower(), line
    for f in os.listdir(out) if os.path.isdir(out) else []:
        assert not f.endswith(".m3u8") and ".tmp" not in f, os.listdir(out)


# ---------------------------------------------------------------- worker confinement

def test_worker_writes_confined_to_out_dir():
    from test_workers import Worker  # the daemon's side of fd 3, played by the test

    d = harness.tmpdir("hard-ll")
    out = os.path.join(d, "out")
    os.makedirs(out)
    outside = os.path.join(d, "outside")
    victim = os.path.join(d, "victim.txt")
    open(victim, "w").write("keep")
    abi = _landlock_abi()

    w = Worker()
    try:
        w.send({"kind": "test-write", "name": "ll", "out_dir": out, "ops": [
            {"op": "create", "path": os.path.join(out, "seg-1.ts")},
            {"op": "mkdir", "path": os.path.join(out, "sub")},
            {"op": "remove", "path": os.path.join(out, "seg-1.ts")},
            {"op": "create", "path": outside},
            {"op": "create", "path": os.path.join(out, "..", "dotdot.ts")},
            {"op": "create", "path": victim},
            {"op": "remove", "path": victim},
            {"op": "mkdir", "path": os.path.join(d, "newdir")},
            {"op": "create", "path": "/dev/null"},
        ]})
        evs = [e for e in w.rest(10) if e.get("type") == "write"]
        assert w.wait_exit(10) == 0, w.stderr
    finally:
        w.close()
    res = {(e["op"], e["path"]): e["errno"] for e in evs}
    assert len(res) == 9, evs
    for op, name in (("create", "seg-1.ts"), ("mkdir", "sub"), ("remove", "seg-1.ts")):
        assert res[(op, os.path.join(out, name))] == 0, (op, name, res)
    assert res[("create", "/dev/null")] == 0, res
    denied = [("create", outside), ("create", os.path.join(out, "..", "dotdot.ts")),
              ("create", victim), ("remove", victim), ("mkdir", os.path.join(d, "newdir"))]
    if abi < 1:
        assert "landlock not available" in w.stderr, w.stderr[-1000:]
        raise harness.Skip("kernel without landlock: confinement not enforced here")
    assert "writes confined to " + out in w.stderr, w.stderr[-1000:]
    for k in denied:
        assert res[k] == 13, (k, res[k])  # EACCES
    assert not os.path.exists(outside) and not os.path.exists(os.path.join(d, "dotdot.ts"))
    assert open(victim).read() == "keep"

    # A real pipeline job with a crafted segment prefix / playlist name: the
    # job is refused before anything is written (and landlock would stop it).
    src = harness.clip_h264_640x480()
    for key, val in (("segment_prefix", "../escape-"), ("playlist", "../escape.m3u8"),
                     ("segment_prefix", "/tmp/escape-")):
        for kind in ("transcode", "vod"):
            job = {"kind": kind, "name": "ll-" + kind, "out_dir": out, "playlist": "index.m3u8",
                   "segment_prefix": "seg-", "segment_seconds": 2,
                   "input": {"format": None, "url": src, "options": {}},
                   "sources": [{"path": src, "start_time": T0, "end_time": T0 + 4}],
                   "range_start": T0, "range_end": T0 + 4, "fast_start": [], "lookahead": 10,
                   "passthrough": False,
                   "video": {"encoder": "libx264", "preset": "ultrafast", "tune": None,
                             "bitrate": None, "crf": 30, "max_width": 0, "max_height": 180},
                   "audio": {"bitrate": "64k"}}
            job[key] = val
            w = Worker()
            try:
                w.send(job)
                evs = w.rest(30)
                code = w.wait_exit(30)
            finally:
                w.close()
            errs = [e for e in evs if e.get("type") == "error"]
            assert code == 1 and errs, (kind, key, val, evs[-3:], w.stderr[-1000:])
            assert "unsafe" in errs[0]["message"] or "plain name" in errs[0]["message"], errs
            assert not [f for f in os.listdir(d) if "escape" in f], os.listdir(d)
            assert not os.path.exists("/tmp/escape-0.ts")
