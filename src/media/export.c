/* The "export" job (export.h): one MP4 from the range's recordings.
 *
 * Output time t (seconds) starts at 0 with the first frame written; each
 * recording continues where the previous one ended (gaps removed). A
 * recording is read like a vod run (vod_run.c): input time T maps to
 * t = T + offset; the transcode path sends packets through the encode
 * pipeline (which cuts exactly at the window), the remux path copies the
 * video from a keyframe and the audio when it is AAC-LC. One libavformat mp4
 * muxer with movflags=+faststart takes everything: the moov is moved in
 * front of the mdat when the trailer is written, so the file is complete
 * only after the rename. */
#include "media/export.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "media/encode.h"
#include "media/input.h"
#include "media/jobutil.h"
#include "media/pipeline.h"
#include "media/probe.h"
#include "media/tsseg.h"
#include "media/vod_priv.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#define TB90 ((AVRational){1, 90000})
#define TB_US ((AVRational){1, 1000000})
/* Reading a recording stops once video decode times are this far past its
 * piece (frame reordering delay is far smaller). */
#define END_MARGIN 1.0
#define PROGRESS_INTERVAL 1.0
/* Keyframe interval of a transcoded export: seekable in any player. */
#define EXPORT_GOP_SECONDS 2.0

struct exporter {
    const struct media_ctl *ctl;
    struct jobspec_export job; /* borrows from the JSON job */
    const char *name;
    struct vod_source *src;
    size_t n_src;
    bool remux, audio_copy;
    /* remux: some recording's audio has no decoder here (copying it is not
     * possible either): the file has no audio rather than no file */
    bool audio_none;
    struct media_video_settings video;
    struct media_audio_settings audio;
    char path[PATH_MAX], tmp[PATH_MAX];

    /* the muxer, opened by the first recording's stream declaration */
    AVFormatContext *oc;
    bool pb_open;
    int ost[2];                 /* output stream of MEDIA_VIDEO / MEDIA_AUDIO, -1 = none */
    AVCodecParameters *decl[2]; /* the first declaration, to compare later ones with */
    AVRational in_tb[2];        /* time base of the current recording's packets */
    bool drop_audio;            /* the current recording has audio the file has no track for */
    int64_t last_dts[2];        /* output stream time base */
    double written_end;         /* output seconds: end of the latest video packet */
    double total;               /* output seconds expected */
    int64_t frames;

    /* the current recording */
    struct media_input *in;
    struct media_pipeline *pipe;
    struct media_sink sink;
    AVPacket *pkt;
    double offset, start_t, end_t, tol;
    bool copy_video, copy_audio, seen_key;
    bool video_closed;   /* remux: past the end in decode order, nothing more to copy */
    double max_copied_t; /* remux: latest presentation time copied */

    double t0, last_progress;
    char why[160]; /* a failure inside the pipeline's sink callbacks, for err */
};

/* ---- muxer -------------------------------------------------------------- */

static int add_stream(struct exporter *e, int which, const AVCodecParameters *par, AVRational tb)
{
    AVStream *st = avformat_new_stream(e->oc, NULL);
    if (!st || !(e->decl[which] = avcodec_parameters_alloc()))
        return AVERROR(ENOMEM);
    int r = avcodec_parameters_copy(st->codecpar, par);
    if (r < 0 || (r = avcodec_parameters_copy(e->decl[which], par)) < 0)
        return r;
    st->codecpar->codec_tag = 0; /* the mp4 muxer picks avc1/mp4a */
    st->time_base = tb;
    e->ost[which] = st->index;
    return 0;
}

static bool same_video(const AVCodecParameters *a, const AVCodecParameters *b)
{
    return a->codec_id == b->codec_id && a->width == b->width && a->height == b->height &&
           a->extradata_size == b->extradata_size &&
           (!a->extradata_size || memcmp(a->extradata, b->extradata, a->extradata_size) == 0);
}

static bool same_audio(const AVCodecParameters *a, const AVCodecParameters *b)
{
    return a->codec_id == b->codec_id && a->sample_rate == b->sample_rate &&
           a->ch_layout.nb_channels == b->ch_layout.nb_channels;
}

/* A recording's streams: the first declaration opens the muxer; an MP4 has
 * one sample description per track, so later recordings must match it. */
