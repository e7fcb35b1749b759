/* The "transcode" job: one input file (or any input that ends) to a complete
 * VOD playlist of exact-length segments. See docs/WORKER-PROTOCOL.md. */
#include "media/transcode.h"

#include "media/avlog.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "media/input.h"
#include "media/jobutil.h"
#include "media/pipeline.h"
#include "media/playlist.h"
#include "media/tsseg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct tc {
    const struct media_ctl *ctl;
    const char *name;
    double seg;
    double origin;
    bool origin_set;
    double creation_time;
    struct playlist pl;
    int add_error;
    double wall0, last_progress;
    double duration;
    struct media_pipeline *pipe;
    struct media_tsseg *ts;
    bool started;
};

/* The grid starts at the first video frame (audio priming or an edit list
 * may put the container's start a little earlier). */
static double grid_next(void *arg, double t)
{
    struct tc *tc = arg;
    if (!tc->origin_set) {
        tc->origin_set = true;
        tc->origin = t;
    }
    return tc->origin + (floor((t - tc->origin) / tc->seg + 1e-6) + 1) * tc->seg;
}

static void on_segment(void *arg, const struct media_tsseg_info *info)
{
    struct tc *tc = arg;
    double pdt = isnan(tc->creation_time) ? NAN : tc->creation_time + info->start;
    int r = playlist_add_segment(&tc->pl, info->file, info->duration, false, pdt);
    if (r < 0 && !tc->add_error)
        tc->add_error = r;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "index", (double)info->index);
    cJSON_AddStringToObject(ev, "file", info->file);
    cJSON_AddNumberToObject(ev, "duration", info->duration);
    jobutil_emit(tc->ctl, "segment", ev);
    LOG_DEBUG(NULL, "segment %s: %.3f s, %lld bytes", info->file, info->duration,
              (long long)info->bytes);
}

static void report(struct tc *tc, bool force, bool complete)
{
    struct media_pipeline_info pi;
    media_pipeline_get_info(tc->pipe, &pi);
    if (!tc->started && pi.video_ready) {
        tc->started = true;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "width", pi.width);
        cJSON_AddNumberToObject(ev, "height", pi.height);
        cJSON_AddNumberToObject(ev, "fps", pi.fps);
        cJSON_AddBoolToObject(ev, "audio", pi.audio);
        cJSON_AddBoolToObject(ev, "passthrough", false);
        cJSON_AddStringToObject(ev, "encoder", pi.encoder);
        jobutil_emit(tc->ctl, "started", ev);
    }
    double now = util_now_mono();
    if (!force && now - tc->last_progress < 1.0)
        return;
    tc->last_progress = now;
    double el = fmax(now - tc->wall0, 1e-3);
    double t = fmax(pi.last_t, 0);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "frames", (double)pi.video_frames);
    cJSON_AddNumberToObject(ev, "fps", round(pi.video_frames / el * 10) / 10);
    cJSON_AddNumberToObject(ev, "speed", round(t / el * 100) / 100);
    cJSON_AddNumberToObject(ev, "bitrate", t > 0 ? round(media_tsseg_bytes(tc->ts) * 8 / t) : 0);
    cJSON_AddNumberToObject(ev, "segments", (double)tc->pl.n_segs);
    double pct = tc->duration > 0 ? fmin(100.0, t / tc->duration * 100) : 0;
    if (complete)
        pct = 100; /* the final report, after the last segment */
    cJSON_AddNumberToObject(ev, "percent", round(pct * 10) / 10);
    cJSON_AddNumberToObject(ev, "encoded_up_to", (double)tc->pl.n_segs - 1);
    jobutil_emit(tc->ctl, "progress", ev);
}

static void remove_outputs(const struct tc *tc, const char *out_dir)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < tc->pl.n_segs; i++)
        if (util_fmt(path, sizeof(path), "%s/%s", out_dir, tc->pl.segs[i].uri) == 0)
            unlink(path);
}

