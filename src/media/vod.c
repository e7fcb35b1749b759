/* The vod job: parse, probe the sources, plan, write the complete playlist,
 * then produce segments on demand (see vod.h and vod_run.c). */
#include "media/vod.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "media/codecs.h"
#include "media/geometry.h"
#include "media/jobutil.h"
#include "media/playlist.h"
#include "media/vod_priv.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

/* "want" of a missing segment this far ahead of the encoder restarts it there. */
#define SEEK_AHEAD 3
#define PROGRESS_INTERVAL 1.0
#define PAUSE_WAIT_MS 1000
/* Commands are polled this often while encoding (a syscall each). */
#define COMMAND_POLL 0.02

static int seg_name(const struct vod *v, long i, char *buf, size_t size)
{
    return util_fmt(buf, size, "%s%ld.%s", v->prefix, i, v->fmp4 ? "m4s" : "ts");
}

int media_vod_init_name(const struct vod *v, size_t source, char *buf, size_t size)
{
    return util_fmt(buf, size, "%sinit%zu.mp4", v->prefix, source);
}

static bool seg_exists(const struct vod *v, long i)
{
    char name[256], path[PATH_MAX];
    struct stat sb;
    return seg_name(v, i, name, sizeof(name)) == 0 &&
           util_fmt(path, sizeof(path), "%s/%s", v->out_dir, name) == 0 && stat(path, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

static int cmp_source(const void *a, const void *b)
{
    const struct vod_source *x = a, *y = b;
    if (x->wall_start != y->wall_start)
        return x->wall_start < y->wall_start ? -1 : 1;
    return x->path < y->path ? -1 : x->path > y->path; /* stable enough: distinct pointers */
}

int media_vod_sources(const struct jobspec_source *js, size_t n, struct vod_source **out)
{
    struct vod_source *src = calloc(n ? n : 1, sizeof(*src));
    if (!src)
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < n; i++) {
        src[i].path = js[i].path;
        src[i].wall_start = js[i].start_time;
        /* unknown end: the probed duration decides */
        src[i].wall_end = js[i].end_time > js[i].start_time ? js[i].end_time : INFINITY;
    }
    qsort(src, n, sizeof(*src), cmp_source);
    *out = src;
    return 0;
}

/* Fills v from the job (parsed and range-checked by core/jobspec.c); the
 * sources are sorted by their start. */
static int parse_job(struct vod *v, const cJSON *job, char *err, size_t errlen)
{
    const struct jobspec_vod *j = &v->job;
    int ret = jobspec_vod_from_json(job, &v->job, err, errlen);
    if (ret < 0)
        return ret;
    v->name = j->name;
    v->out_dir = j->out_dir;
    v->prefix = j->segment_prefix;
    if (!(j->range_end > j->range_start))
        return jobutil_fail(err, errlen, -EINVAL,
                            "job: range_end (%.3f) must be after range_start (%.3f)", j->range_end,
                            j->range_start);
    v->lookahead = j->lookahead;
    v->variant = strcmp(j->variant, "h264") == 0   ? VOD_VARIANT_H264
                 : strcmp(j->variant, "hevc") == 0 ? VOD_VARIANT_HEVC
                                                   : 0;
    v->keyframe_grid = v->variant != 0;
    v->fmp4 = v->variant == VOD_VARIANT_HEVC;
    media_video_settings_from_job(&j->video, &v->video);
    media_audio_settings_from_job(&j->audio, &v->audio);
    if ((ret = media_vod_sources(j->sources, j->n_sources, &v->src)) < 0)
        return ret;
    v->n_src = j->n_sources;
    return 0;
}

/* Probes the sources that overlap the range and decides passthrough. */
static int probe_sources(struct vod *v, double rs, double re, bool want_pass, char *err,
                         size_t errlen)
{
    bool any = false, all_copy = true, audio_copy = true;
    char perr[200] = "";
    for (size_t i = 0; i < v->n_src; i++) {
        struct vod_source *s = &v->src[i];
        if (s->wall_start >= re || s->wall_end <= rs)
            continue;
        int ret = media_source_probe(s->path, false, &s->info, perr, sizeof(perr));
        if (ret < 0)
            return jobutil_fail(err, errlen, ret, "%s: %s", s->path, perr);
        s->used = true;
        any = true;
        s->wall_end = fmin(s->wall_end, s->wall_start + s->info.duration);
        if (v->variant == VOD_VARIANT_HEVC && !s->info.hevc_copyable)
            return jobutil_fail(err, errlen, AVERROR(EINVAL), "%s: no HEVC variant: %s", s->path,
                                s->info.hevc_why_not);
        if (!s->info.video_copyable ||
            !media_source_fits(&s->info, v->video.max_width, v->video.max_height)) {
            if (want_pass && all_copy)
                LOG_INFO(v->name, "no passthrough: %s: %s", s->path,
                         s->info.video_copyable ? "larger than the output size" : s->info.why_not);
            all_copy = false;
        }
        if (s->info.has_audio && !s->info.audio_copyable)
            audio_copy = false;
    }
    if (!any)
        return jobutil_fail(err, errlen, -ENOENT, "no recording overlaps the range");
    v->passthrough = v->variant == VOD_VARIANT_HEVC || (!v->variant && want_pass && all_copy);
    v->audio_copy = audio_copy;
    if (!v->passthrough && !v->keyframe_grid)
        return 0;
    /* Cut on keyframes: the source's when copied, and the same grid for the
     * H.264 variant of a two-variant session (switching between the two is
     * exact). */
    for (size_t i = 0; i < v->n_src; i++) {
        struct vod_source *s = &v->src[i];
        if (!s->used)
            continue;
        media_source_info_clear(&s->info);
        int ret = media_source_probe(s->path, true, &s->info, perr, sizeof(perr));
        if (ret < 0)
            return jobutil_fail(err, errlen, ret, "%s: %s", s->path, perr);
    }
    return 0;
}

/* A transcode playlist holds at most this many segments: a longer range gets
 * proportionally longer segments (a seek there waits for more encoding). */
#define MAX_TRANSCODE_SEGMENTS 7200

static int make_plan(struct vod *v, double rs, double re, double seg_s, const double *fast,
                     size_t n_fast, char *err, size_t errlen)
{
    /* Transcodes are cut short (tseg): a seek waits for one short segment's
     * encoding. Copies keep seg_s (no encoding; fewer, larger requests). The
     * H.264 variant splits the copy's keyframe grid, so each of the copy's
     * boundaries stays one of its own and switching remains exact. */
    double tseg = fmax(v->job.transcode_segment_seconds, (re - rs) / MAX_TRANSCODE_SEGMENTS);
    double split = v->variant == VOD_VARIANT_H264 ? tseg : 0;
    bool transcode_grid = !v->passthrough && !v->keyframe_grid;
    if ((transcode_grid || split > 0) && tseg < seg_s)
        /* lookahead counts segments of segment_seconds: shorter transcode
         * segments look ahead the same time (reported in the plan). */
        v->lookahead = (int)fmin(ceil(v->lookahead * seg_s / tseg), JOBSPEC_VOD_MAX_PLAN_LOOKAHEAD);
    if (transcode_grid) {
        /* fast-start lengths exist to start fast: only the shorter ones stay */
        size_t k = 0;
        while (k < n_fast && fast[k] < tseg)
            k++;
        n_fast = k;
        seg_s = tseg;
    }
    struct grid_source *gs = calloc(v->n_src, sizeof(*gs));
    if (!gs)
        return -ENOMEM;
    for (size_t i = 0; i < v->n_src; i++) {
        const struct vod_source *s = &v->src[i];
        gs[i] = (struct grid_source){
            .wall_start = s->wall_start,
            .wall_end = s->used ? s->wall_end : s->wall_start,
            .fps = s->info.fps,
            .keyframes = (v->passthrough || v->keyframe_grid) && s->used ? s->info.keyframes : NULL,
            .n_keyframes =
                (v->passthrough || v->keyframe_grid) && s->used ? s->info.n_keyframes : 0};
        if (!isfinite(gs[i].wall_end))
            gs[i].wall_end = gs[i].wall_start;
    }
    struct grid_params p = {.range_start = rs,
                            .range_end = re,
                            .segment_seconds = seg_s,
                            .fast_start = fast,
                            .n_fast_start = n_fast,
                            .discontinuity_every_source = v->passthrough || v->keyframe_grid,
                            .split_seconds = split};
    int ret = grid_plan(gs, v->n_src, &p, &v->plan);
    free(gs);
    if (ret == -ENOENT)
        return jobutil_fail(err, errlen, ret, "no recorded media in the range");
    if (ret < 0)
        return jobutil_fail(err, errlen, ret, "cannot plan segments: %s", strerror(-ret));
    /* A change of audio presence needs a discontinuity even without a gap. */
    for (size_t i = 1; i < v->plan.n; i++) {
        struct grid_segment *s = &v->plan.segs[i];
        if (s->source != v->plan.segs[i - 1].source &&
            v->src[s->source].info.has_audio != v->src[v->plan.segs[i - 1].source].info.has_audio)
            s->discontinuity = true;
    }
    v->max_len = seg_s;
    for (size_t i = 0; i < n_fast; i++)
        v->max_len = fmax(v->max_len, fast[i]);
    for (size_t i = 0; v->keyframe_grid && i < v->plan.n; i++)
        v->max_len = fmax(v->max_len, v->plan.segs[i].duration);
    return 0;
}

static int write_playlist(struct vod *v, const char *playlist, char *err, size_t errlen)
{
    struct playlist pl;
    char name[256], path[PATH_MAX];
    int ret = 0;
    playlist_init(&pl, PLAYLIST_VOD, 0);
    for (size_t i = 0; i < v->plan.n && ret == 0; i++) {
        const struct grid_segment *s = &v->plan.segs[i];
        ret = seg_name(v, (long)i, name, sizeof(name));
        if (ret == 0)
            ret = playlist_add_segment(&pl, name, s->duration, s->discontinuity, s->pdt);
        /* fMP4: each source has its own init segment (its parameter sets). */
        if (ret == 0 && v->fmp4 && (i == 0 || s->source != v->plan.segs[i - 1].source) &&
            (ret = media_vod_init_name(v, s->source, name, sizeof(name))) == 0)
            ret = playlist_set_segment_map(&pl, name);
    }
    if (ret == 0)
        ret = util_fmt(path, sizeof(path), "%s/%s", v->out_dir, playlist);
    if (ret == 0)
        ret = playlist_write(&pl, path);
    playlist_clear(&pl);
    if (ret < 0)
        return jobutil_fail(err, errlen, ret, "cannot write the playlist %s/%s: %s", v->out_dir,
                            playlist, strerror(-ret));
    return 0;
}

/* H.264 transcode bits per pixel and frame assumed for its BANDWIDTH (CRF
 * rate control has no fixed rate; measured: docs/BENCHMARKS.md). */
#define H264_BITS_PER_PIXEL 0.1

/* The attributes of both variants of a two-variant session for the daemon's
 * master playlist (RFC 8216 4.3.4.2), known from the probe alone: either
 * variant's worker reports both, so the master never waits for an encoder. */
static void add_variants(const struct vod *v, cJSON *o)
{
    int w = 0, h = 0;
    double fps = 0, bits = 0, secs = 0, peak = 0;
    bool audio = false, all_hevc = true;
    const char *hevc = NULL;
    for (size_t i = 0; i < v->n_src; i++) {
        const struct media_source_info *in = &v->src[i].info;
        if (!v->src[i].used)
            continue;
        if (in->width * in->height > w * h) {
            w = in->width;
            h = in->height;
        }
        fps = fmax(fps, in->fps);
        audio = audio || in->has_audio;
        all_hevc = all_hevc && in->hevc_copyable;
        if (!hevc && in->codec_string[0])
            hevc = in->codec_string;
        if (in->bit_rate > 0) {
            bits += (double)in->bit_rate * in->duration;
            secs += in->duration;
            peak = fmax(peak, (double)in->bit_rate);
        }
    }
    struct media_geom_in gi = {.width = w,
                               .height = h,
                               .fps = fps,
                               .max_width = v->video.max_width,
                               .max_height = v->video.max_height};
    struct media_geom_out go = {0};
    media_geometry_fit(&gi, &go);
    char codecs[160];
    cJSON *vs = cJSON_AddObjectToObject(o, "variants");
    cJSON *x = vs ? cJSON_AddObjectToObject(vs, "hevc") : NULL;
    if (x && hevc && all_hevc) {
        snprintf(codecs, sizeof(codecs), "%s%s", hevc, audio ? "," MEDIA_CODECS_AAC : "");
        cJSON_AddStringToObject(x, "codecs", codecs);
        cJSON_AddNumberToObject(x, "width", w);
        cJSON_AddNumberToObject(x, "height", h);
        /* Peak: the highest file average with a margin for GOP-scale swings. */
        cJSON_AddNumberToObject(x, "bandwidth", round(peak * 1.25));
        cJSON_AddNumberToObject(x, "average_bandwidth", secs > 0 ? round(bits / secs) : 0);
    }
    x = vs ? cJSON_AddObjectToObject(vs, "h264") : NULL;
    if (x) {
        double abr = audio ? (double)v->audio.bitrate : 0;
        snprintf(codecs, sizeof(codecs), "%s%s", MEDIA_CODECS_H264,
                 audio ? "," MEDIA_CODECS_AAC : "");
        cJSON_AddStringToObject(x, "codecs", codecs);
        cJSON_AddNumberToObject(x, "width", go.width);
        cJSON_AddNumberToObject(x, "height", go.height);
        cJSON_AddNumberToObject(
            x, "bandwidth",
            round((double)go.width * go.height * (fps > 0 ? fps : 25) * H264_BITS_PER_PIXEL + abr));
    }
    for (cJSON *e = vs ? vs->child : NULL; e; e = e->next)
        if (fps > 0)
            cJSON_AddNumberToObject(e, "frame_rate", round(fps * 1000) / 1000);
}

static void emit_plan(struct vod *v)
{
    /* Test hook: a worker that lies, for the daemon's checks of what workers
     * claim (tests/integration/test_abuse.py). Never set in production. */
    const char *lie = getenv("HLSD_TEST_LYING_WORKER");
    if (lie && strcmp(lie, "1") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "segments", 1e7);
        cJSON_AddNumberToObject(o, "duration", 1e300);
        jobutil_emit(v->ctl, "plan", o);
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", 5e6);
        jobutil_emit(v->ctl, "segment", o);
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "percent", 1e300);
        cJSON_AddNumberToObject(o, "encoded_up_to", 9e18);
        jobutil_emit(v->ctl, "progress", o);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *d = cJSON_AddArrayToObject(o, "durations");
    cJSON_AddNumberToObject(o, "segments", (double)v->plan.n);
    cJSON_AddNumberToObject(o, "duration", round(v->plan.duration * 1000) / 1000);
    cJSON_AddBoolToObject(o, "passthrough", v->passthrough);
    cJSON_AddNumberToObject(o, "lookahead", v->lookahead);
    /* Wall clock of session time 0 (a copy starts at the keyframe at or
     * before the range start): the daemon aligns the I-frame playlist to it. */
    if (v->plan.n > 0 && isfinite(v->plan.segs[0].pdt))
        cJSON_AddNumberToObject(o, "start_pdt",
                                lie && strcmp(lie, "start_pdt") == 0
                                    ? -1e300 /* test hook, as above */
                                    : round(v->plan.segs[0].pdt * 1e6) / 1e6);
    for (size_t i = 0; d && i < v->plan.n; i++)
        cJSON_AddItemToArray(d, cJSON_CreateNumber(round(v->plan.segs[i].duration * 1000) / 1000));
    if (v->keyframe_grid)
        add_variants(v, o);
    jobutil_emit(v->ctl, "plan", o);
}

