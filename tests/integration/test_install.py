"""An installed hlsd finds its web page and hls.js in its data folder, not
next to the executable or in the source tree: `meson install` into a
temporary prefix, then the installed binary serves the installed files."""
import os
import shutil

import harness
from harness import Daemon, http

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@harness.plain_only
def test_installed_binary_serves_installed_page():
    d = harness.tmpdir("install")
    build, prefix = os.path.join(d, "build"), os.path.join(d, "prefix")
    # -O0, no sanitizers, warnings not fatal (-O0 warns differently): this
    # build only has to run, and to build quickly.
    harness.run(["meson", "setup", build, SRC, "--prefix", prefix, "--buildtype=debug",
                 "-Db_sanitize=none", "-Dwerror=false"], timeout=300, check=True)
    harness.run(["ninja", "-C", build, "hlsd"], timeout=900, check=True)
    harness.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet"], timeout=300,
                check=True)
    exe = os.path.join(prefix, "bin", "hlsd")
    share = os.path.join(prefix, "share", "hlsd")
    assert os.access(exe, os.X_OK), os.listdir(prefix)
    for f in ("web/index.html", "web/app.js", "hls.js/hls.min.js"):
        assert os.path.isfile(os.path.join(share, f)), f"{f} not installed under {share}"
    # The build tree goes away: the installed binary must not need it.
    shutil.rmtree(build)
    with open(os.path.join(share, "web", "index.html"), "a") as f:
        f.write("<!-- installed copy -->")
    with Daemon("ports: []\nvod: {sample_recording: false}\n", name="installed",
                binary=exe) as dm:
        r = http("GET", dm.base + "/")
        assert r.status == 200, r.status
        assert b"<!-- installed copy -->" in r.body, "not the installed index.html"
        r = http("GET", dm.base + "/web/vendor/hls.min.js")
        assert r.status == 200, r.status
        with open(os.path.join(SRC, "node_modules", "hls.js", "dist", "hls.min.js"), "rb") as f:
            assert r.body == f.read()
        assert "is missing" not in dm.log_text()