static int declare(struct exporter *e, const AVCodecParameters *v, AVRational vtb,
                   const AVCodecParameters *a, AVRational atb)
{
    int r;
    e->in_tb[MEDIA_VIDEO] = vtb;
    e->in_tb[MEDIA_AUDIO] = atb;
    e->drop_audio = false;
    if (e->oc) {
        if (!v || !e->decl[MEDIA_VIDEO] || !same_video(v, e->decl[MEDIA_VIDEO]) ||
            (a && e->decl[MEDIA_AUDIO] && !same_audio(a, e->decl[MEDIA_AUDIO]))) {
            snprintf(e->why, sizeof(e->why),
                     "the recordings of this range differ in size or codec parameters: one MP4 "
                     "track cannot hold them (export them apart)");
            return AVERROR(EINVAL);
        }
        e->drop_audio = a && !e->decl[MEDIA_AUDIO];
        return 0;
    }
    if ((r = avformat_alloc_output_context2(&e->oc, NULL, "mp4", e->tmp)) < 0)
        return r;
    if ((v && (r = add_stream(e, MEDIA_VIDEO, v, vtb)) < 0) ||
        (a && (r = add_stream(e, MEDIA_AUDIO, a, atb)) < 0))
        return r;
    if ((r = avio_open(&e->oc->pb, e->tmp, AVIO_FLAG_WRITE)) < 0)
        return r;
    e->pb_open = true;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    r = avformat_write_header(e->oc, &opts);
    av_dict_free(&opts);
    return r < 0 ? r : 0;
}

/* pkt: timestamps in in_tb[which], on the output timeline. Consumed. */
static int mux_write(struct exporter *e, int which, AVPacket *pkt)
{
    int o = e->ost[which];
    if (o < 0 || !e->oc || (which == MEDIA_AUDIO && e->drop_audio)) {
        av_packet_unref(pkt);
        return 0;
    }
    AVStream *st = e->oc->streams[o];
    av_packet_rescale_ts(pkt, e->in_tb[which], st->time_base);
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    /* Where two recordings join, a new audio encoder's priming may reach
     * back over the previous one's last packet: drop the overlap. */
    if (e->last_dts[which] != AV_NOPTS_VALUE && pkt->dts <= e->last_dts[which]) {
        av_packet_unref(pkt);
        return 0;
    }
    e->last_dts[which] = pkt->dts;
    if (which == MEDIA_VIDEO && pkt->pts != AV_NOPTS_VALUE) {
        double end = (pkt->pts + (pkt->duration > 0 ? pkt->duration : 0)) * av_q2d(st->time_base);
        if (end > e->written_end)
            e->written_end = end;
        e->frames++;
    }
    pkt->stream_index = o;
    pkt->pos = -1;
    return av_interleaved_write_frame(e->oc, pkt);
}

/* The pipeline's sink: its timestamps carry MEDIA_TS_OFFSET (tsseg.h),
 * which an MP4 starting at 0 does not want. */
static int sink_set_streams(void *arg, const AVCodecParameters *v, AVRational vtb,
                            const AVCodecParameters *a, AVRational atb)
{
    struct exporter *e = arg;
    /* remux: the video was declared with the copied stream already */
    if (e->copy_video)
        return 0;
    return declare(e, v, vtb, a, atb);
}

static int sink_cut_at(void *arg, int64_t pts)
{
    (void)arg;
    (void)pts;
    return 0; /* one file: no segments */
}

static int sink_write(void *arg, int stream, AVPacket *pkt)
{
    struct exporter *e = arg;
    int which = stream == MEDIA_TSSEG_VIDEO ? MEDIA_VIDEO : MEDIA_AUDIO;
    /* Audio encoded before the video encoder opened (and declared the
     * streams) has no track yet: dropped, as the segment writers do. */
    if (!e->oc || e->ost[which] < 0) {
        av_packet_unref(pkt);
        return 0;
    }
    int64_t off = av_rescale_q(llround(MEDIA_TS_OFFSET * 1e6), TB_US, e->in_tb[which]);
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts -= off;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts -= off;
    return mux_write(e, which, pkt);
}

/* ---- one recording ------------------------------------------------------ */

static void close_source(struct exporter *e)
{
    media_pipeline_free(&e->pipe);
    media_input_close(&e->in);
}

/* The last keyframe at or before rel (seconds after the video start). */
static double keyframe_before(const struct media_source_info *info, double rel)
{
    double k = 0;
    for (size_t i = 0; i < info->n_keyframes && info->keyframes[i] <= rel; i++)
        k = info->keyframes[i];
    return k;
}

