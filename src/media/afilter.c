/* Audio conversion graph: see afilter.h. */
#include "media/afilter.h"

#include "media/avlog.h"
#include "media/fgraph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/samplefmt.h>

struct media_afilter {
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    int rate;
    int format;
    AVChannelLayout layout;
};

int media_afilter_create(struct media_afilter **out, const AVFrame *first, AVRational in_tb,
                         int out_rate, int out_channels, int frame_size, char *err, size_t errlen)
{
    struct media_afilter *f = NULL;
    enum media_fgraph_step failed = MEDIA_FGRAPH_MEMORY;
    char layout[128], args[512], chain[512];
    int r;

    *out = NULL;
    media_avlog_init();
    f = calloc(1, sizeof(*f));
    if (!f)
        return AVERROR(ENOMEM);
    f->rate = first->sample_rate;
    f->format = first->format;
    if (first->sample_rate <= 0 || first->sample_rate > 768000 ||
        first->ch_layout.nb_channels <= 0 || !av_get_sample_fmt_name(first->format)) {
        snprintf(err, errlen, "invalid audio parameters (%d Hz, %d channels)", first->sample_rate,
                 first->ch_layout.nb_channels);
        r = AVERROR_INVALIDDATA;
        goto fail;
    }
    if ((r = av_channel_layout_copy(&f->layout, &first->ch_layout)) < 0)
        goto fail;
    if (av_channel_layout_describe(&f->layout, layout, sizeof(layout)) < 0) {
        r = AVERROR(EINVAL);
        goto fail;
    }

    f->graph = avfilter_graph_alloc();
    if (!f->graph) {
        r = AVERROR(ENOMEM);
        goto fail;
    }
    f->graph->nb_threads = 1;
    snprintf(args, sizeof(args), "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             in_tb.num, in_tb.den, first->sample_rate, av_get_sample_fmt_name(first->format),
             layout);
    /* async=1: fill gaps with silence and trim overlaps so the AAC stream
     * stays continuous whatever the input's timestamps do. */
    snprintf(chain, sizeof(chain),
             "aresample=async=1:min_hard_comp=0.05,"
             "aformat=sample_fmts=fltp:sample_rates=%d:channel_layouts=%s",
             out_rate, out_channels == 1 ? "mono" : "stereo");
    if ((r = media_fgraph_build(f->graph, "abuffer", args, "abuffersink", chain, &f->src, &f->sink,
                                &failed)) < 0) {
        const char *d = media_avlog_last_error();
        if (failed == MEDIA_FGRAPH_ENDPOINTS)
            snprintf(err, errlen, "cannot set up audio conversion (%s): %s", args,
                     d[0] ? d : "invalid parameters");
        else if (failed == MEDIA_FGRAPH_CHAIN)
            snprintf(err, errlen, "cannot convert the audio: %s", d[0] ? d : "filter setup failed");
        goto fail;
    }
    av_buffersink_set_frame_size(f->sink, (unsigned)frame_size);
    *out = f;
    return 0;
fail:
    media_afilter_free(&f);
    return r;
}

bool media_afilter_matches(const struct media_afilter *f, const AVFrame *frame)
{
    return frame->sample_rate == f->rate && frame->format == f->format &&
           av_channel_layout_compare(&frame->ch_layout, &f->layout) == 0;
}

int media_afilter_push(struct media_afilter *f, AVFrame *frame)
{
    return av_buffersrc_add_frame_flags(f->src, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
}

int media_afilter_pull(struct media_afilter *f, AVFrame *frame)
{
    return av_buffersink_get_frame(f->sink, frame);
}

void media_afilter_free(struct media_afilter **pf)
{
    struct media_afilter *f = *pf;
    if (!f)
        return;
    avfilter_graph_free(&f->graph);
    av_channel_layout_uninit(&f->layout);
    free(f);
    *pf = NULL;
}
