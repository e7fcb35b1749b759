/* The "live" job (docs/WORKER-PROTOCOL.md): a capture, network or test input
 * to a rolling HLS playlist, reconnecting by itself with backoff when the
 * input fails, ends or stalls, until stopped.
 *
 * Timeline: seconds since the job started on the monotonic clock. Each input
 * is anchored to it at its first packet (reader.c), so a separate audio input
 * stays in sync with the video, PROGRAM-DATE-TIME is the wall clock of the
 * capture, and a reconnect continues the timeline (after a discontinuity). */
#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "media/fmp4seg.h"
#include "media/input.h"
#include "media/jobutil.h"
#include "media/pipeline.h"
#include "media/playlist.h"
#include "media/reader.h"
#include "media/transcode.h"
#include "media/tsseg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum run_end { RUN_STOPPED, RUN_INPUT_FAILED, RUN_FATAL };

/* hls.variant: MPEG-TS segments, fMP4 segments, or fMP4 with LL-HLS parts. */
enum variant { VARIANT_MPEGTS, VARIANT_FMP4, VARIANT_LL };

struct pending_delete {
    char *uri;
    uint64_t due; /* unlink once this media sequence number is written */
};

struct live {
    const struct media_ctl *ctl;
    const char *name, *out_dir;
    char playlist_path[PATH_MAX];
    double seg;
    int list_size;
    enum variant variant;
    double part_seconds;
    bool delete_segments;
    struct jobspec_live job; /* borrows from the JSON job */
    struct media_input_cfg vcfg, acfg;
    bool has_audio_input;
    struct media_video_settings vs;
    struct media_audio_settings as;

    struct playlist pl;
    bool pending_discontinuity;
    struct pending_delete *dels;
    size_t n_dels;

    double t0_mono, t0_wall;
    struct media_tsseg *ts;    /* mpegts */
    struct media_fmp4seg *mp4; /* fmp4, lowlatency */
    struct media_sink sink;    /* the pipeline's way to mp4 */
    int fatal;
    char fatal_msg[PATH_MAX + 128];

    /* the current run */
    struct media_readq *rq;
    struct media_pipeline *pipe;
    double origin;
    bool origin_set;
    bool started_sent;
    int64_t run_segments;

    /* statistics */
    int64_t frames_before; /* frames of earlier runs */
    int64_t segments;
    double seg_seconds_total;
    double prog_mono, prog_t;
    int64_t prog_frames;
    int restarts;
};

