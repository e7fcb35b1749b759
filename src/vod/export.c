/* Clip exports (export.h): GET /api/export/{camera}/start/{s}/end/{e} starts
 * or joins the export of a range and answers its state as JSON; the same
 * path with ".mp4" after {e} starts or joins it too and is suspended until
 * the file is complete, then served as an attachment. One `export` worker
 * (docs/WORKER-PROTOCOL.md) per export; its id is a keyed hash of the range
 * like a session id, so every requester of a range shares one file. */
#include "vod/export.h"
#include "vod/session_priv.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#define EXPORT_MAX 32 /* exports kept (running or finished) */
/* A failed export stays visible to pollers this long; the next request
 * after that starts it again. */
#define EXPORT_FAILED_KEEP 60.0

struct vod_export {
    struct vod_export *next;
    struct vod_manager *m;
    char id[VOD_ID_LEN + 1];
    char name[24]; /* log prefix "export <id8>" */
    char camera[VOD_CAMERA_MAX + 1];
    double start, end;
    char start_s[VOD_NUMBER_MAX + 2], end_s[VOD_NUMBER_MAX + 2]; /* as first requested */
    char file[VOD_CAMERA_MAX + 40];                              /* the download's name */
    /* <state>/exports/<id>.<generation>: a new export of the same range
     * never shares the folder of one deleted while its worker dies. */
    char dir[PATH_MAX];
    char owner[80]; /* who started it (vod.export_max_per_user) */
    cJSON *job;
    struct proc *w; /* NULL when no worker runs */
    pid_t pid;
    /* remux: runs without a transcode slot (admitted as one, or the worker
     * said so). needs_transcode: the worker of a remux found it must
     * transcode; needs_slot: and no slot was free (the next request retries). */
    bool remux, done, failed, needs_transcode, needs_slot;
    char audio[8]; /* "copy", "aac", "none" (the worker's started), "" before */
    double percent;
    double bytes;
    double est_bytes;   /* the admission's estimate, counted while running */
    double done_at;     /* monotonic: the oldest finished is evicted first */
    char error[256];    /* the worker's message: admins only (it names paths) */
    double last_access; /* monotonic */
    double failed_at;   /* monotonic */
    struct http_wait_queue waiters;
};

/* ---- answers ------------------------------------------------------------ */

static const char *export_state(const struct vod_export *x)
{
    return x->done ? "done" : x->failed ? "failed" : "running";
}

static void download_url(const struct vod_export *x, char *buf, size_t size)
{
    snprintf(buf, size, "/api/export/%s/start/%s/end/%s.mp4", x->camera, x->start_s, x->end_s);
}

static int respond_status(struct vod_export *x, struct http_request *req)
{
    cJSON *o = cJSON_CreateObject();
    char url[256];
    if (!o)
        return -ENOMEM;
    download_url(x, url, sizeof(url));
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "export_id", x->id);
    cJSON_AddStringToObject(o, "camera", x->camera);
    cJSON_AddNumberToObject(o, "start", x->start);
    cJSON_AddNumberToObject(o, "end", x->end);
    cJSON_AddStringToObject(o, "state", export_state(x));
    cJSON_AddNumberToObject(o, "progress", x->done ? 100 : x->percent);
    cJSON_AddBoolToObject(o, "remux", x->remux);
    http_json_add_string_or_null(o, "audio", x->audio[0] ? x->audio : NULL);
    cJSON_AddStringToObject(o, "file", x->file);
    cJSON_AddStringToObject(o, "download", url);
    if (x->done)
        cJSON_AddNumberToObject(o, "bytes", x->bytes);
    http_json_add_string_or_null(o, "error",
                                 !x->failed                       ? NULL
                                 : http_req_principal(req)->admin ? x->error
                                                                  : "the export failed (details "
                                                                    "in the server log)");
    int r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

static int serve_file(struct vod_export *x, struct http_request *req)
{
    char disp[sizeof(x->file) + 32];
    /* The name is a safe camera name and digits: nothing to quote. */
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", x->file);
    http_add_header(req, "Content-Disposition", disp);
    metrics_counter_add("hlsd_vod_bytes_served_total",
                        (const char *const[]){"kind", x->remux ? "remux" : "transcode", NULL},
                        x->bytes);
    /* Made for whoever may see the camera: no shared cache may keep it and
     * no other origin's script may read it. */
    return http_respond_file_flags(req, x->dir, x->file, HTTP_FILE_PRIVATE);
}

