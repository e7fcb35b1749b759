"""Zero-transcode HEVC (issue 11): an HEVC recording's session offers a master
playlist with the recording copied into fMP4 (hvc1) and the H.264 transcode,
on one keyframe grid; only the rendition a player reads costs work. Checked
with ffprobe/ffmpeg over HTTP and the daemon's own status and metrics."""
import os
import re
import shutil

import harness
from harness import ADMIN_TOKEN, Daemon, parse_playlist

T0 = 1704067200  # the recordings' start (2024-01-01)
AUTH = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"


def _config(extra=""):
    return ("ports: []\n" + harness.auth_users_yaml() +
            "vod:\n  sample_recording: false\n  segment_seconds: 2\n  fast_start: []\n"
            "  pause_release_seconds: 30\n" + extra)


def _daemon(name, clips):
    """A daemon with hevc_variant at its default (on); clips: (path, camera, start)."""
    d = harness.tmpdir(name)
    state = os.path.join(d, "state")
    for path, cam, start in clips:
        p = harness.run([harness.HLSD, "recordings", "add", path, "--camera", cam, "--start",
                         str(start), "--state-dir", state], timeout=60)
        assert p.returncode == 0, p.stderr
    return Daemon(_config(), name=name, state_dir=state, hevc_variant=True)


def _start(dm, cam, a, b, query=""):
    r = dm.get(f"/api/transcode/{cam}/start/{T0 + a}/end/{T0 + b}{query}", timeout=60)
    assert r.status == 200, r
    return r.json()


def _url(dm, sid, file):
    return f"{dm.base}/stream/transcode/{sid}/{file}"


def _text(dm, sid, file):
    r = dm.get(f"/stream/transcode/{sid}/{file}")
    assert r.status == 200, r
    return r.body.decode()


