/* H.264 and AAC encoders: see encode.h. */
#include "media/encode.h"

#include "core/log.h"
#include "media/avlog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>

/* An empty string means "not set" in a job, like null. */
static const char *opt_str(const char *s)
{
    return s && s[0] ? s : NULL;
}

void media_video_settings_from_job(const struct jobspec_video *j, struct media_video_settings *out)
{
    *out = (struct media_video_settings){
        .encoder = opt_str(j->encoder) ? j->encoder : "libx264",
        .preset = opt_str(j->preset),
        .tune = opt_str(j->tune),
        .bitrate = j->bitrate,
        .crf = j->crf,
        .max_width = j->max_width,
        .max_height = j->max_height,
    };
}

void media_audio_settings_from_job(const struct jobspec_audio *j, struct media_audio_settings *out)
{
    *out = (struct media_audio_settings){.bitrate = j->bitrate};
}

/* Sets a private option, ignoring encoders that do not have it. */
static void try_opt(AVCodecContext *ctx, const char *key, const char *val)
{
    if (!val)
        return;
    int r = av_opt_set(ctx->priv_data, key, val, 0);
    if (r < 0 && r != AVERROR_OPTION_NOT_FOUND)
        LOG_WARN(NULL, "%s: option %s=%s refused", ctx->codec->name, key, val);
}

static bool is_x264(const AVCodec *c)
{
    return strcmp(c->name, "libx264") == 0;
}

static int setup_vaapi(struct media_venc *e, int width, int height)
{
    int r = av_hwdevice_ctx_create(&e->hw_device, AV_HWDEVICE_TYPE_VAAPI, NULL, NULL, 0);
    if (r < 0)
        return r;
    AVBufferRef *frames = av_hwframe_ctx_alloc(e->hw_device);
    if (!frames)
        return AVERROR(ENOMEM);
    AVHWFramesContext *fc = (AVHWFramesContext *)frames->data;
    fc->format = AV_PIX_FMT_VAAPI;
    fc->sw_format = AV_PIX_FMT_NV12;
    fc->width = width;
    fc->height = height;
    fc->initial_pool_size = 20;
    if ((r = av_hwframe_ctx_init(frames)) < 0) {
        av_buffer_unref(&frames);
        return r;
    }
    e->ctx->hw_frames_ctx = frames;
    e->ctx->pix_fmt = AV_PIX_FMT_VAAPI;
    e->sw_format = AV_PIX_FMT_NV12;
    e->hw_frame = av_frame_alloc();
    return e->hw_frame ? 0 : AVERROR(ENOMEM);
}

static void venc_reset(struct media_venc *e)
{
    avcodec_free_context(&e->ctx);
    av_frame_free(&e->hw_frame);
    av_buffer_unref(&e->hw_device);
}

static int try_open(struct media_venc *e, const AVCodec *codec,
                    const struct media_video_settings *s, int width, int height,
                    AVRational frame_rate, double gop_seconds, char *why, size_t whylen)
{
    int r;
    e->ctx = avcodec_alloc_context3(codec);
    if (!e->ctx)
        return AVERROR(ENOMEM);
    AVCodecContext *c = e->ctx;
    bool fr_ok = frame_rate.num > 0 && frame_rate.den > 0 && av_q2d(frame_rate) < 1000;
    double fps = fr_ok ? av_q2d(frame_rate) : 25.0;
    c->width = width;
    c->height = height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    e->sw_format = AV_PIX_FMT_YUV420P;
    c->sample_aspect_ratio = (AVRational){1, 1};
    c->time_base = MEDIA_VIDEO_TB;
    c->framerate = fr_ok ? frame_rate : (AVRational){25, 1};
    c->color_range = AVCOL_RANGE_MPEG;
    c->field_order = AV_FIELD_PROGRESSIVE;
    c->gop_size = (int)ceil(fmax(gop_seconds, 0.5) * fps);
    c->keyint_min = 1;
    /* libavcodec's default is one thread, and libx264 takes its thread count
     * from here: 0 = one per core, as the ffmpeg CLI sets ("threads auto"). */
    c->thread_count = 0;
    c->level = 41;
    c->profile = FF_PROFILE_H264_HIGH;
    if (s->bitrate > 0) {
        c->bit_rate = s->bitrate;
        c->rc_max_rate = s->bitrate;
        c->rc_buffer_size = (int)fmin(2.0 * (double)s->bitrate, 2e9);
    }
    if (codec->pix_fmts && codec->pix_fmts[0] == AV_PIX_FMT_VAAPI) {
        if ((r = setup_vaapi(e, width, height)) < 0) {
            av_strerror(r, why, whylen);
            return r;
        }
    }
    if (is_x264(codec)) {
        try_opt(c, "preset", s->preset);
        try_opt(c, "tune", s->tune);
        try_opt(c, "profile", "high");
        try_opt(c, "forced-idr", "1");
        if (s->bitrate <= 0) {
            char crf[16];
            snprintf(crf, sizeof(crf), "%d", s->crf);
            try_opt(c, "crf", crf);
        }
        /* Keyframes only where a segment starts. */
        try_opt(c, "x264-params", "scenecut=0:open-gop=0");
    } else {
        /* Hardware encoders name their presets differently: best effort. */
        try_opt(c, "preset", s->preset);
        try_opt(c, "profile", "high");
        try_opt(c, "forced-idr", "1");
        if (s->bitrate <= 0) {
            char q[16];
            snprintf(q, sizeof(q), "%d", s->crf);
            if (av_opt_set(c->priv_data, "cq", q, 0) < 0)
                av_opt_set(c->priv_data, "qp", q, 0);
        }
    }
    media_avlog_clear();
    r = avcodec_open2(c, codec, NULL);
    if (r < 0) {
        const char *d = media_avlog_last_error();
        if (d[0])
            snprintf(why, whylen, "%s", d);
        else
            av_strerror(r, why, whylen);
    }
    return r;
}

