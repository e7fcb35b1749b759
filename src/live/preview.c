/* Live previews: the state machine of each port (start, stop ladder, respawn
 * with backoff after a worker crash, on-demand idle stop) and the worker job.
 * The worker reconnects to a failing input by itself; the daemon only
 * restarts workers that died. HTTP handlers live in preview_api.c. */
#include "live/preview_priv.h"

#include "core/jobspec.h"
#include "core/log.h"
#include "core/util.h"
#include "media/playlist.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void respawn_cb(void *arg);
static void idle_cb(void *arg);

const char *live_state_name(enum live_state s)
{
    switch (s) {
    case LIVE_STOPPED:
        return "stopped";
    case LIVE_STARTING:
        return "starting";
    case LIVE_RUNNING:
        return "running";
    case LIVE_RECONNECTING:
        return "reconnecting";
    case LIVE_STOPPING:
        return "stopping";
    case LIVE_FAILED:
        return "failed";
    }
    return "unknown";
}

bool live_port_previewing(const struct live_port *p)
{
    return p->state == LIVE_STARTING || p->state == LIVE_RUNNING || p->state == LIVE_RECONNECTING;
}

struct live_port *live_find_port(struct live_manager *m, long index)
{
    for (size_t i = 0; i < m->n_ports; i++)
        if (m->ports[i].cfg->index == index)
            return &m->ports[i];
    return NULL;
}

static void set_error(struct live_port *p, const char *msg)
{
    free(p->last_error);
    p->last_error = msg ? util_xstrdup(msg) : NULL;
}

/* ---- waiting playlist requests ---- */

static void waiter_timeout(void *arg, struct http_waiter *w)
{
    struct live_port *p = arg;
    http_respond_error(w->req, 504, "port %d: no segment within %g s%s%s", p->cfg->index,
                       p->cfg->preview.start_timeout, p->last_error ? ": " : "",
                       p->last_error ? p->last_error : "");
}

int live_port_wait_first_segment(struct live_port *p, struct http_request *req)
{
    return http_wait_add(&p->first_segment, req, p->cfg->preview.start_timeout, NULL);
}

struct answer_ctx {
    struct live_port *p;
    unsigned status; /* 0: the playlist */
    const char *msg;
};

static void answer_one(void *arg, struct http_waiter *w)
{
    const struct answer_ctx *c = arg;
    if (c->status == 0)
        http_respond_file(w->req, c->p->m->hls_dir, c->p->playlist);
    else
        http_respond_error(w->req, c->status, "port %d: %s", c->p->cfg->index, c->msg);
}

/* Answers every waiting request: with the playlist (status 0) or an error. */
static void answer_waiters(struct live_port *p, unsigned status, const char *msg)
{
    struct answer_ctx c = {p, status, msg};
    http_wait_wake_all(&p->first_segment, answer_one, &c);
}

/* ---- files ---- */

static bool is_port_file(const struct live_port *p, const char *name)
{
    size_t pl = strlen(p->playlist);
    if (strncmp(name, p->file_prefix, strlen(p->file_prefix)) == 0)
        return true;
    /* the playlist itself and its temp files ("port_3.m3u8.tmp.123") */
    return strncmp(name, p->playlist, pl) == 0 && (name[pl] == '\0' || name[pl] == '.');
}

/* True when the playlist lists name: a segment, a part, the init segment. */
static bool playlist_refers_to(const struct playlist *pl, const char *name)
{
    if (pl->map_uri && strcmp(pl->map_uri, name) == 0)
        return true;
    for (size_t i = 0; i < pl->n_segs; i++) {
        if (strcmp(pl->segs[i].uri, name) == 0)
            return true;
        for (size_t j = 0; j < pl->segs[i].n_parts; j++)
            if (strcmp(pl->segs[i].parts[j].uri, name) == 0)
                return true;
    }
    for (size_t j = 0; j < pl->n_pending_parts; j++)
        if (strcmp(pl->pending_parts[j].uri, name) == 0)
            return true;
    return false;
}

/* Removes the port's files from the HLS folder. keep_current: keep the
 * playlist and the segments it lists (a crashed worker's successor continues
 * them) and only remove leftovers (temp files, segments already out of the
 * window whose delayed deletion died with the worker). */
