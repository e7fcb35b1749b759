/* Scrub thumbnails of a camera's range: /api/thumbnails/{camera}/start/…/end/…
 * and /stream/thumbs/{id}/{file}. The VTT track and the I-frame playlist are
 * known before anything is decoded (core/thumbgrid.h), so the daemon writes
 * them at once; a `thumbs` worker (media/thumbs.c) makes the JPEG sheets
 * (and the I-frame TS files) in order, and a request for a sheet not made yet
 * waits in the set's queue until the worker's `sheet` event. Sets are cached
 * in <state>/thumbs/<id>/ across requests and restarts (meta.json holds the
 * job, so a set can be reloaded from its id alone), at most THUMBS_MAX_SETS
 * of them, least recently used first out. */
#include "vod/thumbs_priv.h"

#include "core/digest.h"
#include "core/jobspec.h"
#include "core/log.h"
#include "core/thumbgrid.h"
#include "core/util.h"
#include "media/thumbs.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg);
static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested);

const struct thumbgrid_layout vod_thumbs_layout = {160, 90, 10, 10};

/* ---- ids and sets ------------------------------------------------------- */

/* Keyed hash of everything the files depend on: the range, the interval
 * and the recordings (a new recording in the range is another set). */
static int set_id(const struct vod_manager *m, const char *camera, const struct jobspec_thumbs *j,
                  char id[VOD_ID_LEN + 1])
{
    char *buf = NULL, hex[65];
    size_t len = 0;
    int r = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    fprintf(f, "thumbs|%s|%.6f|%.6f|%.3f|%dx%d|%dx%d", camera, j->range_start, j->range_end,
            j->interval, vod_thumbs_layout.tile_width, vod_thumbs_layout.tile_height,
            vod_thumbs_layout.columns, vod_thumbs_layout.rows);
    for (size_t i = 0; i < j->n_sources; i++)
        fprintf(f, "|%s|%.6f|%.6f", j->sources[i].path, j->sources[i].start_time,
                j->sources[i].end_time);
    if (ferror(f) | fclose(f))
        r = -ENOMEM;
    if (r == 0 && (r = digest_hmac_sha256_hex(m->key, sizeof(m->key), buf, len, hex)) == 0) {
        memcpy(id, hex, VOD_ID_LEN);
        id[VOD_ID_LEN] = '\0';
    }
    free(buf);
    return r;
}

