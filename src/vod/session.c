/* Transcode sessions: one `vod` worker each (docs/WORKER-PROTOCOL.md), the
 * requests waiting for its plan and segments, idle cleanup, and the
 * daemon's helper children that index recordings (scan, sample). */
#include "vod/session_priv.h"

#include "core/log.h"
#include "core/util.h"
#include "media/digest.h"
#include "vod/child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_SECONDS 0.5
#define SCAN_INTERVAL 10.0
#define SESSION_KEY_FILE "session.key"

static void on_worker_message(void *arg, struct worker *w, const cJSON *msg);
static void on_worker_exit(void *arg, struct worker *w, int wstatus, bool requested);

/* ---- ids ---------------------------------------------------------------- */

/* 32 random bytes in <state>/session.key (0600): session ids are keyed hashes
 * of (camera, range), deterministic for this installation but not guessable. */
static int load_key(const char *state_dir, unsigned char key[32])
{
    char path[PATH_MAX];
    int fd = -1, r;
    ssize_t n;

    if ((r = util_fmt(path, sizeof(path), "%s/%s", state_dir, SESSION_KEY_FILE)) < 0)
        return r;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, key, 32);
        close(fd);
        if (n == 32)
            return 0;
        LOG_WARN(NULL, "%s is damaged: making a new session key", path);
        unlink(path);
    } else if (errno != ENOENT) {
        return -errno;
    }
    size_t got = 0;
    while (got < 32) {
        n = getrandom(key + got, 32 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        got += (size_t)n;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    n = write(fd, key, 32);
    r = (n == 32 && fsync(fd) == 0) ? 0 : -EIO;
    close(fd);
    if (r < 0)
        unlink(path);
    return r;
}

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

int vod_active_count(const struct vod_manager *m)
{
    int n = 0;
    for (const struct vod_session *s = m->sessions; s; s = s->next)
        if (s->w)
            n++;
    return n;
}

/* ---- segments ----------------------------------------------------------- */

void vod_segment_name(const struct vod_session *s, int n, char *buf, size_t size)
{
    snprintf(buf, size, "%s%d.ts", s->prefix, n);
}

bool vod_segment_exists(const struct vod_session *s, int n)
{
    char name[64], path[PATH_MAX];
    struct stat sb;
    if (s->have && n >= 0 && n < s->n_segments && s->have[n])
        return true;
    vod_segment_name(s, n, name, sizeof(name));
    if (util_fmt(path, sizeof(path), "%s/%s", s->dir, name) < 0)
        return false;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void mark_have(struct vod_session *s, int n)
{
    if (s->have && n >= 0 && n < s->n_segments && !s->have[n]) {
        s->have[n] = 1;
        s->n_have++;
    }
}

/* ---- waiters ------------------------------------------------------------ */

static void unlink_waiter(struct vod_waiter *wt)
{
    struct vod_session *s = wt->s;
    for (struct vod_waiter **pp = &s->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == wt) {
            *pp = wt->next;
            return;
        }
    }
}

static void waiter_timeout(void *arg, struct http_request *req)
{
    struct vod_waiter *wt = arg;
    struct vod_session *s = wt->s;
    unlink_waiter(wt);
    if (wt->segment < 0)
        http_respond_error(req, 504, "transcode session %s: no plan after %.0f s", s->id,
                           s->m->cfg->vod.ready_timeout);
    else
        http_respond_error(req, 504, "transcode session %s: segment %d not ready after %.0f s",
                           s->id, wt->segment, s->m->cfg->vod.ready_timeout);
    free(wt);
}

static void waiter_abort(void *arg, struct http_request *req)
{
    struct vod_waiter *wt = arg;
    (void)req;
    unlink_waiter(wt);
    free(wt);
}

int vod_session_wait(struct vod_session *s, struct http_request *req, int segment, bool api)
{
    struct vod_waiter *wt = calloc(1, sizeof(*wt));
    if (!wt)
        return -ENOMEM;
    wt->s = s;
    wt->req = req;
    wt->segment = segment;
    wt->api = api;
    int r = http_suspend(req, s->m->cfg->vod.ready_timeout, waiter_timeout, waiter_abort, wt);
    if (r < 0) {
        free(wt);
        return r;
    }
    wt->next = s->waiters;
    s->waiters = wt;
    return 0;
}

static void serve_waiter(struct vod_session *s, struct vod_waiter *wt)
{
    char name[64];
    if (wt->api) {
        vod_respond_started(s, wt->req);
    } else if (wt->segment < 0) {
        http_respond_file(wt->req, s->dir, VOD_PLAYLIST);
    } else {
        vod_segment_name(s, wt->segment, name, sizeof(name));
        http_respond_file(wt->req, s->dir, name);
    }
    free(wt);
}

/* Answers every waiter that can be answered now; with `status`, fails the rest. */
static void flush_waiters(struct vod_session *s, unsigned status, const char *why)
{
    struct vod_waiter **pp = &s->waiters;
    while (*pp) {
        struct vod_waiter *wt = *pp;
        bool ready = wt->segment < 0 ? s->planned : vod_segment_exists(s, wt->segment);
        bool beyond = s->planned && wt->segment >= s->n_segments;
        if (beyond) {
            *pp = wt->next;
            http_respond_error(wt->req, 404, "segment %d does not exist (%d segments)",
                               wt->segment, s->n_segments);
            free(wt);
        } else if (ready) {
            *pp = wt->next;
            serve_waiter(s, wt);
        } else if (status) {
            *pp = wt->next;
            http_respond_error(wt->req, status, "transcode session %s: %s", s->id, why);
            free(wt);
        } else {
            pp = &wt->next;
        }
    }
}

/* ---- worker ------------------------------------------------------------- */

static int spawn_worker(struct vod_session *s)
{
    const struct hlsd_config *cfg = s->m->cfg;
    struct worker_callbacks cb = {on_worker_message, on_worker_exit};
    struct worker_spawn_opts o = {0};

    o.name = s->name;
    o.job = s->job;
    o.nice = cfg->vod.nice;
    o.memory_mb = cfg->workers.memory_mb;
    o.cpu_seconds = cfg->workers.cpu_seconds;
    int r = worker_spawn(&o, &cb, s, &s->w);
    if (r < 0) {
        s->w = NULL;
        return r;
    }
    s->pid = worker_pid(s->w);
    s->failed = false;
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
    int r = worker_send(s->w, msg);
    if (r < 0)
        LOG_DEBUG(s->name, "want %d: %s", n, strerror(-r));
    cJSON_Delete(msg);
}

static void on_plan(struct vod_session *s, const cJSON *msg)
{
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(msg, "segments");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(msg, "duration");
    int n = cJSON_IsNumber(segs) ? segs->valueint : 0;

    if (n <= 0 || n > 10000000) {
        snprintf(s->error, sizeof(s->error), "worker planned %d segments", n);
        return;
    }
    if (!s->have || n != s->n_segments) {
        free(s->have);
        s->have = calloc((size_t)n, 1);
        s->n_have = 0;
        s->n_segments = s->have ? n : 0;
        /* Segments of an earlier run of this session are reused. */
        for (int i = 0; s->have && i < n; i++) {
            char name[64], path[PATH_MAX];
            struct stat sb;
            vod_segment_name(s, i, name, sizeof(name));
            if (util_fmt(path, sizeof(path), "%s/%s", s->dir, name) == 0 && stat(path, &sb) == 0)
                mark_have(s, i);
        }
    }
    s->duration = cJSON_IsNumber(dur) ? dur->valuedouble : 0;
    s->passthrough = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "passthrough"));
    s->planned = s->n_segments > 0;
    LOG_INFO(s->name, "plan: %d segments, %.3f s%s", s->n_segments, s->duration,
             s->passthrough ? ", passthrough" : "");
    flush_waiters(s, 0, NULL);
}