void media_vod_started(struct vod *v, int width, int height, double fps, bool audio,
                       const char *encoder)
{
    if (v->started_sent)
        return;
    v->started_sent = true;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "width", width);
    cJSON_AddNumberToObject(o, "height", height);
    cJSON_AddNumberToObject(o, "fps", round(fps * 1000) / 1000);
    cJSON_AddBoolToObject(o, "audio", audio);
    cJSON_AddBoolToObject(o, "passthrough", v->passthrough);
    /* "copy" when no video encoder runs (passthrough, the hevc variant) */
    cJSON_AddStringToObject(o, "encoder", encoder ? encoder : "");
    cJSON_AddStringToObject(o, "variant",
                            v->variant == VOD_VARIANT_HEVC   ? "hevc"
                            : v->variant == VOD_VARIANT_H264 ? "h264"
                                                             : "auto");
    jobutil_emit(v->ctl, "started", o);
}

void media_vod_segment_written(struct vod *v, long index, const char *file, double start,
                               double duration, int64_t bytes)
{
    if (index < 0 || (size_t)index >= v->plan.n) {
        snprintf(v->err, sizeof(v->err), "segment %ld is outside the plan", index);
        return;
    }
    const struct grid_segment *s = &v->plan.segs[index];
    /* A missed cut would shift every later file by one segment: refuse. */
    if (fabs(start - s->start) > fmax(0.25 * s->duration, 0.1)) {
        snprintf(v->err, sizeof(v->err),
                 "segment %ld starts at %.3f s instead of the planned %.3f s", index, start,
                 s->start);
        return;
    }
    if (fabs(duration - s->duration) > 0.05)
        LOG_DEBUG(v->name, "segment %ld: %.3f s written, %.3f s planned", index, duration,
                  s->duration);
    if (!v->have[index]) {
        v->have[index] = true;
        v->n_have++;
        if (v->wanted[index])
            v->n_pending--;
    }
    v->next = index + 1;
    v->last_written = index;
    v->media_done += s->duration;
    v->bytes += bytes;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)index);
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "duration", round(s->duration * 1000) / 1000);
    jobutil_emit(v->ctl, "segment", o);
}

