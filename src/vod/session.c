/* Transcode sessions: ids, creation (which tracks, their jobs), the master
 * playlist of a two-variant session, removal. The tracks' workers and
 * waiting requests are in track.c. */
#include "vod/session_priv.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "core/digest.h"
#include "http/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- ids ---------------------------------------------------------------- */

bool vod_valid_id(const char *id)
{
    if (!id || strlen(id) != VOD_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int vod_session_id(const struct vod_manager *m, const char *camera, double start, double end,
                   const char *variant, char id[VOD_ID_LEN + 1])
{
    char data[180], hex[65];
    /* Fixed precision: "10" and "10.0" name the same range. A forced variant
     * is another session (other files); the default keeps the old ids. */
    int r = variant && variant[0]
                ? util_fmt(data, sizeof(data), "%s|%.6f|%.6f|%s", camera, start, end, variant)
                : util_fmt(data, sizeof(data), "%s|%.6f|%.6f", camera, start, end);
    if (r < 0)
        return r;
    r = digest_hmac_sha256_hex(m->key, sizeof(m->key), data, strlen(data), hex);
    if (r < 0)
        return r;
    memcpy(id, hex, VOD_ID_LEN);
    id[VOD_ID_LEN] = '\0';
    return 0;
}

struct vod_session *vod_session_find(struct vod_manager *m, const char *id)
{
    for (struct vod_session *s = m->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

int vod_job_settings(const struct cfg_vod *v, const struct vod_recording *recs, size_t n,
                     struct jobspec_video *video, struct jobspec_audio *audio,
                     struct jobspec_source **sources)
{
    int64_t abr = 0;
    if (v->encoder)
        video->encoder = v->encoder;
    if (v->preset)
        video->preset = v->preset;
    video->crf = v->crf;
    video->max_height = v->max_height;
    if (v->audio_bitrate && util_parse_bitrate(v->audio_bitrate, &abr) == 0)
        audio->bitrate = abr;
    *sources = NULL;
    if (n && !(*sources = calloc(n, sizeof(**sources))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        (*sources)[i] = (struct jobspec_source){recs[i].path, recs[i].start_time,
                                                isfinite(recs[i].end_time) ? recs[i].end_time
                                                                           : 0 /* unknown */};
    return 0;
}

/* The session's job; *out is owned by the caller. 0, or -ENOMEM / -EINVAL
 * with the reason in err. */
static int build_job(struct vod_track *t, const struct vod_recording *recs, size_t n, cJSON **out,
                     char *err, size_t errlen)
{
    struct vod_session *s = t->s;
    const struct cfg_vod *v = &s->m->cfg->vod;
    struct jobspec_vod j;

    jobspec_vod_defaults(&j);
    j.name = t->name;
    j.out_dir = s->dir;
    j.playlist = t->playlist;
    j.variant = vod_track_variant(t);
    j.segment_prefix = s->prefix;
    if (vod_job_settings(v, recs, n, &j.video, &j.audio, &j.sources) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    j.n_sources = n;
    j.range_start = s->start;
    j.range_end = s->end;
    j.segment_seconds = v->segment_seconds;
    j.transcode_segment_seconds = v->transcode_segment_seconds;
    /* the config refuses longer lists */
    j.n_fast_start =
        v->n_fast_start < JOBSPEC_MAX_FAST_START ? v->n_fast_start : JOBSPEC_MAX_FAST_START;
    if (j.n_fast_start)
        memcpy(j.fast_start, v->fast_start, j.n_fast_start * sizeof(double));
    j.lookahead = v->lookahead;
    j.passthrough = v->passthrough;
    int r = jobspec_vod_to_json(&j, out, err, errlen);
    jobspec_vod_clear(&j);
    return r;
}

static void session_free(struct vod_session *s)
{
    for (int i = 0; i < s->n_tracks; i++)
        vod_track_clear(&s->t[i]);
    free(s);
}

/* Finished sessions stay servable until their ttl; beyond VOD_MAX_SESSIONS
 * the least recently used one without a worker or a waiting request goes
 * first, so many short ranges cannot pile up folders for ttl seconds. */
static int make_room(struct vod_manager *m)
{
    struct vod_session *lru = NULL;
    int n = 0;
    for (struct vod_session *s = m->sessions; s; s = s->next) {
        n++;
        if (!vod_session_workers(s) && !vod_session_waiting(s) &&
            (!lru || s->last_access < lru->last_access))
            lru = s;
    }
    if (n < VOD_MAX_SESSIONS)
        return 0;
    if (!lru)
        return -EBUSY;
    LOG_INFO(lru->name, "removed to make room for a new session");
    vod_session_destroy(lru, 410, "session expired");
    return 0;
}

static int segment_prefix(const struct vod_manager *m, const char *id,
                          const struct vod_recording *recs, size_t n, char *out, size_t size)
{
    char *buf = NULL, hex[65];
    size_t len = 0;
    int r = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    fprintf(f, "prefix|%s", id);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "|%s|%.6f|%.6f", recs[i].path, recs[i].start_time, recs[i].end_time);
    if (ferror(f) | fclose(f))
        r = -ENOMEM;
    if (r == 0 && (r = digest_hmac_sha256_hex(m->key, sizeof(m->key), buf, len, hex)) == 0)
        snprintf(out, size, "seg-%.8s-", hex);
    free(buf);
    return r;
}

/* An idle session: nobody waits on it and no worker encodes for it (none,
 * paused, or being released). */
static bool session_idle(const struct vod_session *s)
{
    return !vod_session_waiting(s) && !vod_session_encoding(s);
}

/* max_sessions_per_user: at the limit, the owner's own least recently used
 * idle session makes way; never another owner's. -EDQUOT when all of the
 * owner's sessions are busy. */
static int make_room_for_owner(struct vod_manager *m, const char *owner)
{
    int limit = m->cfg->vod.max_sessions_per_user, n = 0;
    struct vod_session *lru = NULL;
    if (limit <= 0)
        return 0;
    for (struct vod_session *s = m->sessions; s; s = s->next) {
        if (strcmp(s->owner, owner) != 0)
            continue;
        n++;
        if (session_idle(s) && (!lru || s->last_access < lru->last_access))
            lru = s;
    }
    if (n < limit)
        return 0;
    if (!lru)
        return -EDQUOT;
    LOG_INFO(lru->name, "replaced by a newer session of %s (vod.max_sessions_per_user %d)", owner,
             limit);
    metrics_counter_inc("hlsd_transcode_replaced_total", NULL);
    vod_session_destroy(lru, 410, "replaced by a newer session of the same user");
    return 0;
}

/* Which tracks a session of these recordings gets. -EMEDIUMTYPE when the
 * forced variant cannot be made of them. */
static int choose_tracks(struct vod_session *s, const struct vod_recording *recs, size_t n)
{
    bool all_hevc = n > 0;
    for (size_t i = 0; i < n; i++)
        all_hevc = all_hevc && strcmp(recs[i].video_codec, "hevc") == 0;
    if (strcmp(s->variant, "hevc") == 0) {
        if (!all_hevc)
            return -EMEDIUMTYPE;
        vod_track_init(&s->t[0], s, VOD_TRACK_HEVC, VOD_PLAYLIST);
        s->n_tracks = 1;
    } else if (!s->variant[0] && all_hevc && s->m->cfg->vod.hevc_variant) {
        /* Browsers that decode HEVC get the recording as it is; the others
         * the H.264 transcode. Only the rendition a player asks for runs. */
        vod_track_init(&s->t[0], s, VOD_TRACK_H264, "h264.m3u8");
        vod_track_init(&s->t[1], s, VOD_TRACK_HEVC, "hevc.m3u8");
        s->n_tracks = 2;
        s->dual = true;
    } else {
        vod_track_init(&s->t[0], s, VOD_TRACK_AUTO, VOD_PLAYLIST);
        s->n_tracks = 1;
    }
    return 0;
}

int vod_session_create(struct vod_manager *m, const char *owner, const char *camera, double start,
                       double end, const char *variant, const char *id, struct vod_session **out)
{
    struct vod_recording *recs = NULL;
    struct vod_session *s = NULL;
    char jerr[160] = "";
    size_t n = 0;
    bool truncated = false;
    int r;

    r = vod_index_range(m->ix, camera, start, end, VOD_MAX_SOURCES, &recs, &n, &truncated);
    if (r < 0) {
        LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
        return r;
    }
    if (n == 0) {
        r = -ENOENT;
        goto out;
    }
    if (truncated) {
        r = -E2BIG;
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        r = -ENOMEM;
        goto out;
    }
    s->m = m;
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->name, sizeof(s->name), "vod %.8s", id);
    snprintf(s->camera, sizeof(s->camera), "%s", camera);
    snprintf(s->owner, sizeof(s->owner), "%s", owner);
    snprintf(s->variant, sizeof(s->variant), "%s", variant ? variant : "");
    s->start = start;
    s->end = end;
    s->created = util_now_wall();
    s->last_access = util_now_mono();
    s->n_sources = n;
    vod_session_master_init(s);
    if ((r = choose_tracks(s, recs, n)) < 0)
        goto out;
    /* The first worker: the copy of a dual session (it plans for both, and
     * costs no slot), else the only one. */
    struct vod_track *first = &s->t[s->dual ? 1 : 0];
    /* Refuse for lack of a slot before ending one of the owner's sessions. */
    if (first->kind != VOD_TRACK_HEVC && vod_active_count(m) >= m->cfg->vod.max_concurrent) {
        r = -EBUSY;
        goto out;
    }
    if ((r = make_room_for_owner(m, owner)) < 0)
        goto out;
    if (make_room(m) < 0) {
        r = -EBUSY;
        goto out;
    }
    /* The prefix is derived from the id and the recordings the plan comes
     * from: every node of a cluster names the segments alike (any node can
     * serve any session), and a browser never replays a cached segment made
     * from other recordings. */
    if ((r = segment_prefix(m, id, recs, n, s->prefix, sizeof(s->prefix))) < 0)
        goto out;
    if ((r = util_fmt(s->dir, sizeof(s->dir), "%s/%s", m->transcode_dir, id)) < 0)
        goto out;
    util_rm_rf(s->dir);
    if ((r = util_mkdir_p(s->dir, 0755)) < 0) {
        LOG_ERROR(s->name, "cannot create %s: %s", s->dir, strerror(-r));
        goto out;
    }
    for (int i = 0; i < s->n_tracks; i++) {
        if ((r = build_job(&s->t[i], recs, n, &s->t[i].job, jerr, sizeof(jerr))) < 0) {
            LOG_ERROR(s->name, "cannot build the job: %s", jerr);
            util_rm_rf(s->dir);
            goto out;
        }
    }
    if ((r = vod_track_spawn(first)) < 0) { /* logged by proc_spawn */
        util_rm_rf(s->dir);
        goto out;
    }
    s->next = m->sessions;
    m->sessions = s;
    vod_registry_record(m, s);
    *out = s;
    s = NULL;
out:
    if (s)
        session_free(s);
    vod_recordings_free(&recs, n);
    return r;
}

/* A STREAM-INF line's attributes from a plan's variant object; false when
 * the object lacks what a player needs (codecs, size). */
static bool stream_inf(const cJSON *v, const char *uri, char *buf, size_t size)
{
    const char *codecs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "codecs"));
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(v, "width");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "height");
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(v, "bandwidth");
    const cJSON *avg = cJSON_GetObjectItemCaseSensitive(v, "average_bandwidth");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(v, "frame_rate");
    if (!codecs || !codecs[0] || strpbrk(codecs, "\"\r\n") || !cJSON_IsNumber(w) ||
        !cJSON_IsNumber(h) || !(w->valuedouble >= 1 && w->valuedouble <= 16384) ||
        !(h->valuedouble >= 1 && h->valuedouble <= 16384))
        return false;
    double b = cJSON_IsNumber(bw) && bw->valuedouble >= 1 && bw->valuedouble < 1e11
                   ? bw->valuedouble
                   : 1e6;
    int len = snprintf(buf, size, "#EXT-X-STREAM-INF:BANDWIDTH=%.0f", b);
    if (cJSON_IsNumber(avg) && avg->valuedouble >= 1 && avg->valuedouble <= b)
        len += snprintf(buf + len, size - (size_t)len, ",AVERAGE-BANDWIDTH=%.0f", avg->valuedouble);
    len += snprintf(buf + len, size - (size_t)len, ",CODECS=\"%s\",RESOLUTION=%.0fx%.0f", codecs,
                    w->valuedouble, h->valuedouble);
    if (cJSON_IsNumber(fr) && fr->valuedouble > 0 && fr->valuedouble <= 1000)
        len += snprintf(buf + len, size - (size_t)len, ",FRAME-RATE=%.3f", fr->valuedouble);
    snprintf(buf + len, size - (size_t)len, "\n%s\n", uri);
    return len > 0 && (size_t)len < size - 32;
}

void vod_session_write_master(struct vod_session *s, const cJSON *variants, double media_start)
{
    char text[2048], line[600], path[PATH_MAX];
    int len =
        snprintf(text, sizeof(text), "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    int n = 0;
    /* The copy first: a player that can decode both should take the one
     * that costs nothing. */
    for (int i = s->n_tracks - 1; i >= 0; i--) {
        const struct vod_track *t = &s->t[i];
        cJSON *v = cJSON_GetObjectItemCaseSensitive(variants, vod_track_variant(t));
        if (t->unavailable || !stream_inf(v, t->playlist, line, sizeof(line)))
            continue;
        len += snprintf(text + len, sizeof(text) - (size_t)len, "%s", line);
        n++;
    }
    /* For players that scrub with I-frames: the range's thumbnails, on the
     * session's timeline. Optional: left out when it does not fit. */
    if (n > 0 && len < (int)sizeof(text) &&
        vod_thumbs_iframe_inf(s->m, s->camera, media_start, s->end, line, sizeof(line)) == 0 &&
        strlen(line) < sizeof(text) - (size_t)len)
        len += snprintf(text + len, sizeof(text) - (size_t)len, "%s", line);
    if (n == 0 || len >= (int)sizeof(text) ||
        util_fmt(path, sizeof(path), "%s/%s", s->dir, VOD_PLAYLIST) < 0 ||
        util_write_file_atomic(path, text, (size_t)len) < 0) {
        LOG_WARN(s->name, "cannot write the master playlist (%d renditions)", n);
        vod_session_flush_master(s, 502, "cannot write the master playlist");
        return;
    }
    s->master_ready = true;
    LOG_INFO(s->name, "master playlist: %d renditions", n);
    vod_session_flush_master(s, 0, NULL);
}

/* The folder is renamed away first: a new session of the same range can
 * start at once, and a worker being killed cannot write into the new one. */
static void remove_folder(struct vod_manager *m, const char *dir, const char *id)
{
    char trash[PATH_MAX], rnd[9];
    if (util_random_hex(rnd, 4) < 0 ||
        util_fmt(trash, sizeof(trash), "%s/.trash-%s-%s", m->transcode_dir, id, rnd) < 0 ||
        rename(dir, trash) < 0) {
        util_rm_rf(dir);
        return;
    }
    if (util_rm_rf(trash) < 0)
        m->trash_pending = true;
}

void vod_session_destroy(struct vod_session *s, unsigned status, const char *why)
{
    struct vod_manager *m = s->m;
    for (struct vod_session **pp = &m->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    /* Killing is enough: every segment and the playlist are written through a
     * temp file + rename, and the folder goes away with them. */
    for (int i = 0; i < s->n_tracks; i++)
        proc_free(&s->t[i].w);
    vod_session_flush_waiters(s, status, why);
    remove_folder(m, s->dir, s->id);
    session_free(s);
}

void vod_session_touch(struct vod_session *s, struct http_request *req)
{
    double now = util_now_mono();
    const char *addr = req ? http_req_client_addr(req) : NULL;
    s->last_access = now;
    if (!addr)
        return;
    int slot = 0;
    for (int i = 0; i < VOD_MAX_VIEWERS; i++) {
        if (strcmp(s->viewers[i].addr, addr) == 0) {
            slot = i;
            break;
        }
        if (s->viewers[i].last < s->viewers[slot].last)
            slot = i;
    }
    snprintf(s->viewers[slot].addr, sizeof(s->viewers[slot].addr), "%s", addr);
    s->viewers[slot].last = now;
}
