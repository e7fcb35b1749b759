/* The tracks of a transcode session: one `vod` worker each
 * (docs/WORKER-PROTOCOL.md), the requests waiting for its plan, segments and
 * init segments, and what /metrics counts of them. */
#include "vod/session_priv.h"
#include "vod/export.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
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

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg);
static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested);
static void waiter_timeout(void *arg, struct http_waiter *w);

const char *vod_track_variant(const struct vod_track *t)
{
    return t->kind == VOD_TRACK_HEVC ? "hevc" : t->kind == VOD_TRACK_H264 ? "h264" : "auto";
}

void vod_track_init(struct vod_track *t, struct vod_session *s, enum vod_track_kind kind,
                    const char *playlist)
{
    memset(t, 0, sizeof(*t));
    t->s = s;
    t->kind = kind;
    t->encoded_up_to = -1;
    snprintf(t->playlist, sizeof(t->playlist), "%s", playlist);
    snprintf(t->name, sizeof(t->name), "%s%s", s->name, kind == VOD_TRACK_HEVC ? "/hevc" : "");
    http_wait_init(&t->waiters, waiter_timeout, t);
}

void vod_track_clear(struct vod_track *t)
{
    proc_free(&t->w);
    cJSON_Delete(t->job);
    t->job = NULL;
    free(t->have);
    t->have = NULL;
}

/* ---- state -------------------------------------------------------------- */

const char *vod_track_state(const struct vod_track *t)
{
    if (t->w) {
        if (!t->planned)
            return "starting";
        int limit = t->max_wanted + (t->lookahead > 0 ? t->lookahead : t->s->m->cfg->vod.lookahead);
        if (t->n_have >= t->n_segments || (t->encoded_up_to >= limit && t->speed == 0) ||
            (t->kind != VOD_TRACK_AUTO && t->max_wanted < 0))
            return "paused";
        return "encoding";
    }
    if (t->failed)
        return "failed";
    if (t->done || (t->planned && t->n_have >= t->n_segments))
        return "done";
    if (t->released)
        return "idle";
    return "stopped";
}

static bool track_encoding(const struct vod_track *t)
{
    return t->w && !t->releasing && t->kind != VOD_TRACK_HEVC &&
           strcmp(vod_track_state(t), "paused") != 0;
}

bool vod_session_encoding(const struct vod_session *s)
{
    for (int i = 0; i < s->n_tracks; i++)
        if (track_encoding(&s->t[i]))
            return true;
    return false;
}

int vod_active_count(const struct vod_manager *m)
{
    int n = 0;
    for (const struct vod_session *s = m->sessions; s; s = s->next)
        for (int i = 0; i < s->n_tracks; i++)
            n += track_encoding(&s->t[i]);
    return n + vod_export_active(m); /* a transcoding export takes a slot too */
}

int vod_session_workers(const struct vod_session *s)
{
    int n = 0;
    for (int i = 0; i < s->n_tracks; i++)
        n += s->t[i].w != NULL;
    return n;
}

size_t vod_session_waiting(const struct vod_session *s)
{
    size_t n = http_wait_count(&s->master_waiters);
    for (int i = 0; i < s->n_tracks; i++)
        n += http_wait_count(&s->t[i].waiters);
    return n;
}

void vod_session_stop_workers(struct vod_session *s)
{
    for (int i = 0; i < s->n_tracks; i++)
        if (s->t[i].w)
            proc_stop(s->t[i].w);
}

const struct vod_track *vod_session_primary(const struct vod_session *s)
{
    const struct vod_track *p = &s->t[0];
    for (int i = 1; i < s->n_tracks; i++) {
        const struct vod_track *t = &s->t[i];
        if (t->planned && (!p->planned || t->last_access > p->last_access))
            p = t;
    }
    return p;
}

