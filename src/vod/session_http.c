/* HTTP side of transcode sessions: start (/api/transcode/{camera}/start/…),
 * list, status and delete, and /stream/transcode/{id}/{file} with segment
 * requests that wait (suspended) for the worker. */
#include "vod/session_priv.h"

#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENT_INDEX 9999999

/* max_concurrent reached: 429, counted for /metrics. */
static int respond_busy(struct http_request *req)
{
    metrics_counter_inc(METRICS_TRANSCODE_REJECTED, NULL);
    return http_respond_error(req, 429, "Too many concurrent transcode sessions");
}

/* ---- status ------------------------------------------------------------- */

static void playlist_url(const struct vod_session *s, char *buf, size_t size)
{
    snprintf(buf, size, "/stream/transcode/%s/%s", s->id, VOD_PLAYLIST);
}

const char *vod_session_state(const struct vod_session *s)
{
    static const char *const order[] = {"encoding", "starting", "paused", "idle",
                                        "done",     "failed",   "stopped"};
    size_t best = UTIL_ARRAY_LEN(order) - 1;
    for (int i = 0; i < s->n_tracks; i++) {
        const char *st = vod_track_state(&s->t[i]);
        for (size_t k = 0; k < best; k++)
            if (strcmp(st, order[k]) == 0)
                best = k;
    }
    return order[best];
}

static void add_progress(cJSON *o, const struct vod_track *t)
{
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    if (!p)
        return;
    double pct = t->n_segments > 0 ? 100.0 * t->n_have / t->n_segments : 0;
    cJSON_AddNumberToObject(p, "percent", t->done ? 100.0 : (t->percent > pct ? t->percent : pct));
    cJSON_AddNumberToObject(p, "speed", t->speed);
    cJSON_AddNumberToObject(p, "fps", t->fps);
    cJSON_AddNumberToObject(p, "encoded_up_to", t->encoded_up_to);
    cJSON_AddNumberToObject(p, "furthest_wanted", t->max_wanted);
}

static const char *track_error(const struct vod_track *t, bool admin)
{
    return !t->error[0] ? NULL : admin ? t->error : VOD_PUBLIC_ERROR;
}

/* Per rendition: what each worker does (a dual session has two). */
static void add_variants(cJSON *o, const struct vod_session *s, bool admin)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "variants");
    for (int i = 0; arr && i < s->n_tracks; i++) {
        const struct vod_track *t = &s->t[i];
        cJSON *v = cJSON_CreateObject();
        if (!v)
            return;
        cJSON_AddStringToObject(v, "variant", vod_track_variant(t));
        cJSON_AddStringToObject(v, "playlist", t->playlist);
        cJSON_AddStringToObject(v, "state", vod_track_state(t));
        cJSON_AddBoolToObject(v, "available", !t->unavailable);
        cJSON_AddBoolToObject(v, "active", t->w != NULL);
        http_json_add_string_or_null(v, "encoder", t->encoder[0] ? t->encoder : NULL);
        cJSON_AddBoolToObject(v, "passthrough", t->passthrough);
        cJSON_AddNumberToObject(v, "segments", t->n_segments);
        cJSON_AddNumberToObject(v, "segments_ready", t->n_have);
        http_json_add_string_or_null(v, "error", track_error(t, admin));
        add_progress(v, t);
        if (admin) {
            cJSON_AddNumberToObject(v, "pid", t->w ? t->pid : 0);
            cJSON_AddNumberToObject(v, "restarts", t->restarts);
        }
        cJSON_AddItemToArray(arr, v);
    }
}

