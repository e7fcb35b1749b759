/* Scrub thumbnails (the `thumbs` job): for each time of the plan
 * (core/thumbgrid.h), seek the recording covering it to the keyframe at or
 * before it, decode that keyframe alone (skip_frame = nokey: no reference
 * chain, so a thumbnail costs one intra picture whatever the GOP), scale it
 * into its tile keeping the display aspect, and encode each full sheet as
 * one JPEG. With `iframes`, each tile is also encoded as a lone H.264 IDR in
 * its own MPEG-TS file for the I-frame playlist. Every file is written to a
 * temp name and renamed, so a file that exists is complete. */
#include "media/thumbs.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/thumbgrid.h"
#include "core/util.h"
#include "media/decode.h"
#include "media/input.h"
#include "media/jobutil.h"
#include "media/segio.h"
#include "media/tsseg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define MAX_PACKETS_PER_SEEK 3000 /* packets read looking for a keyframe */
#define JPEG_QSCALE 5             /* 2 (best) .. 31 */
#define IFRAME_CRF "30"

struct thumbs {
    const struct jobspec_thumbs *j;
    const struct media_ctl *ctl;
    struct thumbgrid_layout l;
    struct thumbgrid_cue *cues;
    size_t n_cues;

    /* the recording open now */
    size_t src;
    struct media_input *in;
    struct media_decoder *dec;
    int rotation; /* clockwise degrees to apply for display */
    struct SwsContext *sws;
    AVFrame *frame;
    AVFrame *upright; /* a rotated source's scaled picture, before rotation */
    AVPacket *pkt;

    AVCodecContext *x264; /* the I-frame encoder, opened at the first tile */
    bool x264_failed;
    unsigned char *warned; /* per source: its failure was logged once */
    bool warned_colorspace;
};

static void close_source(struct thumbs *T)
{
    media_decoder_free(&T->dec);
    media_input_close(&T->in);
}

static bool stop_cb(void *arg)
{
    return jobutil_should_stop(arg);
}

/* Opens source i unless it is the one open. 0 or AVERROR (logged). */
static int open_source(struct thumbs *T, size_t i)
{
    char err[256] = "";
    int r;
    if (T->in && T->src == i)
        return 0;
    close_source(T);
    struct media_input_cfg ic = {.name = T->j->name,
                                 .url = T->j->sources[i].path,
                                 .should_stop = stop_cb,
                                 .stop_arg = (void *)T->ctl};
    if ((r = media_input_open(&T->in, &ic, err, sizeof(err))) < 0 ||
        (T->in->video_index < 0 && (r = AVERROR_STREAM_NOT_FOUND)) ||
        (r = media_decoder_open(&T->dec, T->in->fmt->streams[T->in->video_index], 1, err,
                                sizeof(err))) < 0) {
        /* Once per source, not once per thumbnail of it. */
        if (!T->warned[i])
            LOG_WARN(T->j->name, "%s: %s: its thumbnails stay black", T->j->sources[i].path,
                     err[0] ? err : "no video stream");
        T->warned[i] = 1;
        close_source(T);
        return r;
    }
    /* Only keyframes are decoded: each one stands alone. */
    T->dec->ctx->skip_frame = AVDISCARD_NONKEY;
    T->rotation = media_input_rotation(T->in->fmt->streams[T->in->video_index]);
    T->src = i;
    return 0;
}

/* The keyframe at or before epoch time t of source i into T->frame. */
static int decode_keyframe(struct thumbs *T, size_t i, double t)
{
    int r = open_source(T, i);
    if (r < 0)
        return r;
    double rel = t - T->j->sources[i].start_time + T->in->start_time;
    if ((r = media_input_seek(T->in, rel)) < 0)
        return r;
    avcodec_flush_buffers(T->dec->ctx);
    for (int n = 0; n < MAX_PACKETS_PER_SEEK; n++) {
        r = media_input_read(T->in, T->pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0)
            return r;
        if (T->pkt->stream_index != T->in->video_index ||
            (n > 0 && !(T->pkt->flags & AV_PKT_FLAG_KEY))) {
            av_packet_unref(T->pkt);
            continue;
        }
        r = media_decoder_send(T->dec, T->pkt);
        av_packet_unref(T->pkt);
        if (r < 0)
            return r;
        if ((r = media_decoder_receive(T->dec, T->frame)) == 0)
            return 0;
        if (r != AVERROR(EAGAIN))
            return r;
    }
    /* a decoder with delay: drain it */
    if (media_decoder_send(T->dec, NULL) == 0 && media_decoder_receive(T->dec, T->frame) == 0)
        return 0;
    return AVERROR_INVALIDDATA;
}

