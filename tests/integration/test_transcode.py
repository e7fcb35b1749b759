"""`hlsd transcode`: the libav transcoding core end to end, checked with
ffprobe/ffmpeg only. Whatever the input, the output must be browser-safe
(H.264 yuv420p progressive, AAC-LC mono/stereo 44.1/48 kHz, display geometry
kept) on an exact segment grid, and bad input is refused with one line."""
import json
import os
import random
import signal

import harness

PLAYLIST = "index.m3u8"


def transcode(src, *args, timeout=180):
    out = harness.tmpdir("tc")
    p = harness.run([harness.HLSD, "transcode", src, out] + list(args), timeout=timeout)
    harness.check_sanitizer_log(p.stderr, f"hlsd transcode {src}")
    return p, out


def video_stream(info):
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def audio_streams(info):
    return [s for s in info["streams"] if s["codec_type"] == "audio"]


def display_aspect(stream):
    """Width/height as displayed: sample aspect ratio and rotation applied."""
    w, h = stream["width"], stream["height"]
    sar = stream.get("sample_aspect_ratio", "1:1")
    if sar and sar not in ("0:1", "N/A"):
        n, d = (int(x) for x in sar.split(":"))
        if n > 0 and d > 0:
            w = w * n / d
    rot = 0
    for sd in stream.get("side_data_list", []):
        if "rotation" in sd:
            rot = int(sd["rotation"])
    if abs(rot) % 180 == 90:
        w, h = h, w
    return w / h


def source_duration(src):
    return float(harness.probe_streams(src)["format"]["duration"])


def check_output(out, src, seg, max_height=720, expect_audio=True, expect_channels=None):
    """Every property the issue asks of a transcode; returns the output video stream."""
    text = open(os.path.join(out, PLAYLIST)).read()
    tags, segs = harness.parse_playlist(text)
    assert tags.get("EXT-X-PLAYLIST-TYPE") == ["VOD"], text
    assert "EXT-X-ENDLIST" in tags, text
    assert "EXT-X-INDEPENDENT-SEGMENTS" in tags, text
    target = int(tags["EXT-X-TARGETDURATION"][0])
    assert segs, text
    for i, s in enumerate(segs):
        assert round(s["duration"]) <= target, (s, target)
        if i < len(segs) - 1:
            assert abs(s["duration"] - seg) <= 0.05, f"segment {i}: EXTINF {s['duration']} vs {seg}"
        else:
            assert 0 < s["duration"] <= seg + 0.05, s
    total = sum(s["duration"] for s in segs)
    assert abs(total - source_duration(src)) <= 0.1, (total, source_duration(src))

    src_info = harness.ffprobe(src, "-show_streams")
    src_v = video_stream(src_info)
    for s in segs:
        path = os.path.join(out, s["uri"])
        vi = harness.segment_video_info(path)
        assert vi["first_is_key"], f"{s['uri']} does not start with a keyframe"
        assert abs(vi["duration"] - s["duration"]) <= vi["frame_duration"] + 1e-3, (
            s, vi)
        # Each segment decodes on its own, with no error.
        harness.ffmpeg_decode(path)
        info = harness.ffprobe(path, "-show_streams", "-show_frames", "-select_streams", "v:0",
                               "-read_intervals", "%+#1")
        assert info["frames"][0]["pict_type"] == "I", info["frames"][0]

    info = harness.ffprobe(os.path.join(out, segs[0]["uri"]), "-show_streams")
    v = video_stream(info)
    assert v["codec_name"] == "h264", v
    assert v["pix_fmt"] == "yuv420p", v
    assert v.get("field_order", "progressive") in ("progressive", "unknown"), v
    assert v["profile"] in ("High", "Main", "Constrained Baseline", "Baseline"), v
    assert 0 < v["level"] <= 41, v
    assert v["width"] % 2 == 0 and v["height"] % 2 == 0, v
    if max_height:
        assert v["height"] <= max_height, v
    want = display_aspect(src_v)
    got = display_aspect(v)
    assert abs(got - want) / want < 0.01, f"display aspect {got:.4f}, source {want:.4f}"
    auds = audio_streams(info)
    if expect_audio:
        assert len(auds) == 1, info
        a = auds[0]
        assert a["codec_name"] == "aac" and a["profile"] == "LC", a
        assert a["channels"] in (1, 2), a
        assert int(a["sample_rate"]) in (44100, 48000), a
        if expect_channels:
            assert a["channels"] == expect_channels, a
    else:
        assert not auds, info
    return v


def test_h265_1080p():
    src = harness.clip_h265_1080p(3)
    p, out = transcode(src, "--segment-seconds", "1", "--max-height", "360")
    assert p.returncode == 0, p.stderr
    v = check_output(out, src, 1.0, max_height=360)
    assert (v["width"], v["height"]) == (640, 360), v


