"""Three hlsd nodes behind nginx (issue 14): a recording session created
through nginx and read by `ffmpeg -xerror`; the node serving it is killed
with SIGKILL mid-playback, nginx moves the requests to another node, which
plans the same session again (shared key and registry) and encodes the
segments asked for: the read completes with every frame decoded."""
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import harness
from harness import ADMIN_TOKEN, Daemon

T0 = 1704067200
SECONDS = 40
FPS = 5


def _node_config(shared, name):
    return ("ports: []\nlimits: {per_ip_connections: 0}\n" + harness.auth_users_yaml() +
            f"server: {{trusted_proxies: [127.0.0.1], node: {name}}}\n" +
            "vod:\n  sample_recording: false\n  segment_seconds: 2\n  fast_start: []\n"
            "  lookahead: 3\n  passthrough: false\n  max_sessions_per_user: 0\n"
            f"  shared_dir: {shared}\n")


def _nginx(d, port, nodes):
    conf = os.path.join(d, "nginx.conf")
    servers = "".join(f"    server 127.0.0.1:{n.port} max_fails=1 fail_timeout=30s;\n"
                      for n in nodes)
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  upstream hlsd_vod {{
    hash $hlsd_key consistent;
{servers}    keepalive 16;
  }}
  map $uri $hlsd_key {{
    "~^/stream/transcode/(?<sid>[0-9a-f]{{24}})/"   $sid;
    "~^/api/transcode/(?<rng>[^/]+/start/[^/]+/end/[^/]+)$"   $rng;
    default $uri;
  }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_buffering off;
    proxy_read_timeout 60s;
    proxy_connect_timeout 2s;
    add_header X-Hlsd-Upstream $upstream_addr always;
    location / {{
      proxy_pass http://hlsd_vod;
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_next_upstream_tries 3;
    }}
  }}
}}
""")
    p = subprocess.Popen(["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    harness._live.append(p)
    return p


def _cluster(name):
    d = harness.tmpdir(name)
    shared = os.path.join(d, "shared")
    # shared storage: every node scans the same watched folder
    # ({camera}/{YYYY-MM-DD}/{HH}/{MM}.{SS}.mp4, UTC: starts at T0)
    rec = os.path.join(shared, "recordings", "cam", "2024-01-01", "00", "00.00.mp4")
    os.makedirs(os.path.dirname(rec))
    shutil.copy(harness.clip_rec_h265_long(), rec)
    nodes = []
    for i in range(3):
        state = os.path.join(d, f"node{i}", "state")
        cfg = _node_config(shared, f"node{i}") + \
            f"  watch_dirs: [{os.path.join(shared, 'recordings')}]\n"
        nodes.append(Daemon(cfg, name=f"{name}-n{i}", state_dir=state))
    for n in nodes:
        harness.wait_until(lambda: (n.get("/api/recordings/cam").status == 200 and
                                    n.get("/api/recordings/cam").json()["recordings"]), 30,
                           what=f"node {n.port} indexed the shared folder")
    port = harness.free_port()
    proxy = _nginx(os.path.join(d, "nginx"), port, nodes)
    base = f"http://127.0.0.1:{port}"
    harness.wait_until(lambda: _get(base, "/api/health").status == 200, 10, what="nginx up")
    return d, nodes, proxy, base


def _get(base, path, timeout=60):
    try:
        return harness.http("GET", base + path,
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=timeout)
    except OSError as e:
        return harness.Response(0, {}, str(e).encode())


def _serving_node(nodes, resp):
    up = resp.headers.get("X-Hlsd-Upstream", "")
    last = up.split(",")[-1].strip()
    for n in nodes:
        if last.endswith(f":{n.port}"):
            return n
    raise AssertionError(f"no node for upstream {up!r}")


def test_node_killed_mid_playback_the_read_completes():
    d, nodes, proxy, base = _cluster("cluster")
    try:
        r = _get(base, f"/api/transcode/cam/start/{T0}/end/{T0 + SECONDS}")
        assert r.status == 200, r
        sid, playlist = r.json()["session_id"], r.json()["playlist"]
        pl = _get(base, playlist)
        assert pl.status == 200, pl
        victim = _serving_node(nodes, pl)
        # each node says who it is in /metrics
        m = _get(base, "/metrics").body.decode()
        assert re.search(r'^hlsd_build_info\{node="node\d",version=', m, re.M), m[:300]

        out = os.path.join(d, "ffmpeg.log")
        ff = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-xerror",
             "-readrate", "3", "-headers", f"Authorization: Bearer {ADMIN_TOKEN}\r\n",
             "-i", base + playlist, "-map", "0:v", "-f", "framemd5", "-"],
            stdout=subprocess.PIPE, stderr=open(out, "w"), text=True)
        frames = []
        reader = threading.Thread(target=lambda: frames.extend(
            ln for ln in ff.stdout if ln and not ln.startswith("#")))
        reader.start()
        time.sleep(4)  # about 12 s of the 40 s read
        assert ff.poll() is None, open(out).read()
        victim.stop(sig=signal.SIGKILL, expect_code=None)
        ff.wait(180)
        reader.join(10)
        err = open(out).read()
        assert ff.returncode == 0, (ff.returncode, err[-2000:])
        assert abs(len(frames) - SECONDS * FPS) <= 1, (len(frames), err[-2000:])
        # another node took the session over from the registry
        others = [n for n in nodes if n is not victim]
        assert any("taken over from the cluster registry" in n.log_text() or
                   sid in os.listdir(os.path.join(n.state, "transcode")) for n in others)
        pl2 = _get(base, playlist)
        assert pl2.status == 200 and pl2.body == pl.body, "the playlist differs between nodes"
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)


@harness.plain_only
def test_hlsjs_plays_through_the_failover():
    """hls.js in Chromium, through the same failover, with no fatal error."""
    d, nodes, proxy, base = _cluster("cluster-hlsjs")
    try:
        r = _get(base, f"/api/transcode/cam/start/{T0 + 60}/end/{T0 + 60 + SECONDS}")
        assert r.status == 200, r
        playlist = r.json()["playlist"]
        victim = _serving_node(nodes, _get(base, playlist))
        script = os.path.join(os.path.dirname(__file__), "..", "browser", "failover.mjs")
        p = subprocess.Popen(["node", script, "--base", base, "--playlist", playlist, "--token",
                              ADMIN_TOKEN, "--until", str(SECONDS - 4)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        harness._live.append(p)
        lines = []
        for line in p.stdout:
            lines.append(line.rstrip())
            if line.startswith("ready"):
                victim.stop(sig=signal.SIGKILL, expect_code=None)
                break
        assert victim.proc.poll() is not None, "\n".join(lines)
        out, _ = p.communicate(timeout=180)
        lines += out.splitlines()
        assert p.returncode == 0, "\n".join(lines)
        assert any(ln.startswith("played to") for ln in lines), lines
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)


def test_contrib_nginx_conf_is_valid():
    """contrib/nginx-cluster.conf, the documented set-up, passes `nginx -t`."""
    d = harness.tmpdir("cluster-conf")
    conf = os.path.join(d, "nginx.conf")
    contrib = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "contrib",
                                           "nginx-cluster.conf"))
    with open(conf, "w") as f:
        f.write(f"pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n"
                f"http {{\n  client_body_temp_path {d}/b;\n  proxy_temp_path {d}/p;\n"
                f"  include {contrib};\n}}\n")
    p = harness.run(["nginx", "-t", "-p", d, "-c", conf], timeout=30)
    assert p.returncode == 0, p.stderr