def _master(text):
    """[(attributes dict, uri)] of a master playlist."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    assert lines[0] == "#EXTM3U", text
    out = []
    for i, l in enumerate(lines):
        if l.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', l.split(":", 1)[1]))
            out.append(({k: v.strip('"') for k, v in attrs.items()}, lines[i + 1]))
    return out


def _probe(url):
    j = harness.ffprobe(url, "-headers", AUTH, "-count_frames", "-show_entries",
                        "stream=codec_type,codec_name,codec_tag_string,width,height,nb_read_frames",
                        timeout=120)
    return {s["codec_type"]: s for s in j["streams"]}


def _video_packets(url, headers=True):
    """(size, md5) of every video packet, copied out untouched."""
    cmd = ["ffmpeg", "-v", "error"] + (["-headers", AUTH] if headers else []) + [
        "-i", url, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"]
    p = harness.run(cmd, timeout=120)
    assert p.returncode == 0, p.stderr[-1500:]
    rows = [l.split(",") for l in p.stdout.splitlines() if l and not l.startswith("#")]
    return [(r[4].strip(), r[5].strip()) for r in rows]


def _keyframes(path):
    j = harness.ffprobe(path, "-select_streams", "v:0", "-show_packets", "-show_entries",
                        "packet=pts_time,flags")
    return sorted(float(p["pts_time"]) for p in j["packets"] if "K" in p.get("flags", ""))


def _metric(dm, name, labels=""):
    text = dm.get("/metrics").body.decode()
    m = re.search(r"^" + re.escape(name + labels) + r"(?:\{node=\"[^\"]*\"\})? ([0-9.e+]+)$", text,
                  re.M)
    return float(m.group(1)) if m else 0.0


def _variant(dm, sid, name):
    r = dm.get(f"/api/transcode/{sid}")
    assert r.status == 200, r
    return {v["variant"]: v for v in r.json()["variants"]}[name]


def test_master_offers_both_renditions_on_one_keyframe_grid():
    clip = harness.clip_rec_h265(8)  # 320x180 25 fps, a keyframe every second, AAC
    with _daemon("var-master", [(clip, "cam", T0)]) as dm:
        res = _start(dm, "cam", 0, 8)
        assert res["variants"] == ["hevc", "h264"], res
        assert res["passthrough"] is False, res  # the H.264 rendition transcodes
        sid = res["session_id"]
        variants = _master(_text(dm, sid, "master.m3u8"))
        assert [u for _, u in variants] == ["hevc.m3u8", "h264.m3u8"], variants
        hevc, h264 = variants[0][0], variants[1][0]
        assert re.fullmatch(r"hvc1\.1\.6\.L\d+(\.[0-9A-F]+)*,mp4a\.40\.2", hevc["CODECS"]), hevc
        assert h264["CODECS"] == "avc1.640029,mp4a.40.2", h264
        assert hevc["RESOLUTION"] == h264["RESOLUTION"] == "320x180", variants
        assert int(hevc["BANDWIDTH"]) > 0 and int(h264["BANDWIDTH"]) > 0, variants
        assert 0 < int(hevc["AVERAGE-BANDWIDTH"]) <= int(hevc["BANDWIDTH"]), hevc

        # One grid: the copy cut on source keyframes (segment_seconds 2), the
        # transcode splitting each of its segments into 1 s parts
        # (transcode_segment_seconds), so every boundary of the copy is one
        # of the transcode's, at the same time and PROGRAM-DATE-TIME, and
        # switching renditions there is exact.
        tags_h, segs_h = parse_playlist(_text(dm, sid, "hevc.m3u8"))
        tags_a, segs_a = parse_playlist(_text(dm, sid, "h264.m3u8"))
        assert [s["duration"] for s in segs_h] == [2.0] * 4, segs_h
        assert [s["duration"] for s in segs_a] == [1.0] * 8, segs_a
        assert [s.get("pdt") for s in segs_h] == [s.get("pdt") for s in segs_a[::2]]
        bounds_a, t = set(), 0.0
        for s in segs_a:
            bounds_a.add(round(t, 3))
            t += s["duration"]
        t = 0.0
        for s in segs_h:
            assert round(t, 3) in bounds_a, (t, bounds_a)
            t += s["duration"]
        assert all(s["uri"].endswith(".m4s") for s in segs_h), segs_h
        assert all(s["uri"].endswith(".ts") for s in segs_a), segs_a
        assert tags_h.get("EXT-X-MAP"), tags_h
        keys = _keyframes(clip)
        t = 0.0
        for s in segs_h:
            assert any(abs(t - k) < 0.002 for k in keys), f"boundary {t} is not a keyframe {keys}"
            t += s["duration"]
        assert abs(t - 8.0) < 0.05, t

        # The HEVC rendition is the recording's own video, packet for packet.
        ph = _probe(_url(dm, sid, "hevc.m3u8"))
        assert ph["video"]["codec_name"] == "hevc" and ph["video"]["codec_tag_string"] == "hvc1", ph
        assert int(ph["video"]["nb_read_frames"]) == 200, ph
        assert ph["audio"]["codec_name"] == "aac", ph
        assert _video_packets(_url(dm, sid, "hevc.m3u8")) == _video_packets(clip, headers=False)
        hv = _variant(dm, sid, "hevc")
        assert hv["encoder"] == "copy" and hv["segments_ready"] == len(segs_h), hv
        assert _metric(dm, "hlsd_transcode_encoders_started_total") == 0

        pa = _probe(_url(dm, sid, "h264.m3u8"))
        assert pa["video"]["codec_name"] == "h264" and int(pa["video"]["nb_read_frames"]) == 200, pa
        assert _variant(dm, sid, "h264")["encoder"] == "libx264"
        assert _metric(dm, "hlsd_transcode_encoders_started_total") == 1


def test_only_the_rendition_read_costs_work():
    clip = harness.clip_rec_h265(8)
    with _daemon("var-lazy", [(clip, "cam", T0)]) as dm:
        sid = _start(dm, "cam", 0, 6)["session_id"]
        # A player that decodes HEVC: master, its playlist, the init, segments.
        p = harness.run(["ffmpeg", "-v", "error", "-headers", AUTH, "-i", _url(dm, sid, "hevc.m3u8"),
                         "-map", "0", "-c", "copy", "-f", "null", "-"], timeout=120)
        assert p.returncode == 0, p.stderr[-1500:]
        h264 = _variant(dm, sid, "h264")
        assert h264["state"] == "stopped" and not h264["active"] and h264["pid"] == 0, h264
        assert h264["restarts"] == 0 and h264["encoder"] is None, h264
        assert _metric(dm, "hlsd_transcode_encoders_started_total") == 0
        assert _metric(dm, "hlsd_vod_bytes_served_total", '{kind="remux"}') > 10000
        assert _metric(dm, "hlsd_vod_bytes_served_total", '{kind="transcode"}') == 0
        assert _metric(dm, "hlsd_transcode_workers_encoding") == 0  # a copy takes no slot
        assert "libx264" not in dm.log_text()
        # The other rendition starts its encoder only when asked for.
        assert _text(dm, sid, "h264.m3u8").count(".ts") == 6  # 1 s parts of the copy's 2 s
        seg = [s["uri"] for s in parse_playlist(_text(dm, sid, "h264.m3u8"))[1]][0]
        r = dm.get(f"/stream/transcode/{sid}/{seg}", timeout=60)
        assert r.status == 200 and r.body[:1] == b"\x47", r
        assert _variant(dm, sid, "h264")["encoder"] == "libx264"
        assert _metric(dm, "hlsd_vod_bytes_served_total", '{kind="transcode"}') == len(r.body)


def test_forced_variants_and_h264_recordings():
    hevc, h264 = harness.clip_rec_h265(8), harness.clip_rec_h264(6)
    with _daemon("var-forced", [(hevc, "cam", T0), (h264, "avc", T0)]) as dm:
        both = _start(dm, "cam", 0, 8)["session_id"]
        only264 = _start(dm, "cam", 0, 8, "?variant=h264")
        only265 = _start(dm, "cam", 0, 8, "?variant=hevc")
        assert len({both, only264["session_id"], only265["session_id"]}) == 3
        assert only264["variants"] == ["auto"] and only265["variants"] == ["hevc"]
        tags, segs = parse_playlist(_text(dm, only264["session_id"], "master.m3u8"))
        assert segs and all(s["uri"].endswith(".ts") for s in segs) and "EXT-X-MAP" not in tags
        assert _probe(_url(dm, only264["session_id"], "master.m3u8"))["video"]["codec_name"] == "h264"
        tags, segs = parse_playlist(_text(dm, only265["session_id"], "master.m3u8"))
        assert segs and all(s["uri"].endswith(".m4s") for s in segs) and tags["EXT-X-MAP"], tags
        v = _probe(_url(dm, only265["session_id"], "master.m3u8"))["video"]
        assert v["codec_name"] == "hevc" and v["codec_tag_string"] == "hvc1", v

        # H.264 recordings keep one rendition, remuxed as before.
        avc = _start(dm, "avc", 0, 6)
        assert avc["passthrough"] is True and avc["variants"] == ["auto"], avc
        assert not _master(_text(dm, avc["session_id"], "master.m3u8"))
        r = dm.get(f"/api/transcode/avc/start/{T0}/end/{T0 + 6}?variant=hevc")
        assert r.status == 400 and "HEVC recordings" in r.json()["message"], r
        r = dm.get(f"/api/transcode/cam/start/{T0}/end/{T0 + 8}?variant=vp9")
        assert r.status == 400 and "auto, h264 or hevc" in r.json()["message"], r
        # Unknown files of a session are 404, not a worker start.
        for f in ("hevc.m3u8x", "seg-0.mp4", "h265.m3u8", "../master.m3u8"):
            assert dm.get(f"/stream/transcode/{both}/{f}").status in (400, 404), f


def test_hevc_that_cannot_be_copied_leaves_h264_alone():
    d = harness.tmpdir("var-422")
    clip = harness.make_media("rec_h265_422_4s.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv422p",
        "-x265-params", "log-level=error:keyint=25", "-tag:v", "hvc1"])
    rec = shutil.copy(clip, os.path.join(d, "c422.mp4"))
    with _daemon("var-422", [(rec, "cam", T0)]) as dm:
        res = _start(dm, "cam", 0, 4)
        assert res["variants"] == ["h264"], res
        variants = _master(_text(dm, res["session_id"], "master.m3u8"))
        assert [u for _, u in variants] == ["h264.m3u8"], variants
        assert variants[0][0]["CODECS"] == "avc1.640029", variants
        v = _probe(_url(dm, res["session_id"], "master.m3u8"))["video"]
        assert v["codec_name"] == "h264" and int(v["nb_read_frames"]) == 100, v
        hv = _variant(dm, res["session_id"], "hevc")
        assert not hv["available"] and hv["state"] == "failed", hv
        r = dm.get(f"/stream/transcode/{res['session_id']}/hevc.m3u8")
        assert r.status == 404 and "no hevc rendition" in r.json()["message"], r
