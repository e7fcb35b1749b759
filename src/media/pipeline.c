/* Decode -> convert -> encode -> segment: see pipeline.h. */
#include "media/pipeline.h"

#include "core/log.h"
#include "core/util.h"
#include "media/afilter.h"
#include "media/decode.h"
#include "media/geometry.h"
#include "media/vfilter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/pixdesc.h>

#define US ((AVRational){1, 1000000})

struct media_pipeline {
    struct media_pipeline_cfg cfg;
    char *name;
    struct media_tsseg *out;

    /* video */
    struct media_decoder *vdec;
    struct media_vfilter *vf;
    struct media_venc *venc;
    AVRational v_rate; /* nominal frame rate, 0/1 when unknown */
    int rotation;
    bool field_interlaced;
    int out_w, out_h;
    int64_t v_offset_us;
    int64_t last_enc_pts;    /* MEDIA_VIDEO_TB, AV_NOPTS_VALUE before the first */
    int64_t next_dec_pts_us; /* for frames without timestamps */
    bool first_done;
    double next_cut;
    double tol;
    int64_t frames;
    double last_t;

    /* audio */
    struct media_decoder *adec;
    struct media_afilter *af;
    struct media_aenc *aenc;
    int a_rate, a_channels;
    int64_t a_offset_us;

    double win_start, win_end;
    AVFrame *frame, *filt;
    AVPacket *pkt;
};

static double frame_rate_of(const AVStream *st, AVRational *out)
{
    AVRational r = st->avg_frame_rate;
    if (!(r.num > 0 && r.den > 0 && av_q2d(r) >= 1 && av_q2d(r) <= 240))
        r = st->r_frame_rate;
    if (!(r.num > 0 && r.den > 0 && av_q2d(r) >= 1 && av_q2d(r) <= 240))
        r = (AVRational){0, 1};
    *out = r;
    return r.num ? av_q2d(r) : 0;
}

int media_pipeline_open(struct media_pipeline **out, const struct media_pipeline_cfg *cfg,
                        const AVStream *vst, int rotation, const AVStream *ast, char *err,
                        size_t errlen)
{
    struct media_pipeline *p = NULL;
    int r;
    *out = NULL;
    if (cfg->video_passthrough)
        vst = NULL;
    if (!vst && !ast) {
        snprintf(err, errlen, "nothing to encode");
        return AVERROR(EINVAL);
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return AVERROR(ENOMEM);
    p->cfg = *cfg;
    p->name = util_xstrdup(cfg->name ? cfg->name : "media");
    p->cfg.name = p->name;
    p->out = cfg->out;
    p->win_start = -INFINITY;
    p->win_end = INFINITY;
    p->last_enc_pts = AV_NOPTS_VALUE;
    p->next_dec_pts_us = AV_NOPTS_VALUE;
    p->frame = av_frame_alloc();
    p->filt = av_frame_alloc();
    p->pkt = av_packet_alloc();
    if (!p->frame || !p->filt || !p->pkt) {
        r = AVERROR(ENOMEM);
        goto fail;
    }

    if (vst) {
        if ((r = media_decoder_open(&p->vdec, vst, 0, err, errlen)) < 0)
            goto fail;
        double fps = frame_rate_of(vst, &p->v_rate);
        /* A boundary falls on the first frame at or after it (as grid.h plans);
         * the tolerance only absorbs timestamp rounding. */
        p->tol = fps > 0 ? 0.001 / fps : 1e-4;
        p->rotation = rotation;
        enum AVFieldOrder fo = vst->codecpar->field_order;
        p->field_interlaced =
            fo == AV_FIELD_TT || fo == AV_FIELD_BB || fo == AV_FIELD_TB || fo == AV_FIELD_BT;
    }
    if (ast) {
        if ((r = media_decoder_open(&p->adec, ast, 1, err, errlen)) < 0) {
            /* A broken audio track must not sink a playable video. */
            if (vst) {
                LOG_WARN(NULL, "audio ignored: %s", err);
                err[0] = '\0';
                goto audio_done;
            }
            goto fail;
        }
        const AVCodecParameters *par = ast->codecpar;
        int ch = par->ch_layout.nb_channels;
        media_audio_out_format(par->sample_rate, ch > 0 ? ch : 2, &p->a_rate, &p->a_channels);
        if ((r = media_aenc_open(&p->aenc, cfg->audio, p->a_rate, p->a_channels, err, errlen)) < 0)
            goto fail;
    }
audio_done:
    *out = p;
    return 0;
fail:
    media_pipeline_free(&p);
    return r;
}

void media_pipeline_set_window(struct media_pipeline *p, double start, double end)
{
    p->win_start = start;
    p->win_end = end;
}

/* The packet destination: the caller's sink, else its media_tsseg. */
static int out_set_streams(struct media_pipeline *p, const AVCodecParameters *v, AVRational vtb,
                           const AVCodecParameters *a, AVRational atb)
{
    const struct media_sink *k = p->cfg.sink;
    return k ? k->set_streams(k->arg, v, vtb, a, atb)
             : media_tsseg_set_streams(p->out, v, vtb, a, atb);
}

static int out_cut_at(struct media_pipeline *p, int64_t pts)
{
    const struct media_sink *k = p->cfg.sink;
    return k ? k->cut_at(k->arg, pts) : media_tsseg_cut_at(p->out, pts);
}

static int out_write(struct media_pipeline *p, int stream, AVPacket *pkt)
{
    const struct media_sink *k = p->cfg.sink;
    return k ? k->write(k->arg, stream, pkt) : media_tsseg_write(p->out, stream, pkt);
}

static int fail_av(int r, const char *what, char *err, size_t errlen)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(r, eb, sizeof(eb));
    snprintf(err, errlen, "%s: %s", what, eb);
    return r;
}

