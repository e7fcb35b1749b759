"""Shared helpers for the integration tests: the hlsd binary, test media
(generated once per run with the ffmpeg CLI), a daemon fixture on a free
loopback port, HTTP helpers, ffprobe wrappers and deadline polling."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HLSD = None
WORK = None
ASAN = False
_live = []  # daemons/processes to stop after each test


class Skip(Exception):
    pass


def plain_only(fn):
    """Marks a long test that runs on the plain build only (not under ASan)."""
    fn.plain_only = True
    return fn


def configure(hlsd, work, asan):
    global HLSD, WORK, ASAN
    HLSD, WORK, ASAN = hlsd, work, asan
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(media_dir(), exist_ok=True)


def media_dir():
    # Media is shared by the plain and ASan runs: generate once per checkout build.
    d = os.path.join(os.path.dirname(WORK.rstrip("/")), "..", "build-testmedia")
    return os.path.abspath(d)


def tmpdir(prefix="t"):
    return tempfile.mkdtemp(prefix=prefix + "-", dir=WORK)


def run(cmd, timeout=120, check=False, env=None, input=None):
    """Runs cmd; returns CompletedProcess with text stdout/stderr."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}: {p.stderr[-2000:]}")
    return p


def make_media(name, ffmpeg_args, timeout=300):
    """Generates media/<name> once with `ffmpeg -y <args> out` (cached)."""
    out = os.path.join(media_dir(), name)
    if os.path.exists(out) and os.path.getsize(out) > 0:
        return out
    tmp = out + ".part" + os.path.splitext(name)[1]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + ffmpeg_args + [tmp]
    run(cmd, timeout=timeout, check=True)
    os.rename(tmp, out)
    return out


# Standard clips (small, as the suite must stay fast on 2 cores).
def clip_h265_1080p(seconds=3):
    return make_media(f"h265_1080p_{seconds}s.mp4", [
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error",
        "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "96k", "-shortest"])


def clip_h264_640x480(seconds=4):
    return make_media(f"h264_640x480_{seconds}s.mp4", [
        "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=1000:sample_rate=44100:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-shortest"])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout, interval=0.1, what="condition"):
    """Polls fn() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - the last error is reported on timeout
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def http(method, url, body=None, headers=None, timeout=30):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, (bytes, str)) else (
            body.encode() if isinstance(body, str) else body)
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers), e.read())


def raw_request(port, data, timeout=10):
    """Sends raw bytes (hostile paths the urllib client would normalise)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


ADMIN_TOKEN = "test-admin-token"
VIEWER_TOKEN = "test-viewer-token"


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def single_variant(config):
    """The suites written before the two-variant master (issue 11) read an
    HEVC recording's master.m3u8 as the H.264 transcode's media playlist:
    they run with vod.hevc_variant off (a supported setting). The HEVC
    variant's own tests (test_variants.py) and the browser tests keep the
    default."""
    if "hevc_variant" in config:
        return config
    m = re.search(r"^vod:[ \t]*\{[ \t]*", config, re.M)
    if m:
        return config[:m.end()] + "hevc_variant: false, " + config[m.end():]
    m = re.search(r"^vod:[ \t]*\n", config, re.M)
    if m:
        return config[:m.end()] + "  hevc_variant: false\n" + config[m.end():]
    return config + ("" if not config or config.endswith("\n") else "\n") + \
        "vod:\n  hevc_variant: false\n"


class Daemon:
    """hlsd serve with a YAML config on a free loopback port.

    config: YAML text; the listen address and state folder are given on the
    command line. Use as a context manager or call stop()."""

    def __init__(self, config="", name="daemon", extra_args=(), state_dir=None, port=None,
                 token=ADMIN_TOKEN, binary=None, hevc_variant=False):
        self.binary = binary or HLSD
        if not hevc_variant:
            config = single_variant(config)
        self.dir = tmpdir(name)
        self.state = state_dir or os.path.join(self.dir, "state")
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.config_path = os.path.join(self.dir, "hlsd.yaml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log_path = os.path.join(self.dir, "hlsd.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.start()

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        cmd = [self.binary, "serve", "--config", self.config_path, "--listen", f"127.0.0.1:{self.port}",
               "--state-dir", self.state, "--log-level", "debug"] + self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _live.append(self)
        if wait:
            wait_until(self._healthy, 20, what=f"hlsd health on {self.base} (log {self.log_path})")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"hlsd exited {self.proc.returncode}: {self.log_text()[-3000:]}")
        try:
            return http("GET", self.base + "/api/health", timeout=2).status == 200
        except OSError:
            return False

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def auth(self, token=None):
        t = self.token if token is None else token
        return {"Authorization": f"Bearer {t}"} if t else {}

    def req(self, method, path, body=None, token=None, headers=None, timeout=30):
        h = self.auth(token)
        h.update(headers or {})
        return http(method, self.base + path, body=body, headers=h, timeout=timeout)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body=body if body is not None else b"", **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=15, expect_code=0):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"hlsd did not exit within {timeout}s of signal {sig}")
        self.log.close()
        check_sanitizer_log(self.log_text(), self.log_path)
        if expect_code is not None and sig in (signal.SIGTERM, signal.SIGINT):
            assert code == expect_code, f"hlsd exited {code}, log: {self.log_text()[-2000:]}"
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop(expect_code=None if exc[0] else 0)


def check_sanitizer_log(text, where=""):
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        if marker in text:
            i = text.index(marker)
            raise AssertionError(f"sanitizer report in {where}: {text[max(0, i - 200):i + 3000]}")


def cleanup_after_test():
    while _live:
        d = _live.pop()
        try:
            if d.proc and d.proc.poll() is None:
                os.killpg(d.proc.pid, signal.SIGKILL)
                d.proc.wait(5)
        except Exception:  # noqa: BLE001
            pass