struct thumbs_set *vod_thumbs_find(struct vod_thumbs *th, const char *id)
{
    for (struct thumbs_set *s = th->sets; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static void set_free(struct thumbs_set *s)
{
    proc_free(&s->w);
    cJSON_Delete(s->job);
    free(s->times);
    free(s->have);
    free(s);
}

static void set_unlink(struct thumbs_set *s)
{
    for (struct thumbs_set **pp = &s->th->sets; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            s->th->n_sets--;
            return;
        }
}

bool vod_thumbs_sheet_on_disk(const struct thumbs_set *s, size_t k)
{
    char path[PATH_MAX];
    return util_fmt(path, sizeof(path), "%s/%s%zu.jpg", s->dir, THUMBS_SHEET_PREFIX, k) == 0 &&
           access(path, F_OK) == 0;
}

bool vod_thumbs_file_on_disk(const struct thumbs_set *s, const char *name)
{
    char path[PATH_MAX];
    struct stat sb;
    return util_fmt(path, sizeof(path), "%s/%s", s->dir, name) == 0 && stat(path, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

static int workers_running(const struct vod_thumbs *th)
{
    int n = 0;
    for (const struct thumbs_set *s = th->sets; s; s = s->next)
        n += s->w != NULL;
    return n;
}

/* <vod.shared_dir>/thumbs/<id>.json, or -ENOENT without a shared folder. */
static int shared_path(const struct vod_thumbs *th, const char *id, char *out, size_t size)
{
    const char *shared = th->m->cfg->vod.shared_dir;
    return shared ? util_fmt(out, size, "%s/thumbs/%s.json", shared, id) : -ENOENT;
}

/* Forgets id from the sets of earlier runs (it is being loaded). */
static void old_forget(struct vod_thumbs *th, const char *id)
{
    for (int i = 0; i < th->n_old; i++)
        if (strcmp(th->old[i], id) == 0) {
            memmove(th->old[i], th->old[i + 1], (size_t)(th->n_old - i - 1) * sizeof(*th->old));
            th->n_old--;
            return;
        }
}

/* Room for one more set: beyond THUMBS_MAX_SETS (on disk, whatever run made
 * them) the oldest set of an earlier run goes, then the least recently used
 * set without a worker or a waiting request, files and all. 0, or -EBUSY
 * when every set is in use. */
static int make_room(struct vod_thumbs *th)
{
    char path[PATH_MAX];
    while (th->n_sets + th->n_old >= THUMBS_MAX_SETS) {
        struct thumbs_set *lru = NULL;
        if (th->n_old > 0) {
            th->n_old--;
            if (util_fmt(path, sizeof(path), "%s/%s", th->dir, th->old[th->n_old]) == 0)
                util_rm_rf(path);
            continue;
        }
        for (struct thumbs_set *s = th->sets; s; s = s->next)
            if (!s->w && !http_wait_count(&s->waiters) &&
                (!lru || s->last_access < lru->last_access))
                lru = s;
        if (!lru)
            return -EBUSY;
        LOG_INFO(lru->name, "removed from the cache to make room");
        set_unlink(lru);
        util_rm_rf(lru->dir);
        /* its cluster record goes too (bounded like the cache); a node
         * serving it from its own copy keeps doing so */
        if (shared_path(th, lru->id, path, sizeof(path)) == 0)
            unlink(path);
        set_free(lru);
    }
    return 0;
}

static void waiter_timeout(void *arg, struct http_waiter *w)
{
    struct thumbs_set *s = arg;
    http_respond_error(w->req, 504, "thumbnails %s: %s not ready after %.0f s", s->id, w->name,
                       s->th->m->cfg->vod.ready_timeout);
}

static int write_text(const struct thumbs_set *s, const char *name, const char *text, size_t len)
{
    char path[PATH_MAX];
    int r = util_fmt(path, sizeof(path), "%s/%s", s->dir, name);
    return r < 0 ? r : util_write_file_atomic(path, text, len);
}

/* The files known before decoding: the VTT, the I-frame playlist, meta.json
 * (also recorded in the cluster's shared folder: another node asked for the
 * set's files can make them from it). */
static int write_plan_files(struct thumbs_set *s, const struct thumbgrid_cue *cues)
{
    char *text = NULL;
    size_t len = 0;
    int r =
        thumbgrid_write_vtt(cues, s->count, &vod_thumbs_layout, THUMBS_SHEET_PREFIX, &text, &len);
    if (r == 0)
        r = write_text(s, THUMBS_VTT, text, len);
    free(text);
    text = NULL;
    if (r == 0 &&
        (r = thumbgrid_write_iframes(cues, s->count, THUMBS_IFRAME_PREFIX, &text, &len)) == 0)
        r = write_text(s, THUMBS_IFRAMES, text, len);
    free(text);
    if (r == 0) {
        cJSON *meta = cJSON_Duplicate(s->job, true);
        char *js = NULL;
        if (meta && cJSON_AddStringToObject(meta, "camera", s->camera))
            js = cJSON_PrintUnformatted(meta);
        r = js ? write_text(s, THUMBS_META, js, strlen(js)) : -ENOMEM;
        char shared[PATH_MAX];
        if (r == 0 && shared_path(s->th, s->id, shared, sizeof(shared)) == 0) {
            int w = util_write_file_atomic(shared, js, strlen(js));
            if (w < 0) /* the set works here; only other nodes miss it */
                LOG_WARN(s->name, "cannot record the set in %s: %s", shared, strerror(-w));
        }
        cJSON_free(js);
        cJSON_Delete(meta);
    }
    return r;
}

/* A new set from a job whose sources, range and interval are filled (other
 * keys are set here); registers it. id was derived from the same job. */
static int set_create(struct vod_thumbs *th, const char *camera, struct jobspec_thumbs *j,
                      const char *id, struct thumbs_set **out)
{
    struct thumbgrid_span *spans = NULL;
    struct thumbgrid_cue *cues = NULL;
    struct thumbs_set *s = NULL;
    char err[160] = "";
    size_t n = 0;
    int r;

    spans = calloc(j->n_sources ? j->n_sources : 1, sizeof(*spans));
    s = calloc(1, sizeof(*s));
    if (!spans || !s) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < j->n_sources; i++)
        spans[i] = (struct thumbgrid_span){j->sources[i].start_time, j->sources[i].end_time};
    r = thumbgrid_plan(spans, j->n_sources, j->range_start, j->range_end, j->interval,
                       THUMBGRID_MAX_CUES, &cues, &n);
    if (r < 0)
        goto out;
    if (n == 0) {
        r = -ENOENT;
        goto out;
    }
    s->th = th;
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->name, sizeof(s->name), "thumbs %.8s", id);
    snprintf(s->camera, sizeof(s->camera), "%s", camera);
    s->start = j->range_start;
    s->end = j->range_end;
    s->interval = j->interval;
    s->count = n;
    s->sheets = thumbgrid_sheets(&vod_thumbs_layout, n);
    s->last_access = util_now_mono();
    http_wait_init(&s->waiters, waiter_timeout, s);
    s->times = malloc(n * sizeof(double));
    s->have = calloc(s->sheets, 1);
    if (!s->times || !s->have) {
        r = -ENOMEM;
        goto out;
    }
    double min_span = INFINITY;
    for (size_t k = 0; k < n; k++) {
        s->times[k] = cues[k].t;
        min_span = fmin(min_span, fmax(cues[k].out_end - cues[k].out_start, 0.1));
    }
    s->iframe_bandwidth = ceil(THUMBS_IFRAME_MAX_BYTES * 8.0 / min_span);
    if ((r = util_fmt(s->dir, sizeof(s->dir), "%s/%s", th->dir, id)) < 0)
        goto out;
    j->name = s->name;
    j->out_dir = s->dir;
    j->playlist = THUMBS_VTT;
    j->segment_prefix = THUMBS_SHEET_PREFIX;
    j->tile_width = vod_thumbs_layout.tile_width;
    j->tile_height = vod_thumbs_layout.tile_height;
    j->columns = vod_thumbs_layout.columns;
    j->rows = vod_thumbs_layout.rows;
    j->iframes = th->iframes;
    if ((r = jobspec_thumbs_to_json(j, &s->job, err, sizeof(err))) < 0) {
        LOG_ERROR(s->name, "cannot build the job: %s", err);
        goto out;
    }
    old_forget(th, id); /* its files are this set's own: not room to make */
    if ((r = make_room(th)) < 0) {
        LOG_WARN(s->name, "the cache is full of sets in use: not made");
        goto out;
    }
    if ((r = util_mkdir_p(s->dir, 0755)) < 0 || (r = write_plan_files(s, cues)) < 0) {
        LOG_ERROR(s->name, "cannot write %s: %s", s->dir, strerror(-r));
        util_rm_rf(s->dir);
        goto out;
    }
    for (size_t k = 0; k < s->sheets; k++)
        s->have[k] = vod_thumbs_sheet_on_disk(s, k);
    s->next = th->sets;
    th->sets = s;
    th->n_sets++;
    LOG_INFO(s->name, "%s %.3f..%.3f every %g s: %zu thumbnails, %zu sheets", camera, s->start,
             s->end, s->interval, s->count, s->sheets);
    *out = s;
    s = NULL;
out:
    if (s)
        set_free(s);
    free(cues);
    free(spans);
    return r;
}

/* The set of (camera, range, interval) from the index: found, or created.
 * 0, -ENOENT (no recording in the range), -E2BIG (too many thumbnails or
 * recordings), -errno. */
int vod_thumbs_get(struct vod_thumbs *th, const char *camera, double start, double end,
                   double interval, struct thumbs_set **out)
{
    struct vod_manager *m = th->m;
    struct vod_recording *recs = NULL;
    struct jobspec_thumbs j;
    char id[VOD_ID_LEN + 1];
    size_t n = 0, used = 0;
    bool truncated = false;
    int r;

    jobspec_thumbs_defaults(&j);
    r = vod_index_range(m->ix, camera, start, end, VOD_MAX_SOURCES, &recs, &n, &truncated);
    if (r < 0) {
        LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
        return r;
    }
    if (truncated) {
        r = -E2BIG;
        goto out;
    }
    j.sources = calloc(n ? n : 1, sizeof(*j.sources));
    if (!j.sources) {
        r = -ENOMEM;
        goto out;
    }
    /* Only recordings whose end is known: the plan needs their coverage. */
    for (size_t i = 0; i < n; i++)
        if (isfinite(recs[i].end_time) && recs[i].end_time > recs[i].start_time)
            j.sources[used++] =
                (struct jobspec_source){recs[i].path, recs[i].start_time, recs[i].end_time};
    j.n_sources = used;
    j.range_start = start;
    j.range_end = end;
    j.interval = interval;
    if (used == 0) {
        r = -ENOENT;
        goto out;
    }
    if ((r = set_id(m, camera, &j, id)) < 0)
        goto out;
    *out = vod_thumbs_find(th, id);
    if (!*out)
        r = set_create(th, camera, &j, id, out);
out:
    jobspec_thumbs_clear(&j);
    vod_recordings_free(&recs, n);
    return r;
}

/* A set of an earlier run, from <dir>/<id>/meta.json; its content must hash
 * to the id. */
int vod_thumbs_load(struct vod_thumbs *th, const char *id, struct thumbs_set **out)
{
    char path[PATH_MAX], err[160], check[VOD_ID_LEN + 1];
    char *text = NULL;
    size_t len = 0;
    cJSON *meta = NULL;
    struct jobspec_thumbs j;
    int r;

    jobspec_thumbs_defaults(&j);
    if ((r = util_fmt(path, sizeof(path), "%s/%s/%s", th->dir, id, THUMBS_META)) < 0)
        return -ENOENT;
    r = util_read_file(path, 1 << 24, &text, &len);
    /* Not made here: another node of the cluster may have recorded it. */
    if (r == -ENOENT && shared_path(th, id, path, sizeof(path)) == 0)
        r = util_read_file(path, 1 << 24, &text, &len);
    if (r < 0)
        return r == -ENOMEM ? r : -ENOENT; /* unreadable is unknown; memory is not */
    meta = cJSON_ParseWithLength(text, len);
    const char *camera = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "camera"));
    if (!meta || !camera || !util_is_safe_name(camera) ||
        jobspec_thumbs_from_json(meta, &j, err, sizeof(err)) < 0 ||
        set_id(th->m, camera, &j, check) < 0 || strcmp(check, id) != 0) {
        LOG_WARN(NULL, "thumbnails %s: %s does not match its id: ignored", id, path);
        r = -ENOENT;
        goto out;
    }
    r = set_create(th, camera, &j, id, out);
out:
    jobspec_thumbs_clear(&j);
    cJSON_Delete(meta);
    free(text);
    return r;
}

