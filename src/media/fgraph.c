/* Filter graph plumbing: see fgraph.h. */
#include "media/fgraph.h"

#include "media/avlog.h"

#include <errno.h>

#include <libavutil/mem.h>

int media_fgraph_build(AVFilterGraph *graph, const char *src_filter, const char *src_args,
                       const char *sink_filter, const char *chain, AVFilterContext **src,
                       AVFilterContext **sink, enum media_fgraph_step *failed)
{
    AVFilterInOut *inputs = NULL, *outputs = NULL;
    int r;

    if ((r = avfilter_graph_create_filter(src, avfilter_get_by_name(src_filter), "in", src_args,
                                          NULL, graph)) < 0 ||
        (r = avfilter_graph_create_filter(sink, avfilter_get_by_name(sink_filter), "out", NULL,
                                          NULL, graph)) < 0) {
        *failed = MEDIA_FGRAPH_ENDPOINTS;
        return r;
    }
    outputs = avfilter_inout_alloc();
    inputs = avfilter_inout_alloc();
    if (!outputs || !inputs) {
        *failed = MEDIA_FGRAPH_MEMORY;
        r = AVERROR(ENOMEM);
        goto out;
    }
    outputs->name = av_strdup("in");
    outputs->filter_ctx = *src;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = *sink;
    media_avlog_clear();
    if ((r = avfilter_graph_parse_ptr(graph, chain, &inputs, &outputs, NULL)) < 0 ||
        (r = avfilter_graph_config(graph, NULL)) < 0)
        *failed = MEDIA_FGRAPH_CHAIN;
out:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    return r;
}