int media_transcode_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    struct tc tc = {.ctl = ctl, .creation_time = NAN};
    struct media_input *in = NULL;
    struct jobspec_transcode j = {0};
    struct media_input_cfg icfg;
    const char *out_dir = NULL;
    struct media_video_settings vs;
    struct media_audio_settings as;
    AVPacket *pkt = NULL;
    char path[PATH_MAX];
    int r;

    playlist_init(&tc.pl, PLAYLIST_VOD, 0);
    if ((r = jobspec_transcode_from_json(job, &j, err, errlen)) < 0)
        goto out;
    tc.name = j.name;
    out_dir = j.out_dir;
    const char *playlist = j.playlist, *prefix = j.segment_prefix;
    tc.seg = j.segment_seconds;
    media_video_settings_from_job(&j.video, &vs);
    media_audio_settings_from_job(&j.audio, &as);
    icfg = (struct media_input_cfg){
        .format = j.input.format, .url = j.input.url, .options = j.input.options};

    icfg.name = tc.name;
    icfg.io_timeout = 10;
    icfg.stall_timeout = 30;
    icfg.should_stop = ctl ? ctl->should_stop : NULL;
    icfg.stop_arg = ctl ? ctl->arg : NULL;
    if ((r = media_input_open(&in, &icfg, err, errlen)) < 0)
        goto out;
    if (in->video_index < 0) {
        snprintf(err, errlen, "no video stream");
        r = AVERROR_STREAM_NOT_FOUND;
        goto out;
    }
    const AVStream *vst = in->fmt->streams[in->video_index];
    const AVStream *ast = in->audio_index >= 0 ? in->fmt->streams[in->audio_index] : NULL;
    tc.creation_time = in->creation_time;
    tc.duration = in->duration;
    if (vst->duration != AV_NOPTS_VALUE && vst->duration > 0)
        tc.duration = vst->duration * av_q2d(vst->time_base);

    struct media_tsseg_cfg scfg = {
        .dir = out_dir, .prefix = prefix, .first_index = 0, .on_segment = on_segment, .arg = &tc};
    if ((r = util_mkdir_p(out_dir, 0755)) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", out_dir, strerror(-r));
        goto out;
    }
    if ((r = media_tsseg_create(&tc.ts, &scfg)) < 0)
        goto out;
    struct media_pipeline_cfg pcfg = {
        .name = tc.name,
        .video = &vs,
        .audio = &as,
        .gop_seconds = tc.seg,
        .next_boundary = grid_next,
        .boundary_arg = &tc,
        .out = tc.ts,
    };
    if ((r = media_pipeline_open(&tc.pipe, &pcfg, vst, media_input_rotation(vst), ast, err,
                                 errlen)) < 0)
        goto out;

    /* Timeline zero is the container's start: audio and video keep their
     * relative timing exactly. */
    int64_t offset_us = -(int64_t)llround(in->start_time * 1e6);
    pkt = av_packet_alloc();
    if (!pkt) {
        r = AVERROR(ENOMEM);
        goto out;
    }
    tc.wall0 = tc.last_progress = util_now_mono();
    bool stopped = false;
    for (;;) {
        r = media_input_read(in, pkt);
        if (r == AVERROR_EOF)
            break;
        if (r == AVERROR_EXIT) {
            stopped = true;
            break;
        }
        if (r < 0) {
            char eb[AV_ERROR_MAX_STRING_SIZE];
            snprintf(err, errlen, "reading the input failed: %s",
                     r == -ETIMEDOUT ? "timed out" : media_strerror(r, eb, sizeof(eb)));
            goto out;
        }
        int which = pkt->stream_index == in->video_index   ? MEDIA_VIDEO
                    : pkt->stream_index == in->audio_index ? MEDIA_AUDIO
                                                           : -1;
        if (which >= 0)
            r = media_pipeline_send(tc.pipe, which, pkt, offset_us, err, errlen);
        av_packet_unref(pkt);
        if (r < 0)
            goto out;
        if (tc.add_error) {
            r = tc.add_error;
            snprintf(err, errlen, "playlist: %s", strerror(-r));
            goto out;
        }
        report(&tc, false, false);
    }
    if ((r = media_pipeline_drain(tc.pipe, err, errlen)) < 0)
        goto out;
    if ((r = media_tsseg_finish(tc.ts)) < 0) {
        snprintf(err, errlen, "writing the last segment failed: %s", av_err2str(r));
        goto out;
    }
    struct media_pipeline_info pi;
    media_pipeline_get_info(tc.pipe, &pi);
    /* A frame the decoder concealed from a fragment (an input cut inside its
     * first picture) is not video: nothing decoded whole means no output. */
    bool only_damaged = pi.video_damaged >= pi.video_decoded ||
                        (pi.video_decoded == 1 && media_avlog_decoder_errors() > 0);
    if (pi.video_frames == 0 || tc.pl.n_segs == 0 || only_damaged) {
        snprintf(err, errlen, "no video frame could be decoded%s",
                 pi.decode_errors || only_damaged ? " (the data is corrupt)" : "");
        r = AVERROR_INVALIDDATA;
        goto out;
    }
    double produced = playlist_total_duration(&tc.pl);
    if (!stopped && tc.duration >= 2 && produced < tc.duration * 0.9 - 1) {
        snprintf(err, errlen, "the input ends at %.1f s of its %.1f s (truncated or corrupt)",
                 produced, tc.duration);
        r = AVERROR_INVALIDDATA;
        goto out;
    }
    if (pi.decode_errors)
        LOG_WARN(NULL, "%u damaged packets were skipped", pi.decode_errors);
    if (tc.add_error) {
        r = tc.add_error;
        snprintf(err, errlen, "playlist: %s", strerror(-r));
        goto out;
    }
    if ((r = util_fmt(path, sizeof(path), "%s/%s", out_dir, playlist)) < 0 ||
        (r = playlist_write(&tc.pl, path)) < 0) {
        snprintf(err, errlen, "cannot write the playlist %s/%s: %s", out_dir, playlist,
                 strerror(-r));
        goto out;
    }
    report(&tc, true, !stopped);
    LOG_INFO(NULL, "%zu segments, %.3f s%s", tc.pl.n_segs, produced,
             stopped ? " (stopped early)" : "");
    r = 0;
out:
    if (r < 0 && out_dir) {
        media_tsseg_free(&tc.ts);
        remove_outputs(&tc, out_dir);
    }
    av_packet_free(&pkt);
    media_pipeline_free(&tc.pipe);
    media_tsseg_free(&tc.ts);
    media_input_close(&in);
    playlist_clear(&tc.pl);
    jobspec_transcode_clear(&j);
    return r;
}