static int declare_streams(struct media_pipeline *p)
{
    AVCodecParameters *vp = avcodec_parameters_alloc();
    AVCodecParameters *ap = p->aenc ? avcodec_parameters_alloc() : NULL;
    int r = AVERROR(ENOMEM);
    if (!vp || (p->aenc && !ap))
        goto out;
    if ((r = avcodec_parameters_from_context(vp, p->venc->ctx)) < 0)
        goto out;
    if (ap && (r = avcodec_parameters_from_context(ap, p->aenc->ctx)) < 0)
        goto out;
    r = out_set_streams(p, vp, MEDIA_VIDEO_TB, ap,
                        ap ? p->aenc->ctx->time_base : (AVRational){1, 1});
out:
    avcodec_parameters_free(&vp);
    avcodec_parameters_free(&ap);
    return r;
}

static int write_video_packets(struct media_pipeline *p, char *err, size_t errlen)
{
    for (;;) {
        int r = media_venc_receive(p->venc, p->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0)
            return fail_av(r, "video encoding failed", err, errlen);
        if (p->pkt->duration <= 0 && p->v_rate.num > 0)
            p->pkt->duration = av_rescale_q(1, av_inv_q(p->v_rate), MEDIA_VIDEO_TB);
        r = out_write(p, MEDIA_TSSEG_VIDEO, p->pkt);
        av_packet_unref(p->pkt);
        if (r < 0)
            return fail_av(r, "writing a segment failed", err, errlen);
    }
}

static int open_video_encoder(struct media_pipeline *p, const AVFrame *f, char *err, size_t errlen)
{
    const struct media_video_settings *s = p->cfg.video;
    struct media_geom_in gi = {
        .width = f->width,
        .height = f->height,
        .sar_num = f->sample_aspect_ratio.num,
        .sar_den = f->sample_aspect_ratio.den,
        .rotation = p->rotation,
        .fps = p->v_rate.num ? av_q2d(p->v_rate) : 0,
        .max_width = s->max_width,
        .max_height = s->max_height,
    };
    struct media_geom_out go;
    if (media_geometry_fit(&gi, &go) < 0) {
        snprintf(err, errlen, "invalid video dimensions %dx%d", f->width, f->height);
        return AVERROR_INVALIDDATA;
    }
    p->out_w = go.width;
    p->out_h = go.height;
    double gop = p->cfg.gop_seconds > 0 ? p->cfg.gop_seconds : 6;
    int r = media_venc_open(&p->venc, s, p->out_w, p->out_h, p->v_rate, gop, p->name, err, errlen);
    if (r < 0)
        return r;
    if ((r = declare_streams(p)) < 0)
        return fail_av(r, "segment writer", err, errlen);
    LOG_INFO(NULL, "video %dx%d %s -> %dx%d H.264 (%s)%s%s", f->width, f->height,
             av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?", p->out_w,
             p->out_h, p->venc->encoder, p->rotation ? ", rotated" : "",
             p->field_interlaced || f->interlaced_frame ? ", deinterlaced" : "");
    return 0;
}