/* Truncating copy (snprintf "%s" trips -Wformat-truncation on big buffers). */
static void copy_msg(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool input_should_stop(void *arg)
{
    struct live *L = arg;
    return (L->rq && media_readq_stopping(L->rq)) || jobutil_should_stop(L->ctl);
}

/* Boundaries every segment length from the first frame of each run. */
static double next_boundary(void *arg, double t)
{
    struct live *L = arg;
    if (!L->origin_set) {
        L->origin_set = true;
        L->origin = t;
    }
    return L->origin + (floor((t - L->origin) / L->seg + 1e-6) + 1) * L->seg;
}

/* Unlinks out_dir/name; a missing file is fine. Returns false when it was missing. */
static bool unlink_output(struct live *L, const char *name)
{
    char path[PATH_MAX];
    if (util_fmt(path, sizeof(path), "%s/%s", L->out_dir, name) < 0)
        return false;
    if (unlink(path) == 0)
        return true;
    if (errno != ENOENT)
        LOG_WARN(NULL, "cannot delete %s: %s", path, strerror(errno));
    return false;
}

/* A segment's part files "<base>.<k>.m4s" (its uri is "<base>.m4s"). */
static void delete_parts(struct live *L, const char *uri)
{
    char name[PATH_MAX];
    size_t n = strlen(uri);
    if (n < 5 || strcmp(uri + n - 4, ".m4s") != 0)
        return;
    /* Parts are numbered from 0 without gaps; older ones may already be gone. */
    for (int k = 0; k < PLAYLIST_MAX_PARTS; k++) {
        if (util_fmt(name, sizeof(name), "%.*s.%d.m4s", (int)(n - 4), uri, k) < 0 ||
            (!unlink_output(L, name) && k > 0))
            break;
    }
}

static void delete_due(struct live *L, uint64_t seq)
{
    size_t k = 0;
    for (size_t i = 0; i < L->n_dels; i++) {
        if (L->dels[i].due <= seq) {
            unlink_output(L, L->dels[i].uri);
            if (L->variant == VARIANT_LL)
                delete_parts(L, L->dels[i].uri);
            free(L->dels[i].uri);
        } else {
            L->dels[k++] = L->dels[i];
        }
    }
    L->n_dels = k;
}

static void set_fatal(struct live *L, int r, const char *what)
{
    if (L->fatal)
        return;
    L->fatal = r;
    snprintf(L->fatal_msg, sizeof(L->fatal_msg), "%s: %s", what, strerror(-r));
}

/* Appends a finished segment to the window (its pending parts move into
 * it) and schedules the deletion of the segments that left it. */
static int add_segment(struct live *L, uint64_t seq, const char *file, double duration,
                       double start)
{
    char **removed = NULL;
    int r = playlist_live_append(&L->pl, file, duration, L->pending_discontinuity,
                                 L->t0_wall + start, (size_t)L->list_size, &removed);
    if (r < 0) {
        set_fatal(L, r, "playlist");
        return r;
    }
    L->pending_discontinuity = false;
    for (size_t i = 0; removed && removed[i]; i++) {
        if (!L->delete_segments)
            continue;
        struct pending_delete *d = realloc(L->dels, (L->n_dels + 1) * sizeof(*d));
        if (!d)
            break;
        L->dels = d;
        /* Grace: a player that just read the old playlist may still fetch
         * it, so keep it for another window's worth of segments. */
        L->dels[L->n_dels++] =
            (struct pending_delete){util_xstrdup(removed[i]), seq + (uint64_t)L->list_size};
    }
    playlist_free_strv(&removed);
    L->segments++;
    L->run_segments++;
    return 0;
}

static int publish(struct live *L)
{
    int r = playlist_write(&L->pl, L->playlist_path);
    if (r < 0) {
        L->fatal = r;
        snprintf(L->fatal_msg, sizeof(L->fatal_msg), "cannot write %s: %s", L->playlist_path,
                 strerror(-r));
    }
    return r;
}

static void emit_segment(struct live *L, uint64_t seq, const char *file, double duration)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "index", (double)seq);
    cJSON_AddStringToObject(ev, "file", file);
    cJSON_AddNumberToObject(ev, "duration", round(duration * 1000) / 1000);
    jobutil_emit(L->ctl, "segment", ev);
}

static void on_segment(void *arg, const struct media_tsseg_info *info)
{
    struct live *L = arg;
    uint64_t seq = (uint64_t)info->index;
    if (add_segment(L, seq, info->file, info->duration, info->start) < 0 || publish(L) < 0)
        return;
    delete_due(L, seq);
    L->seg_seconds_total += info->duration;
    emit_segment(L, seq, info->file, info->duration);
}

/* ---- fMP4 output (variants fmp4 and lowlatency) ---- */

static void on_init(void *arg, const char *file)
{
    struct live *L = arg;
    int r = playlist_set_map(&L->pl, file);
    if (r < 0)
        set_fatal(L, r, "playlist");
}

/* RFC 8216bis 6.2.2: EXT-X-PART tags further than three target durations
 * from the end of the playlist go (the files stay until their segment is
 * deleted, longer than the three target durations clients may still ask). */