/* ---- worker ------------------------------------------------------------- */

int vod_thumbs_ensure_worker(struct thumbs_set *s)
{
    const struct hlsd_config *cfg = s->th->m->cfg;
    struct proc_callbacks cb = {on_worker_message, on_worker_exit};
    struct proc_opts o = {0};
    if (s->w)
        return 0;
    if (s->th->shutting_down)
        return -ESHUTDOWN;
    /* A cheap worker (one keyframe per thumbnail, no encoder for the
     * sheets): not counted in vod.max_concurrent, but bounded on its own. */
    if (workers_running(s->th) >= THUMBS_MAX_WORKERS)
        return -EBUSY;
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
    s->failed = false;
    s->progress = false;
    s->error[0] = '\0';
    return 0;
}

/* {"cmd":"want","sheet":k}: the worker makes that sheet next. */
void vod_thumbs_want(struct thumbs_set *s, long long k)
{
    cJSON *msg = cJSON_CreateObject();
    if (!s->w || !msg || !cJSON_AddStringToObject(msg, "cmd", "want") ||
        !cJSON_AddNumberToObject(msg, "sheet", (double)k) || proc_send(s->w, msg) < 0)
        LOG_DEBUG(s->name, "want %lld not sent", k);
    cJSON_Delete(msg);
}

