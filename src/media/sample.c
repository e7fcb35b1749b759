/* media_make_sample: a small H.265 + AAC recording (test pattern + tone) for
 * the default configuration and for tests, made with libav only. */
#include "media/job.h"

#include "core/util.h"
#include "media/avlog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

/* 15 fps, as many cameras record: H.265 encoding is most of the cost. */
#define SAMPLE_FPS 15
#define SAMPLE_RATE 48000

struct sample {
    AVFilterGraph *graph;
    AVFilterContext *vsink, *asink;
    AVCodecContext *venc, *aenc;
    AVFormatContext *mux;
    AVStream *vst, *ast;
    AVFrame *frame;
    AVPacket *pkt;
};

static int build_graph(struct sample *s, double seconds, int width, int height)
{
    char desc[512];
    int ret = util_fmt(desc, sizeof(desc),
                       "testsrc2=size=%dx%d:rate=%d:duration=%.3f,format=yuv420p[v];"
                       "sine=frequency=440:sample_rate=%d:duration=%.3f,"
                       "aformat=sample_fmts=fltp:channel_layouts=mono[a]",
                       width, height, SAMPLE_FPS, seconds, SAMPLE_RATE, seconds);
    if (ret < 0)
        return AVERROR(EINVAL);
    s->graph = avfilter_graph_alloc();
    if (!s->graph)
        return AVERROR(ENOMEM);
    AVFilterInOut *inputs = NULL, *outputs = NULL;
    ret = avfilter_graph_parse2(s->graph, desc, &inputs, &outputs);
    avfilter_inout_free(&inputs); /* sources only: none */
    if (ret < 0) {
        avfilter_inout_free(&outputs);
        return ret;
    }
    /* Two labelled open outputs: [v] and [a]; attach sinks. */
    for (AVFilterInOut *o = outputs; o && ret >= 0; o = o->next) {
        bool video = strcmp(o->name, "v") == 0;
        AVFilterContext **sink = video ? &s->vsink : &s->asink;
        ret = avfilter_graph_create_filter(
            sink, avfilter_get_by_name(video ? "buffersink" : "abuffersink"), o->name, NULL, NULL,
            s->graph);
        if (ret >= 0)
            ret = avfilter_link(o->filter_ctx, (unsigned)o->pad_idx, *sink, 0);
    }
    avfilter_inout_free(&outputs);
    if (ret < 0)
        return ret;
    if (!s->vsink || !s->asink)
        return AVERROR(EINVAL);
    ret = avfilter_graph_config(s->graph, NULL);
    if (ret < 0)
        return ret;
    av_buffersink_set_frame_size(s->asink, 1024);
    return 0;
}

static int open_encoders(struct sample *s, int width, int height)
{
    const AVCodec *vc = avcodec_find_encoder_by_name("libx265");
    const AVCodec *ac = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!vc || !ac)
        return AVERROR_ENCODER_NOT_FOUND;
    s->venc = avcodec_alloc_context3(vc);
    s->aenc = avcodec_alloc_context3(ac);
    if (!s->venc || !s->aenc)
        return AVERROR(ENOMEM);
    s->venc->width = width;
    s->venc->height = height;
    s->venc->pix_fmt = AV_PIX_FMT_YUV420P;
    s->venc->time_base = (AVRational){1, SAMPLE_FPS};
    s->venc->framerate = (AVRational){SAMPLE_FPS, 1};
    s->venc->gop_size = SAMPLE_FPS;
    s->venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(s->venc->priv_data, "preset", "ultrafast", 0);
    /* one-second GOPs keep seeking in the sample cheap; no x265 banner */
    char params[128];
    snprintf(params, sizeof(params), "log-level=error:keyint=%d:min-keyint=%d:scenecut=0",
             SAMPLE_FPS, SAMPLE_FPS);
    av_opt_set(s->venc->priv_data, "x265-params", params, 0);
    av_opt_set(s->venc->priv_data, "crf", "30", 0);
    int ret = avcodec_open2(s->venc, vc, NULL);
    if (ret < 0)
        return ret;

    s->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    s->aenc->sample_rate = SAMPLE_RATE;
    av_channel_layout_default(&s->aenc->ch_layout, 1);
    s->aenc->bit_rate = 64000;
    s->aenc->time_base = (AVRational){1, SAMPLE_RATE};
    s->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    return avcodec_open2(s->aenc, ac, NULL);
}