def ffprobe(target, *args, timeout=60):
    """ffprobe -of json with the given args; returns the parsed JSON."""
    cmd = ["ffprobe", "-v", "error", "-of", "json"] + list(args) + [target]
    p = run(cmd, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"ffprobe {target} failed: {p.stderr[-1500:]}")
    return json.loads(p.stdout)


def probe_streams(target):
    return ffprobe(target, "-show_streams", "-show_format")


def segment_video_info(path):
    """Duration (from video packets) and whether the first video frame is a keyframe."""
    j = ffprobe(path, "-select_streams", "v:0", "-show_packets", "-show_entries",
                "packet=pts_time,duration_time,flags")
    pk = [p for p in j.get("packets", []) if "pts_time" in p]
    assert pk, f"no video packets in {path}"
    pts = sorted(float(p["pts_time"]) for p in pk)
    first = min(pk, key=lambda p: float(p["pts_time"]))
    frame_dur = float(pk[0].get("duration_time") or 0) or ((pts[-1] - pts[0]) / max(1, len(pts) - 1))
    return {
        "start": pts[0],
        "duration": pts[-1] - pts[0] + frame_dur,
        "frame_duration": frame_dur,
        "first_is_key": "K" in first.get("flags", ""),
        "frames": len(pk),
    }


def parse_playlist(text):
    """Minimal M3U8 reader for assertions: tags and segments with their EXTINF."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    assert lines and lines[0] == "#EXTM3U", "playlist must start with #EXTM3U"
    segs, tags = [], {}
    pending = {}
    for l in lines[1:]:
        if l.startswith("#EXTINF:"):
            pending["duration"] = float(l[8:].split(",")[0])
        elif l.startswith("#EXT-X-DISCONTINUITY") and not l.startswith("#EXT-X-DISCONTINUITY-SEQUENCE"):
            pending["discontinuity"] = True
        elif l.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pending["pdt"] = l.split(":", 1)[1]
        elif l.startswith("#"):
            k, _, v = l[1:].partition(":")
            tags.setdefault(k, []).append(v)
        else:
            pending["uri"] = l
            segs.append(pending)
            pending = {}
    return tags, segs


def ffmpeg_decode(url, timeout=120, extra=()):
    """Decodes everything with -xerror (any decode error fails)."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-xerror"] + list(extra) + [
        "-i", url, "-f", "null", "-"]
    p = run(cmd, timeout=timeout)
    assert p.returncode == 0, f"ffmpeg -xerror failed on {url}: {p.stderr[-2000:]}"
    return p


def which(cmd):
    return shutil.which(cmd)


def auth_users_yaml(viewer_cameras=(), attempts_per_minute=None):
    """An `auth:` block with an admin (ADMIN_TOKEN, user "admin") and a viewer
    (VIEWER_TOKEN, user "viewer", limited to viewer_cameras; empty = all).
    Note the failed-login limit (default 10 per minute per address) also counts
    wrong Bearer tokens and then refuses the right ones with 429: raise it with
    attempts_per_minute in tests that send many wrong tokens."""
    cams = ", ".join(viewer_cameras)
    text = ("auth:\n  enabled: true\n  users:\n"
            f"    - {{ name: admin, role: admin, token_sha256: {sha256(ADMIN_TOKEN)} }}\n"
            f"    - {{ name: viewer, role: viewer, cameras: [{cams}], "
            f"token_sha256: {sha256(VIEWER_TOKEN)} }}\n")
    if attempts_per_minute is not None:
        text += f"  login_attempts_per_minute: {int(attempts_per_minute)}\n"
    return text


# Recordings for the VOD tests (test_recordings.py, test_sessions.py).
def clip_rec_h265(seconds=4):
    """320x180 25 fps H.265 + AAC, stamped creation_time 2024-01-01T00:00:00Z."""
    return make_media(f"rec_h265_320x180_{seconds}s.mp4", [
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-x265-params", "log-level=error:keyint=25", "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "64k",
        "-shortest", "-metadata", "creation_time=2024-01-01T00:00:00Z"])


def clip_rec_h265_long(seconds=180):
    """A multi-minute 160x90 5 fps H.265 recording without audio (seek tests;
    AAC encoding would cost more CPU than the video here)."""
    return make_media(f"rec_h265_160x90_{seconds}s_video.mp4", [
        "-f", "lavfi", "-i", f"testsrc2=size=160x90:rate=5:duration={seconds}",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-x265-params", "log-level=error:keyint=25", "-tag:v", "hvc1"])


def clip_rec_h264(seconds=6):
    """320x180 25 fps H.264 (yuv420p, a keyframe every second) + AAC: browser-playable."""
    return make_media(f"rec_h264_320x180_{seconds}s.mp4", [
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
        "-c:a", "aac", "-b:a", "64k", "-shortest"])


def start_worker(env, log_level, stdout, stderr, with_fd3=True):
    """`hlsd worker` with the other end of a socketpair as its fd 3 (the test
    plays the daemon, docs/WORKER-PROTOCOL.md). Returns (Popen, our socket)."""
    sock, child = socket.socketpair()
    cfd = child.fileno()

    def give_fd3():
        os.dup2(cfd, 3, inheritable=True)

    proc = subprocess.Popen([HLSD, "worker", "--log-level", log_level],
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
                            close_fds=False, preexec_fn=give_fd3 if with_fd3 else None)
    child.close()
    return proc, sock


class JsonLines:
    """Reads newline-delimited JSON (a worker's events) from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read(self, timeout, context=lambda: ""):
        """The next value, or None at EOF; AssertionError after timeout
        seconds, its message ending with context()."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no event within {timeout}s{context()}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)
