/* MPEG-TS segment writer (owner: media engineer). Interleaves the packets of
 * one video and an optional audio stream and writes one self-contained .ts
 * file per segment (fresh muxer per file: PAT/PMT first, then the IDR with
 * SPS/PPS), through a temp name + rename so an existing segment file is
 * always complete. Timestamps are written as given (no shifting), so they
 * stay continuous across segments and across restarts on the same timeline.
 *
 * Timeline convention: a time t (seconds) on the output timeline is written
 * as pts = (t + MEDIA_TS_OFFSET) * 90000, so B-frame dts and AAC priming never
 * go negative. Works with encoded packets and with passthrough packets taken
 * from an input stream (set_streams with the input's codecpar). */
#ifndef HLSD_MEDIA_TSSEG_H
#define HLSD_MEDIA_TSSEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#define MEDIA_TS_OFFSET 10.0

enum { MEDIA_TSSEG_VIDEO = 0, MEDIA_TSSEG_AUDIO = 1 };

struct media_tsseg_info {
    int64_t index;    /* segment number (file <prefix><index>.ts) */
    const char *file; /* base name */
    double start;     /* output-timeline seconds of its first video frame */
    double duration;  /* first video frame to the next segment's (or its last frame's end) */
    int64_t bytes;
    int64_t video_frames;
};

struct media_tsseg_cfg {
    const char *dir;    /* folder (exists) */
    const char *prefix; /* file name prefix: files are <dir>/<prefix><index>.ts */
    int64_t first_index;
    /* Called after each segment file is renamed into place (info valid
     * during the call only). May be NULL. */
    void (*on_segment)(void *arg, const struct media_tsseg_info *info);
    void *arg;
};

struct media_tsseg;

/* Copies cfg (strings included). 0 or -ENOMEM. */
int media_tsseg_create(struct media_tsseg **out, const struct media_tsseg_cfg *cfg);

/* Declares the streams (copied); used from the next segment opened on.
 * audio may be NULL (video-only). Time bases are those of the packets that
 * will be written. */
int media_tsseg_set_streams(struct media_tsseg *w, const AVCodecParameters *video,
                            AVRational video_tb, const AVCodecParameters *audio,
                            AVRational audio_tb);

/* The next video keyframe packet with pts >= pts (video time base) starts a
 * new segment. Cuts are kept in order; the first packet ever written always
 * opens a segment. */
int media_tsseg_cut_at(struct media_tsseg *w, int64_t pts);

/* Queues a packet of stream MEDIA_TSSEG_VIDEO/AUDIO (reference moved out of
 * pkt) and writes what interleaving allows. Audio before the first video
 * packet of the first segment is dropped. 0 or negative AVERROR/errno
 * (e.g. -ENOSPC). */
int media_tsseg_write(struct media_tsseg *w, int stream, AVPacket *pkt);

/* Writes everything queued and closes the current segment, however short
 * (stop, input failure, end). The next packet opens a new segment. */
int media_tsseg_finish(struct media_tsseg *w);

/* Drops queued packets and deletes the unfinished segment's temp file
 * (restart elsewhere); the next segment gets index next_index. */
void media_tsseg_abort(struct media_tsseg *w, int64_t next_index);

/* Index the next segment opened will get. */
int64_t media_tsseg_next_index(const struct media_tsseg *w);

/* Total bytes of finished segments. */
int64_t media_tsseg_bytes(const struct media_tsseg *w);

/* Frees; an unfinished segment is discarded (its temp file removed). */
void media_tsseg_free(struct media_tsseg **w);

#endif
