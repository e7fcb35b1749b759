"""The daemon's configuration at start: a bad file stops it with FILE:LINE and
the cause (exit status 2), a missing file is named, and a good file's
settings take effect."""
import os

import harness
from harness import Daemon, run, tmpdir


def _serve(config_text, name):
    d = tmpdir(name)
    path = os.path.join(d, "hlsd.yaml")
    with open(path, "w") as f:
        f.write(config_text)
    port = harness.free_port()
    p = run([harness.HLSD, "serve", "--config", path, "--listen", f"127.0.0.1:{port}",
             "--state-dir", os.path.join(d, "state")], timeout=30)
    return path, p


def test_bad_config_names_file_and_line():
    path, p = _serve("ports: []\npreview:\n  hls:\n    segment_seconds: 0\n", "cfg-bad-range")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert f"{path}:4: preview.hls.segment_seconds: must be between 0.5 and 60" in p.stderr, p.stderr

    # A port's preview is held to the live worker's bounds at load, not left
    # to fail when its worker starts.
    port = "ports:\n  - index: 0\n    name: a\n    input: {url: x}\n    preview:\n"
    path, p = _serve(port + "      hls: { segment_seconds: 0.3 }\n", "cfg-port-segment")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert (f"{path}:6: ports[0].preview.hls.segment_seconds: must be between 0.5 and 60 "
            "(got 0.3)") in p.stderr, p.stderr
    path, p = _serve(port + "      stall_timeout: 0.1\n", "cfg-port-stall")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert f"{path}:6: ports[0].preview.stall_timeout: must be between 0.5 and 3600" in p.stderr, \
        p.stderr

    path, p = _serve("ports: []\nlisten: \"127.0.0.1:1\"\nvod:\n  sample_recordin: true\n",
                     "cfg-bad-key")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert f"{path}:4: unknown key 'sample_recordin' in vod" in p.stderr, p.stderr

    path, p = _serve("ports:\n  - index: 0\n    name: a\n   input: {url: x}\n", "cfg-bad-yaml")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert f"{path}:4: " in p.stderr, p.stderr
    # libfyaml's own diagnostics are not printed besides our one line.
    assert len([l for l in p.stderr.splitlines() if l.strip()]) == 1, p.stderr


def test_missing_config_file():
    p = run([harness.HLSD, "serve", "--config", "/nonexistent/hlsd.yaml"], timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "/nonexistent/hlsd.yaml: No such file or directory" in p.stderr, p.stderr


def test_config_settings_apply():
    # The file's keys take effect (auth off); the command line wins over the
    # file (--listen, given by the fixture, over the file's port 1).
    cfg = ("ports: []\nvod: { sample_recording: false }\nlisten: \"127.0.0.1:1\"\n"
           "auth: { enabled: false }\n")
    with Daemon(cfg, name="cfg-apply") as d:
        r = d.get("/api/me", token="")
        assert r.status == 200 and r.json()["role"] == "admin", r
        assert f"listening on http://127.0.0.1:{d.port}/" in d.log_text(), d.log_text()[-2000:]