/* A new worker: ask again for what requests wait for (the oldest first). */
static void rewant(struct thumbs_set *s)
{
    const struct http_waiter *w = http_wait_first(&s->waiters);
    if (w)
        vod_thumbs_want(s, w->key);
}

bool vod_thumbs_all_made(const struct thumbs_set *s)
{
    for (size_t k = 0; k < s->sheets; k++)
        if (!s->have[k])
            return false;
    return true;
}

static void serve_waiter(void *arg, struct http_waiter *w)
{
    struct thumbs_set *s = arg;
    if (vod_thumbs_file_on_disk(s, w->name))
        http_respond_file(w->req, s->dir, w->name);
    else
        http_respond_error(w->req, 404, "thumbnails %s: %s was not made", s->id, w->name);
}

/* A sheet with failed tiles: served if there, else 502 with the reason. */
static void serve_failed_waiter(void *arg, struct http_waiter *w)
{
    struct thumbs_set *s = arg;
    if (vod_thumbs_file_on_disk(s, w->name))
        http_respond_file(w->req, s->dir, w->name); /* open now: unlinking next is safe */
    else
        http_respond_error(w->req, 502, "thumbnails %s: the recordings of %s could not be read",
                           s->id, w->name);
}

/* Removes sheet k and its I-frame files (they hold the same black tiles). */
static void drop_sheet(struct thumbs_set *s, size_t k)
{
    size_t per = thumbgrid_per_sheet(&vod_thumbs_layout);
    char path[PATH_MAX];
    if (util_fmt(path, sizeof(path), "%s/%s%zu.jpg", s->dir, THUMBS_SHEET_PREFIX, k) == 0)
        unlink(path);
    for (size_t i = k * per; i < (k + 1) * per && i < s->count; i++)
        if (util_fmt(path, sizeof(path), "%s/%s%zu.ts", s->dir, THUMBS_IFRAME_PREFIX, i) == 0)
            unlink(path);
}