static void waiter_timeout(void *arg, struct http_waiter *w)
{
    struct vod_export *x = arg;
    http_respond_error(w->req, 504,
                       "export %s not finished after %.0f s (it goes on: ask again later)", x->id,
                       x->m->cfg->vod.export_timeout);
}

static void serve_waiter(void *arg, struct http_waiter *w)
{
    serve_file(arg, w->req);
}

/* The answer of a transcode refused for want of a vod.max_concurrent slot. */
static int respond_no_slot(struct http_request *req)
{
    metrics_counter_inc(METRICS_TRANSCODE_REJECTED, NULL);
    http_add_header(req, "Retry-After", "10");
    return http_respond_error(req, 429, "Too many concurrent transcode sessions");
}

static void no_slot_waiter(void *arg, struct http_waiter *w)
{
    (void)arg;
    respond_no_slot(w->req);
}

static void deleted_waiter(void *arg, struct http_waiter *w)
{
    struct vod_export *x = arg;
    http_respond_error(w->req, 410, "export %s was deleted", x->id);
}

static void fail_waiter(void *arg, struct http_waiter *w)
{
    struct vod_export *x = arg;
    http_respond_error(w->req, x->m->shutting_down ? 503 : 502, "export %s failed%s", x->id,
                       x->m->shutting_down ? ": the server is shutting down" : "");
}

/* ---- worker ------------------------------------------------------------- */

static bool file_exists(const struct vod_export *x)
{
    char path[PATH_MAX];
    struct stat sb;
    return util_fmt(path, sizeof(path), "%s/%s", x->dir, x->file) == 0 && stat(path, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

static void on_message(void *arg, struct proc *w, const cJSON *msg)
{
    struct vod_export *x = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    (void)w;
    if (!type)
        return;
    if (strcmp(type, "started") == 0) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(msg, "remux");
        const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "audio"));
        /* A remux admitted without a slot stays one: the job says so
         * (allow_transcode false), so "started" never turns it into a
         * transcode; a transcode found to be a remux frees its slot. */
        if (cJSON_IsBool(r) && !x->remux)
            x->remux = cJSON_IsTrue(r);
        snprintf(x->audio, sizeof(x->audio), "%s", a ? a : "");
    } else if (strcmp(type, "needs_transcode") == 0) {
        x->needs_transcode = true;
    } else if (strcmp(type, "progress") == 0) {
        x->percent =
            vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "percent"), 0, 100, x->percent);
    } else if (strcmp(type, "export") == 0) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(msg, "bytes");
        x->bytes = cJSON_IsNumber(b) && b->valuedouble >= 0 ? b->valuedouble : 0;
        if (file_exists(x)) {
            x->done = true;
            x->done_at = util_now_mono();
            x->percent = 100;
            LOG_INFO(x->name, "%s ready (%.0f bytes)", x->file, x->bytes);
            http_wait_wake_all(&x->waiters, serve_waiter, x);
        }
    } else if (strcmp(type, "error") == 0) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message"));
        snprintf(x->error, sizeof(x->error), "%s", m ? m : "worker error");
    }
}

static int readmit(struct vod_export *x);

static void on_exit_cb(void *arg, struct proc *w, int wstatus, bool requested)
{
    struct vod_export *x = arg;
    proc_free(&w);
    x->w = NULL;
    if (x->done)
        return;
    if (x->needs_transcode && !requested && !x->m->shutting_down) {
        int r = readmit(x);
        if (r == 0)
            return; /* the waiting downloads wait for the transcode */
        if (r == -EBUSY) {
            LOG_INFO(x->name, "needs a transcode slot: none free");
            x->needs_slot = true;
            http_wait_wake_all(&x->waiters, no_slot_waiter, x);
            return;
        }
        snprintf(x->error, sizeof(x->error), "cannot restart as a transcode: %s", strerror(-r));
    }
    x->failed = true;
    x->failed_at = util_now_mono();
    if (!x->error[0])
        snprintf(x->error, sizeof(x->error), "%s",
                 requested                                         ? "stopped"
                 : WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 ? "the worker made no file"
                                                                   : "the worker crashed");
    LOG_WARN(x->name, "export failed: %s", x->error);
    http_wait_wake_all(&x->waiters, fail_waiter, x);
}

