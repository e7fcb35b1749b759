/* The plumbing the conversion graphs (afilter.c, vfilter.c) share, private to
 * src/media: a filter graph "buffer source -> chain -> buffer sink". */
#ifndef HLSD_MEDIA_FGRAPH_H
#define HLSD_MEDIA_FGRAPH_H

#include <libavfilter/avfilter.h>

/* The step that failed, for the caller's message. */
enum media_fgraph_step {
    MEDIA_FGRAPH_ENDPOINTS, /* creating the source or the sink */
    MEDIA_FGRAPH_MEMORY,    /* out of memory between the steps */
    MEDIA_FGRAPH_CHAIN,     /* parsing the chain or configuring the graph */
};

/* Creates in graph the source filter src_filter ("buffer"/"abuffer", named
 * "in", with src_args) and the sink sink_filter (named "out"), links them
 * through chain, and configures the graph. *src and *sink belong to graph.
 * The libav log is cleared before the chain is parsed, so
 * media_avlog_last_error() then explains a CHAIN failure. 0, or negative
 * AVERROR with *failed set. */
int media_fgraph_build(AVFilterGraph *graph, const char *src_filter, const char *src_args,
                       const char *sink_filter, const char *chain, AVFilterContext **src,
                       AVFilterContext **sink, enum media_fgraph_step *failed);

#endif