/* Opens recording s for its piece [from, to) (wall clock) written from
 * output time cursor. */
static int open_source(struct exporter *e, const struct vod_source *s, double from, double to,
                       double cursor, char *err, size_t errlen)
{
    const struct media_source_info *info = &s->info;
    double rel_from = from - s->wall_start, rel_to = to - s->wall_start;
    struct media_input_cfg ic = {.name = e->name,
                                 .url = s->path,
                                 .should_stop = e->ctl->should_stop,
                                 .stop_arg = e->ctl->arg};
    int r = media_input_open(&e->in, &ic, err, errlen);
    if (r < 0)
        return r;
    if (e->in->video_index < 0)
        return jobutil_fail(err, errlen, AVERROR_STREAM_NOT_FOUND, "%s: no video stream", s->path);
    AVStream *vst = e->in->fmt->streams[e->in->video_index];
    AVStream *ast = e->in->audio_index >= 0 ? e->in->fmt->streams[e->in->audio_index] : NULL;
    e->tol = info->fps > 0 ? 0.5 / info->fps : 0.02;
    e->copy_video = e->remux;
    if (e->remux && e->audio_none)
        ast = NULL;
    e->copy_audio = e->remux && ast && e->audio_copy;
    e->seen_key = e->video_closed = false;
    e->max_copied_t = -INFINITY;
    /* Remux never cuts a GOP: it starts at the keyframe before the range. */
    double first = e->remux ? keyframe_before(info, rel_from + e->tol / 2) : rel_from;
    e->offset = cursor - (info->video_start + first);
    e->start_t = cursor;
    e->end_t = cursor + (rel_to - first);
    if (first > 0.001 &&
        (r = media_input_seek_keyframe(e->in, e->pkt, info->video_start + first + e->tol / 2,
                                       info->video_start)) < 0)
        return r == AVERROR_EXIT
                   ? r
                   : jobutil_fail(err, errlen, r, "%s: cannot seek to %.3f s", s->path, first);
    struct media_pipeline_cfg pc = {.name = e->name,
                                    .video = &e->video,
                                    .audio = &e->audio,
                                    .gop_seconds = EXPORT_GOP_SECONDS,
                                    .sink = &e->sink,
                                    .video_passthrough = e->copy_video};
    if (!e->copy_video || (ast && !e->copy_audio)) {
        r = media_pipeline_open(&e->pipe, &pc, e->copy_video ? NULL : vst,
                                e->copy_video ? 0 : media_input_rotation(vst), ast, err, errlen);
        if (r < 0 && e->copy_video && r != AVERROR(ENOMEM)) {
            /* Only the audio was to be decoded: the video copy goes on. */
            LOG_WARN(e->name, "%s: audio dropped: %s", s->path, err);
            err[0] = '\0';
            ast = NULL;
            r = 0;
        } else if (r < 0) {
            return r;
        } else {
            media_pipeline_set_window(e->pipe, e->start_t, e->end_t);
        }
    }
    if (!e->copy_video)
        return 0; /* the pipeline declares its streams once its encoder opens */
    AVCodecParameters *apar = NULL;
    AVRational atb = ast ? ast->time_base : TB90;
    const AVCodecContext *aenc = e->pipe ? media_pipeline_audio_encoder(e->pipe) : NULL;
    if (aenc) {
        if (!(apar = avcodec_parameters_alloc()))
            return AVERROR(ENOMEM);
        r = avcodec_parameters_from_context(apar, aenc);
        atb = aenc->time_base;
    }
    if (r >= 0)
        r = declare(e, vst->codecpar, TB90, e->copy_audio ? ast->codecpar : apar, atb);
    avcodec_parameters_free(&apar);
    return r < 0 && !err[0]
               ? jobutil_fail(err, errlen, r, "cannot start the MP4: %s", av_err2str(r))
               : r;
}

/* Copies e->pkt onto the output timeline (in_tb of its kind). */
static int copy_packet(struct exporter *e, int which, const AVStream *st)
{
    AVPacket *p = e->pkt;
    AVRational tb = e->in_tb[which];
    int64_t off = av_rescale_q(llround(e->offset * 1e6), TB_US, tb);
    if (p->pts != AV_NOPTS_VALUE)
        p->pts = av_rescale_q(p->pts, st->time_base, tb) + off;
    if (p->dts != AV_NOPTS_VALUE)
        p->dts = av_rescale_q(p->dts, st->time_base, tb) + off;
    p->duration = av_rescale_q(p->duration, st->time_base, tb);
    return mux_write(e, which, p);
}

