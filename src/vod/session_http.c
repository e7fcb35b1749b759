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
    if (s->w) {
        if (!s->planned)
            return "starting";
        int limit = s->max_wanted + s->m->cfg->vod.lookahead;
        if (s->n_have >= s->n_segments || (s->encoded_up_to >= limit && s->speed == 0))
            return "paused";
        return "encoding";
    }
    if (s->failed)
        return "failed";
    if (s->done || (s->planned && s->n_have >= s->n_segments))
        return "done";
    if (s->released)
        return "idle";
    return "stopped";
}

cJSON *vod_session_status_json(const struct vod_session *s, bool admin)
{
    cJSON *o = cJSON_CreateObject();
    char playlist[96];
    double now = util_now_mono();
    int viewers = 0;

    if (!o)
        return NULL;
    for (int i = 0; i < VOD_MAX_VIEWERS; i++)
        if (s->viewers[i].addr[0] && now - s->viewers[i].last <= VOD_VIEWER_WINDOW)
            viewers++;
    playlist_url(s, playlist, sizeof(playlist));
    cJSON_AddStringToObject(o, "session_id", s->id);
    cJSON_AddStringToObject(o, "camera", s->camera);
    cJSON_AddNumberToObject(o, "start", s->start);
    cJSON_AddNumberToObject(o, "end", s->end);
    cJSON_AddStringToObject(o, "playlist", playlist);
    cJSON_AddStringToObject(o, "state", vod_session_state(s));
    cJSON_AddBoolToObject(o, "active", s->w != NULL);
    http_json_add_string_or_null(o, "error",
                                 !s->error[0] ? NULL
                                 : admin      ? s->error
                                              : VOD_PUBLIC_ERROR);
    cJSON_AddBoolToObject(o, "passthrough", s->passthrough);
    cJSON_AddNumberToObject(o, "duration", s->duration);
    cJSON_AddNumberToObject(o, "segments", s->n_segments);
    cJSON_AddNumberToObject(o, "segments_ready", s->n_have);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    if (p) {
        double pct = s->n_segments > 0 ? 100.0 * s->n_have / s->n_segments : 0;
        cJSON_AddNumberToObject(p, "percent",
                                s->done ? 100.0 : (s->percent > pct ? s->percent : pct));
        cJSON_AddNumberToObject(p, "speed", s->speed);
        cJSON_AddNumberToObject(p, "fps", s->fps);
        cJSON_AddNumberToObject(p, "encoded_up_to", s->encoded_up_to);
        cJSON_AddNumberToObject(p, "furthest_wanted", s->max_wanted);
    }
    int waiting = (int)http_wait_count(&s->waiters);
    cJSON_AddNumberToObject(o, "viewers", viewers);
    cJSON_AddNumberToObject(o, "waiting", waiting);
    cJSON_AddNumberToObject(o, "idle", floor((now - s->last_access) * 10) / 10);
    cJSON_AddNumberToObject(o, "created", s->created);
    if (admin) {
        cJSON_AddNumberToObject(o, "pid", s->w ? s->pid : 0);
        cJSON_AddNumberToObject(o, "restarts", s->restarts);
    }
    return o;
}

int vod_respond_started(struct vod_session *s, struct http_request *req)
{
    cJSON *o = cJSON_CreateObject();
    char playlist[96];
    if (!o)
        return http_respond_error(req, 500, "out of memory");
    playlist_url(s, playlist, sizeof(playlist));
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "session_id", s->id);
    cJSON_AddStringToObject(o, "playlist", playlist);
    cJSON_AddBoolToObject(o, "passthrough", s->passthrough);
    cJSON_AddNumberToObject(o, "duration", s->duration);
    cJSON_AddNumberToObject(o, "segments", s->n_segments);
    cJSON_AddStringToObject(o, "camera", s->camera);
    cJSON_AddNumberToObject(o, "start", s->start);
    cJSON_AddNumberToObject(o, "end", s->end);
    int r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