int media_venc_open(struct media_venc **out, const struct media_video_settings *s, int width,
                    int height, AVRational frame_rate, double gop_seconds, const char *log_name,
                    char *err, size_t errlen)
{
    char why[256] = "";
    int r;
    (void)log_name; /* the worker's process prefix names the job already */
    *out = NULL;
    media_avlog_init();
    struct media_venc *e = calloc(1, sizeof(*e));
    if (!e)
        return AVERROR(ENOMEM);
    const char *name = s->encoder && s->encoder[0] ? s->encoder : "libx264";
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec) {
        snprintf(why, sizeof(why), "not available in this FFmpeg build");
        r = AVERROR_ENCODER_NOT_FOUND;
    } else if (codec->id != AV_CODEC_ID_H264) {
        snprintf(why, sizeof(why), "not an H.264 encoder");
        r = AVERROR(EINVAL);
    } else {
        r = try_open(e, codec, s, width, height, frame_rate, gop_seconds, why, sizeof(why));
    }
    if (r < 0 && strcmp(name, "libx264") != 0) {
        LOG_WARN(NULL, "video encoder %s cannot be used (%s); falling back to libx264", name, why);
        venc_reset(e);
        e->fell_back = true;
        codec = avcodec_find_encoder_by_name("libx264");
        if (!codec) {
            snprintf(why, sizeof(why), "libx264 is not available");
            r = AVERROR_ENCODER_NOT_FOUND;
        } else {
            struct media_video_settings x = *s;
            /* The hardware encoder's preset names mean nothing to x264. */
            x.preset = "veryfast";
            x.tune = NULL;
            r = try_open(e, codec, &x, width, height, frame_rate, gop_seconds, why, sizeof(why));
        }
        name = "libx264";
    }
    if (r < 0) {
        snprintf(err, errlen, "cannot open the video encoder %s: %s", name, why);
        media_venc_free(&e);
        return r;
    }
    snprintf(e->encoder, sizeof(e->encoder), "%s", codec->name);
    *out = e;
    return 0;
}

int media_venc_send(struct media_venc *e, AVFrame *frame, bool force_idr)
{
    if (!frame)
        return avcodec_send_frame(e->ctx, NULL);
    frame->pict_type = force_idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    frame->key_frame = force_idr;
    if (!e->hw_frame)
        return avcodec_send_frame(e->ctx, frame);
    av_frame_unref(e->hw_frame);
    int r = av_hwframe_get_buffer(e->ctx->hw_frames_ctx, e->hw_frame, 0);
    if (r < 0)
        return r;
    if ((r = av_hwframe_transfer_data(e->hw_frame, frame, 0)) < 0 ||
        (r = av_frame_copy_props(e->hw_frame, frame)) < 0)
        return r;
    return avcodec_send_frame(e->ctx, e->hw_frame);
}

int media_venc_receive(struct media_venc *e, AVPacket *pkt)
{
    return avcodec_receive_packet(e->ctx, pkt);
}

void media_venc_free(struct media_venc **pe)
{
    struct media_venc *e = *pe;
    if (!e)
        return;
    venc_reset(e);
    free(e);
    *pe = NULL;
}

void media_audio_out_format(int in_rate, int in_channels, int *out_rate, int *out_channels)
{
    *out_rate = in_rate == 44100 ? 44100 : 48000;
    *out_channels = in_channels == 1 ? 1 : 2;
}

int media_aenc_open(struct media_aenc **out, const struct media_audio_settings *s, int sample_rate,
                    int channels, char *err, size_t errlen)
{
    int r;
    *out = NULL;
    media_avlog_init();
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    if (!codec) {
        snprintf(err, errlen, "the aac encoder is not available");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    struct media_aenc *e = calloc(1, sizeof(*e));
    if (!e)
        return AVERROR(ENOMEM);
    e->ctx = avcodec_alloc_context3(codec);
    if (!e->ctx) {
        free(e);
        return AVERROR(ENOMEM);
    }
    AVCodecContext *c = e->ctx;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = sample_rate;
    av_channel_layout_default(&c->ch_layout, channels);
    c->bit_rate = s->bitrate > 0 ? s->bitrate : 128000;
    c->profile = FF_PROFILE_AAC_LOW;
    c->time_base = (AVRational){1, sample_rate};
    media_avlog_clear();
    if ((r = avcodec_open2(c, codec, NULL)) < 0) {
        const char *d = media_avlog_last_error();
        char eb[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(r, eb, sizeof(eb));
        snprintf(err, errlen, "cannot open the AAC encoder: %s", d[0] ? d : eb);
        media_aenc_free(&e);
        return r;
    }
    *out = e;
    return 0;
}

int media_aenc_send(struct media_aenc *e, AVFrame *frame)
{
    return avcodec_send_frame(e->ctx, frame);
}

int media_aenc_receive(struct media_aenc *e, AVPacket *pkt)
{
    return avcodec_receive_packet(e->ctx, pkt);
}

void media_aenc_free(struct media_aenc **pe)
{
    struct media_aenc *e = *pe;
    if (!e)
        return;
    avcodec_free_context(&e->ctx);
    free(e);
    *pe = NULL;
}