static int open_muxer(struct sample *s, const char *tmp, double creation_time)
{
    int ret = avformat_alloc_output_context2(&s->mux, NULL, "mp4", tmp);
    if (ret < 0)
        return ret;
    s->vst = avformat_new_stream(s->mux, NULL);
    s->ast = avformat_new_stream(s->mux, NULL);
    if (!s->vst || !s->ast)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_from_context(s->vst->codecpar, s->venc);
    if (ret < 0)
        return ret;
    s->vst->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1'); /* what Apple/NVRs write */
    s->vst->time_base = s->venc->time_base;
    ret = avcodec_parameters_from_context(s->ast->codecpar, s->aenc);
    if (ret < 0)
        return ret;
    s->ast->time_base = s->aenc->time_base;
    if (isfinite(creation_time) && creation_time > 0) {
        time_t t = (time_t)floor(creation_time);
        struct tm tm;
        char when[64];
        gmtime_r(&t, &tm);
        snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)((creation_time - floor(creation_time)) * 1e6));
        av_dict_set(&s->mux->metadata, "creation_time", when, 0);
    }
    ret = avio_open(&s->mux->pb, tmp, AVIO_FLAG_WRITE);
    if (ret < 0)
        return ret;
    return avformat_write_header(s->mux, NULL);
}

/* Sends frame (NULL = drain) and writes what comes out. */
static int encode(struct sample *s, AVCodecContext *enc, AVStream *st, AVFrame *frame)
{
    int ret = avcodec_send_frame(enc, frame);
    if (ret < 0)
        return ret;
    for (;;) {
        ret = avcodec_receive_packet(enc, s->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        if (s->pkt->duration <= 0 && enc->codec_type == AVMEDIA_TYPE_VIDEO)
            s->pkt->duration = 1; /* libx265 leaves it 0: the last frame would have no length */
        av_packet_rescale_ts(s->pkt, enc->time_base, st->time_base);
        s->pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(s->mux, s->pkt);
        if (ret < 0)
            return ret;
    }
}

static int run(struct sample *s)
{
    bool vdone = false, adone = false;
    int64_t vnext = 0, anext = 0; /* next timestamps, microseconds */
    while (!vdone || !adone) {
        bool video = !vdone && (adone || vnext <= anext);
        AVFilterContext *sink = video ? s->vsink : s->asink;
        int ret = av_buffersink_get_frame(sink, s->frame);
        if (ret == AVERROR_EOF) {
            ret = encode(s, video ? s->venc : s->aenc, video ? s->vst : s->ast, NULL);
            if (ret < 0)
                return ret;
            *(video ? &vdone : &adone) = true;
            continue;
        }
        if (ret < 0)
            return ret;
        AVRational tb = av_buffersink_get_time_base(sink);
        AVCodecContext *enc = video ? s->venc : s->aenc;
        int64_t us = av_rescale_q(s->frame->pts, tb, AV_TIME_BASE_Q);
        *(video ? &vnext : &anext) = us;
        s->frame->pts = av_rescale_q(s->frame->pts, tb, enc->time_base);
        s->frame->pict_type = AV_PICTURE_TYPE_NONE;
        ret = encode(s, enc, video ? s->vst : s->ast, s->frame);
        av_frame_unref(s->frame);
        if (ret < 0)
            return ret;
    }
    return av_write_trailer(s->mux);
}

int media_make_sample(const char *path, double seconds, double creation_time, int width, int height,
                      char *err, size_t errlen)
{
    struct sample s = {0};
    char tmp[4096];
    int ret;
    if (!(seconds > 0 && seconds <= 3600) || width < 16 || height < 16 || width > 4096 ||
        height > 4096 || (width | height) & 1) {
        snprintf(err, errlen, "invalid sample parameters");
        return AVERROR(EINVAL);
    }
    if (util_fmt(tmp, sizeof(tmp), "%s.tmp.%ld.mp4", path, (long)getpid()) < 0) {
        snprintf(err, errlen, "path too long");
        return AVERROR(ENAMETOOLONG);
    }
    media_avlog_init();
    s.frame = av_frame_alloc();
    s.pkt = av_packet_alloc();
    ret = !s.frame || !s.pkt ? AVERROR(ENOMEM) : 0;
    const char *step = "filter graph";
    if (ret == 0)
        ret = build_graph(&s, seconds, width, height);
    if (ret == 0) {
        step = "encoders";
        ret = open_encoders(&s, width, height);
    }
    if (ret == 0) {
        step = "output";
        ret = open_muxer(&s, tmp, creation_time);
    }
    if (ret == 0) {
        step = "encoding";
        ret = run(&s);
    }
    if (s.mux && s.mux->pb)
        avio_closep(&s.mux->pb);
    if (ret == 0 && rename(tmp, path) < 0) {
        step = "rename";
        ret = AVERROR(errno);
    }
    if (ret < 0) {
        char buf[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, buf, sizeof(buf));
        snprintf(err, errlen, "%s: %s: %s", path, step, buf);
        unlink(tmp);
    }
    avformat_free_context(s.mux);
    avcodec_free_context(&s.venc);
    avcodec_free_context(&s.aenc);
    avfilter_graph_free(&s.graph);
    av_packet_free(&s.pkt);
    av_frame_free(&s.frame);
    return ret;
}
