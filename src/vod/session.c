/* Transcode sessions: one `vod` worker each (docs/WORKER-PROTOCOL.md), the
 * requests waiting for its plan and segments, and their removal. */
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

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg);
static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested);

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
                   char id[VOD_ID_LEN + 1])
{
    char data[160], hex[65];
    /* Fixed precision: "10" and "10.0" name the same range. */
    int r = util_fmt(data, sizeof(data), "%s|%.6f|%.6f", camera, start, end);
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

bool vod_session_encoding(const struct vod_session *s)
{
    return s->w && !s->releasing && strcmp(vod_session_state(s), "paused") != 0;
}

int vod_active_count(const struct vod_manager *m)
{
    int n = 0;
    for (const struct vod_session *s = m->sessions; s; s = s->next)
        if (vod_session_encoding(s))
            n++;
    return n;
}

bool vod_session_release_if_idle(struct vod_session *s, double now)
{
    double idle = now - s->last_access;
    if (!s->w || s->releasing || http_wait_count(&s->waiters) ||
        strcmp(vod_session_state(s), "paused") != 0 || idle < s->m->cfg->vod.pause_release_seconds)
        return false;
    /* Transcoding is the scarce resource: a worker waiting at its lookahead
     * for a viewer who left holds a slot for nothing. Its segments stay; the
     * next request starts a worker at that segment. */
    LOG_INFO(s->name,
             "paused with no request for %.0f s: releasing the worker (%d of %d "
             "segments kept)",
             idle, s->n_have, s->n_segments);
    s->releasing = true;
    metrics_counter_inc("hlsd_transcode_released_total", NULL);
    proc_stop(s->w);
    return true;
}

/* ---- segments ----------------------------------------------------------- */

void vod_segment_name(const struct vod_session *s, int n, char *buf, size_t size)
{
    snprintf(buf, size, "%s%d.ts", s->prefix, n);
}

static bool segment_on_disk(const struct vod_session *s, int n)
{
    char name[64], path[PATH_MAX];
    struct stat sb;
    vod_segment_name(s, n, name, sizeof(name));
    if (util_fmt(path, sizeof(path), "%s/%s", s->dir, name) < 0)
        return false;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool vod_segment_exists(const struct vod_session *s, int n)
{
    if (s->have && n >= 0 && n < s->n_segments && s->have[n])
        return true;
    return segment_on_disk(s, n);
}

static void mark_have(struct vod_session *s, int n)
{
    if (s->have && n >= 0 && n < s->n_segments && !s->have[n]) {
        s->have[n] = 1;
        s->n_have++;
    }
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
    struct vod_session *s = arg;
    observe_wait(w);
    if (w->key < 0)
        http_respond_error(w->req, 504, "transcode session %s: no plan after %.0f s", s->id,
                           s->m->cfg->vod.ready_timeout);
    else
        http_respond_error(w->req, 504, "transcode session %s: segment %lld not ready after %.0f s",
                           s->id, w->key, s->m->cfg->vod.ready_timeout);
}

int vod_session_wait(struct vod_session *s, struct http_request *req, int segment, bool api)
{
    struct http_waiter tmpl = {.key = segment, .sub = -1, .flags = api ? VOD_WAIT_API : 0};
    return http_wait_add(&s->waiters, req, s->m->cfg->vod.ready_timeout, &tmpl);
}

static void serve_waiter(void *arg, struct http_waiter *w)
{
    struct vod_session *s = arg;
    char name[64];
    observe_wait(w);
    if (w->flags & VOD_WAIT_API) {
        vod_respond_started(s, w->req);
    } else if (w->key < 0) {
        http_respond_file(w->req, s->dir, VOD_PLAYLIST);
    } else {
        vod_segment_name(s, (int)w->key, name, sizeof(name));
        http_respond_file(w->req, s->dir, name);
    }
}

struct flush_ctx {
    struct vod_session *s;
    unsigned status;
    const char *why;
};

static bool try_flush(void *arg, struct http_waiter *w)
{
    const struct flush_ctx *c = arg;
    struct vod_session *s = c->s;
    bool ready = w->key < 0 ? s->planned : vod_segment_exists(s, (int)w->key);
    if (s->planned && w->key >= s->n_segments) {
        http_respond_error(w->req, 404, "segment %lld does not exist (%d segments)", w->key,
                           s->n_segments);
    } else if (ready) {
        serve_waiter(s, w);
    } else if (c->status) {
        observe_wait(w);
        /* The worker's own message names recording paths: admins only. */
        const char *why =
            c->why == s->error && !http_req_principal(w->req)->admin ? VOD_PUBLIC_ERROR : c->why;
        http_respond_error(w->req, c->status, "transcode session %s: %s", s->id, why);
    } else {
        return false;
    }
    return true;
}

void vod_session_flush_waiters(struct vod_session *s, unsigned status, const char *why)
{
    struct flush_ctx c = {s, status, why};
    http_wait_wake_if(&s->waiters, try_flush, &c);
}

/* ---- worker ------------------------------------------------------------- */

static int spawn_worker(struct vod_session *s)
{
    const struct hlsd_config *cfg = s->m->cfg;
    struct proc_callbacks cb = {on_worker_message, on_worker_exit};
    struct proc_opts o = {0};

    o.name = s->name;
    o.job = s->job;
    o.nice = cfg->vod.nice;
    o.memory_mb = cfg->workers.memory_mb;
    o.cpu_seconds = cfg->workers.cpu_seconds;
    int r = proc_spawn(&o, &cb, s, &s->w);
    if (r < 0) {
        s->w = NULL;
        return r;
    }
    s->pid = proc_pid(s->w);
    s->failed = false;
    s->releasing = s->released = false;
    /* A new worker starts from its own first `want`: the lookahead window
     * (and so "paused") is measured from what is asked of it, not of an
     * earlier worker. */
    s->max_wanted = 0;
    s->done = false;
    s->error[0] = '\0';
    s->percent = s->speed = s->fps = 0;
    LOG_INFO(s->name, "worker %d started for %s %.3f..%.3f", (int)s->pid, s->camera, s->start,
             s->end);
    return 0;
}

int vod_session_ensure_worker(struct vod_session *s)
{
    if (s->w)
        return 0;
    if (s->m->shutting_down)
        return -ESHUTDOWN;
    if (vod_active_count(s->m) >= s->m->cfg->vod.max_concurrent)
        return -EBUSY;
    int r = spawn_worker(s);
    if (r == 0)
        s->restarts++;
    return r;
}

void vod_session_want(struct vod_session *s, int n)
{
    if (n > s->max_wanted)
        s->max_wanted = n;
    if (!s->w)
        return;
    cJSON *msg = cJSON_CreateObject();
    if (!msg)
        return;
    cJSON_AddStringToObject(msg, "cmd", "want");
    cJSON_AddNumberToObject(msg, "segment", n);
    int r = proc_send(s->w, msg);
    if (r < 0)
        LOG_DEBUG(s->name, "want %d: %s", n, strerror(-r));
    cJSON_Delete(msg);
}

bool vod_session_is_waited(const struct vod_session *s, int n)
{
    for (const struct http_waiter *w = http_wait_first(&s->waiters); w; w = http_wait_next(w))
        if (w->key == n)
            return true;
    return false;
}

static int lowest_waited_below(const struct vod_session *s, int k)
{
    int low = -1;
    for (const struct http_waiter *w = http_wait_first(&s->waiters); w; w = http_wait_next(w))
        if (w->key >= 0 && w->key < k && (low < 0 || w->key < low))
            low = (int)w->key;
    return low;
}

/* The most segments a plan of this session can have: the fast-start ones,
 * the range cut at segment_seconds, and a short one at each end of every
 * recording (gaps restart the grid). A worker claiming more is not believed
 * (a plan of 10 M segments used to be stat()ed on the event loop). */
static int plan_limit(const struct vod_session *s)
{
    const struct cfg_vod *v = &s->m->cfg->vod;
    double seg = v->segment_seconds > 0 ? v->segment_seconds : 1;
    double n =
        (double)v->n_fast_start + ceil((s->end - s->start) / seg) + 2.0 * (double)s->n_sources + 2;
    return n > 1e7 ? 10000000 : (int)n;
}

/* Marks the segments of an earlier run of this session found on disk: one
 * pass over the folder, whatever the plan's length. */
static void mark_on_disk(struct vod_session *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;
    size_t pl = strlen(s->prefix);
    if (!d)
        return;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, s->prefix, pl) != 0 || !isdigit((unsigned char)e->d_name[pl]))
            continue;
        long k = strtol(e->d_name + pl, &end, 10);
        if (strcmp(end, ".ts") == 0 && k >= 0 && k < s->n_segments)
            mark_have(s, (int)k);
    }
    closedir(d);
}