/* What the worker will most likely do, known from the index alone:
 * remux (no encoder, no max_concurrent slot) when every recording's video
 * is browser-playable H.264 within the output box. The worker probes and
 * has the last word ("started" says). */
static bool predict_remux(const struct hlsd_config *cfg, const struct vod_recording *recs, size_t n)
{
    if (!cfg->vod.passthrough)
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct vod_recording *r = &recs[i];
        bool playable =
            r->browser_playable ||
            (strcmp(r->video_codec, "h264") == 0 &&
             (strcmp(r->pix_fmt, "yuv420p") == 0 || strcmp(r->pix_fmt, "yuvj420p") == 0));
        if (!playable || (cfg->vod.max_height > 0 && r->height > cfg->vod.max_height))
            return false;
    }
    return true;
}

/* allow_transcode: false when admitted as a remux (no slot taken). */
static int build_job(struct vod_export *x, const struct vod_recording *recs, size_t n,
                     bool allow_transcode)
{
    const struct cfg_vod *v = &x->m->cfg->vod;
    struct jobspec_export j;
    char err[160] = "";
    jobspec_export_defaults(&j);
    j.name = x->name;
    j.out_dir = x->dir;
    j.file = x->file;
    j.range_start = x->start;
    j.range_end = x->end;
    j.passthrough = v->passthrough;
    j.allow_transcode = allow_transcode;
    if (vod_job_settings(v, recs, n, &j.video, &j.audio, &j.sources) < 0)
        return -ENOMEM;
    j.n_sources = n;
    int r = jobspec_export_to_json(&j, &x->job, err, sizeof(err));
    if (r < 0)
        LOG_ERROR(x->name, "cannot build the job: %s", err);
    jobspec_export_clear(&j);
    return r;
}

static int spawn(struct vod_export *x)
{
    const struct hlsd_config *cfg = x->m->cfg;
    struct proc_callbacks cb = {on_message, on_exit_cb};
    struct proc_opts o = {.name = x->name,
                          .job = x->job,
                          .nice = cfg->vod.nice,
                          .memory_mb = cfg->workers.memory_mb,
                          .cpu_seconds = cfg->workers.cpu_seconds};
    int r = proc_spawn(&o, &cb, x, &x->w);
    if (r < 0) {
        x->w = NULL;
        return r;
    }
    x->pid = proc_pid(x->w);
    LOG_INFO(x->name, "worker %d started for %s %.3f..%.3f (%s)", (int)x->pid, x->camera, x->start,
             x->end, x->remux ? "remux" : "transcode");
    return 0;
}

/* The export admitted as a remux must transcode: it takes a vod.max_concurrent
 * slot like any transcode (-EBUSY when none is free) and starts again with
 * the transcode allowed. Its export worker slot is the one it held. */