bool vod_session_release_if_idle(struct vod_session *s, double now)
{
    bool any = false;
    for (int i = 0; i < s->n_tracks; i++) {
        struct vod_track *t = &s->t[i];
        double idle = now - t->last_access;
        if (!t->w || t->releasing || http_wait_count(&t->waiters) ||
            strcmp(vod_track_state(t), "paused") != 0 ||
            idle < s->m->cfg->vod.pause_release_seconds)
            continue;
        /* Transcoding is the scarce resource: a worker waiting at its
         * lookahead for a viewer who left holds a slot for nothing. Its
         * segments stay; the next request starts a worker at that segment. */
        LOG_INFO(t->name,
                 "paused with no request for %.0f s: releasing the worker (%d of %d "
                 "segments kept)",
                 idle, t->n_have, t->n_segments);
        t->releasing = true;
        metrics_counter_inc("hlsd_transcode_released_total", NULL);
        proc_stop(t->w);
        any = true;
    }
    return any;
}

/* ---- segments ----------------------------------------------------------- */

void vod_segment_name(const struct vod_track *t, int n, char *buf, size_t size)
{
    snprintf(buf, size, "%s%d.%s", t->s->prefix, n, t->kind == VOD_TRACK_HEVC ? "m4s" : "ts");
}

void vod_init_name(const struct vod_track *t, int source, char *buf, size_t size)
{
    snprintf(buf, size, "%sinit%d.mp4", t->s->prefix, source);
}