static void trim_parts(struct live *L)
{
    double keep = 3.0 * playlist_effective_target(&L->pl), after = 0;
    for (size_t i = 0; i < L->pl.n_pending_parts; i++)
        after += L->pl.pending_parts[i].duration;
    for (size_t i = L->pl.n_segs; i-- > 0;) {
        struct playlist_segment *s = &L->pl.segs[i];
        if (after > keep && s->n_parts) {
            for (size_t j = 0; j < s->n_parts; j++)
                free(s->parts[j].uri);
            free(s->parts);
            s->parts = NULL;
            s->n_parts = 0;
        }
        after += s->duration;
    }
}

static double part_age(struct live *L, const struct media_fmp4_part *part)
{
    struct media_pipeline_info pi = {0};
    if (L->pipe)
        media_pipeline_get_info(L->pipe, &pi);
    double frame = pi.fps > 0 ? 1.0 / pi.fps : 0;
    double last_frame = L->t0_mono + part->start + part->duration - frame;
    return util_now_mono() - last_frame;
}

static void on_fmp4_output(void *arg, const struct media_fmp4_part *part,
                           const struct media_fmp4_segment *seg, const char *next_part)
{
    struct live *L = arg;
    int r;
    if (L->fatal)
        return;
    if (part && (r = playlist_add_pending_part(&L->pl, part->file, part->duration,
                                               part->independent)) < 0) {
        if (r != -E2BIG) {
            set_fatal(L, r, "playlist");
            return;
        }
        /* An encoder that skipped the forced keyframe: the segment runs on
         * past the parts a playlist may list; players use the whole segment. */
        if (part->index == PLAYLIST_MAX_PARTS)
            LOG_WARN(NULL, "segment %lld: more than %d parts; later ones left out of the playlist",
                     (long long)part->msn, PLAYLIST_MAX_PARTS);
    }
    if (seg && add_segment(L, (uint64_t)seg->index, seg->file, seg->duration, seg->start) < 0)
        return;
    if (L->variant == VARIANT_LL) {
        double target = media_fmp4seg_part_target(L->mp4);
        L->pl.part_target = target;
        L->pl.part_hold_back = 3 * target;
        L->pl.can_block_reload = true;
        if ((r = playlist_set_preload_hint(&L->pl, next_part)) < 0) {
            set_fatal(L, r, "playlist");
            return;
        }
        trim_parts(L);
    }
    if (publish(L) < 0)
        return;
    if (seg) {
        delete_due(L, (uint64_t)seg->index);
        L->seg_seconds_total += seg->duration;
    }
    /* Events after the playlist is in place: the daemon answers blocked
     * requests with the file as soon as it hears of the part. */
    if (part) {
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "index", (double)part->msn);
        cJSON_AddNumberToObject(ev, "part", part->index);
        cJSON_AddStringToObject(ev, "file", part->file);
        cJSON_AddNumberToObject(ev, "duration", round(part->duration * 1000) / 1000);
        cJSON_AddBoolToObject(ev, "independent", part->independent);
        cJSON_AddStringToObject(ev, "next", next_part ? next_part : "");
        cJSON_AddNumberToObject(ev, "delay", round(part_age(L, part) * 1000) / 1000);
        jobutil_emit(L->ctl, "part", ev);
    }
    if (seg)
        emit_segment(L, (uint64_t)seg->index, seg->file, seg->duration);
}

static int sink_set_streams(void *arg, const AVCodecParameters *v, AVRational vtb,
                            const AVCodecParameters *a, AVRational atb)
{
    return media_fmp4seg_set_streams(arg, v, vtb, a, atb);
}

static int sink_cut_at(void *arg, int64_t pts)
{
    return media_fmp4seg_cut_at(arg, pts);
}

static int sink_write(void *arg, int stream, AVPacket *pkt)
{
    return media_fmp4seg_write(arg, stream, pkt);
}

static int64_t output_bytes(const struct live *L)
{
    return L->mp4 ? media_fmp4seg_bytes(L->mp4) : media_tsseg_bytes(L->ts);
}

static int finish_output(struct live *L)
{
    return L->mp4 ? media_fmp4seg_finish(L->mp4) : media_tsseg_finish(L->ts);
}