static void advance_cut(struct media_pipeline *p)
{
    double nb = p->cfg.next_boundary(p->cfg.boundary_arg, p->next_cut);
    /* A plan that does not move forward would loop forever. */
    p->next_cut = nb > p->next_cut ? nb : INFINITY;
}

/* A converted frame (pts in the filter's output time base): decide the
 * segment boundary, then encode. */
static int encode_video_frame(struct media_pipeline *p, AVFrame *f, AVRational tb, char *err,
                              size_t errlen)
{
    if (f->pts == AV_NOPTS_VALUE)
        return 0;
    int64_t pts = av_rescale_q(f->pts, tb, MEDIA_VIDEO_TB);
    double t = pts / 90000.0;
    int64_t enc_pts = pts + (int64_t)(MEDIA_TS_OFFSET * 90000);
    if (p->last_enc_pts != AV_NOPTS_VALUE && enc_pts <= p->last_enc_pts)
        return 0; /* duplicate or backwards timestamp */
    bool idr = false;
    if (!p->first_done) {
        p->first_done = true;
        idr = true;
        p->next_cut =
            p->cfg.next_boundary ? p->cfg.next_boundary(p->cfg.boundary_arg, t) : INFINITY;
        /* A first frame a hair before a boundary starts that segment. */
        while (p->next_cut <= t + p->tol)
            advance_cut(p);
    } else if (t >= p->next_cut - p->tol) {
        idr = true;
        /* Skip boundaries that fell into a gap of the input. */
        while (t >= p->next_cut - p->tol)
            advance_cut(p);
    }
    int r;
    if (idr && (r = out_cut_at(p, enc_pts)) < 0)
        return fail_av(r, "segment cut", err, errlen);
    f->pts = enc_pts;
    f->pkt_dts = AV_NOPTS_VALUE;
    f->pkt_duration = 0;
    p->last_enc_pts = enc_pts;
    if ((r = media_venc_send(p->venc, f, idr)) < 0)
        return fail_av(r, "video encoding failed", err, errlen);
    p->frames++;
    p->last_t = t;
    return write_video_packets(p, err, errlen);
}

static int pull_video(struct media_pipeline *p, char *err, size_t errlen)
{
    AVRational tb = media_vfilter_time_base(p->vf);
    for (;;) {
        int r = media_vfilter_pull(p->vf, p->filt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0)
            return fail_av(r, "video conversion failed", err, errlen);
        r = encode_video_frame(p, p->filt, tb, err, errlen);
        av_frame_unref(p->filt);
        if (r < 0)
            return r;
    }
}

static int close_vfilter(struct media_pipeline *p, char *err, size_t errlen)
{
    if (!p->vf)
        return 0;
    int r = media_vfilter_push(p->vf, NULL);
    if (r >= 0)
        r = pull_video(p, err, errlen);
    media_vfilter_free(&p->vf);
    return r;
}