def test_h264_640x480_uneven_grid():
    # 1.5 s at 25 fps is not a whole number of frames: boundaries fall on the
    # next frame, each EXTINF is what the segment really holds.
    src = harness.clip_h264_640x480()
    p, out = transcode(src, "--segment-seconds", "1.5")
    assert p.returncode == 0, p.stderr
    v = check_output(out, src, 1.5, max_height=720)
    assert (v["width"], v["height"]) == (640, 480), v  # never upscaled


def test_playlist_decodes_whole():
    src = harness.clip_h264_640x480()
    p, out = transcode(src, "--segment-seconds", "2")
    assert p.returncode == 0, p.stderr
    harness.ffmpeg_decode(os.path.join(out, PLAYLIST))
    # Timestamps run on continuously across segments.
    j = harness.ffprobe(os.path.join(out, PLAYLIST), "-select_streams", "v:0", "-show_packets",
                        "-show_entries", "packet=pts_time")
    pts = [float(x["pts_time"]) for x in j["packets"]]
    steps = [b - a for a, b in zip(pts, pts[1:])]
    assert steps and max(steps) < 0.05 and min(steps) > 0.03, (min(steps), max(steps))


def small(name, vf_args, extra, seconds=2, audio=None, rate=25):
    args = ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", audio]
    return harness.make_media(name, args + vf_args + extra + (["-shortest"] if audio else []))


def same_picture(ours, src, w, h):
    """PSNR of our first frame against the ffmpeg CLI's (autorotated, scaled) decode."""
    p = harness.run(["ffmpeg", "-hide_banner", "-i", ours, "-i", src, "-filter_complex",
                     f"[1:v]scale={w}:{h},format=yuv420p[r];[0:v]format=yuv420p[o];[o][r]psnr",
                     "-frames:v", "1", "-f", "null", "-"])
    assert p.returncode == 0, p.stderr[-1500:]
    line = [l for l in p.stderr.splitlines() if "PSNR" in l][-1]
    avg = line.split("average:")[1].split()[0]
    return float("inf") if avg == "inf" else float(avg)


def test_rotated_input_swaps_geometry():
    base = small("plain_320x240.mp4", [], ["-c:v", "libx264", "-preset", "ultrafast"])
    # ffmpeg 5.1 writes a display matrix only when stream-copying.
    src = harness.make_media("rot90_320x240.mp4", ["-i", base, "-c", "copy",
                                                   "-metadata:s:v:0", "rotate=90"])
    s = video_stream(harness.ffprobe(src, "-show_streams"))
    assert abs(display_aspect(s) - 0.75) < 0.01, "the test clip must carry a 90 degree rotation"
    p, out = transcode(src, "--segment-seconds", "1")
    assert p.returncode == 0, p.stderr
    v = check_output(out, src, 1.0, expect_audio=False)
    assert (v["width"], v["height"]) == (240, 320), v
    # Turned the same way as the ffmpeg CLI's autorotate, not mirrored or upside down.
    first = os.path.join(out, harness.parse_playlist(open(os.path.join(out, PLAYLIST)).read())[1][0]["uri"])
    assert same_picture(first, src, 240, 320) > 30


def test_non_square_pixels():
    src = small("sar2_320x240.mp4", ["-vf", "setsar=2/1"], ["-c:v", "libx264", "-preset", "ultrafast"])
    p, out = transcode(src, "--segment-seconds", "1")
    assert p.returncode == 0, p.stderr
    v = check_output(out, src, 1.0, expect_audio=False)
    assert (v["width"], v["height"]) == (640, 240), v
    assert v.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1", "N/A"), v


def test_interlaced_input_comes_out_progressive():
    src = small("interlaced25_320x240.mp4", ["-vf", "tinterlace=interleave_top,fieldorder=tff"],
                ["-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme",
                 "-x264-params", "interlaced=1:tff=1"], seconds=2, rate=50)
    s = video_stream(harness.ffprobe(src, "-show_streams"))
    assert s.get("field_order") in ("tt", "tb"), f"test clip not interlaced: {s.get('field_order')}"
    p, out = transcode(src, "--segment-seconds", "1")
    assert p.returncode == 0, p.stderr
    check_output(out, src, 1.0, expect_audio=False)
    assert "deinterlaced" in harness.run([harness.HLSD, "transcode", src, harness.tmpdir("tc"),
                                          "--log-level", "info"]).stderr


def test_surround_audio_becomes_stereo():
    src = small("audio51_320x240.mp4", [], ["-c:v", "libx264", "-preset", "ultrafast",
                                            "-c:a", "aac", "-ac", "6", "-channel_layout", "5.1"],
                audio="sine=frequency=440:sample_rate=48000:duration=2")
    a = audio_streams(harness.ffprobe(src, "-show_streams"))[0]
    assert a["channels"] == 6, a
    p, out = transcode(src, "--segment-seconds", "1")
    assert p.returncode == 0, p.stderr
    check_output(out, src, 1.0, expect_channels=2)


