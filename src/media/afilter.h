/* Audio conversion graph (owner: media engineer): libswresample (aresample +
 * aformat) to the output rate, at most stereo, planar float, in frames of the
 * AAC encoder's size; timestamps kept continuous (gaps filled, overlaps
 * trimmed). */
#ifndef HLSD_MEDIA_AFILTER_H
#define HLSD_MEDIA_AFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/rational.h>

struct media_afilter;

/* Builds a graph for frames like `first` in time base in_tb, producing
 * out_rate Hz, out_channels (1 or 2), AV_SAMPLE_FMT_FLTP, frame_size samples
 * per frame (the last may be shorter), in time base 1/out_rate. */
int media_afilter_create(struct media_afilter **out, const AVFrame *first, AVRational in_tb,
                         int out_rate, int out_channels, int frame_size, char *err, size_t errlen);

/* False when frame's rate, format or channel layout differ from the graph's. */
bool media_afilter_matches(const struct media_afilter *f, const AVFrame *frame);

/* Same contracts as media_vfilter_push/pull. */
int media_afilter_push(struct media_afilter *f, AVFrame *frame);
int media_afilter_pull(struct media_afilter *f, AVFrame *frame);

void media_afilter_free(struct media_afilter **f);

#endif
