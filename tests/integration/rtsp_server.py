#!/usr/bin/python3
"""A camera-like RTSP server for the live-preview tests (GStreamer's
RTSP server from Debian; run with /usr/bin/python3, which has `gi`).

Serves H.264 + AAC at rtsp://127.0.0.1:PORT/cam and prints the bound port
on stdout (one line, "PORT\\n") once it listens. --port 0 (the default) takes
a free port; pass the earlier port to serve the same URL again after a
restart. See ../shared TESTING-NOTES for why the pipeline looks like this."""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=180)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--path", default="/cam")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # sliced-threads=false: zerolatency slices make libavformat split keyframes.
    factory.set_launch(
        "( videotestsrc is-live=true ! "
        f"video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps * 2} sliced-threads=false ! "
        "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1 "
        "audiotestsrc is-live=true ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! "
        "voaacenc ! rtpmp4apay name=pay1 pt=97 )")
    # Shared media would make each new client's PLAY reset the timestamps of
    # the clients already reading.
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr, flush=True)
        return 1
    print(server.get_bound_port(), flush=True)

    loop = GLib.MainLoop()
    for s in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, s, loop.quit)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