def test_mono_stays_mono_and_odd_rate_resampled():
    src = small("mono22k_320x240.mkv", [], ["-c:v", "libx264", "-preset", "ultrafast",
                                            "-c:a", "libopus", "-ac", "1"],
                audio="sine=frequency=440:sample_rate=24000:duration=2")
    p, out = transcode(src, "--segment-seconds", "1")
    assert p.returncode == 0, p.stderr
    check_output(out, src, 1.0, expect_channels=1)


def test_10bit_input_comes_out_8bit():
    src = small("h265_10bit_320x240.mp4", [], ["-c:v", "libx265", "-preset", "ultrafast",
                                               "-pix_fmt", "yuv420p10le",
                                               "-x265-params", "log-level=error"])
    assert video_stream(harness.ffprobe(src, "-show_streams"))["pix_fmt"] == "yuv420p10le"
    p, out = transcode(src, "--segment-seconds", "1")
    assert p.returncode == 0, p.stderr
    check_output(out, src, 1.0, expect_audio=False)


def test_encoder_fallback():
    src = harness.clip_h264_640x480()
    p, out = transcode(src, "--segment-seconds", "2", "--encoder", "h264_nonexistent")
    assert p.returncode == 0, p.stderr
    assert "falling back to libx264" in p.stderr, p.stderr
    check_output(out, src, 2.0)


def assert_refused(src, *, contains=None, args=()):
    p, out = transcode(src, *args)
    assert p.returncode == 1, f"exit {p.returncode} (negative = killed by a signal): {p.stderr}"
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line, got: {p.stderr!r}"
    assert lines[0].startswith(f"hlsd transcode: {src}: "), lines[0]
    if contains:
        assert contains in lines[0], lines[0]
    assert not os.path.exists(os.path.join(out, PLAYLIST))
    return lines[0]


def test_missing_file():
    assert_refused(os.path.join(harness.WORK, "does-not-exist.mp4"),
                   contains="No such file or directory")


def test_zero_byte_file():
    path = os.path.join(harness.tmpdir("bad"), "empty.mp4")
    open(path, "wb").close()
    assert_refused(path)


def test_random_bytes():
    path = os.path.join(harness.tmpdir("bad"), "random.mp4")
    rnd = random.Random(1234)
    with open(path, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(200000)))
    assert_refused(path)


def _first_half(src, name):
    """A copy of src cut in the middle, as tmpdir("bad")/name."""
    with open(src, "rb") as f:
        data = f.read()
    path = os.path.join(harness.tmpdir("bad"), name)
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    return path


def test_truncated_file():
    assert_refused(_first_half(harness.clip_h264_640x480(), "truncated.mp4"))


def test_truncated_faststart_file():
    # The index (moov) is intact but half the media is gone.
    src = harness.make_media("h264_faststart_320x240.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart"])
    assert_refused(_first_half(src, "truncated-faststart.mp4"))


def test_audio_only_refused():
    src = harness.make_media("audio_only.m4a", [
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-c:a", "aac"])
    assert_refused(src, contains="no video stream")


def test_bad_arguments():
    for args in (["only-one"], ["a", "b", "--segment-seconds", "x"], ["a", "b", "--crf", "99"],
                 ["a", "b", "--bogus"], ["a", "b", "c"]):
        p = harness.run([harness.HLSD, "transcode"] + args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stderr.strip(), args


def test_library_playlist_decodes_over_http():
    """A transcode written into <state>/library/NAME plays over HTTP from the
    running daemon: ffmpeg -xerror decodes the whole playlist through it."""
    state = os.path.join(harness.tmpdir("lib"), "state")
    out = os.path.join(state, "library", "clip")
    os.makedirs(out)
    src = harness.clip_h265_1080p(3)
    p = harness.run([harness.HLSD, "transcode", src, out, "--segment-seconds", "1"], timeout=180)
    assert p.returncode == 0, p.stderr
    cfg = "vod: { sample_recording: false }\nports: []\n" + harness.auth_users_yaml(
        viewer_cameras=("cam1",))
    with harness.Daemon(cfg, name="library", state_dir=state) as d:
        url = f"{d.base}/library/clip/{PLAYLIST}"
        hdr = f"Authorization: Bearer {harness.ADMIN_TOKEN}\r\n"
        harness.ffmpeg_decode(url, extra=["-headers", hdr])
        r = d.get(f"/library/clip/{PLAYLIST}")
        assert r.status == 200 and r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert d.get(f"/library/clip/{PLAYLIST}", token="").status == 401
        # A viewer limited to one camera does not see the library.
        assert d.get(f"/library/clip/{PLAYLIST}", token=harness.VIEWER_TOKEN).status == 403
        assert d.get("/library/clip/%2e%2e/%2e%2e/hlsd.yaml").status in (400, 404)
        assert d.get("/library/nothing.m3u8").status == 404