static bool file_on_disk(const struct vod_track *t, const char *name)
{
    char path[PATH_MAX];
    struct stat sb;
    if (util_fmt(path, sizeof(path), "%s/%s", t->s->dir, name) < 0)
        return false;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool vod_segment_exists(const struct vod_track *t, int n)
{
    char name[64];
    if (t->have && n >= 0 && n < t->n_segments && t->have[n])
        return true;
    vod_segment_name(t, n, name, sizeof(name));
    return file_on_disk(t, name);
}

bool vod_init_exists(const struct vod_track *t, int source)
{
    char name[64];
    vod_init_name(t, source, name, sizeof(name));
    return file_on_disk(t, name);
}

static void mark_have(struct vod_track *t, int n)
{
    if (t->have && n >= 0 && n < t->n_segments && !t->have[n]) {
        t->have[n] = 1;
        t->n_have++;
    }
}

int vod_track_serve_segment(struct vod_track *t, struct http_request *req, int n)
{
    char name[64], path[PATH_MAX];
    struct stat sb;
    vod_segment_name(t, n, name, sizeof(name));
    /* What a viewer costs: copied bytes (no encoder) or transcoded ones. */
    bool remux = t->kind == VOD_TRACK_HEVC || t->passthrough;
    if (util_fmt(path, sizeof(path), "%s/%s", t->s->dir, name) == 0 && stat(path, &sb) == 0)
        metrics_counter_add("hlsd_vod_bytes_served_total",
                            (const char *const[]){"kind", remux ? "remux" : "transcode", NULL},
                            (double)sb.st_size);
    return http_respond_file(req, t->s->dir, name);
}

/* ---- waiters ------------------------------------------------------------ */

/* How long a segment request waited, once it is answered (served or failed). */
static void observe_wait(const struct http_waiter *w)
{
    if (w->key >= 0)
        metrics_histogram_observe(METRICS_SEGMENT_WAIT, util_now_mono() - w->since);
}

static void waiter_timeout(void *arg, struct http_waiter *w)
{
    struct vod_track *t = arg;
    observe_wait(w);
    if (w->key == -1)
        http_respond_error(w->req, 504, "transcode session %s: no plan after %.0f s", t->s->id,
                           t->s->m->cfg->vod.ready_timeout);
    else if (w->key < -1)
        http_respond_error(w->req, 504, "transcode session %s: init segment not ready after %.0f s",
                           t->s->id, t->s->m->cfg->vod.ready_timeout);
    else
        http_respond_error(w->req, 504, "transcode session %s: segment %lld not ready after %.0f s",
                           t->s->id, w->key, t->s->m->cfg->vod.ready_timeout);
}

int vod_track_wait(struct vod_track *t, struct http_request *req, long long key, bool api)
{
    struct http_waiter tmpl = {.key = key, .sub = -1, .flags = api ? VOD_WAIT_API : 0};
    t->last_access = util_now_mono();
    return http_wait_add(&t->waiters, req, t->s->m->cfg->vod.ready_timeout, &tmpl);
}

static void serve_waiter(void *arg, struct http_waiter *w)
{
    struct vod_track *t = arg;
    char name[64];
    observe_wait(w);
    if (w->flags & VOD_WAIT_API) {
        vod_respond_started(t->s, w->req);
    } else if (w->key == -1) {
        http_respond_file(w->req, t->s->dir, t->playlist);
    } else if (w->key < -1) {
        vod_init_name(t, (int)(-2 - w->key), name, sizeof(name));
        http_respond_file(w->req, t->s->dir, name);
    } else {
        vod_track_serve_segment(t, w->req, (int)w->key);
    }
}

struct flush_ctx {
    struct vod_track *t;
    unsigned status;
    const char *why;
};

static bool try_flush(void *arg, struct http_waiter *w)
{
    const struct flush_ctx *c = arg;
    struct vod_track *t = c->t;
    bool ready = w->key == -1  ? t->planned
                 : w->key < -1 ? vod_init_exists(t, (int)(-2 - w->key))
                               : vod_segment_exists(t, (int)w->key);
    if (t->planned && w->key >= t->n_segments) {
        http_respond_error(w->req, 404, "segment %lld does not exist (%d segments)", w->key,
                           t->n_segments);
    } else if (ready) {
        serve_waiter(t, w);
    } else if (c->status) {
        observe_wait(w);
        /* The worker's own message names recording paths: admins only. */
        const char *why =
            c->why == t->error && !http_req_principal(w->req)->admin ? VOD_PUBLIC_ERROR : c->why;
        http_respond_error(w->req, c->status, "transcode session %s: %s", t->s->id, why);
    } else {
        return false;
    }
    return true;
}

static void flush_track(struct vod_track *t, unsigned status, const char *why)
{
    struct flush_ctx c = {t, status, why};
    http_wait_wake_if(&t->waiters, try_flush, &c);
}

/* ---- the master playlist of a dual session ------------------------------ */

static void master_timeout(void *arg, struct http_waiter *w)
{
    struct vod_session *s = arg;
    http_respond_error(w->req, 504, "transcode session %s: no plan after %.0f s", s->id,
                       s->m->cfg->vod.ready_timeout);
}

void vod_session_master_init(struct vod_session *s)
{
    http_wait_init(&s->master_waiters, master_timeout, s);
}

int vod_session_wait_master(struct vod_session *s, struct http_request *req, bool api)
{
    struct http_waiter tmpl = {.key = -1, .sub = -1, .flags = api ? VOD_WAIT_API : 0};
    return http_wait_add(&s->master_waiters, req, s->m->cfg->vod.ready_timeout, &tmpl);
}

struct master_ctx {
    struct vod_session *s;
    unsigned status;
    const char *why;
};

static bool master_flush(void *arg, struct http_waiter *w)
{
    const struct master_ctx *c = arg;
    if (c->s->master_ready) {
        if (w->flags & VOD_WAIT_API)
            vod_respond_started(c->s, w->req);
        else
            http_respond_file(w->req, c->s->dir, VOD_PLAYLIST);
        return true;
    }
    if (!c->status)
        return false;
    http_respond_error(w->req, c->status, "transcode session %s: %s", c->s->id, c->why);
    return true;
}

void vod_session_flush_master(struct vod_session *s, unsigned status, const char *why)
{
    struct master_ctx c = {s, status, why};
    http_wait_wake_if(&s->master_waiters, master_flush, &c);
}

void vod_session_flush_waiters(struct vod_session *s, unsigned status, const char *why)
{
    for (int i = 0; i < s->n_tracks; i++)
        flush_track(&s->t[i], status, why);
    vod_session_flush_master(s, status, why);
}

/* ---- worker ------------------------------------------------------------- */

int vod_track_spawn(struct vod_track *t)
{
    const struct hlsd_config *cfg = t->s->m->cfg;
    struct proc_callbacks cb = {on_worker_message, on_worker_exit};
    struct proc_opts o = {0};

    o.name = t->name;
    o.job = t->job;
    o.nice = cfg->vod.nice;
    o.memory_mb = cfg->workers.memory_mb;
    o.cpu_seconds = cfg->workers.cpu_seconds;
    int r = proc_spawn(&o, &cb, t, &t->w);
    if (r < 0) {
        t->w = NULL;
        return r;
    }
    t->pid = proc_pid(t->w);
    t->last_access = util_now_mono(); /* its release time counts from here */
    t->failed = false;
    t->releasing = t->released = false;
    /* A new worker starts from its own first `want`: the lookahead window
     * (and so "paused") is measured from what is asked of it, not of an
     * earlier worker. A variant of a dual session waits for a first want. */
    t->max_wanted = t->kind == VOD_TRACK_AUTO ? 0 : -1;
    t->done = false;
    t->error[0] = '\0';
    t->percent = t->speed = t->fps = 0;
    LOG_INFO(t->name, "worker %d started for %s %.3f..%.3f (%s)", (int)t->pid, t->s->camera,
             t->s->start, t->s->end, vod_track_variant(t));
    return 0;
}

int vod_track_ensure_worker(struct vod_track *t)
{
    if (t->w)
        return 0;
    if (t->s->m->shutting_down)
        return -ESHUTDOWN;
    if (t->unavailable)
        return -EMEDIUMTYPE;
    /* Copying costs no encoder: only transcodes take a slot. */
    if (t->kind != VOD_TRACK_HEVC && vod_active_count(t->s->m) >= t->s->m->cfg->vod.max_concurrent)
        return -EBUSY;
    int r = vod_track_spawn(t);
    if (r == 0)
        t->restarts++;
    return r;
}

static void send_cmd(struct vod_track *t, const char *cmd, const char *key, int n)
{
    if (!t->w)
        return;
    cJSON *msg = cJSON_CreateObject();
    if (!msg)
        return;
    cJSON_AddStringToObject(msg, "cmd", cmd);
    cJSON_AddNumberToObject(msg, key, n);
    int r = proc_send(t->w, msg);
    if (r < 0)
        LOG_DEBUG(t->name, "%s %d: %s", cmd, n, strerror(-r));
    cJSON_Delete(msg);
}

void vod_track_want(struct vod_track *t, int n)
{
    t->last_access = util_now_mono();
    if (n > t->max_wanted)
        t->max_wanted = n;
    send_cmd(t, "want", "segment", n);
}

void vod_track_want_init(struct vod_track *t, int source)
{
    t->last_access = util_now_mono();
    send_cmd(t, "init", "source", source);
}

bool vod_track_is_waited(const struct vod_track *t, int n)
{
    for (const struct http_waiter *w = http_wait_first(&t->waiters); w; w = http_wait_next(w))
        if (w->key == n)
            return true;
    return false;
}

static int lowest_waited_below(const struct vod_track *t, int k)
{
    int low = -1;
    for (const struct http_waiter *w = http_wait_first(&t->waiters); w; w = http_wait_next(w))
        if (w->key >= 0 && w->key < k && (low < 0 || w->key < low))
            low = (int)w->key;
    return low;
}

/* Asks a new worker again for what requests wait for. */
static void rewant(struct vod_track *t)
{
    int low = lowest_waited_below(t, INT_MAX);
    if (low >= 0)
        vod_track_want(t, low);
    for (const struct http_waiter *w = http_wait_first(&t->waiters); w; w = http_wait_next(w))
        if (w->key < -1)
            vod_track_want_init(t, (int)(-2 - w->key));
}

/* The most segments a plan of this session can have: the fast-start ones,
 * the range cut at segment_seconds, and a short one at each end of every
 * recording (gaps restart the grid). A worker claiming more is not believed
 * (a plan of 10 M segments used to be stat()ed on the event loop). */
static int plan_limit(const struct vod_session *s)
{
    const struct cfg_vod *v = &s->m->cfg->vod;
    double seg = fmin(v->segment_seconds, v->transcode_segment_seconds);
    if (!(seg > 0))
        seg = 0.5;
    double n =
        (double)v->n_fast_start + ceil((s->end - s->start) / seg) + 2.0 * (double)s->n_sources + 2;
    return n > 1e7 ? 10000000 : (int)n;
}

/* Marks the segments of an earlier run of this track found on disk: one
 * pass over the folder, whatever the plan's length. */
static void mark_on_disk(struct vod_track *t)
{
    DIR *d = opendir(t->s->dir);
    struct dirent *e;
    const char *ext = t->kind == VOD_TRACK_HEVC ? ".m4s" : ".ts";
    size_t pl = strlen(t->s->prefix);
    if (!d)
        return;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, t->s->prefix, pl) != 0 || !isdigit((unsigned char)e->d_name[pl]))
            continue;
        long k = strtol(e->d_name + pl, &end, 10);
        if (strcmp(end, ext) == 0 && k >= 0 && k < t->n_segments)
            mark_have(t, (int)k);
    }
    closedir(d);
}