static void on_worker_message(void *arg, struct worker *w, const cJSON *msg)
{
    struct vod_session *s = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    (void)w;
    if (!type)
        return;
    if (strcmp(type, "plan") == 0) {
        on_plan(s, msg);
    } else if (strcmp(type, "segment") == 0) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(msg, "index");
        if (cJSON_IsNumber(idx)) {
            mark_have(s, idx->valueint);
            if (idx->valueint > s->encoded_up_to)
                s->encoded_up_to = idx->valueint;
        }
        flush_waiters(s, 0, NULL);
    } else if (strcmp(type, "progress") == 0) {
        const cJSON *v;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(msg, "percent")))
            s->percent = v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(msg, "speed")))
            s->speed = v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(msg, "fps")))
            s->fps = v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(msg, "encoded_up_to")))
            s->encoded_up_to = v->valueint;
    } else if (strcmp(type, "started") == 0) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "passthrough");
        if (cJSON_IsBool(p))
            s->passthrough = cJSON_IsTrue(p);
    } else if (strcmp(type, "error") == 0) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message"));
        snprintf(s->error, sizeof(s->error), "%s", m ? m : "worker error");
        LOG_WARN(s->name, "worker error: %s", s->error);
    } else if (strcmp(type, "done") == 0) {
        s->done = true;
        s->percent = 100;
    }
}

