/* What the segment writers (tsseg.c, fmp4seg.c) share, private to them: the
 * declared streams, the dts-ordered interleaving queue, the pending cut
 * requests, creating a muxer's streams, and the temp name + rename of a
 * segment file. The writers differ in containers and files, not in these. */
#ifndef HLSD_MEDIA_SEGIO_H
#define HLSD_MEDIA_SEGIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#define MEDIA_SEGIO_MAX_CUTS 64

struct media_segio_pkt {
    AVPacket *pkt; /* owned by the queue */
    int stream;    /* MEDIA_TSSEG_VIDEO/AUDIO */
};

/* Embedded in a writer, zero-initialised (then max_span set); released with
 * media_segio_release. */
struct media_segio {
    AVCodecParameters *par[2]; /* owned copies; par[1] NULL without audio */
    AVRational tb[2];          /* time bases of the packets written */
    bool have_audio;

    struct media_segio_pkt *q; /* sorted by dts */
    size_t qlen, qcap;
    /* A silent stream holds the other back at most this long (seconds). */
    double max_span;

    int64_t cuts[MEDIA_SEGIO_MAX_CUTS]; /* video pts, increasing */
    size_t ncuts;
};

/* Writes one packet taken from the queue (the queue frees it afterwards). */
typedef int (*media_segio_write_fn)(void *arg, int stream, AVPacket *pkt);

/* The contract of media_tsseg_set_streams: copies the parameters. */
int media_segio_set_streams(struct media_segio *s, const AVCodecParameters *video,
                            AVRational video_tb, const AVCodecParameters *audio,
                            AVRational audio_tb);

/* The contract of media_tsseg_cut_at. */
void media_segio_cut_at(struct media_segio *s, int64_t pts);

/* For a video packet: true when it is a keyframe at or after the first
 * pending cut, which it then consumes (with every cut up to its pts). */
bool media_segio_take_cut(struct media_segio *s, const AVPacket *pkt);

/* The contract of media_tsseg_write: queues the packet (reference moved out
 * of pkt; dropped when it has no timestamp or is audio without an audio
 * stream), then writes through write_fn what interleaving allows. */
int media_segio_write(struct media_segio *s, int stream, AVPacket *pkt,
                      media_segio_write_fn write_fn, void *arg);

/* Writes every queued packet through write_fn and forgets pending cuts. */
int media_segio_flush(struct media_segio *s, media_segio_write_fn write_fn, void *arg);

/* Drops queued packets and pending cuts. */
void media_segio_discard(struct media_segio *s);

/* Discards, then frees the queue and the parameters (s itself is the caller's). */
void media_segio_release(struct media_segio *s);

/* Adds the declared streams (video, then audio if with_audio) to oc, with
 * their parameters and time bases. 0 or negative AVERROR. */
int media_segio_add_streams(const struct media_segio *s, AVFormatContext *oc, bool with_audio);

/* Names a segment file <dir>/<prefix><index><ext> and its temp name
 * <path>.tmp. 0 or AVERROR(ENAMETOOLONG). */
int media_segio_paths(char *path, size_t path_size, char *tmp, size_t tmp_size, const char *dir,
                      const char *prefix, int64_t index, const char *ext);

/* Renames the finished temp file into place; on failure removes it.
 * 0 or negative errno. */
int media_segio_commit(const char *tmp, const char *path);

#endif