static void on_plan(struct vod_session *s, const cJSON *msg)
{
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(msg, "segments");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(msg, "duration");
    double want = cJSON_IsNumber(segs) ? segs->valuedouble : 0;
    int limit = plan_limit(s);

    if (!(want >= 1 && want <= limit && want == floor(want))) {
        snprintf(s->error, sizeof(s->error), "worker planned %g segments (at most %d expected)",
                 want, limit);
        LOG_WARN(s->name, "%s: plan ignored", s->error);
        return;
    }
    int n = (int)want;
    if (!s->have || n != s->n_segments) {
        free(s->have);
        s->have = calloc((size_t)n, 1);
        s->n_have = 0;
        s->n_segments = s->have ? n : 0;
        mark_on_disk(s); /* segments of an earlier run of this session are reused */
    }
    double d = cJSON_IsNumber(dur) ? dur->valuedouble : 0;
    /* passthrough may start up to a GOP early: bounded loosely */
    s->duration = isfinite(d) && d >= 0 && d <= 2 * (s->end - s->start) + 60 ? d : 0;
    s->passthrough = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "passthrough"));
    s->planned = s->n_segments > 0;
    LOG_INFO(s->name, "plan: %d segments, %.3f s%s", s->n_segments, s->duration,
             s->passthrough ? ", passthrough" : "");
    vod_session_flush_waiters(s, 0, NULL);
}