double vod_json_bounded(const cJSON *v, double lo, double hi, double dflt)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return dflt;
    return v->valuedouble;
}

static void on_plan(struct vod_track *t, const cJSON *msg)
{
    struct vod_session *s = t->s;
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(msg, "segments");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(msg, "duration");
    double want = cJSON_IsNumber(segs) ? segs->valuedouble : 0;
    int limit = plan_limit(s);

    if (!(want >= 1 && want <= limit && want == floor(want))) {
        snprintf(t->error, sizeof(t->error), "worker planned %g segments (at most %d expected)",
                 want, limit);
        LOG_WARN(t->name, "%s: plan ignored", t->error);
        return;
    }
    int n = (int)want;
    if (!t->have || n != t->n_segments) {
        free(t->have);
        t->have = calloc((size_t)n, 1);
        t->n_have = 0;
        t->n_segments = t->have ? n : 0;
        mark_on_disk(t); /* segments of an earlier run of this session are reused */
    }
    double d = cJSON_IsNumber(dur) ? dur->valuedouble : 0;
    /* passthrough may start up to a GOP early: bounded loosely */
    t->duration = isfinite(d) && d >= 0 && d <= 2 * (s->end - s->start) + 60 ? d : 0;
    t->passthrough = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "passthrough"));
    t->lookahead = (int)vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "lookahead"), 1,
                                         JOBSPEC_VOD_MAX_PLAN_LOOKAHEAD, 0);
    t->planned = t->n_segments > 0;
    LOG_INFO(t->name, "plan: %d segments, %.3f s%s", t->n_segments, t->duration,
             t->passthrough ? ", passthrough" : "");
    if (s->dual && t->planned && !s->master_ready) {
        /* Where session time 0 is on the wall clock: at most a GOP before
         * the range start (a copy starts at a keyframe), or later when the
         * first recording starts inside the range. A worker's claim outside
         * that is ignored: the range start is used. */
        const cJSON *pdt = cJSON_GetObjectItemCaseSensitive(msg, "start_pdt");
        double t0 = cJSON_IsNumber(pdt) && isfinite(pdt->valuedouble) &&
                            pdt->valuedouble >= s->start - VOD_MAX_START_EARLY &&
                            pdt->valuedouble < s->end
                        ? pdt->valuedouble
                        : s->start;
        vod_session_write_master(s, cJSON_GetObjectItemCaseSensitive(msg, "variants"), t0);
    }
    flush_track(t, 0, NULL);
}