cJSON *vod_session_status_json(const struct vod_session *s, bool admin)
{
    cJSON *o = cJSON_CreateObject();
    const struct vod_track *t = vod_session_primary(s);
    char playlist[96];
    double now = util_now_mono();
    int viewers = 0, restarts = 0;

    if (!o)
        return NULL;
    for (int i = 0; i < VOD_MAX_VIEWERS; i++)
        if (s->viewers[i].addr[0] && now - s->viewers[i].last <= VOD_VIEWER_WINDOW)
            viewers++;
    for (int i = 0; i < s->n_tracks; i++)
        restarts += s->t[i].restarts;
    playlist_url(s, playlist, sizeof(playlist));
    cJSON_AddStringToObject(o, "session_id", s->id);
    cJSON_AddStringToObject(o, "camera", s->camera);
    cJSON_AddNumberToObject(o, "start", s->start);
    cJSON_AddNumberToObject(o, "end", s->end);
    cJSON_AddStringToObject(o, "playlist", playlist);
    cJSON_AddStringToObject(o, "state", vod_session_state(s));
    cJSON_AddBoolToObject(o, "active", vod_session_workers(s) > 0);
    http_json_add_string_or_null(o, "error", track_error(t, admin));
    /* dual: the H.264 rendition transcodes (variants tell the rest) */
    cJSON_AddBoolToObject(o, "passthrough", !s->dual && t->passthrough);
    cJSON_AddNumberToObject(o, "duration", t->duration);
    cJSON_AddNumberToObject(o, "segments", t->n_segments);
    cJSON_AddNumberToObject(o, "segments_ready", t->n_have);
    add_progress(o, t);
    add_variants(o, s, admin);
    cJSON_AddNumberToObject(o, "viewers", viewers);
    cJSON_AddNumberToObject(o, "waiting", (double)vod_session_waiting(s));
    cJSON_AddNumberToObject(o, "idle", floor((now - s->last_access) * 10) / 10);
    cJSON_AddNumberToObject(o, "created", s->created);
    if (admin) {
        cJSON_AddNumberToObject(o, "pid", t->w ? t->pid : 0);
        cJSON_AddNumberToObject(o, "restarts", restarts);
    }
    return o;
}

int vod_respond_started(struct vod_session *s, struct http_request *req)
{
    cJSON *o = cJSON_CreateObject();
    const struct vod_track *t = vod_session_primary(s);
    char playlist[96];
    if (!o)
        return http_respond_error(req, 500, "out of memory");
    playlist_url(s, playlist, sizeof(playlist));
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "session_id", s->id);
    cJSON_AddStringToObject(o, "playlist", playlist);
    /* dual: the H.264 rendition transcodes (variants tell the rest) */
    cJSON_AddBoolToObject(o, "passthrough", !s->dual && t->passthrough);
    cJSON_AddNumberToObject(o, "duration", t->duration);
    cJSON_AddNumberToObject(o, "segments", t->n_segments);
    cJSON *v = cJSON_AddArrayToObject(o, "variants");
    for (int i = s->n_tracks - 1; v && i >= 0; i--)
        if (!s->t[i].unavailable)
            cJSON_AddItemToArray(v, cJSON_CreateString(vod_track_variant(&s->t[i])));
    cJSON_AddStringToObject(o, "camera", s->camera);
    cJSON_AddNumberToObject(o, "start", s->start);
    cJSON_AddNumberToObject(o, "end", s->end);
    int r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