/* Copies plane src (w x h) into dst turned clockwise by rot (90/180/270). */
static void rotate_plane(uint8_t *dst, int dls, const uint8_t *src, int sls, int w, int h, int rot)
{
    int dw = rot == 180 ? w : h, dh = rot == 180 ? h : w;
    for (int dy = 0; dy < dh; dy++)
        for (int dx = 0; dx < dw; dx++) {
            int sx = rot == 90 ? dy : rot == 180 ? w - 1 - dx : w - 1 - dy;
            int sy = rot == 90 ? h - 1 - dx : rot == 180 ? h - 1 - dy : dx;
            dst[(ptrdiff_t)dy * dls + dx] = src[(ptrdiff_t)sy * sls + sx];
        }
}

/* Scales T->frame to w x h into dst planes (full range 4:2:0). */
static int scale_to(struct thumbs *T, uint8_t *const dst[4], const int dls[4], int w, int h)
{
    AVFrame *f = T->frame;
    T->sws = sws_getCachedContext(T->sws, f->width, f->height, f->format, w, h, AV_PIX_FMT_YUV420P,
                                  SWS_BICUBIC, NULL, NULL, NULL);
    if (!T->sws)
        return AVERROR(EINVAL);
    /* Full-range BT.601 output (what JPEG decoders assume), from the
     * source's own matrix (BT.709 for HD when untagged) and range: a wrong
     * matrix shifts the colours of every HD camera. */
    int cs = f->colorspace;
    if (cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RGB || cs > AVCOL_SPC_BT2020_CL)
        cs = f->height >= 720 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    if (sws_setColorspaceDetails(T->sws, sws_getCoefficients(cs),
                                 f->color_range == AVCOL_RANGE_JPEG,
                                 sws_getCoefficients(SWS_CS_ITU601), 1, 0, 1 << 16, 1 << 16) < 0 &&
        !T->warned_colorspace) {
        /* not fatal: the default conversion is still a picture */
        LOG_WARN(T->j->name, "colorspace %d: not supported by swscale, default used", cs);
        T->warned_colorspace = true;
    }
    int r = sws_scale(T->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dls);
    return r > 0 ? 0 : AVERROR(EINVAL);
}

/* Scales T->frame into the tile at (x, y) of sheet: upright (the display
 * matrix's rotation), fit inside, display aspect kept (sample aspect ratio
 * applied), centred on black. */