static int process_video_frame(struct media_pipeline *p, AVFrame *f, char *err, size_t errlen)
{
    int64_t t_us;
    if (f->pts != AV_NOPTS_VALUE)
        t_us = av_rescale_q(f->pts, p->vdec->time_base, US) + p->v_offset_us;
    else if (p->next_dec_pts_us != AV_NOPTS_VALUE)
        t_us = p->next_dec_pts_us;
    else
        return 0;
    int64_t dur_us = p->v_rate.num ? av_rescale_q(1, av_inv_q(p->v_rate), US) : 40000;
    p->next_dec_pts_us = t_us + dur_us;
    double t = t_us / 1e6;
    if (t < p->win_start - p->tol || t >= p->win_end - p->tol)
        return 0;
    if (f->width <= 0 || f->height <= 0)
        return 0;

    int r;
    if (!p->venc && (r = open_video_encoder(p, f, err, errlen)) < 0)
        return r;
    if (p->vf && !media_vfilter_matches(p->vf, f)) {
        LOG_INFO(NULL, "input video changed to %dx%d, rebuilding the conversion", f->width,
                 f->height);
        if ((r = close_vfilter(p, err, errlen)) < 0)
            return r;
    }
    if (!p->vf) {
        struct media_vfilter_cfg vc = {
            .width = p->out_w,
            .height = p->out_h,
            .rotation = p->rotation,
            .pix_fmt = p->venc->sw_format,
            .deinterlace = p->field_interlaced,
            .scale_flags = p->cfg.scale_flags ? p->cfg.scale_flags : MEDIA_SCALE_FLAGS,
        };
        /* A graph that cannot be built is the input's fault (odd format). */
        if ((r = media_vfilter_create(&p->vf, f, MEDIA_VIDEO_TB, p->v_rate, &vc, err, errlen)) < 0)
            return r == AVERROR(ENOMEM) ? r : AVERROR_INVALIDDATA;
    }
    f->pts = av_rescale_q(t_us, US, MEDIA_VIDEO_TB);
    if ((r = media_vfilter_push(p->vf, f)) < 0)
        return fail_av(r, "video conversion failed", err, errlen);
    return pull_video(p, err, errlen);
}

static int write_audio_packets(struct media_pipeline *p, char *err, size_t errlen)
{
    for (;;) {
        int r = media_aenc_receive(p->aenc, p->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0)
            return fail_av(r, "audio encoding failed", err, errlen);
        r = out_write(p, MEDIA_TSSEG_AUDIO, p->pkt);
        av_packet_unref(p->pkt);
        if (r < 0)
            return fail_av(r, "writing a segment failed", err, errlen);
    }
}

static int pull_audio(struct media_pipeline *p, char *err, size_t errlen)
{
    int64_t off = (int64_t)(MEDIA_TS_OFFSET * p->a_rate);
    for (;;) {
        int r = media_afilter_pull(p->af, p->filt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0)
            return fail_av(r, "audio conversion failed", err, errlen);
        if (p->filt->pts != AV_NOPTS_VALUE)
            p->filt->pts += off;
        r = media_aenc_send(p->aenc, p->filt);
        av_frame_unref(p->filt);
        if (r < 0)
            return fail_av(r, "audio encoding failed", err, errlen);
        if ((r = write_audio_packets(p, err, errlen)) < 0)
            return r;
    }
}

static int close_afilter(struct media_pipeline *p, char *err, size_t errlen)
{
    if (!p->af)
        return 0;
    int r = media_afilter_push(p->af, NULL);
    if (r >= 0)
        r = pull_audio(p, err, errlen);
    media_afilter_free(&p->af);
    return r;
}

static int process_audio_frame(struct media_pipeline *p, AVFrame *f, char *err, size_t errlen)
{
    if (f->pts == AV_NOPTS_VALUE || f->sample_rate <= 0 || f->nb_samples <= 0)
        return 0;
    int64_t t_us = av_rescale_q(f->pts, p->adec->time_base, US) + p->a_offset_us;
    double t = t_us / 1e6;
    double dur = (double)f->nb_samples / f->sample_rate;
    if (t + dur <= p->win_start || t >= p->win_end)
        return 0;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        int n = f->ch_layout.nb_channels;
        av_channel_layout_uninit(&f->ch_layout);
        av_channel_layout_default(&f->ch_layout, n);
    }
    int r;
    if (p->af && !media_afilter_matches(p->af, f)) {
        LOG_INFO(NULL, "input audio format changed, rebuilding the conversion");
        if ((r = close_afilter(p, err, errlen)) < 0)
            return r;
    }
    AVRational in_tb = {1, f->sample_rate};
    if (!p->af) {
        r = media_afilter_create(&p->af, f, in_tb, p->a_rate, p->a_channels,
                                 p->aenc->ctx->frame_size, err, errlen);
        if (r < 0)
            return r == AVERROR(ENOMEM) ? r : AVERROR_INVALIDDATA;
    }
    f->pts = av_rescale_q(t_us, US, in_tb);
    if ((r = media_afilter_push(p->af, f)) < 0)
        return fail_av(r, "audio conversion failed", err, errlen);
    return pull_audio(p, err, errlen);
}