/* A finite number within [lo, hi], else dflt. */
static double bounded(const cJSON *v, double lo, double hi, double dflt)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return dflt;
    return v->valuedouble;
}

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg)
{
    struct vod_session *s = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    (void)w;
    if (!type)
        return;
    if (strcmp(type, "plan") == 0) {
        on_plan(s, msg);
    } else if (strcmp(type, "segment") == 0) {
        double idx =
            bounded(cJSON_GetObjectItemCaseSensitive(msg, "index"), 0, s->n_segments - 1, -1);
        if (!s->planned || idx < 0 || idx != floor(idx))
            return; /* not a segment of the plan */
        int k = (int)idx;
        mark_have(s, k);
        s->encoded_up_to = k;
        if (vod_segment_exists(s, k))
            http_wait_wake_key(&s->waiters, k, serve_waiter, s);
        /* The encoder went past a segment someone still waits for (it was
         * moved elsewhere by another request's seek): ask for it again, or
         * that request would wait until its deadline. */
        int behind = lowest_waited_below(s, k);
        if (behind >= 0)
            vod_session_want(s, behind);
    } else if (strcmp(type, "progress") == 0) {
        s->percent = bounded(cJSON_GetObjectItemCaseSensitive(msg, "percent"), 0, 100, s->percent);
        s->speed = bounded(cJSON_GetObjectItemCaseSensitive(msg, "speed"), 0, 1e4, s->speed);
        s->fps = bounded(cJSON_GetObjectItemCaseSensitive(msg, "fps"), 0, 1e4, s->fps);
        s->encoded_up_to = (int)bounded(cJSON_GetObjectItemCaseSensitive(msg, "encoded_up_to"), -1,
                                        s->n_segments - 1, s->encoded_up_to);
    } else if (strcmp(type, "started") == 0) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "passthrough");
        if (cJSON_IsBool(p))
            s->passthrough = cJSON_IsTrue(p);
    } else if (strcmp(type, "error") == 0) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message"));
        snprintf(s->error, sizeof(s->error), "%s", m ? m : "worker error");
        LOG_WARN(s->name, "worker error: %s", s->error);
    } else if (strcmp(type, "done") == 0) {
        /* A worker asked to stop also says "done" (it finished its run): only
         * a run that made every segment completes the session. */
        if (!s->releasing || (s->planned && s->n_have >= s->n_segments)) {
            s->done = true;
            s->percent = 100;
        }
    }
}

