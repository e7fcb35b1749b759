/* One "run" of the vod job: a source read from a planned segment to the end
 * of its piece, through the encode pipeline (or copied, passthrough), into
 * the segment writer. Output time of an input timestamp T (seconds on the
 * file's clock) is T + offset, with offset chosen so that the piece's first
 * frame lands on its planned playlist time: every run of every worker puts
 * the same frame on the same timestamp. */
#include "media/vod_priv.h"

#include "core/log.h"
#include "media/fmp4seg.h"
#include "media/input.h"
#include "media/pipeline.h"
#include "media/tsseg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#define TB90 ((AVRational){1, 90000})
/* Reading stops once video decode times are this far past the piece end
 * (frame reordering delay is far smaller). */
#define END_MARGIN 1.0
/* Segment cuts queued ahead in the writer (it holds at most 64). */
#define CUTS_AHEAD 16

struct vod_run {
    struct vod *v;
    size_t source;
    long first, last; /* segments this run produces */
    long cut_next;    /* passthrough: next segment whose start is queued as a cut */
    struct media_input *in;
    struct media_pipeline *pipe;
    /* One writer: MPEG-TS, or fMP4 for the hevc variant. The pipeline and
     * the copy path both write through sink. */
    struct media_tsseg *ts;
    struct media_fmp4seg *mp4;
    struct media_sink sink;
    AVPacket *pkt;
    double offset;         /* output t = input time + offset */
    int64_t offset90;      /* (offset + MEDIA_TS_OFFSET) in 1/90000 */
    double start_t, end_t; /* output window */
    double tol;            /* half a frame */
    bool copy_video, copy_audio;
    int64_t copied;
    int64_t last_vdts; /* copied video, 1/90000; AV_NOPTS_VALUE before the first */
};

static const struct grid_segment *seg_of(const struct vod *v, long i)
{
    return &v->plan.segs[i];
}

/* Pipeline callback: the first planned boundary after t, within the run. */
static double next_boundary(void *arg, double t)
{
    struct vod_run *r = arg;
    const struct grid_plan *plan = &r->v->plan;
    long i = grid_find(plan, t);
    for (; i >= 0 && i <= r->last; i++)
        if (plan->segs[i].start > t + 1e-6)
            return plan->segs[i].start;
    return INFINITY;
}

static void on_segment(void *arg, const struct media_tsseg_info *info)
{
    struct vod_run *r = arg;
    media_vod_segment_written(r->v, (long)info->index, info->file, info->start, info->duration,
                              info->bytes);
}

static void on_fmp4_output(void *arg, const struct media_fmp4_part *part,
                           const struct media_fmp4_segment *seg, const char *next_part)
{
    struct vod_run *r = arg;
    (void)part;
    (void)next_part;
    if (seg)
        media_vod_segment_written(r->v, (long)seg->index, seg->file, seg->start, seg->duration,
                                  seg->bytes);
}

static int sink_set_streams(void *arg, const AVCodecParameters *video, AVRational video_tb,
                            const AVCodecParameters *audio, AVRational audio_tb)
{
    struct vod_run *r = arg;
    return r->mp4 ? media_fmp4seg_set_streams(r->mp4, video, video_tb, audio, audio_tb)
                  : media_tsseg_set_streams(r->ts, video, video_tb, audio, audio_tb);
}

static int sink_cut_at(void *arg, int64_t pts)
{
    struct vod_run *r = arg;
    return r->mp4 ? media_fmp4seg_cut_at(r->mp4, pts) : media_tsseg_cut_at(r->ts, pts);
}

static int sink_write(void *arg, int stream, AVPacket *pkt)
{
    struct vod_run *r = arg;
    return r->mp4 ? media_fmp4seg_write(r->mp4, stream, pkt)
                  : media_tsseg_write(r->ts, stream, pkt);
}

