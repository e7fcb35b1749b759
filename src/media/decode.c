/* Decoders: see decode.h. */
#include "media/decode.h"

#include "media/avlog.h"
#include "media/geometry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int media_decoder_open(struct media_decoder **out, const AVStream *st, int threads, char *err,
                       size_t errlen)
{
    const AVCodecParameters *par = st->codecpar;
    const char *kind = av_get_media_type_string(par->codec_type);
    struct media_decoder *d = NULL;
    int r;

    *out = NULL;
    media_avlog_init();
    if (!kind)
        kind = "unknown";
    if (par->codec_type == AVMEDIA_TYPE_VIDEO &&
        (par->width < 0 || par->height < 0 || par->width > MEDIA_GEOM_MAX_DIM ||
         par->height > MEDIA_GEOM_MAX_DIM)) {
        snprintf(err, errlen, "invalid video dimensions %dx%d", par->width, par->height);
        return AVERROR_INVALIDDATA;
    }
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        if (par->codec_id == AV_CODEC_ID_NONE)
            snprintf(err, errlen, "unknown %s codec", kind);
        else
            snprintf(err, errlen, "unsupported %s codec %s", kind, avcodec_get_name(par->codec_id));
        return AVERROR_DECODER_NOT_FOUND;
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        return AVERROR(ENOMEM);
    d->type = par->codec_type;
    d->time_base = st->time_base;
    d->ctx = avcodec_alloc_context3(codec);
    if (!d->ctx) {
        r = AVERROR(ENOMEM);
        goto fail;
    }
    if ((r = avcodec_parameters_to_context(d->ctx, par)) < 0) {
        snprintf(err, errlen, "%s decoder parameters: invalid", kind);
        goto fail;
    }
    d->ctx->pkt_timebase = st->time_base;
    d->ctx->thread_count = threads;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO)
        d->ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    media_avlog_clear();
    if ((r = avcodec_open2(d->ctx, codec, NULL)) < 0) {
        char eb[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(r, eb, sizeof(eb));
        const char *detail = media_avlog_last_error();
        snprintf(err, errlen, "cannot open the %s decoder (%s): %s",
                 avcodec_get_name(par->codec_id), kind, detail[0] ? detail : eb);
        goto fail;
    }
    *out = d;
    return 0;
fail:
    media_decoder_free(&d);
    return r;
}

int media_decoder_send(struct media_decoder *d, const AVPacket *pkt)
{
    int r = avcodec_send_packet(d->ctx, pkt);
    if (r == AVERROR_EOF && !pkt)
        return 0; /* already draining */
    if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR(ENOMEM)) {
        d->errors++;
        return 0;
    }
    return r;
}

int media_decoder_receive(struct media_decoder *d, AVFrame *frame)
{
    for (;;) {
        int r = avcodec_receive_frame(d->ctx, frame);
        if (r == 0) {
            frame->pts = frame->best_effort_timestamp;
            d->frames++;
            if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
                d->damaged++;
            return 0;
        }
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF || r == AVERROR(ENOMEM))
            return r;
        d->errors++; /* a damaged frame: keep going */
    }
}

void media_decoder_free(struct media_decoder **pd)
{
    struct media_decoder *d = *pd;
    if (!d)
        return;
    avcodec_free_context(&d->ctx);
    free(d);
    *pd = NULL;
}