static int draw_tile(struct thumbs *T, AVFrame *sheet, int x, int y)
{
    AVFrame *f = T->frame;
    double sar = f->sample_aspect_ratio.num > 0 && f->sample_aspect_ratio.den > 0
                     ? av_q2d(f->sample_aspect_ratio)
                     : 1.0;
    double dar = (double)f->width * sar / f->height;
    int rot = T->rotation, tw = T->l.tile_width, th = T->l.tile_height, w, h;
    if (rot == 90 || rot == 270)
        dar = 1.0 / dar;
    if (dar > (double)tw / th) {
        w = tw;
        h = (int)lround(tw / dar / 2) * 2;
    } else {
        h = th;
        w = (int)lround(th * dar / 2) * 2;
    }
    w = w < 2 ? 2 : w > tw ? tw : w;
    h = h < 2 ? 2 : h > th ? th : h;
    int ox = x + (tw - w) / 4 * 2, oy = y + (th - h) / 4 * 2; /* even: 4:2:0 chroma */
    uint8_t *dst[4] = {sheet->data[0] + (ptrdiff_t)oy * sheet->linesize[0] + ox,
                       sheet->data[1] + (ptrdiff_t)(oy / 2) * sheet->linesize[1] + ox / 2,
                       sheet->data[2] + (ptrdiff_t)(oy / 2) * sheet->linesize[2] + ox / 2, NULL};
    if (rot != 90 && rot != 180 && rot != 270)
        return scale_to(T, dst, sheet->linesize, w, h);
    /* Rotated: scale to the picture's own orientation, then turn it (a
     * thumbnail is a few thousand pixels: a plain loop is enough). */
    int uw = rot == 180 ? w : h, uh = rot == 180 ? h : w;
    if (!T->upright || T->upright->width != uw || T->upright->height != uh) {
        av_frame_free(&T->upright);
        if (!(T->upright = av_frame_alloc()))
            return AVERROR(ENOMEM);
        T->upright->width = uw;
        T->upright->height = uh;
        T->upright->format = AV_PIX_FMT_YUV420P;
        if (av_frame_get_buffer(T->upright, 0) < 0) {
            av_frame_free(&T->upright);
            return AVERROR(ENOMEM);
        }
    }
    int r = scale_to(T, T->upright->data, T->upright->linesize, uw, uh);
    if (r < 0)
        return r;
    for (int p = 0; p < 3; p++)
        rotate_plane(dst[p], sheet->linesize[p], T->upright->data[p], T->upright->linesize[p],
                     p ? uw / 2 : uw, p ? uh / 2 : uh, rot);
    return 0;
}

static AVFrame *black_frame(int w, int h)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->width = w;
    f->height = h;
    f->format = AV_PIX_FMT_YUV420P;
    f->color_range = AVCOL_RANGE_JPEG;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    for (int y = 0; y < h; y++)
        memset(f->data[0] + (ptrdiff_t)y * f->linesize[0], 0, (size_t)w);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < h / 2; y++)
            memset(f->data[p] + (ptrdiff_t)y * f->linesize[p], 128, (size_t)w / 2);
    return f;
}

/* One encoded packet of frame from a fresh or given encoder. */
static int encode_one(AVCodecContext *c, AVFrame *frame, AVPacket *pkt)
{
    int r = avcodec_send_frame(c, frame);
    if (r < 0)
        return r;
    return avcodec_receive_packet(c, pkt);
}

static int write_jpeg(AVFrame *sheet, const char *path)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *c = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    int r = AVERROR(ENOMEM);
    if (!c || !pkt)
        goto out;
    c->width = sheet->width;
    c->height = sheet->height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->color_range = AVCOL_RANGE_JPEG;
    c->time_base = (AVRational){1, 25};
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
    sheet->quality = c->global_quality;
    sheet->pts = 0;
    if ((r = avcodec_open2(c, codec, NULL)) < 0 || (r = encode_one(c, sheet, pkt)) < 0)
        goto out;
    r = util_write_file_atomic(path, pkt->data, (size_t)pkt->size);
    if (r < 0)
        r = AVERROR(-r);
out:
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    return r;
}

bool media_thumbs_iframes_available(void)
{
    /* Test hook: a build without libx264 (tests/integration/test_thumbs.py).
     * Never set in production. */
    const char *no = getenv("HLSD_TEST_NO_X264");
    if (no && strcmp(no, "1") == 0)
        return false;
    return avcodec_find_encoder_by_name("libx264") != NULL;
}

/* The I-frame encoder: libx264, every frame an IDR with SPS/PPS in front
 * (no global header: each TS file decodes alone), no delay. */