static int readmit(struct vod_export *x)
{
    struct vod_manager *m = x->m;
    if (vod_active_count(m) >= m->cfg->vod.max_concurrent)
        return -EBUSY;
    cJSON *t = cJSON_CreateTrue();
    if (!t || !cJSON_ReplaceItemInObjectCaseSensitive(x->job, "allow_transcode", t)) {
        cJSON_Delete(t);
        return -ENOMEM;
    }
    x->remux = x->needs_transcode = x->needs_slot = false;
    x->percent = 0;
    x->error[0] = '\0';
    struct vod_recording whole = {.start_time = x->start, .end_time = x->end};
    x->est_bytes = fmax(x->est_bytes, vod_export_estimate(&whole, 1, x->start, x->end, false));
    return spawn(x);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Unlinks, kills the worker, answers the waiting downloads, removes the folder, frees. */
static void export_destroy(struct vod_export *x)
{
    for (struct vod_export **pp = &x->m->exports; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    proc_free(&x->w); /* killed: the file is written through a temp name */
    http_wait_wake_all(&x->waiters, x->m->shutting_down ? fail_waiter : deleted_waiter, x);
    util_rm_rf(x->dir);
    cJSON_Delete(x->job);
    free(x);
}

int vod_export_active(const struct vod_manager *m)
{
    int n = 0;
    for (const struct vod_export *x = m->exports; x; x = x->next)
        n += x->w && !x->remux;
    return n;
}

/* Beyond EXPORT_MAX, the least recently used export nobody waits for and
 * no worker makes goes first. */
static int make_room(struct vod_manager *m)
{
    struct vod_export *lru = NULL;
    int n = 0;
    for (struct vod_export *x = m->exports; x; x = x->next) {
        n++;
        if (!x->w && !http_wait_count(&x->waiters) && (!lru || x->last_access < lru->last_access))
            lru = x;
    }
    if (n < EXPORT_MAX)
        return 0;
    if (!lru)
        return -EUSERS;
    export_destroy(lru);
    return 0;
}

/* Export workers running, all of them or those of one owner. */
static int running(const struct vod_manager *m, const char *owner)
{
    int n = 0;
    for (const struct vod_export *x = m->exports; x; x = x->next)
        n += x->w && (!owner || strcmp(x->owner, owner) == 0);
    return n;
}

/* vod.export_max_mb: the files kept (and the estimates of those being made)
 * plus `need` must fit; the oldest finished exports nobody waits for go
 * first. -EFBIG when they cannot. */
static int make_space(struct vod_manager *m, double need)
{
    double cap = (double)m->cfg->vod.export_max_mb * 1048576.0;
    for (;;) {
        double kept = 0;
        struct vod_export *old = NULL;
        for (struct vod_export *x = m->exports; x; x = x->next) {
            kept += x->done ? x->bytes : x->w ? x->est_bytes : 0;
            /* done: the file is complete, its worker may still be exiting */
            if (x->done && !http_wait_count(&x->waiters) && (!old || x->done_at < old->done_at))
                old = x;
        }
        if (kept + need <= cap)
            return 0;
        if (!old)
            return -EFBIG;
        LOG_INFO(old->name, "removing the export to make room (vod.export_max_mb)");
        export_destroy(old);
    }
}

/* Free space on the exports' disk after `need` bytes: vod.export_min_free_mb
 * must be left. -ENOSPC when it would not be. */
static int check_disk(struct vod_manager *m, double need)
{
    char dir[PATH_MAX];
    struct statvfs sv;
    int r = util_fmt(dir, sizeof(dir), "%s/exports", m->cfg->state_dir);
    if (r < 0)
        return r;
    if (statvfs(dir, &sv) < 0)
        return -errno;
    double avail = (double)sv.f_bavail * (double)sv.f_frsize;
    if (!vod_export_fits_disk(avail, need, (double)m->cfg->vod.export_min_free_mb * 1048576.0)) {
        LOG_WARN(NULL, "export refused: %.0f MB free in %s, about %.0f MB needed + %ld MB reserve",
                 avail / 1048576.0, dir, need / 1048576.0, m->cfg->vod.export_min_free_mb);
        return -ENOSPC;
    }
    return 0;
}

/* Whether a new export of owner may start: -EDQUOT (vod.export_max_per_user),
 * -EAGAIN (vod.export_max_concurrent), -EBUSY (a transcode without a
 * vod.max_concurrent slot), -EFBIG (vod.export_max_mb), -ENOSPC (disk). */
static int admit(struct vod_manager *m, const char *owner, bool remux, double need)
{
    const struct cfg_vod *v = &m->cfg->vod;
    int r;
    if (v->export_max_per_user > 0 && running(m, owner) >= v->export_max_per_user)
        return -EDQUOT;
    if (running(m, NULL) >= v->export_max_concurrent)
        return -EAGAIN;
    if (!remux && vod_active_count(m) >= v->max_concurrent)
        return -EBUSY;
    if ((r = make_space(m, need)) < 0)
        return r;
    return check_disk(m, need);
}

/* A new export of (camera, start, end) for owner. -ENOENT (no recording in
 * range), -E2BIG (too many), the refusals of admit(), -EUSERS (too many
 * exports kept), -errno. */
static int export_create(struct vod_manager *m, const char *owner, const char *camera, double start,
                         double end, const char *start_s, const char *end_s, const char *id,
                         struct vod_export **out)
{
    static unsigned long generation; /* of the folders: see vod_export.dir */
    struct vod_recording *recs = NULL;
    struct vod_export *x = NULL;
    size_t n = 0;
    bool truncated = false;
    int r = vod_index_range(m->ix, camera, start, end, VOD_MAX_SOURCES, &recs, &n, &truncated);
    if (r < 0) {
        LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
        goto out;
    }
    if (n == 0 || truncated) {
        r = n == 0 ? -ENOENT : -E2BIG;
        goto out;
    }
    if (!(x = calloc(1, sizeof(*x)))) {
        r = -ENOMEM;
        goto out;
    }
    x->m = m;
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->name, sizeof(x->name), "export %.8s", id);
    snprintf(x->camera, sizeof(x->camera), "%s", camera);
    snprintf(x->owner, sizeof(x->owner), "%s", owner);
    snprintf(x->start_s, sizeof(x->start_s), "%s", start_s);
    snprintf(x->end_s, sizeof(x->end_s), "%s", end_s);
    x->start = start;
    x->end = end;
    x->last_access = util_now_mono();
    x->remux = predict_remux(m->cfg, recs, n);
    x->est_bytes = vod_export_estimate(recs, n, start, end, x->remux);
    http_wait_init(&x->waiters, waiter_timeout, x);
    if ((r = admit(m, owner, x->remux, x->est_bytes)) < 0)
        goto out;
    if ((r = make_room(m)) < 0 ||
        (r = vod_export_filename(camera, start, x->file, sizeof(x->file))) < 0 ||
        (r = util_fmt(x->dir, sizeof(x->dir), "%s/exports/%s.%lu", m->cfg->state_dir, id,
                      ++generation)) < 0)
        goto out;
    util_rm_rf(x->dir);
    if ((r = util_mkdir_p(x->dir, 0755)) < 0) {
        LOG_ERROR(x->name, "cannot create %s: %s", x->dir, strerror(-r));
        goto out;
    }
    if ((r = build_job(x, recs, n, !x->remux)) < 0 || (r = spawn(x)) < 0) {
        util_rm_rf(x->dir);
        goto out;
    }
    x->next = m->exports;
    m->exports = x;
    *out = x;
    x = NULL;
out:
    if (x) {
        cJSON_Delete(x->job);
        free(x);
    }
    vod_recordings_free(&recs, n);
    return r;
}

void vod_export_tick(struct vod_manager *m, double now)
{
    for (struct vod_export *x = m->exports, *next; x; x = next) {
        next = x->next;
        if (x->w || http_wait_count(&x->waiters))
            continue;
        if ((x->failed && now - x->failed_at > EXPORT_FAILED_KEEP) ||
            now - x->last_access > m->cfg->vod.export_ttl) {
            LOG_INFO(x->name, "removing the export (%s)", export_state(x));
            export_destroy(x);
        }
    }
}

void vod_export_shutdown(struct vod_manager *m)
{
    for (struct vod_export *x = m->exports; x; x = x->next) {
        http_wait_wake_all(&x->waiters, fail_waiter, x);
        if (x->w)
            proc_stop(x->w);
    }
}

/* /metrics: exports by state. */
static void export_metrics(void *arg, struct metrics_out *o)
{
    static const char *const states[] = {"running", "done", "failed"};
    const struct vod_manager *m = arg;
    double n[3] = {0};
    for (const struct vod_export *x = m->exports; x; x = x->next)
        n[x->done ? 1 : x->failed ? 2 : 0]++;
    metrics_out_family(o, "hlsd_exports", "gauge", "Clip exports kept, by state");
    for (size_t i = 0; i < 3; i++)
        metrics_out_sample(o, "hlsd_exports", (const char *const[]){"state", states[i], NULL},
                           n[i]);
}

void vod_export_free_all(struct vod_manager *m)
{
    metrics_unregister_provider(export_metrics, m);
    while (m->exports)
        export_destroy(m->exports);
}

/* ---- routes ------------------------------------------------------------- */

static int h_export(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    const char *start_s = http_req_param(req, "start_ts");
    char end_s[VOD_NUMBER_MAX + 2], id[VOD_ID_LEN + 1];
    struct vod_req_range rg;
    bool download;
    int r;

    if (vod_export_split_end(http_req_param(req, "end_ts"), end_s, sizeof(end_s), &download) < 0)
        return http_respond_error(req, 400, "end_ts must be a number");
    if (vod_req_range(req, end_s, m->cfg->vod.export_max_seconds, "vod.export_max_seconds", &rg) <
        0)
        return 0;
    const char *camera = rg.camera;
    double start = rg.start, end = rg.end;
    if ((r = vod_session_id(m, camera, start, end, "export", id)) < 0)
        return r;
    struct vod_export *x = NULL;
    for (x = m->exports; x && strcmp(x->id, id) != 0; x = x->next)
        ;
    /* A failed export is shown for a while, then the next request retries. */
    if (x && x->failed && !x->w && util_now_mono() - x->failed_at > EXPORT_FAILED_KEEP) {
        export_destroy(x);
        x = NULL;
    }
    /* A remux that must transcode waits for a slot: this request asks again. */
    if (x && x->needs_slot && !m->shutting_down) {
        x->last_access = util_now_mono();
        if ((r = readmit(x)) == -EBUSY)
            return respond_no_slot(req);
        if (r < 0)
            return http_respond_error(req, 500, "cannot start the export: %s", strerror(-r));
    }
    if (!x) {
        if (m->shutting_down)
            return http_respond_error(req, 503, "the server is shutting down");
        if (vod_req_camera_known(m, req, camera) < 0)
            return 0;
        char owner[80];
        vod_request_owner(req, owner, sizeof(owner));
        r = export_create(m, owner, camera, start, end, start_s, end_s, id, &x);
        if (r == -ENOENT)
            return http_respond_error(req, 404, "no recording of camera %s in this range", camera);
        if (r == -E2BIG)
            return http_respond_error(req, 400, "the range covers more than %d recordings",
                                      VOD_MAX_SOURCES);
        if (r == -EBUSY)
            return respond_no_slot(req);
        if (r == -EDQUOT || r == -EAGAIN || r == -EUSERS) {
            http_add_header(req, "Retry-After", "10");
            return r == -EDQUOT ? http_respond_error(req, 429,
                                                     "you have %d exports running "
                                                     "(vod.export_max_per_user): try again later",
                                                     m->cfg->vod.export_max_per_user)
                   : r == -EAGAIN
                       ? http_respond_error(req, 429,
                                            "%d exports are running "
                                            "(vod.export_max_concurrent): try again later",
                                            m->cfg->vod.export_max_concurrent)
                       : http_respond_error(req, 429,
                                            "%d exports are kept, none of them "
                                            "removable yet: try again later",
                                            EXPORT_MAX);
        }
        if (r == -ENOSPC || r == -EFBIG)
            return http_respond_error(req, 507,
                                      r == -ENOSPC ? "not enough free disk space for the export"
                                                   : "the exports kept fill vod.export_max_mb: "
                                                     "try again later");
        if (r < 0)
            return http_respond_error(req, 500, "cannot start the export: %s", strerror(-r));
    }
    x->last_access = util_now_mono();
    if (!download)
        return respond_status(x, req);
    if (x->done)
        return serve_file(x, req);
    if (x->failed)
        return http_respond_error(req, 502, "export %s failed", x->id);
    if ((r = http_wait_add(&x->waiters, req, m->cfg->vod.export_timeout, NULL)) < 0)
        return http_respond_error(req, 503, "cannot wait for the export: %s", strerror(-r));
    return 0;
}

static int h_delete(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    const char *id = http_req_param(req, "id");
    struct vod_export *x;
    int r;
    if (!vod_valid_id(id))
        return http_respond_error(req, 400, "malformed export id");
    for (x = m->exports; x && strcmp(x->id, id) != 0; x = x->next)
        ;
    if (!x)
        return http_respond_error(req, 404, "unknown export");
    LOG_INFO(x->name, "deleted by %s", http_req_principal(req)->name);
    export_destroy(x);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return -ENOMEM;
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "export_id", id);
    r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

int vod_export_init(struct vod_manager *m)
{
    char dir[PATH_MAX];
    int r;
    if ((r = util_fmt(dir, sizeof(dir), "%s/exports", m->cfg->state_dir)) < 0)
        return r;
    /* An export does not survive a restart: its folder is stale. */
    util_rm_rf(dir);
    if ((r = util_mkdir_p(dir, 0755)) < 0) {
        LOG_ERROR(NULL, "cannot create %s: %s", dir, strerror(-r));
        return r;
    }
    if ((r = metrics_register_provider(export_metrics, m)) < 0)
        return r;
    if ((r = http_route(m->http, "GET", "/api/export/{camera}/start/{start_ts}/end/{end_ts}", 0,
                        h_export, m)) < 0 ||
        (r = http_route(m->http, "DELETE", "/api/export/{id}", HTTP_ROUTE_ADMIN, h_delete, m)) < 0)
        LOG_ERROR(NULL, "cannot register the export routes: %s", strerror(-r));
    return r;
}