static void emit_progress(struct vod *v, bool paused)
{
    double now = util_now_mono();
    if (now - v->t_last_progress < PROGRESS_INTERVAL)
        return;
    double dt = now - v->t_last_progress;
    int64_t frames = v->frames + (v->run ? media_vod_run_frames(v->run) : 0);
    double elapsed = now - v->t_start;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "frames", (double)frames);
    cJSON_AddNumberToObject(o, "fps", elapsed > 0 ? round(frames / elapsed * 10) / 10 : 0);
    cJSON_AddNumberToObject(
        o, "speed", paused ? 0 : round((v->media_done - v->media_done_at_last) / dt * 100) / 100);
    cJSON_AddNumberToObject(o, "bitrate",
                            v->media_done > 0 ? round(v->bytes * 8 / v->media_done) : 0);
    cJSON_AddNumberToObject(o, "segments", (double)v->n_have);
    cJSON_AddNumberToObject(o, "percent", round(v->n_have * 1000.0 / v->plan.n) / 10);
    cJSON_AddNumberToObject(o, "encoded_up_to", (double)v->last_written);
    jobutil_emit(v->ctl, "progress", o);
    v->t_last_progress = now;
    v->media_done_at_last = v->media_done;
}

static void stop_run(struct vod *v)
{
    if (v->run) {
        v->frames += media_vod_run_frames(v->run);
        media_vod_run_close(&v->run);
    }
}