static int open_x264(struct thumbs *T)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVDictionary *o = NULL;
    int r;
    if (!codec)
        return AVERROR_ENCODER_NOT_FOUND;
    if (!(T->x264 = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    T->x264->width = T->l.tile_width;
    T->x264->height = T->l.tile_height;
    T->x264->pix_fmt = AV_PIX_FMT_YUV420P;
    T->x264->color_range = AVCOL_RANGE_JPEG; /* the tiles are full range */
    T->x264->time_base = ((AVRational){1, 90000});
    /* One picture a second or slower: the real rate keeps x264's rate
     * control and level checks sane (1/90000 would read as 90000 fps). */
    T->x264->framerate = (AVRational){1, 1};
    T->x264->gop_size = 1;
    T->x264->max_b_frames = 0;
    T->x264->thread_count = 1;
    /* Baseline level 1.1 is what the master playlist's CODECS names. */
    T->x264->profile = FF_PROFILE_H264_BASELINE;
    T->x264->level = 11;
    av_dict_set(&o, "preset", "ultrafast", 0);
    av_dict_set(&o, "tune", "zerolatency", 0);
    av_dict_set(&o, "crf", IFRAME_CRF, 0);
    av_dict_set(&o, "forced-idr", "1", 0);
    av_dict_set(&o, "profile", "baseline", 0);
    r = avcodec_open2(T->x264, codec, &o);
    av_dict_free(&o);
    if (r < 0)
        avcodec_free_context(&T->x264);
    return r;
}

/* The tile at (x, y) of sheet as one IDR in "<out_dir>/iframe-<k>.ts",
 * presented at the cue's time on the session timeline (+ the TS offset). */
static int write_iframe(struct thumbs *T, AVFrame *sheet, int x, int y, size_t k)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    AVFrame *tile = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    AVFormatContext *oc = NULL;
    int r;

    if (!tile || !pkt) {
        r = AVERROR(ENOMEM);
        goto out;
    }
    if (!T->x264 && !T->x264_failed && (r = open_x264(T)) < 0) {
        T->x264_failed = true;
        LOG_WARN(T->j->name, "no libx264 for the I-frame playlist: %s", av_err2str(r));
    }
    if (!T->x264) {
        r = AVERROR_ENCODER_NOT_FOUND;
        goto out;
    }
    tile->width = T->l.tile_width;
    tile->height = T->l.tile_height;
    tile->format = AV_PIX_FMT_YUV420P;
    tile->color_range = AVCOL_RANGE_JPEG;
    tile->data[0] = sheet->data[0] + (ptrdiff_t)y * sheet->linesize[0] + x;
    tile->data[1] = sheet->data[1] + (ptrdiff_t)(y / 2) * sheet->linesize[1] + x / 2;
    tile->data[2] = sheet->data[2] + (ptrdiff_t)(y / 2) * sheet->linesize[2] + x / 2;
    for (int p = 0; p < 3; p++)
        tile->linesize[p] = sheet->linesize[p];
    int64_t pts = llround((T->cues[k].out_start + MEDIA_TS_OFFSET) * 90000.0);
    tile->pts = pts;
    tile->pict_type = AV_PICTURE_TYPE_I;
    if ((r = encode_one(T->x264, tile, pkt)) < 0)
        goto out;
    if ((r = media_segio_paths(path, sizeof(path), tmp, sizeof(tmp), T->j->out_dir, "iframe-",
                               (int64_t)k, ".ts")) < 0)
        goto out;
    if ((r = avformat_alloc_output_context2(&oc, NULL, "mpegts", tmp)) < 0)
        goto out;
    AVStream *st = avformat_new_stream(oc, NULL);
    if (!st) {
        r = AVERROR(ENOMEM);
        goto out;
    }
    if ((r = avcodec_parameters_from_context(st->codecpar, T->x264)) < 0)
        goto out;
    st->time_base = (AVRational){1, 90000};
    if ((r = avio_open(&oc->pb, tmp, AVIO_FLAG_WRITE)) < 0)
        goto out;
    if ((r = avformat_write_header(oc, NULL)) < 0)
        goto out;
    pkt->stream_index = 0;
    pkt->pts = pkt->dts = av_rescale_q(pts, T->x264->time_base, st->time_base);
    pkt->duration = llround((T->cues[k].out_end - T->cues[k].out_start) * 90000.0);
    if ((r = av_write_frame(oc, pkt)) < 0 || (r = av_write_trailer(oc)) < 0)
        goto out;
    /* Closing flushes the last bytes: its error is a short file. */
    if ((r = avio_closep(&oc->pb)) < 0)
        goto out;
    r = media_segio_commit(tmp, path);
out:
    if (oc) {
        if (oc->pb)
            avio_closep(&oc->pb);
        if (r < 0)
            unlink(tmp); /* whatever failed: no half file left behind */
        avformat_free_context(oc);
    }
    av_packet_free(&pkt);
    av_frame_free(&tile);
    return r;
}