static void on_segment(struct vod_track *t, const cJSON *msg)
{
    double idx =
        vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "index"), 0, t->n_segments - 1, -1);
    if (!t->planned || idx < 0 || idx != floor(idx))
        return; /* not a segment of the plan */
    int k = (int)idx;
    mark_have(t, k);
    t->encoded_up_to = k;
    if (vod_segment_exists(t, k))
        http_wait_wake_key(&t->waiters, k, serve_waiter, t);
    /* The encoder went past a segment someone still waits for (it was moved
     * elsewhere by another request's seek): ask for it again, or that
     * request would wait until its deadline. */
    int behind = lowest_waited_below(t, k);
    if (behind >= 0)
        vod_track_want(t, behind);
}

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg)
{
    struct vod_track *t = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    (void)w;
    if (!type)
        return;
    if (strcmp(type, "plan") == 0) {
        on_plan(t, msg);
    } else if (strcmp(type, "segment") == 0) {
        on_segment(t, msg);
    } else if (strcmp(type, "init") == 0) {
        double src = vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "source"), 0,
                                      (double)t->s->n_sources - 1, -1);
        if (src >= 0 && src == floor(src) && vod_init_exists(t, (int)src))
            http_wait_wake_key(&t->waiters, VOD_KEY_INIT((int)src), serve_waiter, t);
    } else if (strcmp(type, "progress") == 0) {
        t->percent =
            vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "percent"), 0, 100, t->percent);
        t->speed =
            vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "speed"), 0, 1e4, t->speed);
        t->fps = vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "fps"), 0, 1e4, t->fps);
        t->encoded_up_to =
            (int)vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "encoded_up_to"), -1,
                                  t->n_segments - 1, t->encoded_up_to);
    } else if (strcmp(type, "started") == 0) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "passthrough");
        const char *enc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "encoder"));
        if (cJSON_IsBool(p))
            t->passthrough = cJSON_IsTrue(p);
        if (enc && util_is_safe_name(enc))
            snprintf(t->encoder, sizeof(t->encoder), "%s", enc);
        if (enc && strcmp(enc, "copy") != 0)
            metrics_counter_inc("hlsd_transcode_encoders_started_total", NULL);
    } else if (strcmp(type, "error") == 0) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message"));
        snprintf(t->error, sizeof(t->error), "%s", m ? m : "worker error");
        LOG_WARN(t->name, "worker error: %s", t->error);
    } else if (strcmp(type, "done") == 0) {
        /* A worker asked to stop also says "done" (it finished its run): only
         * a run that made every segment completes the track. */
        if (!t->releasing || (t->planned && t->n_have >= t->n_segments)) {
            t->done = true;
            t->percent = 100;
        }
    }
}