/* {"cmd":"init","source":i}: a player reads a source's init segment before
 * any of its media, so it is made on its own (a header, no media). */
static void write_init(struct vod *v, const cJSON *src)
{
    char name[128], err[256] = "";
    double d = cJSON_IsNumber(src) ? src->valuedouble : -1;
    if (!v->fmp4 || !(d >= 0 && d < (double)v->n_src) || d != floor(d) || !v->src[(size_t)d].used)
        return;
    size_t i = (size_t)d;
    int ret = media_vod_init_name(v, i, name, sizeof(name));
    if (ret == 0)
        ret = media_vod_run_write_init(v, i, err, sizeof(err));
    if (ret < 0) {
        /* Not fatal: the segment runs write it too; the request times out. */
        LOG_WARN(v->name, "init segment %zu: %s", i, err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "source", (double)i);
    cJSON_AddStringToObject(o, "file", name);
    jobutil_emit(v->ctl, "init", o);
}

/* Handles one command; a far "want" repositions the encoder. */
static void handle_command(struct vod *v, const cJSON *cmd)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cmd, "cmd"));
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(cmd, "segment");
    if (name && strcmp(name, "init") == 0) {
        write_init(v, cJSON_GetObjectItemCaseSensitive(cmd, "source"));
        return;
    }
    if (!name || strcmp(name, "want") != 0 || !cJSON_IsNumber(seg))
        return;
    double d = seg->valuedouble;
    if (!(d >= 0 && d < (double)v->plan.n))
        return;
    long n = (long)d;
    if (n > v->wanted_max)
        v->wanted_max = n;
    if (v->have[n])
        return;
    if (!v->wanted[n]) {
        v->wanted[n] = true;
        v->n_pending++;
    }
    if (n > v->next + SEEK_AHEAD || n < v->next) {
        LOG_INFO(v->name, "seek: segment %ld wanted, encoder at %ld", n, v->next);
        stop_run(v);
        v->next = n;
    }
}