static int parse_ts(struct http_request *req, const char *name, double *out)
{
    const char *s = http_req_param(req, name);
    double v;
    /* util_parse_double refuses nan, inf, hex floats and trailing garbage. */
    if (util_parse_double(s, &v) < 0) {
        http_respond_error(req, 400, "%s must be a number of epoch seconds", name);
        return -EINVAL;
    }
    if (v < 0) {
        http_respond_error(req, 400, "%s must not be negative", name);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Who a new session belongs to (vod.max_sessions_per_user). With auth off
 * everyone is "anonymous": clients are told apart by address. */
static void request_owner(struct http_request *req, char *out, size_t size)
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
    const char *camera = http_req_param(req, "camera");
    struct vod_session *s;
    char id[VOD_ID_LEN + 1];
    double start, end;
    long count = 0;
    int r;

    if (!util_is_safe_name(camera))
        return http_respond_error(req, 400, "invalid camera name");
    if (!http_req_may_see(req, camera))
        return http_respond_error(req, 403, "not allowed to watch camera %s", camera);
    if (parse_ts(req, "start_ts", &start) < 0 || parse_ts(req, "end_ts", &end) < 0)
        return 0;
    if (end <= start)
        return http_respond_error(req, 400, "end_ts must be after start_ts");
    if (end - start > m->cfg->vod.max_range)
        return http_respond_error(req, 400, "the range is longer than %.0f s",
                                  m->cfg->vod.max_range);
    if ((r = vod_session_id(m, camera, start, end, id)) < 0)
        return r;

    s = vod_session_find(m, id);
    if (!s) {
        if ((r = vod_index_count(m->ix, camera, &count)) < 0) {
            LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
            return http_respond_error(req, 503, "recordings index unavailable");
        }
        if (count == 0)
            return http_respond_error(req, 404, "unknown camera %s", camera);
        char owner[80];
        request_owner(req, owner, sizeof(owner));
        r = vod_session_create(m, owner, camera, start, end, id, &s);
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
    if (s->planned) {
        /* The playlist is complete on disk. A worker that failed since is
         * started again here to warm up; segment requests would do it too. */
        if (!s->w && s->failed)
            vod_session_ensure_worker(s);
        return vod_respond_started(s, req);
    }
    /* No plan yet: wait for it, (re)starting a worker that failed before it. */
    r = vod_session_ensure_worker(s);
    if (r == -EBUSY)
        return respond_busy(req);
    if (r < 0)
        return http_respond_error(req, 502, "transcode session %s: %s", s->id,
                                  !s->error[0]                     ? strerror(-r)
                                  : http_req_principal(req)->admin ? s->error
                                                                   : VOD_PUBLIC_ERROR);
    r = vod_session_wait(s, req, -1, true);
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
        request_owner(req, owner, sizeof(owner));
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

/* "<prefix><N>.ts" -> N, or -1. */
static int parse_segment(const struct vod_session *s, const char *file)
{
    size_t pl = strlen(s->prefix);
    const char *p;
    long n = 0;
    if (strncmp(file, s->prefix, pl) != 0)
        return -1;
    p = file + pl;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > MAX_SEGMENT_INDEX)
            return -1;
    }
    return strcmp(p, ".ts") == 0 ? (int)n : -1;
}

static int h_stream(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    struct vod_session *s = session_param(m, req, true);
    const char *file = http_req_param(req, "file");
    char name[64];
    int n, r;

    if (!s)
        return 0;
    vod_session_touch(s, req);
    if (strcmp(file, VOD_PLAYLIST) == 0) {
        if (s->planned)
            return http_respond_file(req, s->dir, VOD_PLAYLIST);
        n = -1;
    } else {
        n = parse_segment(s, file);
        if (n < 0 || (s->planned && n >= s->n_segments))
            return http_respond_error(req, 404, "no such file in session %s", s->id);
        if (vod_segment_exists(s, n)) {
            metrics_histogram_observe(METRICS_SEGMENT_WAIT, 0);
            /* Served or not, every request moves the lookahead window. */
            vod_session_want(s, n);
            vod_segment_name(s, n, name, sizeof(name));
            return http_respond_file(req, s->dir, name);
        }
        /* A second request for a segment already asked for must not make
         * the worker restart again (50 players asking for 20..24 at once). */
        if (!vod_session_is_waited(s, n))
            vod_session_want(s, n);
    }
    if (!s->w) {
        /* The worker is gone (finished, failed, killed): the next request
         * starts it again; it skips the segments already on disk. */
        r = vod_session_ensure_worker(s);
        if (r == -EBUSY)
            return respond_busy(req);
        if (r < 0)
            return http_respond_error(req, 502, "transcode session %s: %s", s->id, strerror(-r));
        if (n >= 0)
            vod_session_want(s, n);
    }
    r = vod_session_wait(s, req, n, false);
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