static void report(struct live *L)
{
    struct media_pipeline_info pi;
    if (!L->pipe)
        return;
    media_pipeline_get_info(L->pipe, &pi);
    if (!L->started_sent && pi.video_ready) {
        L->started_sent = true;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "width", pi.width);
        cJSON_AddNumberToObject(ev, "height", pi.height);
        cJSON_AddNumberToObject(ev, "fps", round(pi.fps * 100) / 100);
        cJSON_AddBoolToObject(ev, "audio", pi.audio);
        cJSON_AddBoolToObject(ev, "passthrough", false);
        cJSON_AddStringToObject(ev, "encoder", pi.encoder);
        jobutil_emit(L->ctl, "started", ev);
        L->prog_mono = util_now_mono();
        L->prog_t = pi.last_t;
        L->prog_frames = L->frames_before + pi.video_frames;
        return;
    }
    double now = util_now_mono();
    if (!L->started_sent || now - L->prog_mono < 1.0)
        return;
    int64_t frames = L->frames_before + pi.video_frames;
    double dt = now - L->prog_mono;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "frames", (double)frames);
    cJSON_AddNumberToObject(ev, "fps", round((frames - L->prog_frames) / dt * 10) / 10);
    cJSON_AddNumberToObject(ev, "speed", round((pi.last_t - L->prog_t) / dt * 100) / 100);
    cJSON_AddNumberToObject(
        ev, "bitrate",
        L->seg_seconds_total > 0 ? round(output_bytes(L) * 8 / L->seg_seconds_total) : 0);
    cJSON_AddNumberToObject(ev, "segments", (double)L->segments);
    jobutil_emit(L->ctl, "progress", ev);
    L->prog_mono = now;
    L->prog_t = pi.last_t;
    L->prog_frames = frames;
}

static void describe_read_error(int r, char *msg, size_t len)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    if (r == AVERROR_EOF)
        snprintf(msg, len, "the input ended");
    else if (r == -ETIMEDOUT || r == AVERROR(ETIMEDOUT))
        snprintf(msg, len, "the input stalled (no data)");
    else
        snprintf(msg, len, "reading the input failed: %s", media_strerror(r, eb, sizeof(eb)));
}

/* One connection: open, run until stop or failure, then close the current
 * segment short. msg receives the reason of a failure. */
static enum run_end run_once(struct live *L, char *msg, size_t msglen)
{
    struct media_input *vin = NULL, *ain = NULL;
    enum run_end end = RUN_INPUT_FAILED;
    char err[512] = "";
    int r;