static int control_loop(struct vod *v, char *err, size_t errlen)
{
    double last_poll = 0;
    for (;;) {
        if (v->err[0])
            return jobutil_fail(err, errlen, AVERROR(EIO), "%s", v->err);
        /* Skip what exists; a jump means the encoder must reposition. */
        long m = v->next;
        while (m < (long)v->plan.n && v->have[m])
            m++;
        if (m != v->next) {
            stop_run(v);
            v->next = m;
        }
        bool finished = v->next >= (long)v->plan.n;
        if (finished && v->n_have == v->plan.n)
            return 0;
        /* Paused at the lookahead limit, the run stays open (input, decoder,
         * encoder) so resuming costs no seek. */
        bool paused = finished || v->next > v->wanted_max + v->lookahead;
        if (paused && v->n_pending > 0) {
            /* Idle with requests waiting (several wants in a burst: only the
             * last one moved the encoder): serve the earliest. */
            long p = 0;
            while (p < (long)v->plan.n && !(v->wanted[p] && !v->have[p]))
                p++;
            if (p < (long)v->plan.n) {
                LOG_INFO(v->name, "resuming at wanted segment %ld", p);
                stop_run(v);
                v->next = p;
                continue;
            }
        }
        emit_progress(v, paused);
        double now = util_now_mono();
        if (paused || now - last_poll >= COMMAND_POLL) {
            last_poll = now;
            cJSON *cmd = v->ctl->next_command(v->ctl->arg, paused ? PAUSE_WAIT_MS : 0);
            if (cmd) {
                handle_command(v, cmd);
                cJSON_Delete(cmd);
                last_poll = 0;
                continue; /* drain commands before working */
            }
        }
        if (jobutil_should_stop(v->ctl))
            return 0;
        if (paused)
            continue;
        if (!v->run) {
            int ret = media_vod_run_open(v, v->next, &v->run, err, errlen);
            if (ret < 0)
                return ret;
        }
        err[0] = '\0';
        int ret = media_vod_run_step(v->run, err, errlen);
        if (ret == AVERROR_EXIT)
            return 0; /* stop */
        if (ret < 0)
            return ret;
        media_vod_run_frames(v->run); /* reports "started" once the output is known */
        if (ret == 1) {
            long last = v->next - 1;
            stop_run(v);
            if (v->err[0])
                continue;
            const struct grid_segment *s = &v->plan.segs[last >= 0 ? last : 0];
            /* The piece is done; its last segment must be the last of its source. */
            if (v->next < (long)v->plan.n && v->plan.segs[v->next].source == s->source &&
                !v->have[v->next])
                return jobutil_fail(err, errlen, AVERROR_INVALIDDATA,
                                    "%s ended before segment %ld (at %.3f s of the file)",
                                    v->src[s->source].path, v->next,
                                    v->plan.segs[v->next].src_start);
        }
    }
}