/* About once a second; `done` (the file is in place) reports 100 %. */
static void emit_progress(struct exporter *e, bool force, bool done)
{
    double now = util_now_mono();
    if (!force && now - e->last_progress < PROGRESS_INTERVAL)
        return;
    double pct = e->total > 0 ? 100.0 * e->written_end / e->total : 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "percent", done ? 100 : round(fmin(pct, 99.9) * 10) / 10);
    cJSON_AddNumberToObject(o, "frames", (double)e->frames);
    cJSON_AddNumberToObject(o, "seconds", round(e->written_end * 1000) / 1000);
    cJSON_AddNumberToObject(o, "speed",
                            now > e->t0 ? round(e->written_end / (now - e->t0) * 100) / 100 : 0);
    jobutil_emit(e->ctl, "progress", o);
    e->last_progress = now;
}

/* Reads the open recording to the end of its piece. */
static int read_source(struct exporter *e, const char *path, char *err, size_t errlen)
{
    for (;;) {
        if (jobutil_should_stop(e->ctl))
            return AVERROR_EXIT;
        int r = media_input_read(e->in, e->pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0)
            return r == AVERROR_EXIT
                       ? r
                       : jobutil_fail(err, errlen, r, "%s: read failed: %s", path, av_err2str(r));
        AVPacket *p = e->pkt;
        bool video = p->stream_index == e->in->video_index;
        bool audio = p->stream_index == e->in->audio_index;
        AVStream *st = e->in->fmt->streams[p->stream_index];
        double t = media_input_pkt_time(e->in, p) + e->offset;
        double td = p->dts != AV_NOPTS_VALUE ? p->dts * av_q2d(st->time_base) + e->offset : t;
        if (video && td > e->end_t + END_MARGIN) {
            av_packet_unref(p);
            break;
        }
        r = 0;
        if (e->copy_video && video) {
            /* The file starts on a keyframe; leading pictures shown before
             * it (open GOP) reference the GOP before: dropped. The end is
             * cut in decode order, so every frame shown before the end
             * comes with the frames it references; the reordered frames
             * shown between the end and the last reference copied follow
             * too (no hole in the timeline), then video stops. */
            bool after_start = t >= e->start_t - e->tol;
            bool tail = td >= e->end_t - e->tol;
            if (!e->seen_key && after_start && (p->flags & AV_PKT_FLAG_KEY))
                e->seen_key = true;
            if (tail && t >= e->max_copied_t)
                e->video_closed = true;
            if (e->seen_key && after_start && !e->video_closed) {
                e->max_copied_t = fmax(e->max_copied_t, t);
                r = copy_packet(e, MEDIA_VIDEO, st);
            }
        } else if (e->copy_audio && audio) {
            /* Audio lasts as long as the video: past the range end too when
             * the video copy carried reordered frames beyond it (the next
             * recording continues after them: no hole in the audio). The
             * file interleaves by decode time, so those frames are read
             * before audio of the same time. */
            double vend = e->copy_video ? fmax(e->end_t, e->max_copied_t + 2 * e->tol) : e->end_t;
            if (t >= e->start_t - e->tol && t < vend - e->tol)
                r = copy_packet(e, MEDIA_AUDIO, st);
        } else if (e->pipe && (video || audio) && !(audio && t > e->end_t + END_MARGIN)) {
            r = media_pipeline_send(e->pipe, video ? MEDIA_VIDEO : MEDIA_AUDIO, p,
                                    llround(e->offset * 1e6), err, errlen);
        }
        av_packet_unref(p);
        if (r < 0)
            return err[0]
                       ? r
                       : jobutil_fail(err, errlen, r, "writing the MP4 failed: %s", av_err2str(r));
        emit_progress(e, false, false);
    }
    return e->pipe ? media_pipeline_drain(e->pipe, err, errlen) : 0;
}

/* ---- job ---------------------------------------------------------------- */