/* Dual: the HEVC copy cannot be made (not copyable, unreadable). The
 * session carries on with the H.264 transcode alone, whose plan writes the
 * master; requests for the HEVC rendition fail. */
static void hevc_unavailable(struct vod_track *t)
{
    struct vod_session *s = t->s;
    t->unavailable = true;
    LOG_WARN(t->name, "no HEVC rendition (%s): H.264 only", t->error);
    if (s->master_ready || !http_wait_count(&s->master_waiters))
        return;
    int r = vod_track_ensure_worker(&s->t[0]);
    if (r < 0)
        vod_session_flush_master(s, r == -EBUSY ? 503 : 502,
                                 r == -EBUSY ? "no transcoding slot is free; try again"
                                             : "cannot start the H.264 rendition");
}

static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested)
{
    struct vod_track *t = arg;
    struct vod_session *s = t->s;
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;

    proc_free(&w);
    t->w = NULL;
    if (t->releasing) {
        t->releasing = false;
        t->released = true;
        LOG_INFO(t->name, "worker %d released", (int)t->pid);
        /* A request that came during the stop ladder starts a new worker. */
        if (http_wait_count(&t->waiters) && !s->m->shutting_down) {
            if (vod_track_ensure_worker(t) == 0)
                rewant(t);
            else
                flush_track(t, 503, "no transcoding slot is free; try again");
        }
        return;
    }
    if (clean && !t->error[0]) {
        /* A clean exit without `done` is a honoured stop. */
        LOG_INFO(t->name, "worker %d finished", (int)t->pid);
    } else if (!requested) {
        t->failed = true;
        if (!t->error[0]) {
            if (WIFSIGNALED(wstatus))
                snprintf(t->error, sizeof(t->error), "worker crashed (signal %d)",
                         WTERMSIG(wstatus));
            else
                snprintf(t->error, sizeof(t->error), "worker exited with status %d",
                         WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        }
        LOG_WARN(t->name, "worker %d failed: %s", (int)t->pid, t->error);
        if (s->dual && t->kind == VOD_TRACK_HEVC && !t->planned)
            hevc_unavailable(t);
    }
    if (requested || s->m->shutting_down)
        flush_track(t, 503, "session stopped");
    else if (t->failed)
        flush_track(t, 502, t->error); /* viewers: VOD_PUBLIC_ERROR */
    else
        flush_track(t, 502, "the worker finished without producing it");
    if (s->dual && !s->master_ready && !vod_session_workers(s))
        vod_session_flush_master(s, 502, VOD_PUBLIC_ERROR);
}