int media_vod_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    struct vod v = {.ctl = ctl, .wanted_max = 0, .last_written = -1};
    const struct jobspec_vod *j = &v.job;
    int ret;
    err[0] = '\0';
    v.t_start = v.t_last_progress = util_now_mono();
    if ((ret = parse_job(&v, job, err, errlen)) < 0 ||
        (ret = probe_sources(&v, j->range_start, j->range_end, j->passthrough && !v.variant, err,
                             errlen)) < 0 ||
        (ret = make_plan(&v, j->range_start, j->range_end, j->segment_seconds, j->fast_start,
                         j->n_fast_start, err, errlen)) < 0 ||
        (ret = write_playlist(&v, j->playlist, err, errlen)) < 0)
        goto out;
    v.have = calloc(v.plan.n, sizeof(*v.have));
    v.wanted = calloc(v.plan.n, sizeof(*v.wanted));
    if (!v.have || !v.wanted) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < v.plan.n; i++)
        if ((v.have[i] = seg_exists(&v, (long)i)))
            v.n_have++;
    /* A variant of a two-variant session makes nothing until a player picks
     * it: only the variant actually requested costs work. */
    if (v.variant)
        v.wanted_max = -(long)v.lookahead - 1;
    LOG_INFO(v.name, "plan: %zu segments, %.3f s, %s%s, %zu already on disk", v.plan.n,
             v.plan.duration, v.passthrough ? "passthrough" : "transcode",
             v.passthrough ? (v.audio_copy ? " (audio copied)" : " (audio re-encoded)") : "",
             v.n_have);
    emit_plan(&v);
    if (v.passthrough) {
        const struct media_source_info *i0 = &v.src[v.plan.segs[0].source].info;
        media_vod_started(&v, i0->width, i0->height, i0->fps, i0->has_audio, "copy");
    }
    ret = control_loop(&v, err, errlen);
    v.t_last_progress = 0;
    emit_progress(&v, true);
out:
    stop_run(&v);
    for (size_t i = 0; i < v.n_src; i++)
        media_source_info_clear(&v.src[i].info);
    free(v.src);
    free(v.have);
    free(v.wanted);
    grid_plan_free(&v.plan);
    jobspec_vod_clear(&v.job);
    return ret;
}
