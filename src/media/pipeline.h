/* Decode -> convert -> encode -> segment, for one video stream and an optional
 * audio stream (owner: media engineer). Used by the live, transcode and vod
 * jobs. The caller reads packets (media_input_read) and sends them here with
 * the offset that maps the stream's clock onto the output timeline; encoded
 * packets go to a media_tsseg the caller owns, with an IDR forced at every
 * boundary the caller's plan gives.
 *
 * Output timeline: seconds; packets are written with pts = t + MEDIA_TS_OFFSET
 * (see tsseg.h). Everything is lazy: the video filter graph and encoder are
 * built from the first decoded frame (rebuilt graph if the input's geometry
 * changes, same output size); the audio encoder opens at once. */
#ifndef HLSD_MEDIA_PIPELINE_H
#define HLSD_MEDIA_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "media/encode.h"
#include "media/tsseg.h"

enum { MEDIA_VIDEO = 0, MEDIA_AUDIO = 1 };

/* Another destination for the encoded packets than a media_tsseg (the fMP4
 * writer, fmp4seg.h): the same three calls with the same contracts as
 * media_tsseg_set_streams / _cut_at / _write. */
struct media_sink {
    int (*set_streams)(void *arg, const AVCodecParameters *video, AVRational video_tb,
                       const AVCodecParameters *audio, AVRational audio_tb);
    int (*cut_at)(void *arg, int64_t pts);
    int (*write)(void *arg, int stream, AVPacket *pkt);
    void *arg;
};

/* swscale's "area" rather than the ffmpeg CLI's bicubic: we only ever scale
 * down, where an area average aliases no more, and the scaler was the largest
 * cost of a 1080p -> 720p transcode (38 % of CPU with bicubic; area takes
 * about 19 % less CPU for the whole transcode, docs/BENCHMARKS.md). */
#define MEDIA_SCALE_FLAGS "area"

struct media_pipeline_cfg {
    const char *name;                         /* log prefix */
    const struct media_video_settings *video; /* required when a video stream is given */
    const struct media_audio_settings *audio; /* required when an audio stream is given */
    double gop_seconds;                       /* longest planned segment (keyint) */
    const char *scale_flags;                  /* NULL = MEDIA_SCALE_FLAGS */
    /* First planned segment boundary strictly after t (output-timeline
     * seconds), or INFINITY. NULL = no boundaries besides the first frame. */
    double (*next_boundary)(void *arg, double t);
    void *boundary_arg;
    struct media_tsseg *out;       /* borrowed */
    const struct media_sink *sink; /* borrowed; when set, used instead of out */
    /* Video passthrough: the caller writes video packets to `out` itself
     * (and calls media_tsseg_set_streams); the pipeline only does audio. */
    bool video_passthrough;
};

struct media_pipeline_info {
    bool video_ready;     /* the video encoder is open */
    int width, height;    /* output size */
    double fps;           /* nominal output frame rate, 0 when unknown */
    bool audio;           /* an audio stream is encoded */
    char encoder[32];     /* video encoder in use */
    int64_t video_frames; /* frames sent to the encoder */
    double last_t;        /* output-timeline seconds of the latest frame encoded (video) */
    unsigned decode_errors;
    unsigned video_decoded; /* video frames out of the decoder */
    unsigned video_damaged; /* of those, frames the decoder flagged as damaged */
};

struct media_pipeline;

/* vst/ast: the streams whose packets will be sent (either may be NULL, not
 * both; they may come from different inputs). rotation: clockwise degrees
 * (media_input_rotation(vst)). Refuses with a precise reason in err
 * (unsupported codec, absurd dimensions). 0 or negative AVERROR/errno. */
int media_pipeline_open(struct media_pipeline **out, const struct media_pipeline_cfg *cfg,
                        const AVStream *vst, int rotation, const AVStream *ast, char *err,
                        size_t errlen);

/* Only frames with start <= t < end (output timeline) are encoded; frames
 * before start are decoded and dropped (frame-accurate trim). Defaults:
 * -INFINITY..INFINITY. */
void media_pipeline_set_window(struct media_pipeline *p, double start, double end);

/* Sends a packet of stream `which` (MEDIA_VIDEO/MEDIA_AUDIO); offset_us maps
 * its timestamps: t_out = pkt time (s) + offset_us / 1e6. The packet is not
 * consumed (caller unrefs). 0 or negative AVERROR with err set (encoder or
 * segment write failure: fatal). */
int media_pipeline_send(struct media_pipeline *p, int which, const AVPacket *pkt, int64_t offset_us,
                        char *err, size_t errlen);

/* Drains decoders, filters and encoders into the segment writer (it does not
 * finish the writer's current segment: media_tsseg_finish). */
int media_pipeline_drain(struct media_pipeline *p, char *err, size_t errlen);

void media_pipeline_get_info(const struct media_pipeline *p, struct media_pipeline_info *info);

/* The audio encoder (NULL without audio), for a caller that declares the
 * streams itself (video passthrough). */
const AVCodecContext *media_pipeline_audio_encoder(const struct media_pipeline *p);

void media_pipeline_free(struct media_pipeline **p);

#endif
