/* Video conversion graph: see vfilter.h. */
#include "media/vfilter.h"

#include "media/avlog.h"
#include "media/fgraph.h"
#include "media/geometry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/pixdesc.h>

struct media_vfilter {
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    /* input parameters the graph was built for */
    int width, height;
    enum AVPixelFormat format;
    AVRational sar;
    bool deinterlace;
};

static int build_chain(char *buf, size_t len, const AVFrame *first,
                       const struct media_vfilter_cfg *cfg, bool deint, char *err, size_t errlen)
{
    int rot = ((cfg->rotation % 360) + 360) % 360;
    bool swap = rot == 90 || rot == 270;
    struct media_geom_in gi = {
        .width = first->width,
        .height = first->height,
        .sar_num = first->sample_aspect_ratio.num,
        .sar_den = first->sample_aspect_ratio.den,
        .rotation = rot,
        .fps = 0,
        .max_width = cfg->width,
        .max_height = cfg->height,
    };
    struct media_geom_out go;
    if (media_geometry_fit(&gi, &go) < 0) {
        snprintf(err, errlen, "invalid video dimensions %dx%d", first->width, first->height);
        return AVERROR_INVALIDDATA;
    }
    /* Within a pixel or two of the box: fill it exactly (the first graph,
     * whose size the box was computed from); otherwise keep the aspect and
     * pad (the input changed geometry mid-stream). */
    bool exact = abs(go.width - cfg->width) <= 2 && abs(go.height - cfg->height) <= 2;
    int sw = exact ? (swap ? cfg->height : cfg->width) : go.scale_width;
    int sh = exact ? (swap ? cfg->width : cfg->height) : go.scale_height;

    size_t n = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int k_ = snprintf(buf + n, len - n, __VA_ARGS__);                                          \
        if (k_ < 0 || (size_t)k_ >= len - n)                                                       \
            return AVERROR(ENAMETOOLONG);                                                          \
        n += (size_t)k_;                                                                           \
    } while (0)
    if (deint)
        APPEND("yadif=mode=send_frame:parity=auto:deint=interlaced,");
    APPEND("scale=w=%d:h=%d:out_range=tv%s%s,", sw, sh, cfg->scale_flags ? ":flags=" : "",
           cfg->scale_flags ? cfg->scale_flags : "");
    if (rot == 90)
        APPEND("transpose=clock,");
    else if (rot == 270)
        APPEND("transpose=cclock,");
    else if (rot == 180)
        APPEND("hflip,vflip,");
    if (!exact)
        APPEND("pad=w=%d:h=%d:x=(ow-iw)/2:y=(oh-ih)/2,", cfg->width, cfg->height);
    APPEND("format=pix_fmts=%s,setsar=1", av_get_pix_fmt_name(cfg->pix_fmt));
#undef APPEND
    return 0;
}

int media_vfilter_create(struct media_vfilter **out, const AVFrame *first, AVRational in_tb,
                         AVRational frame_rate, const struct media_vfilter_cfg *cfg, char *err,
                         size_t errlen)
{
    struct media_vfilter *f = NULL;
    enum media_fgraph_step failed = MEDIA_FGRAPH_MEMORY;
    char args[512], chain[1024];
    int r;

    *out = NULL;
    media_avlog_init();
    f = calloc(1, sizeof(*f));
    if (!f)
        return AVERROR(ENOMEM);
    f->width = first->width;
    f->height = first->height;
    f->format = first->format;
    f->sar = first->sample_aspect_ratio;
    f->deinterlace = cfg->deinterlace || first->interlaced_frame;

    if ((r = build_chain(chain, sizeof(chain), first, cfg, f->deinterlace, err, errlen)) < 0)
        goto fail;

    f->graph = avfilter_graph_alloc();
    if (!f->graph) {
        r = AVERROR(ENOMEM);
        goto fail;
    }
    AVRational sar = f->sar.num > 0 && f->sar.den > 0 ? f->sar : (AVRational){1, 1};
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             first->width, first->height, first->format, in_tb.num, in_tb.den, sar.num, sar.den);
    if (frame_rate.num > 0 && frame_rate.den > 0) {
        size_t l = strlen(args);
        snprintf(args + l, sizeof(args) - l, ":frame_rate=%d/%d", frame_rate.num, frame_rate.den);
    }
    if ((r = media_fgraph_build(f->graph, "buffer", args, "buffersink", chain, &f->src, &f->sink,
                                &failed)) < 0) {
        const char *d = media_avlog_last_error();
        const char *pf = av_get_pix_fmt_name(first->format);
        if (failed == MEDIA_FGRAPH_ENDPOINTS)
            snprintf(err, errlen, "cannot create the video filter endpoints");
        else if (failed == MEDIA_FGRAPH_CHAIN)
            snprintf(err, errlen, "cannot convert %dx%d %s video: %s", first->width, first->height,
                     pf ? pf : "?", d[0] ? d : "filter graph setup failed");
        goto fail;
    }
    *out = f;
    return 0;
fail:
    media_vfilter_free(&f);
    return r;
}

bool media_vfilter_matches(const struct media_vfilter *f, const AVFrame *frame)
{
    if (frame->width != f->width || frame->height != f->height || frame->format != f->format)
        return false;
    if (av_cmp_q(frame->sample_aspect_ratio, f->sar) != 0 &&
        !(frame->sample_aspect_ratio.num == 0 && f->sar.num == 0))
        return false;
    if (frame->interlaced_frame && !f->deinterlace)
        return false;
    return true;
}

int media_vfilter_push(struct media_vfilter *f, AVFrame *frame)
{
    return av_buffersrc_add_frame_flags(f->src, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
}

int media_vfilter_pull(struct media_vfilter *f, AVFrame *frame)
{
    return av_buffersink_get_frame(f->sink, frame);
}

AVRational media_vfilter_time_base(const struct media_vfilter *f)
{
    return av_buffersink_get_time_base(f->sink);
}

void media_vfilter_free(struct media_vfilter **pf)
{
    struct media_vfilter *f = *pf;
    if (!f)
        return;
    avfilter_graph_free(&f->graph);
    free(f);
    *pf = NULL;
}