static void sweep_port_files(struct live_port *p, bool keep_current)
{
    struct playlist pl;
    bool have_pl = false;
    char path[PATH_MAX];
    DIR *d = NULL;
    struct dirent *e;

    playlist_init(&pl, PLAYLIST_LIVE, 0);
    if (keep_current && util_fmt(path, sizeof(path), "%s/%s", p->m->hls_dir, p->playlist) == 0)
        have_pl = playlist_read(path, &pl) == 0;
    d = opendir(p->m->hls_dir);
    if (!d)
        goto out;
    while ((e = readdir(d)) != NULL) {
        if (!is_port_file(p, e->d_name))
            continue;
        if (keep_current && (strcmp(e->d_name, p->playlist) == 0 ||
                             (have_pl && playlist_refers_to(&pl, e->d_name))))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            LOG_WARN(p->log_name, "cannot remove %s/%s: %s", p->m->hls_dir, e->d_name,
                     strerror(errno));
    }
    closedir(d);
out:
    playlist_clear(&pl);
}

/* After the preview ended: make sure the playlist says so. A worker that
 * honoured the stop request wrote ENDLIST itself; one that had to be killed
 * (or crashed and is not respawned) did not. */
static void finish_playlist(struct live_port *p)
{
    char path[PATH_MAX];
    struct playlist pl;
    int r;

    if (util_fmt(path, sizeof(path), "%s/%s", p->m->hls_dir, p->playlist) < 0)
        return;
    playlist_init(&pl, PLAYLIST_LIVE, 0);
    r = playlist_read(path, &pl);
    if (r == -ENOENT)
        goto out;
    if (r < 0) {
        LOG_WARN(p->log_name, "cannot read %s to end it: %s", path, strerror(-r));
        goto out;
    }
    if (!pl.ended) {
        pl.ended = true;
        playlist_set_preload_hint(&pl, NULL); /* LL-HLS: nothing follows an ENDLIST */
        r = playlist_write(&pl, path);
        if (r < 0)
            LOG_WARN(p->log_name, "cannot write ENDLIST to %s: %s", path, strerror(-r));
        else
            LOG_DEBUG(p->log_name, "appended ENDLIST to %s", p->playlist);
    }
out:
    playlist_clear(&pl);
}

/* ---- the worker job ---- */

cJSON *live_input_json(const struct cfg_input *in, const char *url)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    http_json_add_string_or_null(o, "format", in->format);
    cJSON_AddStringToObject(o, "url", url);
    return o;
}