int vod_req_number(struct http_request *req, const char *name, const char *s, double lo, double hi,
                   double *out)
{
    double v;
    /* util_parse_double refuses nan, inf, hex floats and trailing garbage;
     * a long string of digits is no time anyone means. */
    if (!s || strlen(s) > VOD_NUMBER_MAX || util_parse_double(s, &v) < 0) {
        http_respond_error(req, 400, "%s must be a number", name);
        return -EINVAL;
    }
    if (v < lo || v > hi) {
        http_respond_error(req, 400, "%s must be from %g to %g", name, lo, hi);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int vod_req_range(struct http_request *req, const char *end_ts, double max_len, const char *max_key,
                  struct vod_req_range *out)
{
    const char *camera = http_req_param(req, "camera");
    if (!util_is_safe_name(camera) || strlen(camera) > VOD_CAMERA_MAX) {
        http_respond_error(req, 400, "invalid camera name");
        return -EINVAL;
    }
    if (!http_req_may_see(req, camera)) {
        http_respond_error(req, 403, "not allowed to watch camera %s", camera);
        return -EPERM;
    }
    if (vod_req_number(req, "start_ts", http_req_param(req, "start_ts"), 0, VOD_TS_MAX,
                       &out->start) < 0 ||
        vod_req_number(req, "end_ts", end_ts ? end_ts : http_req_param(req, "end_ts"), 0,
                       VOD_TS_MAX, &out->end) < 0)
        return -EINVAL;
    if (out->end <= out->start) {
        http_respond_error(req, 400, "end_ts must be after start_ts");
        return -EINVAL;
    }
    if (out->end - out->start > max_len) {
        http_respond_error(req, 400, "the range is longer than %.0f s (%s)", max_len, max_key);
        return -EINVAL;
    }
    out->camera = camera;
    return 0;
}

int vod_req_camera_known(struct vod_manager *m, struct http_request *req, const char *camera)
{
    long count = 0;
    if (vod_index_count(m->ix, camera, &count) < 0) {
        LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
        http_respond_error(req, 503, "recordings index unavailable");
        return -EIO;
    }
    if (count == 0) {
        http_respond_error(req, 404, "unknown camera %s", camera);
        return -ENOENT;
    }
    return 0;
}

/* Who a new session belongs to (vod.max_sessions_per_user). With auth off
 * everyone is "anonymous": clients are told apart by address. */
void vod_request_owner(struct http_request *req, char *out, size_t size)
{
    const struct http_principal *who = http_req_principal(req);
    if (who->user)
        snprintf(out, size, "%s", who->name);
    else
        snprintf(out, size, "addr:%s", http_req_client_addr(req));
}

static int h_start(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    struct vod_req_range rg;
    struct vod_session *s;
    char id[VOD_ID_LEN + 1];
    int r;

    if (vod_req_range(req, NULL, m->cfg->vod.max_range, "vod.max_range", &rg) < 0)
        return 0;
    const char *camera = rg.camera;
    double start = rg.start, end = rg.end;
    /* ?variant=h264|hevc forces one rendition (a session of its own). */
    const char *variant = http_req_query(req, "variant");
    if (!variant || strcmp(variant, "auto") == 0)
        variant = "";
    else if (strcmp(variant, "h264") != 0 && strcmp(variant, "hevc") != 0)
        return http_respond_error(req, 400, "variant must be auto, h264 or hevc");
    if ((r = vod_session_id(m, camera, start, end, variant, id)) < 0)
        return r;

    s = vod_session_find(m, id);
    if (!s) {
        if (vod_req_camera_known(m, req, camera) < 0)
            return 0;
        char owner[80];
        vod_request_owner(req, owner, sizeof(owner));
        r = vod_session_create(m, owner, camera, start, end, variant, id, &s);
        switch (r) {
        case 0:
            break;
        case -EDQUOT:
            http_add_header(req, "Retry-After", "10");
            return http_respond_error(req, 429,
                                      "you have %d transcode sessions in use "
                                      "(vod.max_sessions_per_user): stop one or try again later",
                                      m->cfg->vod.max_sessions_per_user);
        case -ENOENT:
            return http_respond_error(req, 404, "no recording of camera %s in this range", camera);
        case -EMEDIUMTYPE:
            return http_respond_error(req, 400,
                                      "variant hevc needs HEVC recordings; this range has "
                                      "others");
        case -E2BIG:
            return http_respond_error(req, 400,
                                      "the range covers more than %d recordings: choose a "
                                      "shorter one",
                                      VOD_MAX_SOURCES);
        case -EBUSY:
            return respond_busy(req);
        default:
            return http_respond_error(req, 500, "cannot start the transcode session: %s",
                                      strerror(-r));
        }
    }
    vod_session_touch(s, req);
    if (s->dual) {
        /* The copy plans for both renditions (no encoder, no slot). */
        if (s->master_ready)
            return vod_respond_started(s, req);
        struct vod_track *t = &s->t[s->t[1].unavailable ? 0 : 1];
        if ((r = vod_track_ensure_worker(t)) < 0)
            return r == -EBUSY ? respond_busy(req)
                               : http_respond_error(req, 502, "transcode session %s: %s", s->id,
                                                    strerror(-r));
        if ((r = vod_session_wait_master(s, req, true)) < 0)
            return http_respond_error(req, 503, "cannot wait for the session: %s", strerror(-r));
        return 0;
    }
    struct vod_track *t = &s->t[0];
    if (t->planned) {
        /* The playlist is complete on disk. A worker that failed since is
         * started again here to warm up; segment requests would do it too. */
        if (!t->w && t->failed)
            vod_track_ensure_worker(t);
        return vod_respond_started(s, req);
    }
    /* No plan yet: wait for it, (re)starting a worker that failed before it. */
    r = vod_track_ensure_worker(t);
    if (r == -EBUSY)
        return respond_busy(req);
    if (r < 0)
        return http_respond_error(req, 502, "transcode session %s: %s", s->id,
                                  !t->error[0]                     ? strerror(-r)
                                  : http_req_principal(req)->admin ? t->error
                                                                   : VOD_PUBLIC_ERROR);
    r = vod_track_wait(t, req, -1, true);
    if (r < 0)
        return http_respond_error(req, 503, "cannot wait for the session: %s", strerror(-r));
    return 0;
}

/* Session from the {id} parameter, answering 400/404/403 itself when NULL. */
static struct vod_session *session_param(struct vod_manager *m, struct http_request *req,
                                         bool adopt)
{
    const char *id = http_req_param(req, "id");
    struct vod_session *s;
    if (!vod_valid_id(id)) {
        http_respond_error(req, 400, "malformed session id");
        return NULL;
    }
    s = vod_session_find(m, id);
    if (!s && adopt) {
        /* In a cluster another node may have made it: plan it here too. */
        char owner[80];
        vod_request_owner(req, owner, sizeof(owner));
        int r = vod_registry_adopt(m, req, owner, id, &s);
        if (r == -EBUSY || r == -EDQUOT) {
            respond_busy(req);
            return NULL;
        }
        if (r == -EPERM) {
            http_respond_error(req, 403, "not allowed to watch this camera");
            return NULL;
        }
        if (r < 0)
            s = NULL;
    }
    if (!s) {
        http_respond_error(req, 404, "unknown transcode session");
        return NULL;
    }
    if (!http_req_may_see(req, s->camera)) {
        http_respond_error(req, 403, "not allowed to watch camera %s", s->camera);
        return NULL;
    }
    return s;
}

/* "<prefix><N><ext>" -> N, or -1. */
static int parse_number(const struct vod_session *s, const char *file, const char *what,
                        const char *ext)
{
    size_t pl = strlen(s->prefix), wl = strlen(what);
    const char *p;
    long n = 0;
    if (strncmp(file, s->prefix, pl) != 0 || strncmp(file + pl, what, wl) != 0)
        return -1;
    p = file + pl + wl;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > MAX_SEGMENT_INDEX)
            return -1;
    }
    return strcmp(p, ext) == 0 ? (int)n : -1;
}