static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested)
{
    struct vod_session *s = arg;
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;

    proc_free(&w);
    s->w = NULL;
    if (s->releasing) {
        s->releasing = false;
        s->released = true;
        LOG_INFO(s->name, "worker %d released", (int)s->pid);
        /* A request that came during the stop ladder starts a new worker. */
        if (http_wait_count(&s->waiters) && !s->m->shutting_down) {
            int low = lowest_waited_below(s, INT_MAX);
            if (vod_session_ensure_worker(s) == 0) {
                if (low >= 0)
                    vod_session_want(s, low);
            } else {
                vod_session_flush_waiters(s, 503, "no transcoding slot is free; try again");
            }
        }
        return;
    }
    if (clean && !s->error[0]) {
        /* A clean exit without `done` is a honoured stop. */
        LOG_INFO(s->name, "worker %d finished", (int)s->pid);
    } else if (!requested) {
        s->failed = true;
        if (!s->error[0]) {
            if (WIFSIGNALED(wstatus))
                snprintf(s->error, sizeof(s->error), "worker crashed (signal %d)",
                         WTERMSIG(wstatus));
            else
                snprintf(s->error, sizeof(s->error), "worker exited with status %d",
                         WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        }
        LOG_WARN(s->name, "worker %d failed: %s", (int)s->pid, s->error);
    }
    if (requested || s->m->shutting_down)
        vod_session_flush_waiters(s, 503, "session stopped");
    else if (s->failed)
        vod_session_flush_waiters(s, 502, s->error); /* viewers: VOD_PUBLIC_ERROR */
    else
        vod_session_flush_waiters(s, 502, "the worker finished without producing it");
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The session's job; *out is owned by the caller. 0, or -ENOMEM / -EINVAL
 * with the reason in err. */
static int build_job(struct vod_session *s, const struct vod_recording *recs, size_t n, cJSON **out,
                     char *err, size_t errlen)
{
    const struct cfg_vod *v = &s->m->cfg->vod;
    struct jobspec_vod j;
    int64_t abr = 0;

    jobspec_vod_defaults(&j);
    j.name = s->name;
    j.out_dir = s->dir;
    j.playlist = VOD_PLAYLIST;
    j.segment_prefix = s->prefix;
    j.sources = n ? calloc(n, sizeof(*j.sources)) : NULL;
    if (n && !j.sources) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    j.n_sources = n;
    for (size_t i = 0; i < n; i++)
        j.sources[i] = (struct jobspec_source){recs[i].path, recs[i].start_time,
                                               isfinite(recs[i].end_time) ? recs[i].end_time
                                                                          : 0 /* unknown */};
    j.range_start = s->start;
    j.range_end = s->end;
    j.segment_seconds = v->segment_seconds;
    /* the config refuses longer lists */
    j.n_fast_start =
        v->n_fast_start < JOBSPEC_MAX_FAST_START ? v->n_fast_start : JOBSPEC_MAX_FAST_START;
    if (j.n_fast_start)
        memcpy(j.fast_start, v->fast_start, j.n_fast_start * sizeof(double));
    j.lookahead = v->lookahead;
    j.passthrough = v->passthrough;
    if (v->encoder)
        j.video.encoder = v->encoder;
    if (v->preset)
        j.video.preset = v->preset;
    j.video.crf = v->crf;
    j.video.max_height = v->max_height;
    if (v->audio_bitrate && util_parse_bitrate(v->audio_bitrate, &abr) == 0)
        j.audio.bitrate = abr;
    int r = jobspec_vod_to_json(&j, out, err, errlen);
    jobspec_vod_clear(&j);
    return r;
}

static void session_free(struct vod_session *s)
{
    cJSON_Delete(s->job);
    free(s->have);
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
        if (!s->w && !http_wait_count(&s->waiters) && (!lru || s->last_access < lru->last_access))
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
    size_t cap = 64, len = 0;
    char *buf = malloc(cap), hex[65];
    int r = 0;
    if (!buf)
        return -ENOMEM;
    len = (size_t)snprintf(buf, cap, "prefix|%s", id);
    for (size_t i = 0; i < n; i++) {
        int w =
            snprintf(NULL, 0, "|%s|%.6f|%.6f", recs[i].path, recs[i].start_time, recs[i].end_time);
        size_t need = w > 0 ? (size_t)w + 1 : 1;
        if (len + need >= cap) {
            char *nb = realloc(buf, cap = (len + need) * 2);
            if (!nb) {
                r = -ENOMEM;
                goto out;
            }
            buf = nb;
        }
        len += (size_t)snprintf(buf + len, cap - len, "|%s|%.6f|%.6f", recs[i].path,
                                recs[i].start_time, recs[i].end_time);
    }
    if ((r = digest_hmac_sha256_hex(m->key, sizeof(m->key), buf, len, hex)) == 0)
        snprintf(out, size, "seg-%.8s-", hex);
out:
    free(buf);
    return r;
}

/* An idle session: nobody waits on it and no worker encodes for it (none,
 * paused, or being released). */
static bool session_idle(const struct vod_session *s)
{
    return !http_wait_count(&s->waiters) && !vod_session_encoding(s);
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

int vod_session_create(struct vod_manager *m, const char *owner, const char *camera, double start,
                       double end, const char *id, struct vod_session **out)
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
    /* Refuse for lack of a slot before ending one of the owner's sessions. */
    if (vod_active_count(m) >= m->cfg->vod.max_concurrent) {
        r = -EBUSY;
        goto out;
    }
    if ((r = make_room_for_owner(m, owner)) < 0)
        goto out;
    if (make_room(m) < 0) {
        r = -EBUSY;
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
    s->start = start;
    s->end = end;
    s->created = util_now_wall();
    s->last_access = util_now_mono();
    s->encoded_up_to = -1;
    s->n_sources = n;
    http_wait_init(&s->waiters, waiter_timeout, s);
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
    if ((r = build_job(s, recs, n, &s->job, jerr, sizeof(jerr))) < 0) {
        LOG_ERROR(s->name, "cannot build the job: %s", jerr);
        util_rm_rf(s->dir);
        goto out;
    }
    if ((r = spawn_worker(s)) < 0) { /* logged by proc_spawn */
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
    proc_free(&s->w);
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