struct flush_ctx {
    struct thumbs_set *s;
    unsigned status;
    const char *why;
};

static bool try_flush(void *arg, struct http_waiter *w)
{
    const struct flush_ctx *c = arg;
    if ((size_t)w->key < c->s->sheets && c->s->have[w->key]) {
        serve_waiter(c->s, w);
        return true;
    }
    if (!c->status)
        return false;
    http_respond_error(w->req, c->status, "thumbnails %s: %s", c->s->id, c->why);
    return true;
}

static void flush(struct thumbs_set *s, unsigned status, const char *why)
{
    struct flush_ctx c = {s, status, why};
    http_wait_wake_if(&s->waiters, try_flush, &c);
}

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg)
{
    struct thumbs_set *s = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    (void)w;
    if (!type)
        return;
    if (strcmp(type, "sheet") == 0) {
        double idx = vod_json_bounded(cJSON_GetObjectItemCaseSensitive(msg, "index"), 0,
                                      (double)s->sheets - 1, -1);
        if (idx < 0 || idx != floor(idx))
            return; /* not a sheet of the plan */
        size_t k = (size_t)idx;
        s->progress = true;
        const cJSON *failed = cJSON_GetObjectItemCaseSensitive(msg, "failed");
        if (cJSON_IsNumber(failed) && failed->valuedouble > 0) {
            /* Tiles black for a recording that could not be read (gone,
             * unreadable for now): who waits gets the sheet if it exists,
             * but it is not kept, so a later request tries again. */
            LOG_WARN(s->name, "sheet %zu: %.0f thumbnails failed: not cached", k,
                     fmin(failed->valuedouble, 1e9));
            s->have[k] = 0;
            http_wait_wake_key(&s->waiters, (long long)k, serve_failed_waiter, s);
            drop_sheet(s, k);
            return;
        }
        if (!vod_thumbs_sheet_on_disk(s, k))
            return;
        s->have[k] = 1;
        http_wait_wake_key(&s->waiters, (long long)k, serve_waiter, s);
    } else if (strcmp(type, "error") == 0) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message"));
        /* The worker's text goes to the log: its controls escaped. */
        util_escape_text(m ? m : "worker error", s->error, sizeof(s->error));
        LOG_WARN(s->name, "worker error: %s", s->error);
    }
}

