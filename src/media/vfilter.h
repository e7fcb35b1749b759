/* Video conversion graph (owner: media engineer): deinterlace when needed,
 * rotate upright, scale to the output size keeping the display aspect (padding
 * if the input's geometry changes mid-stream), 8-bit 4:2:0, square pixels. */
#ifndef HLSD_MEDIA_VFILTER_H
#define HLSD_MEDIA_VFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>

struct media_vfilter_cfg {
    int width, height;          /* output (displayed) size, even */
    int rotation;               /* clockwise degrees 0/90/180/270 to apply */
    enum AVPixelFormat pix_fmt; /* output format: AV_PIX_FMT_YUV420P (NV12 for VAAPI) */
    bool deinterlace;           /* force a deinterlacer (the field order says interlaced) */
    const char *scale_flags;    /* swscale flags ("bicubic"); NULL = default */
};

struct media_vfilter;

/* Builds a graph for frames like `first` (size, format, sample aspect,
 * interlacing) in time base in_tb. 0 or negative AVERROR with err set. */
int media_vfilter_create(struct media_vfilter **out, const AVFrame *first, AVRational in_tb,
                         AVRational frame_rate, const struct media_vfilter_cfg *cfg, char *err,
                         size_t errlen);

/* False when frame's parameters differ from the graph's input (size, format,
 * sample aspect, or an interlaced frame reaching a graph without a
 * deinterlacer): drain, free and create a new graph. */
bool media_vfilter_matches(const struct media_vfilter *f, const AVFrame *frame);

/* Pushes a frame (the graph takes a reference; the caller still unrefs its
 * frame), NULL = end of stream. */
int media_vfilter_push(struct media_vfilter *f, AVFrame *frame);

/* 0 with a frame, AVERROR(EAGAIN), or AVERROR_EOF after the end. */
int media_vfilter_pull(struct media_vfilter *f, AVFrame *frame);

AVRational media_vfilter_time_base(const struct media_vfilter *f);

void media_vfilter_free(struct media_vfilter **f);

#endif