    L->origin_set = false;
    L->started_sent = false;
    L->run_segments = 0;
    if (media_readq_create(&L->rq, L->t0_mono, 512) < 0) {
        snprintf(msg, msglen, "out of memory");
        return RUN_FATAL;
    }
    L->vcfg.should_stop = L->acfg.should_stop = input_should_stop;
    L->vcfg.stop_arg = L->acfg.stop_arg = L;
    if ((r = media_input_open(&vin, &L->vcfg, err, sizeof(err))) < 0) {
        snprintf(msg, msglen, "cannot open the input: %s", err);
        goto out;
    }
    if (vin->video_index < 0) {
        snprintf(msg, msglen, "no video stream in the input");
        goto out;
    }
    const AVStream *vst = vin->fmt->streams[vin->video_index];
    const AVStream *ast = NULL;
    if (L->has_audio_input) {
        if ((r = media_input_open(&ain, &L->acfg, err, sizeof(err))) < 0) {
            snprintf(msg, msglen, "cannot open the audio input: %s", err);
            goto out;
        }
        if (ain->audio_index < 0) {
            snprintf(msg, msglen, "no audio stream in the audio input");
            goto out;
        }
        ast = ain->fmt->streams[ain->audio_index];
    } else if (vin->audio_index >= 0) {
        ast = vin->fmt->streams[vin->audio_index];
    }
    struct media_pipeline_cfg pc = {
        .name = L->name,
        .video = &L->vs,
        .audio = &L->as,
        .gop_seconds = L->seg,
        .next_boundary = next_boundary,
        .boundary_arg = L,
        .out = L->ts,
        .sink = L->mp4 ? &L->sink : NULL,
    };
    if ((r = media_pipeline_open(&L->pipe, &pc, vst, media_input_rotation(vst), ast, err,
                                 sizeof(err))) < 0) {
        copy_msg(msg, msglen, err);
        goto out;
    }
    if ((r = media_readq_add(L->rq, 0, vin)) < 0 ||
        (ain && (r = media_readq_add(L->rq, 1, ain)) < 0)) {
        snprintf(msg, msglen, "cannot start a reader thread: %s", strerror(-r));
        end = RUN_FATAL;
        goto out;
    }
    double max_skew = fmax(10.0, 3 * L->seg);
    for (;;) {
        if (jobutil_should_stop(L->ctl)) {
            end = RUN_STOPPED;
            break;
        }
        struct media_readq_item it;
        if (media_readq_pop(L->rq, 200, &it)) {
            if (!it.pkt) {
                if (it.error == AVERROR_EXIT && jobutil_should_stop(L->ctl)) {
                    end = RUN_STOPPED;
                    break;
                }
                describe_read_error(it.error, msg, msglen);
                if (it.source == 1)
                    snprintf(msg + strlen(msg), msglen - strlen(msg), " (audio input)");
                break;
            }
            struct media_input *in = it.source == 0 ? vin : ain;
            int which = -1;
            if (it.source == 0 && it.pkt->stream_index == vin->video_index)
                which = MEDIA_VIDEO;
            else if (it.pkt->stream_index == in->audio_index && (it.source == 1 || !ain))
                which = MEDIA_AUDIO;
            r = 0;
            if (which >= 0) {
                double t = media_input_pkt_time(in, it.pkt) + it.offset_us / 1e6;
                double now = util_now_mono() - L->t0_mono;
                if (!isnan(t) && fabs(t - now) > max_skew) {
                    snprintf(msg, msglen, "the input's timestamps jumped by %.1f s", t - now);
                    av_packet_free(&it.pkt);
                    break;
                }
                r = media_pipeline_send(L->pipe, which, it.pkt, it.offset_us, err, sizeof(err));
            }
            av_packet_free(&it.pkt);
            if (r < 0) {
                copy_msg(msg, msglen, err);
                end = r == AVERROR_INVALIDDATA ? RUN_INPUT_FAILED : RUN_FATAL;
                break;
            }
            if (L->fatal) {
                copy_msg(msg, msglen, L->fatal_msg);
                end = RUN_FATAL;
                break;
            }
        }
        report(L);
    }

out:
    /* Close the current segment short: everything captured is published. */
    media_readq_stop(L->rq);
    if (L->pipe) {
        struct media_pipeline_info pi;
        if (end != RUN_FATAL && media_pipeline_drain(L->pipe, err, sizeof(err)) < 0)
            LOG_WARN(NULL, "draining the encoder: %s", err);
        media_pipeline_get_info(L->pipe, &pi);
        L->frames_before += pi.video_frames;
    }
    if (end != RUN_FATAL && (r = finish_output(L)) < 0) {
        snprintf(msg, msglen, "writing the last segment failed: %s", av_err2str(r));
        end = RUN_FATAL;
    }
    if (L->fatal && end != RUN_FATAL) {
        copy_msg(msg, msglen, L->fatal_msg);
        end = RUN_FATAL;
    }
    media_pipeline_free(&L->pipe);
    media_readq_free(&L->rq);
    media_input_close(&ain);
    media_input_close(&vin);
    return end;
}

/* Fills L from the job (parsed and range-checked by core/jobspec.c) and
 * applies what depends on several keys. Strings borrow from the job. */