/* The track a file name belongs to, or NULL: "<name>.m3u8" of a track,
 * .ts segments of the H.264/auto track, .m4s and init .mp4 of the HEVC one. */
static struct vod_track *track_of(struct vod_session *s, const char *file)
{
    const char *dot = strrchr(file, '.');
    bool hevc = dot && (strcmp(dot, ".m4s") == 0 || strcmp(dot, ".mp4") == 0);
    for (int i = 0; i < s->n_tracks; i++) {
        struct vod_track *t = &s->t[i];
        if (strcmp(file, t->playlist) == 0 ||
            (hevc == (t->kind == VOD_TRACK_HEVC) && dot && strcmp(dot, ".m3u8") != 0))
            return t;
    }
    return NULL;
}

/* A worker for t, or an answer: 0 when one runs, else the request was answered. */
static int need_worker(struct vod_track *t, struct http_request *req, bool *answered)
{
    *answered = false;
    if (t->w)
        return 0;
    /* The worker is gone (finished, failed, released, never started): the
     * next request starts it; it skips the segments already on disk. */
    int r = vod_track_ensure_worker(t);
    if (r == 0)
        return 0;
    *answered = true;
    if (r == -EBUSY)
        return respond_busy(req);
    if (r == -EMEDIUMTYPE)
        return http_respond_error(req, 404, "session %s has no %s rendition", t->s->id,
                                  vod_track_variant(t));
    return http_respond_error(req, 502, "transcode session %s: %s", t->s->id, strerror(-r));
}

static int serve_master(struct vod_session *s, struct http_request *req)
{
    bool answered;
    if (s->master_ready)
        return http_respond_file(req, s->dir, VOD_PLAYLIST);
    struct vod_track *t = &s->t[s->t[1].unavailable ? 0 : 1];
    int r = need_worker(t, req, &answered);
    if (answered)
        return r;
    if ((r = vod_session_wait_master(s, req, false)) < 0)
        return http_respond_error(req, 503, "cannot wait for the playlist: %s", strerror(-r));
    return 0;
}