static bool file_exists(const char *dir, const char *fmt, size_t n)
{
    char path[PATH_MAX], name[64];
    snprintf(name, sizeof(name), fmt, n);
    return util_fmt(path, sizeof(path), "%s/%s", dir, name) == 0 && access(path, F_OK) == 0;
}

/* Sheet K and (with iframes) the TS files of its tiles. *failed: tiles left
 * black because their recording could not be read. */
static int make_sheet(struct thumbs *T, size_t K, size_t *failed)
{
    const struct jobspec_thumbs *j = T->j;
    size_t per = thumbgrid_per_sheet(&T->l), first = K * per;
    size_t last = first + per < T->n_cues ? first + per : T->n_cues;
    char path[PATH_MAX];
    int w, h, r;

    thumbgrid_sheet_size(&T->l, T->n_cues, K, &w, &h);
    AVFrame *sheet = black_frame(w, h);
    if (!sheet)
        return AVERROR(ENOMEM);
    for (size_t k = first; k < last; k++) {
        size_t s;
        int x, y;
        if (jobutil_should_stop(T->ctl)) {
            av_frame_free(&sheet);
            return AVERROR_EXIT;
        }
        thumbgrid_tile(&T->l, k, &s, &x, &y);
        r = decode_keyframe(T, T->cues[k].source, T->cues[k].t);
        if (r == 0)
            r = draw_tile(T, sheet, x, y);
        av_frame_unref(T->frame);
        if (r == AVERROR_EXIT) {
            av_frame_free(&sheet);
            return r;
        }
        if (r < 0) {
            (*failed)++;
            if (!T->warned[T->cues[k].source])
                LOG_WARN(j->name, "thumbnail %zu (%.3f): %s: left black", k, T->cues[k].t,
                         av_err2str(r));
            T->warned[T->cues[k].source] = 1;
        }
    }
    for (size_t k = first; j->iframes && k < last; k++) {
        size_t s;
        int x, y;
        thumbgrid_tile(&T->l, k, &s, &x, &y);
        if ((r = write_iframe(T, sheet, x, y, k)) < 0 && !T->x264_failed)
            LOG_WARN(j->name, "I-frame %zu: %s", k, av_err2str(r));
    }
    r = util_fmt(path, sizeof(path), "%s/%s%zu.jpg", j->out_dir, j->segment_prefix, K);
    if (r == 0)
        r = write_jpeg(sheet, path);
    av_frame_free(&sheet);
    return r;
}

/* failed > 0: some tiles are black for a recording that could not be read;
 * the daemon serves the sheet to who waits and does not keep it. */
static void emit_sheet(struct thumbs *T, size_t K, size_t failed)
{
    char name[64];
    cJSON *ev = cJSON_CreateObject();
    snprintf(name, sizeof(name), "%s%zu.jpg", T->j->segment_prefix, K);
    cJSON_AddNumberToObject(ev, "index", (double)K);
    if (failed)
        cJSON_AddNumberToObject(ev, "failed", (double)failed);
    cJSON_AddStringToObject(ev, "file", name);
    jobutil_emit(T->ctl, "sheet", ev);
}

/* Reads the commands queued now: the last {"cmd":"want","sheet":K} with K
 * valid, else `wanted` unchanged. */