static int parse_job(struct live *L, const cJSON *job, char *err, size_t errlen)
{
    struct jobspec_live *j = &L->job;
    int r = jobspec_live_from_json(job, j, err, errlen);
    if (r < 0)
        return r;
    L->name = j->name;
    L->out_dir = j->out_dir;
    if (util_fmt(L->playlist_path, sizeof(L->playlist_path), "%s/%s", L->out_dir, j->playlist) <
        0) {
        snprintf(err, errlen, "live job: out_dir too long");
        return -ENAMETOOLONG;
    }
    L->seg = j->hls.segment_seconds;
    L->list_size = j->hls.list_size;
    L->delete_segments = j->hls.delete_segments;
    L->part_seconds = j->hls.part_seconds;
    if (strcmp(j->hls.variant, "fmp4") == 0)
        L->variant = VARIANT_FMP4;
    else if (strcmp(j->hls.variant, "lowlatency") == 0)
        L->variant = VARIANT_LL;
    else
        L->variant = VARIANT_MPEGTS;
    if (L->variant == VARIANT_LL) {
        if (L->part_seconds >= L->seg) {
            snprintf(err, errlen, "live job: part_seconds (%g) must be under segment_seconds (%g)",
                     L->part_seconds, L->seg);
            return -EINVAL;
        }
        /* The playlist model holds at most PLAYLIST_MAX_PARTS parts a segment. */
        double min_part = L->seg / (PLAYLIST_MAX_PARTS - 4);
        if (L->part_seconds < min_part) {
            LOG_WARN(NULL, "part_seconds %g is too short for %g s segments: using %.3f",
                     L->part_seconds, L->seg, min_part);
            L->part_seconds = min_part;
        }
    }
    if (L->variant != VARIANT_MPEGTS) {
        /* RFC 8216bis 6.2.2: a live playlist spans at least three target
         * durations; one more segment lets players that start three target
         * durations back (hls.js without low-latency mode) begin inside it. */
        int need = (int)ceil(3.0 * ceil(L->seg - 1e-9) / L->seg - 1e-9) + 1;
        if (L->list_size < need) {
            LOG_INFO(NULL, "list_size %d raised to %d (three target durations and one segment)",
                     L->list_size, need);
            L->list_size = need;
        }
    }
    media_video_settings_from_job(&j->video, &L->vs);
    media_audio_settings_from_job(&j->audio, &L->as);
    L->vcfg = (struct media_input_cfg){
        .format = j->input.format, .url = j->input.url, .options = j->input.options};
    L->has_audio_input = j->audio_input.url != NULL;
    if (L->has_audio_input)
        L->acfg = (struct media_input_cfg){.format = j->audio_input.format,
                                           .url = j->audio_input.url,
                                           .options = j->audio_input.options};
    L->vcfg.name = L->acfg.name = L->name;
    L->vcfg.realtime = L->acfg.realtime = j->realtime;
    L->vcfg.stall_timeout = L->acfg.stall_timeout = j->stall_timeout;
    L->vcfg.io_timeout = L->acfg.io_timeout = j->io_timeout;
    return 0;
}

static void start_playlist(struct live *L, bool cont)
{
    int target = (int)ceil(L->seg - 1e-9);
    if (cont) {
        struct playlist old;
        int r = playlist_read(L->playlist_path, &old);
        if (r == 0 && old.n_segs > 0) {
            L->pl = old;
            L->pl.type = PLAYLIST_LIVE;
            L->pl.ended = false;
            L->pl.target_duration = target;
            /* The parts of the segment the crashed worker was writing are
             * lost with it; the new worker's first part starts a new segment. */
            for (size_t i = 0; i < L->pl.n_pending_parts; i++)
                free(L->pl.pending_parts[i].uri);
            free(L->pl.pending_parts);
            L->pl.pending_parts = NULL;
            L->pl.n_pending_parts = 0;
            playlist_set_preload_hint(&L->pl, NULL);
            L->pending_discontinuity = true;
            LOG_INFO(NULL, "continuing %s at media sequence %llu", L->playlist_path,
                     (unsigned long long)(old.media_sequence + old.n_segs));
            return;
        }
        if (r == 0)
            playlist_clear(&old);
        LOG_WARN(NULL, "cannot continue %s (%s): starting a new playlist", L->playlist_path,
                 r < 0 ? strerror(-r) : "no segments");
    }
    playlist_init(&L->pl, PLAYLIST_LIVE, target);
}