static int queue_cuts(struct vod_run *r)
{
    long limit = r->cut_next + CUTS_AHEAD;
    for (; r->cut_next <= r->last && r->cut_next < limit; r->cut_next++) {
        double t = seg_of(r->v, r->cut_next)->start;
        int ret = sink_cut_at(r, llround((t + MEDIA_TS_OFFSET - r->tol) * 90000));
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Passthrough: the writer gets the source's own video (and AAC) parameters;
 * audio that is not browser-safe goes through the pipeline. */
static int open_passthrough(struct vod_run *r, char *err, size_t errlen)
{
    struct vod *v = r->v;
    AVStream *vst = r->in->fmt->streams[r->in->video_index];
    AVStream *ast = r->in->audio_index >= 0 ? r->in->fmt->streams[r->in->audio_index] : NULL;
    AVCodecParameters *apar = NULL;
    AVRational atb = TB90;
    int ret = 0;
    r->copy_video = true;
    if (ast && v->src[r->source].info.audio_copyable) {
        r->copy_audio = true;
    } else if (ast) {
        struct media_pipeline_cfg pc = {
            .name = v->name, .audio = &v->audio, .sink = &r->sink, .video_passthrough = true};
        ret = media_pipeline_open(&r->pipe, &pc, NULL, 0, ast, err, errlen);
        if (ret < 0)
            return ret;
        const AVCodecContext *aenc = media_pipeline_audio_encoder(r->pipe);
        if (aenc) {
            apar = avcodec_parameters_alloc();
            if (!apar)
                return AVERROR(ENOMEM);
            ret = avcodec_parameters_from_context(apar, aenc);
            atb = aenc->time_base;
        }
    }
    if (ret >= 0)
        ret = sink_set_streams(r, vst->codecpar, TB90, r->copy_audio ? ast->codecpar : apar, atb);
    avcodec_parameters_free(&apar);
    if (ret < 0) {
        snprintf(err, errlen, "segment writer: cannot declare streams");
        return ret;
    }
    r->cut_next = r->first + 1;
    return queue_cuts(r);
}

int media_vod_run_open(struct vod *v, long seg, struct vod_run **out, char *err, size_t errlen)
{
    const struct grid_segment *s = seg_of(v, seg);
    struct vod_run *r = calloc(1, sizeof(*r));
    int ret;
    *out = NULL;
    if (!r)
        return AVERROR(ENOMEM);
    r->v = v;
    r->last_vdts = AV_NOPTS_VALUE;
    r->source = s->source;
    r->first = seg;
    r->last = seg;
    while (r->last + 1 < (long)v->plan.n && seg_of(v, r->last + 1)->source == r->source)
        r->last++;
    long pf = seg;
    while (pf > 0 && seg_of(v, pf - 1)->source == r->source)
        pf--;
    const struct vod_source *src = &v->src[r->source];
    r->offset = seg_of(v, pf)->start - seg_of(v, pf)->src_start - src->info.video_start;
    r->offset90 = llround((r->offset + MEDIA_TS_OFFSET) * 90000);
    r->start_t = s->start;
    const struct grid_segment *l = seg_of(v, r->last);
    r->end_t = l->start + l->duration;
    r->tol = src->info.fps > 0 ? 0.5 / src->info.fps : 0.02;

    struct media_input_cfg ic = {.name = v->name,
                                 .url = src->path,
                                 .should_stop = v->ctl->should_stop,
                                 .stop_arg = v->ctl->arg};
    struct media_tsseg_cfg tc = {.dir = v->out_dir,
                                 .prefix = v->prefix,
                                 .first_index = seg,
                                 .on_segment = on_segment,
                                 .arg = r};
    char init_name[128];
    struct media_fmp4seg_cfg mc = {.dir = v->out_dir,
                                   .prefix = v->prefix,
                                   .first_index = seg,
                                   .init_name = init_name,
                                   .on_output = on_fmp4_output,
                                   .arg = r};
    r->sink = (struct media_sink){sink_set_streams, sink_cut_at, sink_write, r};
    r->pkt = av_packet_alloc();
    ret = r->pkt ? 0 : AVERROR(ENOMEM);
    if (ret == 0 && (ret = media_input_open(&r->in, &ic, err, errlen)) < 0)
        goto fail;
    if (ret == 0 && r->in->video_index < 0) {
        snprintf(err, errlen, "%s: no video stream", src->path);
        ret = AVERROR_STREAM_NOT_FOUND;
        goto fail;
    }
    /* Passthrough segments start on a keyframe at src_start: land on it, not
     * on the one before. Encoding decodes from the keyframe before and drops. */
    double at = src->info.video_start + s->src_start + (v->passthrough ? r->tol / 2 : 0);
    if (ret == 0 && s->src_start > 0.001 &&
        (ret = media_input_seek_keyframe(r->in, r->pkt, at, src->info.video_start)) < 0) {
        snprintf(err, errlen, "%s: cannot seek to %.3f s", src->path, s->src_start);
        goto fail;
    }
    if (ret == 0 && v->fmp4) {
        if ((ret = media_vod_init_name(v, r->source, init_name, sizeof(init_name))) < 0 ||
            (ret = media_fmp4seg_create(&r->mp4, &mc)) < 0)
            goto fail;
    } else if (ret == 0 && (ret = media_tsseg_create(&r->ts, &tc)) < 0) {
        goto fail;
    }
    if (ret == 0 && v->passthrough) {
        ret = open_passthrough(r, err, errlen);
    } else if (ret == 0) {
        AVStream *vst = r->in->fmt->streams[r->in->video_index];
        AVStream *ast = r->in->audio_index >= 0 ? r->in->fmt->streams[r->in->audio_index] : NULL;
        struct media_pipeline_cfg pc = {.name = v->name,
                                        .video = &v->video,
                                        .audio = &v->audio,
                                        .gop_seconds = v->max_len,
                                        .next_boundary = next_boundary,
                                        .boundary_arg = r,
                                        .sink = &r->sink};
        ret = media_pipeline_open(&r->pipe, &pc, vst, media_input_rotation(vst), ast, err, errlen);
    }
    if (ret < 0)
        goto fail;
    if (r->pipe)
        media_pipeline_set_window(r->pipe, r->start_t, r->end_t);
    LOG_DEBUG(v->name, "run: segments %ld..%ld from %s at %.3f s", r->first, r->last, src->path,
              s->src_start);
    *out = r;
    return 0;
fail:
    media_vod_run_close(&r);
    return ret;
}

static int finish(struct vod_run *r, char *err, size_t errlen)
{
    int ret = 0;
    if (r->pipe && (ret = media_pipeline_drain(r->pipe, err, errlen)) < 0)
        return ret;
    if ((ret = r->mp4 ? media_fmp4seg_finish(r->mp4) : media_tsseg_finish(r->ts)) < 0) {
        snprintf(err, errlen, "writing segment %ld failed: %s", r->v->next, av_err2str(ret));
        return ret;
    }
    return 1;
}

/* Matroska and friends store no decode times: libavformat guesses them only
 * once its reorder buffer is full, so the first packets after a seek have
 * none. Give them times below the real ones that follow (starting a few
 * frames before the keyframe), always increasing and never after the pts. */
static void fix_video_dts(struct vod_run *r, AVPacket *p, const AVStream *st)
{
    if (p->dts != AV_NOPTS_VALUE && (r->last_vdts == AV_NOPTS_VALUE || p->dts > r->last_vdts)) {
        r->last_vdts = p->dts;
        return;
    }
    double fps = r->v->src[r->source].info.fps;
    int64_t fd = fps > 0 ? llround(90000 / fps) : 3600;
    int64_t dts;
    if (r->last_vdts == AV_NOPTS_VALUE)
        dts = p->pts - (int64_t)(st->codecpar->video_delay + 2) * fd;
    else
        dts = r->last_vdts + fd < p->pts ? r->last_vdts + fd : p->pts;
    if (dts <= r->last_vdts)
        dts = r->last_vdts + 1;
    p->dts = dts;
    r->last_vdts = dts;
}

/* Copies a packet onto the output timeline (1/90000). */
static int copy_packet(struct vod_run *r, int which, AVStream *st)
{
    AVPacket *p = r->pkt;
    if (p->pts != AV_NOPTS_VALUE)
        p->pts = av_rescale_q(p->pts, st->time_base, TB90) + r->offset90;
    if (p->dts != AV_NOPTS_VALUE)
        p->dts = av_rescale_q(p->dts, st->time_base, TB90) + r->offset90;
    if (which == MEDIA_TSSEG_VIDEO && p->pts != AV_NOPTS_VALUE)
        fix_video_dts(r, p, st);
    p->duration = av_rescale_q(p->duration, st->time_base, TB90);
    p->pos = -1;
    int ret = sink_write(r, which, p);
    if (ret >= 0 && which == MEDIA_TSSEG_VIDEO) {
        r->copied++;
        ret = queue_cuts(r);
    }
    return ret;
}

int media_vod_run_step(struct vod_run *r, char *err, size_t errlen)
{
    int ret = media_input_read(r->in, r->pkt);
    if (ret == AVERROR_EOF)
        return finish(r, err, errlen);
    if (ret < 0) {
        if (ret != AVERROR_EXIT)
            snprintf(err, errlen, "%s: read failed: %s", r->v->src[r->source].path,
                     av_err2str(ret));
        return ret;
    }
    AVPacket *p = r->pkt;
    bool video = p->stream_index == r->in->video_index;
    bool audio = p->stream_index == r->in->audio_index;
    AVStream *st = r->in->fmt->streams[p->stream_index];
    double t = media_input_pkt_time(r->in, p) + r->offset; /* pts, else dts */
    double td = p->dts != AV_NOPTS_VALUE ? p->dts * av_q2d(st->time_base) + r->offset : t;
    ret = 0;
    if (video && td > r->end_t + END_MARGIN) {
        av_packet_unref(p);
        return finish(r, err, errlen);
    }
    if (!video && !audio) {
        /* other streams: ignored */
    } else if (r->copy_video && video) {
        if (t >= r->start_t - r->tol && t < r->end_t - r->tol)
            ret = copy_packet(r, MEDIA_TSSEG_VIDEO, st);
    } else if (r->copy_audio && audio) {
        if (t >= r->start_t - r->tol && t < r->end_t - r->tol)
            ret = copy_packet(r, MEDIA_TSSEG_AUDIO, st);
    } else if (r->pipe && !(audio && t > r->end_t + END_MARGIN)) {
        ret = media_pipeline_send(r->pipe, video ? MEDIA_VIDEO : MEDIA_AUDIO, p,
                                  llround(r->offset * 1e6), err, errlen);
        av_packet_unref(p);
        return ret < 0 ? ret : 0;
    }
    av_packet_unref(p);
    if (ret < 0 && !err[0])
        snprintf(err, errlen, "writing a segment failed: %s", av_err2str(ret));
    return ret < 0 ? ret : 0;
}

int64_t media_vod_run_frames(const struct vod_run *r)
{
    if (r->copy_video)
        return r->copied;
    struct media_pipeline_info info;
    if (!r->pipe)
        return 0;
    media_pipeline_get_info(r->pipe, &info);
    if (info.video_ready)
        media_vod_started(r->v, info.width, info.height, info.fps, info.audio, info.encoder);
    return info.video_frames;
}

void media_vod_run_close(struct vod_run **pr)
{
    struct vod_run *r = *pr;
    if (!r)
        return;
    if (r->ts)
        media_tsseg_abort(r->ts, 0);
    media_pipeline_free(&r->pipe);
    media_tsseg_free(&r->ts);
    media_fmp4seg_free(&r->mp4); /* an unfinished segment is discarded */
    media_input_close(&r->in);
    av_packet_free(&r->pkt);
    free(r);
    *pr = NULL;
}

int media_vod_run_write_init(struct vod *v, size_t source, char *err, size_t errlen)
{
    struct vod_run *r = NULL;
    long seg = 0;
    while (seg < (long)v->plan.n && v->plan.segs[seg].source != source)
        seg++;
    if (!v->fmp4 || seg >= (long)v->plan.n)
        return AVERROR(EINVAL);
    int ret = media_vod_run_open(v, seg, &r, err, errlen);
    if (ret == 0 && (ret = media_fmp4seg_write_init(r->mp4)) < 0)
        snprintf(err, errlen, "%s: cannot write the init segment: %s", v->src[source].path,
                 av_err2str(ret));
    media_vod_run_close(&r);
    return ret;
}