static void on_worker_exit(void *arg, struct worker *w, int wstatus, bool requested)
{
    struct vod_session *s = arg;
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;

    worker_free(&w);
    s->w = NULL;
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
        flush_waiters(s, 503, "session stopped");
    else if (s->failed)
        flush_waiters(s, 502, s->error);
    else
        flush_waiters(s, 502, "the worker finished without producing it");
}

/* ---- lifecycle ---------------------------------------------------------- */

static cJSON *build_job(struct vod_session *s, const struct vod_recording *recs, size_t n)
{
    const struct cfg_vod *v = &s->m->cfg->vod;
    cJSON *job = cJSON_CreateObject(), *src, *arr, *o;

    if (!job)
        return NULL;
    cJSON_AddStringToObject(job, "kind", "vod");
    cJSON_AddStringToObject(job, "name", s->name);
    cJSON_AddStringToObject(job, "out_dir", s->dir);
    cJSON_AddStringToObject(job, "playlist", VOD_PLAYLIST);
    cJSON_AddStringToObject(job, "segment_prefix", s->prefix);
    src = cJSON_AddArrayToObject(job, "sources");
    for (size_t i = 0; src && i < n; i++) {
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(src, o))
            goto fail;
        cJSON_AddStringToObject(o, "path", recs[i].path);
        cJSON_AddNumberToObject(o, "start_time", recs[i].start_time);
        cJSON_AddNumberToObject(o, "end_time", recs[i].end_time);
    }
    cJSON_AddNumberToObject(job, "range_start", s->start);
    cJSON_AddNumberToObject(job, "range_end", s->end);
    cJSON_AddNumberToObject(job, "segment_seconds", v->segment_seconds);
    arr = cJSON_AddArrayToObject(job, "fast_start");
    for (size_t i = 0; arr && i < v->n_fast_start; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(v->fast_start[i]));
    cJSON_AddNumberToObject(job, "lookahead", v->lookahead);
    cJSON_AddBoolToObject(job, "passthrough", v->passthrough);
    o = cJSON_AddObjectToObject(job, "video");
    if (!o)
        goto fail;
    cJSON_AddStringToObject(o, "encoder", v->encoder ? v->encoder : "libx264");
    cJSON_AddStringToObject(o, "preset", v->preset ? v->preset : "ultrafast");
    cJSON_AddNullToObject(o, "tune");
    cJSON_AddNullToObject(o, "bitrate");
    cJSON_AddNumberToObject(o, "crf", v->crf);
    cJSON_AddNumberToObject(o, "max_width", 0);
    cJSON_AddNumberToObject(o, "max_height", v->max_height);
    o = cJSON_AddObjectToObject(job, "audio");
    if (!o)
        goto fail;
    cJSON_AddStringToObject(o, "bitrate", v->audio_bitrate ? v->audio_bitrate : "128k");
    if (!src || !arr)
        goto fail;
    return job;
fail:
    cJSON_Delete(job);
    return NULL;
}