static int h_stream(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    struct vod_session *s = session_param(m, req, true);
    const char *file = http_req_param(req, "file");
    bool answered;
    long long key;
    int n, r;

    if (!s)
        return 0;
    vod_session_touch(s, req);
    if (s->dual && strcmp(file, VOD_PLAYLIST) == 0)
        return serve_master(s, req);
    struct vod_track *t = track_of(s, file);
    if (!t)
        return http_respond_error(req, 404, "no such file in session %s", s->id);
    t->last_access = util_now_mono();
    if (strcmp(file, t->playlist) == 0) {
        if (t->planned)
            return http_respond_file(req, s->dir, t->playlist);
        key = -1;
    } else if (t->kind == VOD_TRACK_HEVC && (n = parse_number(s, file, "init", ".mp4")) >= 0) {
        char name[64];
        if ((size_t)n >= s->n_sources)
            return http_respond_error(req, 404, "no such file in session %s", s->id);
        vod_init_name(t, n, name, sizeof(name));
        if (vod_init_exists(t, n))
            return http_respond_file(req, s->dir, name);
        vod_track_want_init(t, n);
        key = VOD_KEY_INIT(n);
    } else {
        n = parse_number(s, file, "", t->kind == VOD_TRACK_HEVC ? ".m4s" : ".ts");
        if (n < 0 || (t->planned && n >= t->n_segments))
            return http_respond_error(req, 404, "no such file in session %s", s->id);
        if (vod_segment_exists(t, n)) {
            metrics_histogram_observe(METRICS_SEGMENT_WAIT, 0);
            /* Served or not, every request moves the lookahead window. */
            vod_track_want(t, n);
            return vod_track_serve_segment(t, req, n);
        }
        /* A second request for a segment already asked for must not make
         * the worker restart again (50 players asking for 20..24 at once). */
        if (!vod_track_is_waited(t, n))
            vod_track_want(t, n);
        key = n;
    }
    bool had_worker = t->w != NULL;
    r = need_worker(t, req, &answered);
    if (answered)
        return r;
    if (!had_worker && key >= 0)
        vod_track_want(t, (int)key);
    else if (!had_worker && key < -1)
        vod_track_want_init(t, (int)(-2 - key));
    r = vod_track_wait(t, req, key, false);
    if (r < 0)
        return http_respond_error(req, 503, "cannot wait for the segment: %s", strerror(-r));
    return 0;
}

static int h_list(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    cJSON *o = cJSON_CreateObject(), *arr;
    int r;
    if (!o)
        return -ENOMEM;
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddNumberToObject(o, "active", vod_active_count(m));
    cJSON_AddNumberToObject(o, "max_concurrent", m->cfg->vod.max_concurrent);
    arr = cJSON_AddArrayToObject(o, "sessions");
    for (struct vod_session *s = m->sessions; arr && s; s = s->next) {
        cJSON *j = vod_session_status_json(s, true);
        if (j)
            cJSON_AddItemToArray(arr, j);
    }
    r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

static int h_status(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    struct vod_session *s = session_param(m, req, false);
    const struct http_principal *who = http_req_principal(req);
    if (!s)
        return 0;
    cJSON *o = vod_session_status_json(s, who && who->admin);
    if (!o)
        return -ENOMEM;
    cJSON_AddBoolToObject(o, "success", true);
    int r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

static int h_delete(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    struct vod_session *s = session_param(m, req, false);
    cJSON *o;
    int r;
    if (!s)
        return 0;
    LOG_INFO(s->name, "deleted by %s",
             http_req_principal(req) ? http_req_principal(req)->name : "?");
    o = cJSON_CreateObject();
    if (!o)
        return -ENOMEM;
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "session_id", s->id);
    cJSON_AddStringToObject(o, "message", "session stopped and removed");
    vod_registry_remove(m, s->id); /* no other node takes it over */
    vod_session_destroy(s, 410, "session deleted");
    r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

int vod_register_session_routes(struct vod_manager *m)
{
    struct {
        const char *method, *pattern;
        int flags;
        http_handler h;
    } routes[] = {
        {"GET", "/api/transcode/{camera}/start/{start_ts}/end/{end_ts}", 0, h_start},
        /* The replaced NVR's paths, kept for its clients. */
        {"GET", "/transcode/{camera}/start/{start_ts}/end/{end_ts}", 0, h_start},
        {"GET", "/api/transcode", HTTP_ROUTE_ADMIN, h_list},
        {"GET", "/api/transcode/{id}", 0, h_status},
        {"DELETE", "/api/transcode/{id}", HTTP_ROUTE_ADMIN, h_delete},
        {"DELETE", "/transcode/{id}", HTTP_ROUTE_ADMIN, h_delete},
        {"GET", "/stream/transcode/{id}/{file}", 0, h_stream},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(routes); i++) {
        int r = http_route(m->http, routes[i].method, routes[i].pattern, routes[i].flags,
                           routes[i].h, m);
        if (r < 0)
            return r;
    }
    return 0;
}
