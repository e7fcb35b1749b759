/* H.264 and AAC encoders (owner: media engineer). Output is always browser
 * safe: H.264 yuv420p progressive, profile <= High, level <= 4.1, keyframes
 * only where forced (scenecut off) so segment boundaries are exact; AAC-LC
 * mono/stereo 44.1/48 kHz. */
#ifndef HLSD_MEDIA_ENCODE_H
#define HLSD_MEDIA_ENCODE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "core/jobspec.h"

/* What the encoders need of the job's "video"/"audio" (core/jobspec.h, which
 * checked the ranges). Strings are borrowed from the job spec and must
 * outlive the settings. */
struct media_video_settings {
    const char *encoder; /* "libx264" (default), "h264_vaapi", "h264_nvenc"... */
    const char *preset;  /* NULL = encoder default */
    const char *tune;    /* NULL = none */
    int64_t bitrate;     /* bits/s; 0 = constant quality (crf) */
    int crf;             /* 0..51, used when bitrate is 0 */
    int max_width;       /* output box; 0 = no limit */
    int max_height;
};

struct media_audio_settings {
    int64_t bitrate; /* bits/s */
};

/* Copies the job's settings (borrowing its strings; "" counts as unset). */
void media_video_settings_from_job(const struct jobspec_video *j, struct media_video_settings *out);
void media_audio_settings_from_job(const struct jobspec_audio *j, struct media_audio_settings *out);

/* Timestamps given to and returned by the video encoder are in this base. */
#define MEDIA_VIDEO_TB ((AVRational){1, 90000})

struct media_venc {
    AVCodecContext *ctx;          /* time_base MEDIA_VIDEO_TB */
    enum AVPixelFormat sw_format; /* what frames sent must be (yuv420p; nv12 for VAAPI) */
    char encoder[32];             /* the encoder actually used */
    bool fell_back;               /* the configured encoder failed; libx264 is used */

    /* private */
    AVBufferRef *hw_device;
    AVFrame *hw_frame;
};

/* Opens the configured encoder for width x height at frame_rate (0/0 =
 * unknown, 25 assumed for rate control), keyframe interval gop_seconds.
 * low_latency: no frame reordering/lookahead beyond the preset/tune. When
 * the configured encoder cannot open, logs a warning and uses libx264.
 * 0 or negative AVERROR with err set. */
int media_venc_open(struct media_venc **out, const struct media_video_settings *s, int width,
                    int height, AVRational frame_rate, double gop_seconds, const char *log_name,
                    char *err, size_t errlen);

/* Sends a frame (pts in MEDIA_VIDEO_TB; NULL = drain). force_idr makes it an
 * IDR frame (a segment boundary). */
int media_venc_send(struct media_venc *e, AVFrame *frame, bool force_idr);

/* 0 with a packet (timestamps in MEDIA_VIDEO_TB), AVERROR(EAGAIN), AVERROR_EOF. */
int media_venc_receive(struct media_venc *e, AVPacket *pkt);

void media_venc_free(struct media_venc **e);

struct media_aenc {
    AVCodecContext *ctx; /* native "aac", AAC-LC, fltp; time_base 1/sample_rate */
};

/* Output audio format for an input of in_rate Hz and in_channels channels:
 * 44100 stays 44100, anything else becomes 48000; mono stays mono, anything
 * else becomes stereo. */
void media_audio_out_format(int in_rate, int in_channels, int *out_rate, int *out_channels);

int media_aenc_open(struct media_aenc **out, const struct media_audio_settings *s, int sample_rate,
                    int channels, char *err, size_t errlen);
/* Frames of ctx->frame_size samples (the last may be shorter), pts in
 * 1/sample_rate, NULL = drain. */
int media_aenc_send(struct media_aenc *e, AVFrame *frame);
int media_aenc_receive(struct media_aenc *e, AVPacket *pkt);
void media_aenc_free(struct media_aenc **e);

#endif
