/* Probing recording files (media_probe_file, media_make_sample in job.h are
 * implemented in probe.c / sample.c) and the per-source details the VOD job
 * plans with: frame rate, first video timestamp, keyframes, and whether the
 * streams can be copied to browser-safe HLS untouched (passthrough). */
#ifndef HLSD_MEDIA_PROBE_H
#define HLSD_MEDIA_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/job.h"

struct media_source_info {
    double duration;    /* seconds of the video stream */
    double video_start; /* the video stream's first pts on the file's clock, seconds */
    double fps;         /* nominal frame rate, 0 when unknown */
    int width, height;
    char video_codec[32];
    char pix_fmt[32];
    bool interlaced;
    bool has_audio;
    char audio_codec[32];
    int sample_rate, channels;

    bool video_copyable; /* H.264, 8-bit 4:2:0, progressive, profile <= High, level <= 4.1 */
    bool audio_copyable; /* AAC-LC, mono/stereo, 44.1/48 kHz (true when there is no audio) */
    char why_not[128];   /* first reason the video is not copyable */
    /* HEVC that can be copied into hvc1 fMP4 (media/codecs.h), its RFC 6381
     * codec string ("" otherwise) and the reason when not. */
    bool hevc_copyable;
    char codec_string[64];
    char hevc_why_not[128];
    int64_t bit_rate; /* whole file, bits/s (0 when unknown) */

    /* With keyframes requested: keyframe pts in seconds after video_start,
     * ascending (owned). */
    double *keyframes;
    size_t n_keyframes;
};

/* Opens path and fills out. want_keyframes: also list the video keyframes
 * (MP4/MOV: from the sample index without reading the media; other
 * containers: by reading every packet). 0, or negative AVERROR/errno with
 * the reason in err ("no video stream", "Invalid data found..."). */
int media_source_probe(const char *path, bool want_keyframes, struct media_source_info *out,
                       char *err, size_t errlen);

/* True when a source of this size fits the box (0 = no limit). */
bool media_source_fits(const struct media_source_info *info, int max_width, int max_height);

void media_source_info_clear(struct media_source_info *info);

#endif