/* The demuxer options of an input as the job's object (caller deletes). */
static cJSON *options_json(const struct cfg_input *in)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < in->n_options; i++) {
        if (!cJSON_AddStringToObject(o, in->options[i].key, in->options[i].value)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* Config bit rates were checked when it loaded; NULL = none (0). */
static int64_t bitrate(const char *s)
{
    int64_t bps = 0;
    if (s && util_parse_bitrate(s, &bps) < 0)
        bps = 0;
    return bps;
}

/* The port's job; *out is owned by the caller. 0, or -ENOMEM / -EINVAL with
 * the reason in err. */
static int build_job(const struct live_port *p, const char *segment_prefix, bool cont, cJSON **out,
                     char *err, size_t errlen)
{
    const struct cfg_preview *pv = &p->cfg->preview;
    const struct cfg_input *ain = p->cfg->audio_input;
    struct jobspec_live j;
    cJSON *vopts = NULL, *aopts = NULL;
    int r = -ENOMEM;

    *out = NULL;
    vopts = options_json(&p->cfg->input);
    if (!vopts || (ain && !(aopts = options_json(ain))))
        goto out;
    jobspec_live_defaults(&j);
    j.name = p->log_name;
    j.out_dir = p->m->hls_dir;
    j.playlist = p->playlist;
    j.segment_prefix = segment_prefix;
    j.input = (struct jobspec_input){p->cfg->input.format, p->cfg->input.url, vopts};
    if (ain)
        j.audio_input = (struct jobspec_input){ain->format, ain->url, aopts};
    j.realtime = true;
    j.video = (struct jobspec_video){
        .encoder = pv->video.encoder,
        .preset = pv->video.preset,
        .tune = pv->video.tune,
        .bitrate = bitrate(pv->video.bitrate),
        .crf = pv->video.crf,
        .max_width = pv->video.width,
        .max_height = pv->video.height,
    };
    j.audio.bitrate = bitrate(pv->audio_bitrate);
    j.hls = (struct jobspec_hls){
        .variant = pv->hls.variant,
        .segment_seconds = pv->hls.segment_seconds,
        .part_seconds = pv->hls.part_seconds,
        .list_size = pv->hls.list_size,
        .delete_segments = pv->hls.delete_segments,
    };
    j.stall_timeout = pv->stall_timeout;
    j.io_timeout = pv->io_timeout;
    /* the config refuses longer lists */
    j.n_backoff = pv->n_backoff < JOBSPEC_MAX_BACKOFF ? pv->n_backoff : JOBSPEC_MAX_BACKOFF;
    if (j.n_backoff)
        memcpy(j.backoff, pv->backoff, j.n_backoff * sizeof(double));
    j.cont = cont;
    r = jobspec_live_to_json(&j, out, err, errlen);
out:
    if (r == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    cJSON_Delete(aopts);
    cJSON_Delete(vopts);
    return r;
}

/* ---- worker events ---- */

static void arm_idle(struct live_port *p, double seconds)
{
    loop_timer_cancel(p->m->loop, &p->idle_timer);
    if (!p->cfg->on_demand)
        return;
    p->idle_timer = loop_timer_add(p->m->loop, seconds > 0.05 ? seconds : 0.05, idle_cb, p);
}

static void idle_cb(void *arg)
{
    struct live_port *p = arg;
    double idle_for = util_now_mono() - p->last_request;
    double limit = p->cfg->preview.idle_seconds;

    p->idle_timer = NULL;
    if (!live_port_previewing(p))
        return;
    if (http_wait_count(&p->first_segment) > 0 ||
        http_wait_count(&p->ll.waiters) > 0) { /* someone is waiting: not idle */
        arm_idle(p, limit);
        return;
    }
    if (idle_for + 0.01 < limit) {
        arm_idle(p, limit - idle_for);
        return;
    }
    char why[64];
    snprintf(why, sizeof(why), "no request for %.1f s (on-demand)", idle_for);
    live_port_stop(p, why);
}

static double num_field(const cJSON *msg, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void on_worker_message(void *arg, struct proc *w, const cJSON *msg)
{
    struct live_port *p = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message"));

    (void)w;
    if (!type)
        return;
    if (strcmp(type, "started") == 0) {
        p->width = (int)num_field(msg, "width", 0);
        p->height = (int)num_field(msg, "height", 0);
        if (p->state == LIVE_STARTING || p->state == LIVE_RECONNECTING)
            p->state = LIVE_RUNNING;
    } else if (strcmp(type, "segment") == 0) {
        p->segments++;
        p->crash_streak = 0;
        if (p->state == LIVE_STARTING || p->state == LIVE_RECONNECTING)
            p->state = LIVE_RUNNING;
        if (!p->have_segment) {
            p->have_segment = true;
            answer_waiters(p, 0, NULL);
        }
        live_ll_on_event(p, type, msg);
    } else if (strcmp(type, "part") == 0) {
        live_ll_on_event(p, type, msg);
    } else if (strcmp(type, "progress") == 0) {
        p->fps = num_field(msg, "fps", p->fps);
        p->bitrate = num_field(msg, "bitrate", p->bitrate);
    } else if (strcmp(type, "input_error") == 0) {
        p->worker_restarts = (long)num_field(msg, "restarts", (double)(p->worker_restarts + 1));
        set_error(p, text ? text : "input failed");
        if (p->state == LIVE_RUNNING || p->state == LIVE_STARTING)
            p->state = LIVE_RECONNECTING;
        LOG_WARN(p->log_name, "input: %s (retry in %g s)", text ? text : "failed",
                 num_field(msg, "retry_in", 0));
    } else if (strcmp(type, "error") == 0) {
        p->fatal = true;
        set_error(p, text ? text : "fatal worker error");
    }
}

static void describe_exit(int wstatus, char *buf, size_t size)
{
    if (WIFSIGNALED(wstatus))
        snprintf(buf, size, "worker killed by signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
    else if (WIFEXITED(wstatus))
        snprintf(buf, size, "worker exited with status %d", WEXITSTATUS(wstatus));
    else
        snprintf(buf, size, "worker ended (wait status 0x%x)", (unsigned)wstatus);
}

static void on_worker_exit(void *arg, struct proc *w, int wstatus, bool requested)
{
    struct live_port *p = arg;
    struct live_manager *m = p->m;
    char what[128];
    bool fatal = p->fatal || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 1);

    describe_exit(wstatus, what, sizeof(what));
    if (w == p->w)
        proc_free(&p->w);
    else
        proc_free(&w);
    p->restarts_base += p->worker_restarts;
    p->worker_restarts = 0;
    p->fps = p->bitrate = 0;
    p->fatal = false;

    if (requested || p->state == LIVE_STOPPING || m->shutting_down) {
        LOG_INFO(p->log_name, "preview stopped (%s)", what);
        p->state = LIVE_STOPPED;
        finish_playlist(p);
        live_ll_answer_all(p, 0, NULL);
        loop_timer_cancel(m->loop, &p->idle_timer);
        if (p->restart_after_stop && !m->shutting_down) {
            p->restart_after_stop = false;
            live_port_start(p, "start requested while stopping");
        } else {
            answer_waiters(p, 503, "preview stopped");
        }
        return;
    }
    if (fatal) {
        if (!p->last_error)
            set_error(p, what);
        LOG_ERROR(p->log_name, "preview failed: %s (%s)", p->last_error, what);
        p->state = LIVE_FAILED;
        finish_playlist(p);
        live_ll_answer_all(p, 0, NULL);
        loop_timer_cancel(m->loop, &p->idle_timer);
        answer_waiters(p, 502, p->last_error);
        return;
    }

    /* Crash (signal, unexpected exit): respawn with backoff and continue
     * the same playlist with a discontinuity. */
    const struct cfg_preview *pv = &p->cfg->preview;
    double delay = 1;
    if (pv->n_backoff > 0)
        delay = pv->backoff[p->crash_streak < pv->n_backoff ? p->crash_streak : pv->n_backoff - 1];
    p->crash_streak++;
    p->restarts_base++;
    set_error(p, what);
    p->state = LIVE_RECONNECTING;
    LOG_WARN(p->log_name, "%s; restarting in %g s", what, delay);
    loop_timer_cancel(m->loop, &p->respawn_timer);
    p->respawn_timer = loop_timer_add(m->loop, delay, respawn_cb, p);
    if (!p->respawn_timer) {
        p->state = LIVE_FAILED;
        live_ll_answer_all(p, 502, what);
        answer_waiters(p, 502, what);
    }
}

static const struct proc_callbacks live_worker_cb = {
    .on_message = on_worker_message,
    .on_exit = on_worker_exit,
};

/* Spawns the worker; cont: continue the existing playlist (crash respawn). */
static int spawn_worker(struct live_port *p, bool cont)
{
    struct live_manager *m = p->m;
    char runid[17], prefix[96], msg[200], jerr[128] = "";
    cJSON *job = NULL;
    bool logged = false; /* proc_spawn logs its own failures */
    int r;

    r = util_random_hex(runid, 4);
    if (r < 0)
        goto out;
    r = util_fmt(prefix, sizeof(prefix), "%s%s-", p->file_prefix, runid);
    if (r < 0)
        goto out;
    sweep_port_files(p, cont);
    if ((r = build_job(p, prefix, cont, &job, jerr, sizeof(jerr))) < 0)
        goto out;
    struct proc_opts opts = {
        .name = p->log_name,
        .job = job,
        .nice = 0,
        .memory_mb = m->cfg->workers.memory_mb,
        .cpu_seconds = m->cfg->workers.cpu_seconds,
        .ask_seconds = 3,
        .term_seconds = 2,
    };
    p->fatal = false;
    r = proc_spawn(&opts, &live_worker_cb, p, &p->w);
    logged = r < 0;
    if (r < 0)
        goto out;
    LOG_INFO(p->log_name, "worker %ld started (%s, segments %s*)", (long)proc_pid(p->w),
             cont ? "continuing the playlist" : "new playlist", prefix);
out:
    cJSON_Delete(job);
    if (r < 0) {
        snprintf(msg, sizeof(msg), "cannot start worker: %s", jerr[0] ? jerr : strerror(-r));
        set_error(p, msg);
        if (!logged)
            LOG_ERROR(p->log_name, "%s", msg);
    }
    return r;
}

static void respawn_cb(void *arg)
{
    struct live_port *p = arg;
    p->respawn_timer = NULL;
    if (p->state != LIVE_RECONNECTING || p->w || p->m->shutting_down)
        return;
    if (spawn_worker(p, true) < 0) {
        /* Keep trying on the backoff ladder; spawning failures are rare and
         * usually transient (fork limits, memory). */
        const struct cfg_preview *pv = &p->cfg->preview;
        double delay = pv->n_backoff ? pv->backoff[pv->n_backoff - 1] : 30;
        p->respawn_timer = loop_timer_add(p->m->loop, delay, respawn_cb, p);
    }
}

int live_port_start(struct live_port *p, const char *why)
{
    struct live_manager *m = p->m;
    int r;

    if (m->shutting_down)
        return -ESHUTDOWN;
    if (live_port_previewing(p))
        return 0;
    if (p->state == LIVE_STOPPING) {
        p->restart_after_stop = true;
        return 0;
    }
    /* A fresh preview: new playlist, counters from zero. */
    set_error(p, NULL);
    p->segments = 0;
    p->restarts_base = p->worker_restarts = 0;
    p->crash_streak = 0;
    p->fps = p->bitrate = 0;
    p->width = p->height = 0;
    p->have_segment = false;
    live_ll_reset(p);
    p->started_at = util_now_wall();
    p->last_request = util_now_mono();
    r = spawn_worker(p, false);
    if (r < 0) {
        p->state = LIVE_FAILED;
        return r;
    }
    LOG_INFO(p->log_name, "preview starting (%s)", why);
    p->state = LIVE_STARTING;
    arm_idle(p, p->cfg->preview.idle_seconds);
    return 0;
}

bool live_port_stop(struct live_port *p, const char *why)
{
    struct live_manager *m = p->m;

    p->restart_after_stop = false;
    loop_timer_cancel(m->loop, &p->idle_timer);
    if (p->state == LIVE_STOPPING)
        return false;
    if (p->w) {
        LOG_INFO(p->log_name, "stopping preview (%s)", why);
        p->state = LIVE_STOPPING;
        proc_stop(p->w);
        return true;
    }
    if (p->state == LIVE_RECONNECTING) {
        /* Waiting to respawn a crashed worker: nothing runs, end it here. */
        loop_timer_cancel(m->loop, &p->respawn_timer);
        LOG_INFO(p->log_name, "preview stopped while waiting to restart (%s)", why);
        p->state = LIVE_STOPPED;
        finish_playlist(p);
        live_ll_answer_all(p, 0, NULL);
        answer_waiters(p, 503, "preview stopped");
        return true;
    }
    if (p->state == LIVE_FAILED) /* acknowledged: back to stopped, error kept */
        p->state = LIVE_STOPPED;
    return false;
}

void live_port_touch(struct live_port *p)
{
    p->last_request = util_now_mono();
}

cJSON *live_port_status_json(const struct live_port *p)
{
    cJSON *o = cJSON_CreateObject();
    char buf[64];

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "index", p->cfg->index);
    cJSON_AddStringToObject(o, "name", p->cfg->name);
    cJSON_AddBoolToObject(o, "previewing", live_port_previewing(p));
    cJSON_AddStringToObject(o, "state", live_state_name(p->state));
    cJSON_AddBoolToObject(o, "on_demand", p->cfg->on_demand);
    snprintf(buf, sizeof(buf), "/hls/%s", p->playlist);
    cJSON_AddStringToObject(o, "playlist", buf);
    bool started = isfinite(p->started_at) && p->state != LIVE_STOPPED &&
                   playlist_format_pdt(p->started_at, buf, sizeof(buf)) == 0;
    http_json_add_string_or_null(o, "started_at", started ? buf : NULL);
    cJSON_AddNumberToObject(o, "fps", p->fps);
    cJSON_AddNumberToObject(o, "bitrate", p->bitrate);
    cJSON_AddNumberToObject(o, "width", p->width);
    cJSON_AddNumberToObject(o, "height", p->height);
    cJSON_AddNumberToObject(o, "segments", (double)p->segments);
    cJSON_AddNumberToObject(o, "restarts", (double)(p->restarts_base + p->worker_restarts));
    http_json_add_string_or_null(o, "last_error", p->last_error);
    if (p->w && proc_alive(p->w))
        cJSON_AddNumberToObject(o, "pid", proc_pid(p->w));
    else
        cJSON_AddNullToObject(o, "pid");
    return o;
}

cJSON *live_manager_status_json(const struct live_manager *m)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && m && i < m->n_ports; i++) {
        cJSON *o = live_port_status_json(&m->ports[i]);
        if (!o) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- manager ---- */

int live_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http,
                     struct live_manager **out)
{
    struct live_manager *m = NULL;
    int r;

    *out = NULL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->cfg = cfg;
    m->http = http;
    r = util_fmt(m->hls_dir, sizeof(m->hls_dir), "%s/hls", cfg->state_dir);
    if (r < 0)
        goto fail;
    /* Files of an earlier run (e.g. a daemon killed with SIGKILL) are stale:
     * their playlists never got ENDLIST and no worker writes them anymore. */
    r = util_rm_rf(m->hls_dir);
    if (r < 0 && r != -ENOENT) {
        LOG_ERROR("live", "cannot remove stale %s: %s", m->hls_dir, strerror(-r));
        goto fail;
    }
    r = util_mkdir_p(m->hls_dir, 0755);
    if (r < 0) {
        LOG_ERROR("live", "cannot create %s: %s", m->hls_dir, strerror(-r));
        goto fail;
    }
    if (cfg->n_ports > 0) {
        m->ports = calloc(cfg->n_ports, sizeof(*m->ports));
        if (!m->ports) {
            r = -ENOMEM;
            goto fail;
        }
    }
    m->n_ports = cfg->n_ports;
    for (size_t i = 0; i < cfg->n_ports; i++) {
        struct live_port *p = &m->ports[i];
        p->m = m;
        p->cfg = &cfg->ports[i];
        p->state = LIVE_STOPPED;
        p->started_at = NAN;
        snprintf(p->log_name, sizeof(p->log_name), "port %d", p->cfg->index);
        snprintf(p->playlist, sizeof(p->playlist), "port_%d.m3u8", p->cfg->index);
        snprintf(p->file_prefix, sizeof(p->file_prefix), "port_%d-", p->cfg->index);
        http_wait_init(&p->first_segment, waiter_timeout, p);
        live_ll_init(p);
    }
    if (http) {
        r = live_api_register(m);
        if (r < 0)
            goto fail;
    }
    *out = m;
    return 0;
fail:
    live_manager_free(&m);
    return r;
}

void live_manager_shutdown(struct live_manager *m)
{
    if (!m)
        return;
    m->shutting_down = true;
    for (size_t i = 0; i < m->n_ports; i++) {
        struct live_port *p = &m->ports[i];
        live_port_stop(p, "daemon shutting down");
        loop_timer_cancel(m->loop, &p->respawn_timer);
        answer_waiters(p, 503, "daemon shutting down");
        live_ll_answer_all(p, 503, "daemon shutting down");
    }
}

void live_manager_free(struct live_manager **mp)
{
    struct live_manager *m = mp ? *mp : NULL;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_ports; i++) {
        struct live_port *p = &m->ports[i];
        loop_timer_cancel(m->loop, &p->respawn_timer);
        loop_timer_cancel(m->loop, &p->idle_timer);
        answer_waiters(p, 503, "daemon shutting down");
        live_ll_answer_all(p, 503, "daemon shutting down");
        proc_free(&p->w);
        free(p->last_error);
    }
    free(m->ports);
    free(m);
    *mp = NULL;
}