static void session_free(struct vod_session *s)
{
    cJSON_Delete(s->job);
    free(s->have);
    free(s);
}

int vod_session_create(struct vod_manager *m, const char *camera, double start, double end,
                       const char *id, struct vod_session **out)
{
    struct vod_recording *recs = NULL;
    struct vod_session *s = NULL;
    char rnd[9];
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
    if (vod_active_count(m) >= m->cfg->vod.max_concurrent) {
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
    s->start = start;
    s->end = end;
    s->created = util_now_wall();
    s->last_access = util_now_mono();
    s->encoded_up_to = -1;
    if ((r = util_random_hex(rnd, 4)) < 0)
        goto out;
    /* The prefix changes with each session of the same range: a browser never
     * replays a cached segment of an earlier session. */
    snprintf(s->prefix, sizeof(s->prefix), "seg-%s-", rnd);
    if ((r = util_fmt(s->dir, sizeof(s->dir), "%s/%s", m->transcode_dir, id)) < 0)
        goto out;
    util_rm_rf(s->dir);
    if ((r = util_mkdir_p(s->dir, 0755)) < 0) {
        LOG_ERROR(s->name, "cannot create %s: %s", s->dir, strerror(-r));
        goto out;
    }
    s->job = build_job(s, recs, n);
    if (!s->job) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = spawn_worker(s)) < 0) {
        LOG_ERROR(s->name, "cannot start the worker: %s", strerror(-r));
        util_rm_rf(s->dir);
        goto out;
    }
    s->next = m->sessions;
    m->sessions = s;
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
    worker_free(&s->w);
    flush_waiters(s, status, why);
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

/* ---- helper children and the periodic tick ------------------------------ */

static void spawn_recordings_child(struct vod_manager *m, const char *what, pid_t *pid)
{
    const struct cfg_vod *v = &m->cfg->vod;
    size_t n = 0;
    char *argv[16 + 64];

    argv[n++] = "hlsd";
    argv[n++] = "recordings";
    argv[n++] = (char *)what;
    argv[n++] = "--state-dir";
    argv[n++] = m->cfg->state_dir;
    if (strcmp(what, "scan") == 0) {
        argv[n++] = "--quiet";
        for (size_t i = 0; i < v->n_watch_dirs && n < UTIL_ARRAY_LEN(argv) - 1; i++)
            argv[n++] = v->watch_dirs[i];
    }
    argv[n] = NULL;
    int r = vod_child_spawn(argv, m->cfg->vod.nice, strcmp(what, "sample") == 0, pid);
    if (r < 0) {
        LOG_WARN(NULL, "cannot start 'hlsd recordings %s': %s", what, strerror(-r));
        *pid = -1;
        return;
    }
    LOG_DEBUG(NULL, "hlsd recordings %s: pid %d", what, (int)*pid);
}

static void poll_child(const char *what, pid_t *pid)
{
    int st = 0;
    if (*pid <= 0 || vod_child_poll(*pid, &st) == 0)
        return;
    if (st != -1 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        if (WIFSIGNALED(st))
            LOG_WARN(NULL, "hlsd recordings %s (pid %d) crashed with signal %d", what, (int)*pid,
                     WTERMSIG(st));
        else
            LOG_WARN(NULL, "hlsd recordings %s (pid %d) exited with status %d", what, (int)*pid,
                     WEXITSTATUS(st));
    }
    *pid = -1;
}

static void sweep_trash(struct vod_manager *m)
{
    DIR *d = opendir(m->transcode_dir);
    struct dirent *de;
    bool left = false;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[PATH_MAX];
        if (strncmp(de->d_name, ".trash-", 7) != 0)
            continue;
        if (util_fmt(path, sizeof(path), "%s/%s", m->transcode_dir, de->d_name) == 0 &&
            util_rm_rf(path) < 0)
            left = true;
    }
    closedir(d);
    m->trash_pending = left;
}

