/* Opening and reading any libavformat/libavdevice input (owner: media
 * engineer). Handles the interrupt callback (stop requests, stall deadline),
 * network timeouts and real-time pacing of non-live inputs (files, lavfi). */
#ifndef HLSD_MEDIA_INPUT_H
#define HLSD_MEDIA_INPUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

struct media_input_cfg {
    const char *name;   /* log prefix, may be NULL */
    const char *format; /* demuxer/device name; NULL or "" = probe */
    const char *url;
    const cJSON *options; /* object of demuxer options (string/number/bool values); may be NULL */
    double io_timeout;    /* network read timeout, seconds; 0 = libav default */
    double stall_timeout; /* media_input_read fails with -ETIMEDOUT after this long
                           * without a packet; 0 = never */
    bool realtime;        /* pace non-live inputs at their own rate */
    bool (*should_stop)(void *arg); /* may be NULL; ends blocking calls (AVERROR_EXIT) */
    void *stop_arg;
};

/* Fields are read-only for callers. */
struct media_input {
    AVFormatContext *fmt;
    int video_index;      /* best video stream (attached pictures skipped), -1 = none */
    int audio_index;      /* best audio stream, -1 = none */
    bool live;            /* capture/network source: never paced, its EOF is a failure */
    bool paced;           /* realtime requested and not live */
    double duration;      /* seconds, 0 when unknown */
    double start_time;    /* seconds (container start time), 0 when unknown */
    double creation_time; /* epoch seconds from the creation_time tag, NAN when absent */

    /* private */
    struct media_input_cfg cfg;
    char *name;
    double deadline;   /* monotonic seconds; interrupt after this (0 = none) */
    double pace_wall0; /* wall (monotonic) time of the first paced packet */
    double pace_ts0;   /* its timestamp, seconds */
    bool pace_started;
};

/* Opens and probes the input. Returns 0, or a negative AVERROR/errno with a
 * one-line cause in err (e.g. "No such file or directory"). *out is owned by
 * the caller (media_input_close). */
int media_input_open(struct media_input **out, const struct media_input_cfg *cfg, char *err,
                     size_t errlen);

/* Reads the next packet (caller unrefs it). Paced inputs sleep until the
 * packet is due (interruptible by should_stop). Returns 0, AVERROR_EOF,
 * AVERROR_EXIT when stopped, -ETIMEDOUT on a stall, or another AVERROR. */
int media_input_read(struct media_input *in, AVPacket *pkt);

/* Seeks so that the next packets start at the last keyframe at or before t
 * (seconds on the input's own clock, i.e. including start_time). Frames
 * before t must then be decoded and dropped (media_pipeline_set_window).
 * Resets pacing. 0 or AVERROR. */
int media_input_seek(struct media_input *in, double t);

/* Seeks so that the first video keyframe read is at or before `at` (input
 * clock, seconds). Indexed containers (MP4) land on it at once; others
 * (MPEG-TS) seek by timestamp, possibly into the middle of a GOP, so this
 * seeks further back until the first keyframe read is early enough.
 * file_start: the input's first video time (never seeks before it). pkt is
 * scratch space (left unreferenced). 0, AVERROR_EXIT on stop, or AVERROR. */
int media_input_seek_keyframe(struct media_input *in, AVPacket *pkt, double at, double file_start);
/* Packet timestamp (pts, else dts) in seconds, NAN when it has none. */
double media_input_pkt_time(const struct media_input *in, const AVPacket *pkt);

/* Rotation (clockwise degrees 0/90/180/270) from the stream's display matrix. */
int media_input_rotation(const AVStream *st);

void media_input_close(struct media_input **in);

/* Formats a libav error code: "Invalid data found when processing input". */
const char *media_strerror(int err, char *buf, size_t len);

#endif