static size_t take_want(const struct media_ctl *ctl, size_t sheets, size_t wanted)
{
    cJSON *cmd;
    while (ctl && ctl->next_command && (cmd = ctl->next_command(ctl->arg, 0))) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cmd, "cmd"));
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(cmd, "sheet");
        if (name && strcmp(name, "want") == 0 && cJSON_IsNumber(k) && k->valuedouble >= 0 &&
            k->valuedouble < (double)sheets && k->valuedouble == floor(k->valuedouble))
            wanted = (size_t)k->valuedouble;
        cJSON_Delete(cmd);
    }
    return wanted;
}

int media_thumbs_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    struct jobspec_thumbs j;
    struct thumbgrid_span *spans = NULL;
    struct thumbs T = {.ctl = ctl};
    unsigned char *done = NULL;
    int r = jobspec_thumbs_from_json(job, &j, err, errlen);
    if (r < 0)
        return r;
    T.j = &j;
    T.l = (struct thumbgrid_layout){j.tile_width, j.tile_height, j.columns, j.rows};
    if ((j.tile_width | j.tile_height) & 1) {
        snprintf(err, errlen, "tile_width and tile_height must be even");
        r = AVERROR(EINVAL);
        goto out;
    }
    spans = calloc(j.n_sources ? j.n_sources : 1, sizeof(*spans));
    T.frame = av_frame_alloc();
    T.pkt = av_packet_alloc();
    if (!spans || !T.frame || !T.pkt) {
        snprintf(err, errlen, "out of memory");
        r = AVERROR(ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < j.n_sources; i++)
        spans[i] = (struct thumbgrid_span){j.sources[i].start_time, j.sources[i].end_time};
    r = thumbgrid_plan(spans, j.n_sources, j.range_start, j.range_end, j.interval,
                       THUMBGRID_MAX_CUES, &T.cues, &T.n_cues);
    if (r < 0) {
        snprintf(err, errlen, "cannot plan the thumbnails: %s", strerror(-r));
        r = AVERROR(-r);
        goto out;
    }
    size_t sheets = thumbgrid_sheets(&T.l, T.n_cues);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "thumbnails", (double)T.n_cues);
    cJSON_AddNumberToObject(ev, "sheets", (double)sheets);
    jobutil_emit(ctl, "started", ev);
    done = calloc(sheets ? sheets : 1, 1);
    T.warned = calloc(j.n_sources ? j.n_sources : 1, 1);
    if (!done || !T.warned) {
        snprintf(err, errlen, "out of memory");
        r = AVERROR(ENOMEM);
        goto out;
    }
    char fmt[64];
    snprintf(fmt, sizeof(fmt), "%s%%zu.jpg", j.segment_prefix);
    /* Each sheet once in order; a wanted sheet made before but gone from
     * disk (the daemon drops sheets with failed tiles) is made again. */
    for (size_t next = 0, wanted = SIZE_MAX;;) {
        if (jobutil_should_stop(ctl))
            break;
        /* A request waits for `wanted`: make it next (between sheets only,
         * so no work is thrown away), then go on in order. */
        wanted = take_want(ctl, sheets, wanted);
        while (next < sheets && done[next])
            next++;
        size_t K = wanted < sheets && (!done[wanted] || !file_exists(j.out_dir, fmt, wanted))
                       ? wanted
                       : next;
        wanted = SIZE_MAX;
        if (K >= sheets)
            break;
        size_t failed = 0;
        if (!file_exists(j.out_dir, fmt, K)) {
            r = make_sheet(&T, K, &failed);
            if (r == AVERROR_EXIT) {
                r = 0;
                break;
            }
            if (r < 0) {
                snprintf(err, errlen, "sheet %zu: %s", K, av_err2str(r));
                goto out;
            }
        }
        done[K] = 1;
        emit_sheet(&T, K, failed);
    }
    r = 0;
out:
    close_source(&T);
    sws_freeContext(T.sws);
    avcodec_free_context(&T.x264);
    av_frame_free(&T.frame);
    av_frame_free(&T.upright);
    av_packet_free(&T.pkt);
    free(T.cues);
    free(spans);
    free(done);
    free(T.warned);
    jobspec_thumbs_clear(&j);
    return r;
}