static int parse_job(struct exporter *e, const cJSON *job, char *err, size_t errlen)
{
    const struct jobspec_export *j = &e->job;
    int r = jobspec_export_from_json(job, &e->job, err, errlen);
    if (r < 0)
        return r;
    e->name = j->name;
    if (!(j->range_end > j->range_start))
        return jobutil_fail(err, errlen, -EINVAL,
                            "job: range_end (%.3f) must be after range_start (%.3f)", j->range_end,
                            j->range_start);
    if ((r = util_fmt(e->path, sizeof(e->path), "%s/%s", j->out_dir, j->file)) < 0 ||
        (r = util_fmt(e->tmp, sizeof(e->tmp), "%s/.%s.tmp", j->out_dir, j->file)) < 0)
        return jobutil_fail(err, errlen, r, "job: out_dir too long");
    media_video_settings_from_job(&j->video, &e->video);
    media_audio_settings_from_job(&j->audio, &e->audio);
    if ((r = media_vod_sources(j->sources, j->n_sources, &e->src)) < 0)
        return r;
    e->n_src = j->n_sources;
    return 0;
}

static bool audio_decodable(const char *codec)
{
    const AVCodecDescriptor *d = avcodec_descriptor_get_by_name(codec);
    return d && avcodec_find_decoder(d->id);
}

/* Probes the recordings overlapping the range; decides remux. */
static int probe_sources(struct exporter *e, char *err, size_t errlen)
{
    double rs = e->job.range_start, re = e->job.range_end;
    bool any = false, video_copy = true;
    const struct vod_source *first = NULL;
    char perr[200] = "";
    e->audio_copy = true;
    for (size_t i = 0; i < e->n_src; i++) {
        struct vod_source *s = &e->src[i];
        if (s->wall_start >= re || s->wall_end <= rs)
            continue;
        /* Keyframes (a remux's start) come in a second pass, only when
         * every recording can be copied. */
        int r = media_source_probe(s->path, false, &s->info, perr, sizeof(perr));
        if (r < 0)
            return jobutil_fail(err, errlen, r, "%s: %s", s->path, perr);
        s->used = true;
        s->wall_end = fmin(s->wall_end, s->wall_start + s->info.duration);
        if (s->wall_end <= rs)
            continue;
        any = true;
        e->total += fmin(re, s->wall_end) - fmax(rs, s->wall_start);
        if (!s->info.video_copyable ||
            !media_source_fits(&s->info, e->video.max_width, e->video.max_height))
            video_copy = false;
        if (s->info.has_audio && !s->info.audio_copyable) {
            e->audio_copy = false;
            if (!audio_decodable(s->info.audio_codec)) {
                LOG_WARN(e->name, "%s: no decoder for audio %s: the export has no audio", s->path,
                         s->info.audio_codec);
                e->audio_none = true;
            }
        }
        /* One MP4 track has one size: refused here, before any decoding
         * (a transcode would fail at the second recording's declaration). */
        if (first && (s->info.width != first->info.width || s->info.height != first->info.height))
            return jobutil_fail(err, errlen, -EINVAL,
                                "the recordings of this range differ in size (%dx%d, then %dx%d "
                                "in %s): one MP4 track cannot hold them (export them apart)",
                                first->info.width, first->info.height, s->info.width,
                                s->info.height, s->path);
        if (!first)
            first = s;
    }
    if (!any)
        return jobutil_fail(err, errlen, -ENOENT, "no recording overlaps the range");
    e->remux = e->job.passthrough && video_copy;
    if (!e->remux) {
        e->audio_none = false; /* the pipeline ignores audio it cannot decode */
        return 0;
    }
    for (size_t i = 0; i < e->n_src; i++) {
        struct vod_source *s = &e->src[i];
        if (!s->used)
            continue;
        media_source_info_clear(&s->info);
        int r = media_source_probe(s->path, true, &s->info, perr, sizeof(perr));
        if (r < 0)
            return jobutil_fail(err, errlen, r, "%s: %s", s->path, perr);
    }
    return 0;
}

static int run_sources(struct exporter *e, char *err, size_t errlen)
{
    double rs = e->job.range_start, re = e->job.range_end, cursor = 0;
    for (size_t i = 0; i < e->n_src; i++) {
        struct vod_source *s = &e->src[i];
        double from = fmax(rs, s->wall_start), to = fmin(re, s->wall_end);
        if (!s->used || to - from < 0.001)
            continue;
        int r = open_source(e, s, from, to, cursor, err, errlen);
        if (r >= 0)
            r = read_source(e, s->path, err, errlen);
        close_source(e);
        if (r < 0 && e->why[0])
            snprintf(err, errlen, "%s", e->why); /* clearer than the pipeline's words */
        if (r < 0)
            return r;
        /* The next recording continues the timeline (no gap in the file). */
        cursor = e->written_end > cursor ? e->written_end : cursor + (e->end_t - e->start_t);
    }
    return 0;
}