/* A set whose requests wait for a worker slot gets the one just freed. */
static void start_next(struct vod_thumbs *th)
{
    for (struct thumbs_set *s = th->sets; s && !th->shutting_down; s = s->next)
        if (!s->w && http_wait_count(&s->waiters)) {
            int r = vod_thumbs_ensure_worker(s);
            if (r == -EBUSY)
                return;
            if (r == 0)
                rewant(s);
        }
}

static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested)
{
    struct thumbs_set *s = arg;
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    proc_free(&w);
    s->w = NULL;
    if (!clean && !requested) {
        s->failed = true;
        if (!s->error[0])
            snprintf(s->error, sizeof(s->error), "worker failed (status 0x%x)", wstatus);
        LOG_WARN(s->name, "worker failed: %s", s->error);
    }
    /* A worker that made sheets and finished may have missed a late want
     * (a dropped sheet asked for again as it exited): the requests still
     * waiting get a new worker (start_next below) instead of an error. */
    if (clean && !requested && !s->th->shutting_down && s->progress &&
        http_wait_count(&s->waiters)) {
        start_next(s->th);
        return;
    }
    /* Viewers are not told the worker's message (it names recording paths). */
    if (requested || s->th->shutting_down)
        flush(s, 503, "stopped");
    else
        flush(s, 502,
              s->failed ? "making the thumbnails failed (details in the server log)"
                        : "the worker finished without making it");
    start_next(s->th);
}

/* ---- the module --------------------------------------------------------- */

struct dir_entry {
    char name[VOD_ID_LEN + 1];
    double mtime;
};

static int cmp_mtime(const void *a, const void *b)
{
    const struct dir_entry *x = a, *y = b;
    return x->mtime > y->mtime ? -1 : x->mtime < y->mtime ? 1 : 0;
}

/* Files a killed worker or daemon left half written (util_write_file_atomic's
 * "<name>.tmp.<pid>", the worker's "<name>.tmp"): never served, never
 * renamed now. */
static void remove_temps(struct vod_thumbs *th, const char *id)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d;
    if (util_fmt(path, sizeof(path), "%s/%s", th->dir, id) < 0 || !(d = opendir(path)))
        return;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp") &&
            util_fmt(path, sizeof(path), "%s/%s/%s", th->dir, id, de->d_name) == 0)
            unlink(path);
    closedir(d);
}

/* Sets of earlier runs: the THUMBS_MAX_SETS most recent stay (loaded when
 * asked for), the rest and anything that is not a set go. */
static void prune_disk(struct vod_thumbs *th)
{
    struct dir_entry *e = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(th->dir);
    struct dirent *de;
    char path[PATH_MAX];
    if (!d)
        return;
    while ((de = readdir(d))) {
        struct stat sb;
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        if (util_fmt(path, sizeof(path), "%s/%s", th->dir, de->d_name) < 0)
            continue;
        if (!vod_valid_id(de->d_name) || lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            util_rm_rf(path);
            continue;
        }
        if (n == cap) {
            struct dir_entry *ne = realloc(e, (cap = cap ? 2 * cap : 64) * sizeof(*e));
            if (!ne)
                break;
            e = ne;
        }
        memcpy(e[n].name, de->d_name, VOD_ID_LEN + 1); /* valid: VOD_ID_LEN characters */
        e[n++].mtime = (double)sb.st_mtime;
    }
    closedir(d);
    if (n)
        qsort(e, n, sizeof(*e), cmp_mtime);
    for (size_t i = THUMBS_MAX_SETS; i < n; i++)
        if (util_fmt(path, sizeof(path), "%s/%s", th->dir, e[i].name) == 0)
            util_rm_rf(path);
    if (n > THUMBS_MAX_SETS)
        n = THUMBS_MAX_SETS;
    th->old = n ? calloc(n, sizeof(*th->old)) : NULL;
    for (size_t i = 0; th->old && i < n; i++) {
        memcpy(th->old[th->n_old++], e[i].name, VOD_ID_LEN + 1);
        remove_temps(th, e[i].name);
    }
    if (n && !th->old) /* cannot count them: do not keep them either */
        for (size_t i = 0; i < n; i++)
            if (util_fmt(path, sizeof(path), "%s/%s", th->dir, e[i].name) == 0)
                util_rm_rf(path);
    free(e);
}

