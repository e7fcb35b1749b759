"""Load (issue 5): 500 concurrent keep-alive clients (wrk, loopback only,
10 s, bounded) fetch the live playlist and its newest segment with a bearer
token while a preview runs. Not a timed test: it checks that every answer is
2xx, that no socket error happens, and that a second identical run leaves the
daemon's RSS within 10% of the first (no growth per request). Plain build only."""
import os
import re
import subprocess
import sys

import harness
from harness import Daemon, wait_until

CONNECTIONS = 500
THREADS = 2
DURATION = "10s"

# Per wrk thread: alternate between the playlist and the newest segment it
# listed, so both kinds of files are served from the rolling window.
LUA = r"""
local seg = nil
local n = 0
request = function()
  n = n + 1
  if seg ~= nil and n % 2 == 0 then
    return wrk.format("GET", "/hls/" .. seg)
  end
  return wrk.format("GET", "/hls/port_0.m3u8")
end
response = function(status, headers, body)
  if status == 200 and body ~= nil and body:sub(1, 7) == "#EXTM3U" then
    local last = nil
    for line in body:gmatch("[^\r\n]+") do
      if line:sub(1, 1) ~= "#" then last = line end
    end
    if last ~= nil then seg = last end
  end
end
"""


def _config():
    return f"""
ports:
  - index: 0
    name: load-a
    input: {{ format: lavfi, url: "testsrc2=size=320x180:rate=15" }}
preview:
  video: {{ width: 320, height: 180, bitrate: 200k }}
  hls: {{ variant: mpegts, segment_seconds: 1, list_size: 4, delete_segments: true }}
vod:
  sample_recording: false
limits:
  max_connections: 1024
  per_ip_connections: 0
  connection_timeout: 30
{harness.auth_users_yaml(attempts_per_minute=1000)}"""


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _wrk(dm, script):
    cmd = ["wrk", "-c", str(CONNECTIONS), "-t", str(THREADS), "-d", DURATION, "--timeout", "10s",
           "-s", script, "-H", f"Authorization: Bearer {harness.ADMIN_TOKEN}", dm.base + "/"]
    p = harness.run(cmd, timeout=60)
    assert p.returncode == 0, f"wrk failed: {p.stderr[-1500:]}"
    out = p.stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert m, out
    requests = int(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests": requests,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": [int(x) for x in sock.groups()] if sock else [0, 0, 0, 0],
        "rps": float(rps.group(1)) if rps else 0.0,
        "text": out,
    }


@harness.plain_only
def test_500_clients_playlist_and_segments():
    if not harness.which("wrk"):
        raise AssertionError("wrk is not installed (scripts/install-deps.sh installs it)")
    with Daemon(_config(), name="load") as dm:
        r = dm.post("/api/ports/0/preview")
        assert r.status == 200, r

        def two_segments():
            p = dm.get("/hls/port_0.m3u8")
            return p.status == 200 and len(harness.parse_playlist(p.body.decode())[1]) >= 2
        wait_until(two_segments, 30, what="a live playlist with two segments")
        script = os.path.join(dm.dir, "load.lua")
        with open(script, "w") as f:
            f.write(LUA)

        runs = []
        for i in range(2):
            res = _wrk(dm, script)
            rss = _rss_kb(dm.proc.pid)
            runs.append((res, rss))
            print(f"  wrk run {i + 1}: {res['requests']} requests, {res['rps']:.0f} req/s, "
                  f"non-2xx {res['non2xx']}, socket errors {res['socket_errors']}, "
                  f"daemon RSS {rss} kB", file=sys.stderr)
            assert res["requests"] > CONNECTIONS, res["text"]
            assert res["non2xx"] == 0, res["text"]
            assert res["socket_errors"] == [0, 0, 0, 0], res["text"]
            assert dm.proc.poll() is None
        rss1, rss2 = runs[0][1], runs[1][1]
        assert rss2 <= rss1 * 1.10, f"daemon RSS grew from {rss1} kB to {rss2} kB between runs"

        # The preview kept running through the load, and the server is responsive.
        st = dm.get("/api/ports/0/preview").json()
        assert st["previewing"] is True and st.get("restarts", 0) == 0, st
        assert dm.get("/api/health").status == 200
        # Every connection was released.
        wait_until(lambda: _daemon_sockets(dm.proc.pid) < 50, 15,
                   what="the load's connections closed")


def _daemon_sockets(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n