static int finish_file(struct exporter *e, char *err, size_t errlen)
{
    struct stat sb;
    int r;
    if (!e->oc || e->frames == 0)
        return jobutil_fail(err, errlen, AVERROR_INVALIDDATA, "no video frame in the range");
    /* +faststart: the trailer rewrites the file with the moov first. */
    if ((r = av_write_trailer(e->oc)) < 0)
        return jobutil_fail(err, errlen, r, "cannot finish the MP4: %s", av_err2str(r));
    avio_closep(&e->oc->pb);
    e->pb_open = false;
    if (rename(e->tmp, e->path) < 0)
        return jobutil_fail(err, errlen, AVERROR(errno), "cannot rename the MP4 into place: %s",
                            strerror(errno));
    emit_progress(e, true, true);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", e->job.file);
    cJSON_AddNumberToObject(o, "bytes", stat(e->path, &sb) == 0 ? (double)sb.st_size : 0);
    cJSON_AddNumberToObject(o, "duration", round(e->written_end * 1000) / 1000);
    cJSON_AddBoolToObject(o, "remux", e->remux);
    jobutil_emit(e->ctl, "export", o);
    return 0;
}

static void free_muxer(struct exporter *e)
{
    if (e->oc) {
        if (e->pb_open)
            avio_closep(&e->oc->pb);
        avformat_free_context(e->oc);
        e->oc = NULL;
    }
    avcodec_parameters_free(&e->decl[MEDIA_VIDEO]);
    avcodec_parameters_free(&e->decl[MEDIA_AUDIO]);
}

int media_export_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    struct exporter e = {.ctl = ctl, .ost = {-1, -1}, .last_dts = {AV_NOPTS_VALUE, AV_NOPTS_VALUE}};
    int r;
    err[0] = '\0';
    e.t0 = e.last_progress = util_now_mono();
    e.sink = (struct media_sink){sink_set_streams, sink_cut_at, sink_write, &e};
    if ((r = parse_job(&e, job, err, errlen)) < 0 || (r = probe_sources(&e, err, errlen)) < 0)
        goto out;
    if (!(e.pkt = av_packet_alloc())) {
        r = AVERROR(ENOMEM);
        goto out;
    }
    if (!e.remux && !e.job.allow_transcode) {
        /* Admitted as a remux, without a transcode slot: the daemon decides. */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "reason", "the recordings cannot be copied");
        jobutil_emit(ctl, "needs_transcode", o);
        LOG_INFO(e.name, "needs a transcode: asking the daemon for a slot");
        r = 0;
        goto out;
    }
    unlink(e.tmp); /* left by a killed worker */
    cJSON *st = cJSON_CreateObject();
    cJSON_AddBoolToObject(st, "remux", e.remux);
    cJSON_AddStringToObject(st, "encoder", e.remux ? "copy" : e.video.encoder);
    cJSON_AddStringToObject(st, "audio",
                            e.remux && e.audio_none   ? "none"
                            : e.remux && e.audio_copy ? "copy"
                                                      : "aac");
    cJSON_AddNumberToObject(st, "duration", round(e.total * 1000) / 1000);
    jobutil_emit(ctl, "started", st);
    LOG_INFO(e.name, "export of %.3f s: %s%s", e.total, e.remux ? "remux" : "transcode",
             !e.remux       ? ""
             : e.audio_none ? " (no audio)"
             : e.audio_copy ? " (audio copied)"
                            : " (audio re-encoded)");
    if ((r = run_sources(&e, err, errlen)) < 0 || (r = finish_file(&e, err, errlen)) < 0)
        goto out;
out:
    if (r == AVERROR_EXIT) {
        LOG_INFO(e.name, "stopped: no file");
        r = 0;
        err[0] = '\0';
    }
    close_source(&e);
    free_muxer(&e);
    if (e.tmp[0])
        unlink(e.tmp);
    av_packet_free(&e.pkt);
    for (size_t i = 0; i < e.n_src; i++)
        media_source_info_clear(&e.src[i].info);
    free(e.src);
    jobspec_export_clear(&e.job);
    return r;
}