int vod_thumbs_new(struct vod_manager *m, struct vod_thumbs **out)
{
    struct vod_thumbs *th = calloc(1, sizeof(*th));
    int r;
    *out = NULL;
    if (!th)
        return -ENOMEM;
    th->m = m;
    if ((r = util_fmt(th->dir, sizeof(th->dir), "%s/thumbs", m->cfg->state_dir)) < 0 ||
        (r = util_mkdir_p(th->dir, 0755)) < 0) {
        LOG_ERROR(NULL, "cannot create %s: %s", th->dir, strerror(-r));
        goto fail;
    }
    if (m->cfg->vod.shared_dir) {
        char shared[PATH_MAX];
        if ((r = util_fmt(shared, sizeof(shared), "%s/thumbs", m->cfg->vod.shared_dir)) < 0 ||
            (r = util_mkdir_p(shared, 0755)) < 0) {
            LOG_ERROR(NULL, "cannot create %s/thumbs: %s", m->cfg->vod.shared_dir, strerror(-r));
            goto fail;
        }
    }
    prune_disk(th);
    th->iframes = media_thumbs_iframes_available();
    if (!th->iframes)
        LOG_WARN(NULL, "no libx264: thumbnails without an I-frame playlist");
    if ((r = vod_thumbs_register_routes(th)) < 0) {
        LOG_ERROR(NULL, "cannot register the thumbnails routes: %s", strerror(-r));
        goto fail;
    }
    *out = th;
    return 0;
fail:
    free(th);
    return r;
}

void vod_thumbs_shutdown(struct vod_thumbs *th)
{
    if (!th)
        return;
    th->shutting_down = true;
    for (struct thumbs_set *s = th->sets; s; s = s->next) {
        flush(s, 503, "the server is shutting down");
        if (s->w)
            proc_stop(s->w);
    }
}

void vod_thumbs_free(struct vod_thumbs **thp)
{
    struct vod_thumbs *th = thp ? *thp : NULL;
    if (!th)
        return;
    th->shutting_down = true;
    while (th->sets) {
        struct thumbs_set *s = th->sets;
        th->sets = s->next;
        proc_free(&s->w); /* files are complete or temp: the cache stays valid */
        flush(s, 503, "the server is shutting down");
        set_free(s);
    }
    free(th->old);
    free(th);
    *thp = NULL;
}

int vod_thumbs_iframe_inf(struct vod_manager *m, const char *camera, double start, double end,
                          char *buf, size_t size)
{
    struct thumbs_set *s = NULL;
    if (!m->thumbs)
        return -ENOENT;
    if (!m->thumbs->iframes)
        return -ENOTSUP; /* no I-frame files can be made: the master does not name them */
    int r =
        vod_thumbs_get(m->thumbs, camera, start, end, thumbgrid_default_interval(end - start), &s);
    if (r < 0)
        return r;
    return util_fmt(buf, size,
                    "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%.0f,CODECS=\"%s\",RESOLUTION=%dx%d,"
                    "URI=\"/stream/thumbs/%s/%s\"\n",
                    s->iframe_bandwidth, THUMBS_IFRAME_CODECS, vod_thumbs_layout.tile_width,
                    vod_thumbs_layout.tile_height, s->id, THUMBS_IFRAMES);
}