static int receive_frames(struct media_pipeline *p, int which, char *err, size_t errlen)
{
    struct media_decoder *d = which == MEDIA_VIDEO ? p->vdec : p->adec;
    for (;;) {
        int r = media_decoder_receive(d, p->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0)
            return fail_av(r, "decoding failed", err, errlen);
        r = which == MEDIA_VIDEO ? process_video_frame(p, p->frame, err, errlen)
                                 : process_audio_frame(p, p->frame, err, errlen);
        av_frame_unref(p->frame);
        if (r < 0)
            return r;
    }
}

int media_pipeline_send(struct media_pipeline *p, int which, const AVPacket *pkt, int64_t offset_us,
                        char *err, size_t errlen)
{
    struct media_decoder *d = which == MEDIA_VIDEO ? p->vdec : p->adec;
    if (!d || (which == MEDIA_AUDIO && !p->aenc))
        return 0;
    if (which == MEDIA_VIDEO)
        p->v_offset_us = offset_us;
    else
        p->a_offset_us = offset_us;
    int r = media_decoder_send(d, pkt);
    if (r < 0 && r != AVERROR(EAGAIN))
        return fail_av(r, "decoding failed", err, errlen);
    return receive_frames(p, which, err, errlen);
}

int media_pipeline_drain(struct media_pipeline *p, char *err, size_t errlen)
{
    int r;
    if (p->vdec) {
        media_decoder_send(p->vdec, NULL);
        if ((r = receive_frames(p, MEDIA_VIDEO, err, errlen)) < 0 ||
            (r = close_vfilter(p, err, errlen)) < 0)
            return r;
        if (p->venc) {
            if ((r = media_venc_send(p->venc, NULL, false)) < 0 && r != AVERROR_EOF)
                return fail_av(r, "video encoding failed", err, errlen);
            if ((r = write_video_packets(p, err, errlen)) < 0)
                return r;
        }
    }
    if (p->adec && p->aenc) {
        media_decoder_send(p->adec, NULL);
        if ((r = receive_frames(p, MEDIA_AUDIO, err, errlen)) < 0 ||
            (r = close_afilter(p, err, errlen)) < 0)
            return r;
        if ((r = media_aenc_send(p->aenc, NULL)) < 0 && r != AVERROR_EOF)
            return fail_av(r, "audio encoding failed", err, errlen);
        if ((r = write_audio_packets(p, err, errlen)) < 0)
            return r;
    }
    return 0;
}

void media_pipeline_get_info(const struct media_pipeline *p, struct media_pipeline_info *info)
{
    *info = (struct media_pipeline_info){
        .video_ready = p->venc != NULL,
        .width = p->out_w,
        .height = p->out_h,
        .fps = p->v_rate.num ? av_q2d(p->v_rate) : 0,
        .audio = p->aenc != NULL,
        .video_frames = p->frames,
        .last_t = p->last_t,
        .decode_errors = (p->vdec ? p->vdec->errors : 0) + (p->adec ? p->adec->errors : 0),
        .video_decoded = p->vdec ? p->vdec->frames : 0,
        .video_damaged = p->vdec ? p->vdec->damaged : 0,
    };
    if (p->venc)
        snprintf(info->encoder, sizeof(info->encoder), "%s", p->venc->encoder);
}

const AVCodecContext *media_pipeline_audio_encoder(const struct media_pipeline *p)
{
    return p->aenc ? p->aenc->ctx : NULL;
}

void media_pipeline_free(struct media_pipeline **pp)
{
    struct media_pipeline *p = *pp;
    if (!p)
        return;
    media_vfilter_free(&p->vf);
    media_afilter_free(&p->af);
    media_venc_free(&p->venc);
    media_aenc_free(&p->aenc);
    media_decoder_free(&p->vdec);
    media_decoder_free(&p->adec);
    av_frame_free(&p->frame);
    av_frame_free(&p->filt);
    av_packet_free(&p->pkt);
    free(p->name);
    free(p);
    *pp = NULL;
}