int media_live_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    struct live L = {.ctl = ctl};
    int r;
    char msg[512];

    playlist_init(&L.pl, PLAYLIST_LIVE, 5);
    if ((r = parse_job(&L, job, err, errlen)) < 0)
        goto out;
    if (access(L.out_dir, W_OK) < 0) {
        r = -errno;
        snprintf(err, errlen, "cannot write to %s: %s", L.out_dir, strerror(errno));
        goto out;
    }
    start_playlist(&L, L.job.cont);
    L.t0_mono = util_now_mono();
    L.t0_wall = util_now_wall();
    const char *prefix = L.job.segment_prefix;
    int64_t first = (int64_t)(L.pl.media_sequence + L.pl.n_segs);
    if (L.variant == VARIANT_MPEGTS) {
        struct media_tsseg_cfg tc = {.dir = L.out_dir,
                                     .prefix = prefix,
                                     .first_index = first,
                                     .on_segment = on_segment,
                                     .arg = &L};
        r = media_tsseg_create(&L.ts, &tc);
    } else {
        struct media_fmp4seg_cfg fc = {
            .dir = L.out_dir,
            .prefix = prefix,
            .first_index = first,
            .part_seconds = L.variant == VARIANT_LL ? L.part_seconds : 0,
            .on_init = on_init,
            .on_output = on_fmp4_output,
            .arg = &L,
        };
        r = media_fmp4seg_create(&L.mp4, &fc);
        L.sink = (struct media_sink){sink_set_streams, sink_cut_at, sink_write, L.mp4};
    }
    if (r < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }

    size_t fails = 0;
    for (;;) {
        enum run_end end = run_once(&L, msg, sizeof(msg));
        if (end == RUN_FATAL) {
            copy_msg(err, errlen, msg);
            r = AVERROR(EIO);
            break;
        }
        if (end == RUN_STOPPED || jobutil_should_stop(ctl)) {
            r = 0;
            break;
        }
        if (L.run_segments > 0)
            fails = 0; /* it worked for a while: start the backoff over */
        size_t nb = L.job.n_backoff;
        double delay = nb ? L.job.backoff[fails < nb ? fails : nb - 1] : 1;
        fails++;
        L.restarts++;
        if (L.pl.n_segs > 0)
            L.pending_discontinuity = true;
        LOG_WARN(NULL, "%s; reconnecting in %g s (restart %d)", msg, delay, L.restarts);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "message", msg);
        cJSON_AddNumberToObject(ev, "restarts", L.restarts);
        cJSON_AddNumberToObject(ev, "retry_in", delay);
        jobutil_emit(ctl, "input_error", ev);
        if (jobutil_wait_stop(ctl, delay)) {
            r = 0;
            break;
        }
    }
    if (L.pl.n_segs > 0) {
        L.pl.ended = true;
        playlist_set_preload_hint(&L.pl, NULL); /* nothing follows an ENDLIST */
        int w = playlist_write(&L.pl, L.playlist_path);
        if (w < 0 && r == 0) {
            r = w;
            snprintf(err, errlen, "cannot write %s: %s", L.playlist_path, strerror(-w));
        }
    }
out:
    media_tsseg_free(&L.ts);
    media_fmp4seg_free(&L.mp4);
    for (size_t i = 0; i < L.n_dels; i++)
        free(L.dels[i].uri);
    free(L.dels);
    playlist_clear(&L.pl);
    jobspec_live_clear(&L.job);
    return r;
}