static void on_tick(void *arg)
{
    struct vod_manager *m = arg;
    double now = util_now_mono();

    m->tick = NULL;
    poll_child("scan", &m->scan_pid);
    poll_child("sample", &m->sample_pid);
    if (m->cfg->vod.n_watch_dirs > 0 && m->scan_pid <= 0 && now >= m->next_scan) {
        spawn_recordings_child(m, "scan", &m->scan_pid);
        m->next_scan = now + SCAN_INTERVAL;
    }
    for (struct vod_session *s = m->sessions, *next; s; s = next) {
        next = s->next;
        /* A waiting request is activity: it keeps the session alive. */
        if (!s->waiters && now - s->last_access > m->cfg->vod.ttl) {
            LOG_INFO(s->name, "idle for %.0f s: removing the session", now - s->last_access);
            vod_session_destroy(s, 410, "session expired");
        }
    }
    if (m->trash_pending)
        sweep_trash(m);
    m->tick = loop_timer_add(m->loop, TICK_SECONDS, on_tick, m);
}

/* ---- manager ------------------------------------------------------------ */

int vod_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http,
                    struct vod_manager **out)
{
    struct vod_manager *m = calloc(1, sizeof(*m));
    char err[512] = "";
    int r;

    *out = NULL;
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->cfg = cfg;
    m->http = http;
    m->scan_pid = m->sample_pid = -1;
    if ((r = util_fmt(m->transcode_dir, sizeof(m->transcode_dir), "%s/transcode",
                      cfg->state_dir)) < 0)
        goto fail;
    if ((r = vod_index_open(cfg->state_dir, &m->ix, err, sizeof(err))) < 0) {
        LOG_ERROR(NULL, "recordings index %s", err);
        goto fail;
    }
    if ((r = load_key(cfg->state_dir, m->key)) < 0) {
        LOG_ERROR(NULL, "session key in %s: %s", cfg->state_dir, strerror(-r));
        goto fail;
    }
    /* Sessions do not survive a restart: their folders are stale. */
    util_rm_rf(m->transcode_dir);
    if ((r = util_mkdir_p(m->transcode_dir, 0755)) < 0) {
        LOG_ERROR(NULL, "cannot create %s: %s", m->transcode_dir, strerror(-r));
        goto fail;
    }
    if ((r = vod_register_session_routes(m)) < 0 || (r = vod_register_catalog_routes(m)) < 0) {
        LOG_ERROR(NULL, "cannot register the recordings routes: %s", strerror(-r));
        goto fail;
    }
    if (cfg->vod.sample_recording) {
        long have = 0;
        if (vod_index_count(m->ix, "sample", &have) == 0 && have == 0) {
            LOG_INFO(NULL, "generating the sample recording (camera \"sample\")");
            spawn_recordings_child(m, "sample", &m->sample_pid);
        }
    }
    m->next_scan = util_now_mono();
    m->tick = loop_timer_add(loop, cfg->vod.n_watch_dirs ? 0.0 : TICK_SECONDS, on_tick, m);
    if (!m->tick) {
        r = -ENOMEM;
        goto fail;
    }
    *out = m;
    return 0;
fail:
    vod_manager_free(&m);
    return r;
}

void vod_manager_shutdown(struct vod_manager *m)
{
    if (!m)
        return;
    m->shutting_down = true;
    loop_timer_cancel(m->loop, &m->tick);
    vod_child_kill(m->scan_pid);
    vod_child_kill(m->sample_pid);
    m->scan_pid = m->sample_pid = -1;
    for (struct vod_session *s = m->sessions; s; s = s->next) {
        flush_waiters(s, 503, "the server is shutting down");
        if (s->w)
            worker_stop(s->w);
    }
}

void vod_manager_free(struct vod_manager **mp)
{
    struct vod_manager *m = mp ? *mp : NULL;
    if (!m)
        return;
    m->shutting_down = true;
    loop_timer_cancel(m->loop, &m->tick);
    vod_child_kill(m->scan_pid);
    vod_child_kill(m->sample_pid);
    while (m->sessions)
        vod_session_destroy(m->sessions, 503, "the server is shutting down");
    if (m->trash_pending)
        sweep_trash(m);
    vod_index_close(&m->ix);
    free(m);
    *mp = NULL;
}
