/* The recordings manager: the session key, the routes, the periodic tick
 * (idle sessions, watched folders) and the helper children that index
 * recordings outside the daemon process (scan, sample). */
#include "vod/session_priv.h"
#include "vod/export.h"

#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_SECONDS 0.5
#define SCAN_INTERVAL 10.0
#define SESSION_KEY_FILE "session.key"

/* 32 random bytes in <state>/session.key (0600): session ids are keyed hashes
 * of (camera, range), deterministic for this installation but not guessable. */
/* The key of session ids, from dir (the state folder, or vod.shared_dir in
 * a cluster, where every node must derive the same ids). A new key is
 * written to a temp file and link()ed into place, which fails when another
 * node was first: then that node's key is read. */
static int load_key(const char *dir, bool shared, unsigned char key[32])
{
    char path[PATH_MAX], tmp[PATH_MAX + 32], rnd[17];
    int fd = -1, r;
    ssize_t n;

    if ((r = util_fmt(path, sizeof(path), "%s/%s", dir, SESSION_KEY_FILE)) < 0)
        return r;
    for (int attempt = 0; attempt < 3; attempt++) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            n = read(fd, key, 32);
            close(fd);
            if (n == 32)
                return 0;
            /* Another node may be using a shared key: never replace it. */
            if (shared) {
                LOG_ERROR(NULL,
                          "%s is damaged (not 32 bytes): delete it on purpose to make "
                          "a new key for the whole cluster",
                          path);
                return -EINVAL;
            }
            LOG_WARN(NULL, "%s is damaged: making a new session key", path);
            unlink(path);
        } else if (errno != ENOENT) {
            return -errno;
        }
        if ((r = util_random_bytes(key, 32)) < 0 || (r = util_random_hex(rnd, 8)) < 0 ||
            (r = util_fmt(tmp, sizeof(tmp), "%s.tmp.%s", path, rnd)) < 0)
            return r;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        n = write(fd, key, 32);
        r = n == 32 && fsync(fd) == 0 ? 0 : -EIO;
        close(fd);
        /* link() fails when the file exists: only one node's key lands;
         * everyone then reads what landed (the loop). */
        if (r == 0 && link(tmp, path) < 0 && errno != EEXIST)
            r = -errno;
        unlink(tmp);
        if (r < 0)
            return r;
    }
    return -EAGAIN;
}

/* ---- helper children and the periodic tick ------------------------------ */

static void on_helper_exit(void *arg, struct proc *p, int wstatus, bool requested);

static const struct proc_callbacks helper_cb = {.on_exit = on_helper_exit};

/* The proc module logs the failure, and how the child ends. */
static void spawn_recordings_child(struct vod_manager *m, const char *what, struct proc **out)
{
    const struct cfg_vod *v = &m->cfg->vod;
    size_t n = 0;
    char *argv[16 + 64];
    char name[32];

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
    snprintf(name, sizeof(name), "recordings %s", what);
    struct proc_opts o = {
        .name = name,
        .argv = argv,
        .nice = m->cfg->vod.nice,
        /* The sample recording must not slow anything down. */
        .idle = strcmp(what, "sample") == 0,
    };
    proc_spawn(&o, &helper_cb, m, out);
}

/* From the proc module's SIGCHLD reaping: the helper is gone, a later tick
 * may start the next scan. */
static void on_helper_exit(void *arg, struct proc *p, int wstatus, bool requested)
{
    struct vod_manager *m = arg;
    (void)wstatus;
    (void)requested;
    if (p == m->scan)
        proc_free(&m->scan);
    else if (p == m->sample)
        proc_free(&m->sample);
    else
        proc_free(&p);
}

/* Removes the .trash-* folders that could not be removed at once. */
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
    if (m->cfg->vod.n_watch_dirs > 0 && !m->scan && now >= m->next_scan) {
        spawn_recordings_child(m, "scan", &m->scan);
        m->next_scan = now + SCAN_INTERVAL;
    }
    for (struct vod_session *s = m->sessions, *next; s; s = next) {
        next = s->next;
        vod_session_release_if_idle(s, now);
        /* A waiting request is activity: it keeps the session alive. */
        if (!vod_session_waiting(s) && now - s->last_access > m->cfg->vod.ttl) {
            LOG_INFO(s->name, "idle for %.0f s: removing the session", now - s->last_access);
            vod_session_destroy(s, 410, "session expired");
        }
    }
    vod_export_tick(m, now);
    if (m->trash_pending)
        sweep_trash(m);
    m->tick = loop_timer_add(m->loop, TICK_SECONDS, on_tick, m);
}

/* /metrics: sessions by state (the states of vod_session_state). */
static void vod_metrics(void *arg, struct metrics_out *o)
{
    static const char *const states[] = {"starting", "encoding", "paused", "idle",
                                         "done",     "failed",   "stopped"};
    const struct vod_manager *m = arg;
    double n[UTIL_ARRAY_LEN(states)] = {0};
    for (const struct vod_session *s = m->sessions; s; s = s->next) {
        const char *st = vod_session_state(s);
        for (size_t i = 0; i < UTIL_ARRAY_LEN(states); i++)
            if (strcmp(st, states[i]) == 0)
                n[i]++;
    }
    int workers = 0;
    for (const struct vod_session *s = m->sessions; s; s = s->next)
        workers += vod_session_workers(s);
    metrics_out_family(o, "hlsd_transcode_workers_encoding", "gauge",
                       "Transcode workers encoding or planning (what vod.max_concurrent limits)");
    metrics_out_sample(o, "hlsd_transcode_workers_encoding", NULL, vod_active_count(m));
    metrics_out_family(o, "hlsd_transcode_workers", "gauge",
                       "Transcode worker processes, paused ones included");
    metrics_out_sample(o, "hlsd_transcode_workers", NULL, workers);
    metrics_out_family(o, "hlsd_transcode_sessions", "gauge", "Transcode sessions by state");
    for (size_t i = 0; i < UTIL_ARRAY_LEN(states); i++)
        metrics_out_sample(o, "hlsd_transcode_sessions",
                           (const char *const[]){"state", states[i], NULL}, n[i]);
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
    r = util_fmt(m->transcode_dir, sizeof(m->transcode_dir), "%s/transcode", cfg->state_dir);
    if (r < 0) {
        LOG_ERROR(NULL, "state folder path too long: %s", cfg->state_dir);
        goto fail;
    }
    if ((r = vod_index_open(cfg->state_dir, &m->ix, err, sizeof(err))) < 0) {
        LOG_ERROR(NULL, "recordings index %s", err);
        goto fail;
    }
    const char *key_dir = cfg->vod.shared_dir ? cfg->vod.shared_dir : cfg->state_dir;
    if (cfg->vod.shared_dir) {
        char reg[PATH_MAX];
        if ((r = util_fmt(reg, sizeof(reg), "%s/sessions", cfg->vod.shared_dir)) < 0 ||
            (r = util_mkdir_p(reg, 0755)) < 0) {
            LOG_ERROR(NULL, "vod.shared_dir %s: %s", cfg->vod.shared_dir, strerror(-r));
            goto fail;
        }
    }
    if ((r = load_key(key_dir, cfg->vod.shared_dir != NULL, m->key)) < 0) {
        LOG_ERROR(NULL, "session key in %s: %s", key_dir, strerror(-r));
        goto fail;
    }
    /* Sessions do not survive a restart: their folders are stale. */
    util_rm_rf(m->transcode_dir);
    if ((r = util_mkdir_p(m->transcode_dir, 0755)) < 0) {
        LOG_ERROR(NULL, "cannot create %s: %s", m->transcode_dir, strerror(-r));
        goto fail;
    }
    if ((r = vod_register_session_routes(m)) < 0 || (r = vod_register_catalog_routes(m)) < 0 ||
        (r = vod_export_init(m)) < 0) {
        LOG_ERROR(NULL, "cannot register the recordings routes: %s", strerror(-r));
        goto fail;
    }
    if ((r = vod_thumbs_new(m, &m->thumbs)) < 0)
        goto fail;
    if (cfg->vod.sample_recording) {
        long have = 0;
        if (vod_index_count(m->ix, "sample", &have) == 0 && have == 0) {
            LOG_INFO(NULL, "generating the sample recording (camera \"sample\")");
            spawn_recordings_child(m, "sample", &m->sample);
        }
    }
    m->next_scan = util_now_mono();
    m->tick = loop_timer_add(loop, cfg->vod.n_watch_dirs ? 0.0 : TICK_SECONDS, on_tick, m);
    if (!m->tick || (r = metrics_register_provider(vod_metrics, m)) < 0) {
        r = -ENOMEM;
        LOG_ERROR(NULL, "recordings: %s", strerror(-r));
        goto fail;
    }
    *out = m;
    return 0;
fail:
    vod_manager_free(&m);
    return r;
}

/* No new sessions, ticks or helper children from here on. */
static void stop_background(struct vod_manager *m)
{
    m->shutting_down = true;
    loop_timer_cancel(m->loop, &m->tick);
    /* Killed (SIGKILL) and reaped by the proc module without callbacks. */
    proc_free(&m->scan);
    proc_free(&m->sample);
}

void vod_manager_shutdown(struct vod_manager *m)
{
    if (!m)
        return;
    stop_background(m);
    vod_thumbs_shutdown(m->thumbs);
    for (struct vod_session *s = m->sessions; s; s = s->next) {
        vod_session_flush_waiters(s, 503, "the server is shutting down");
        vod_session_stop_workers(s);
    }
    vod_export_shutdown(m);
}

void vod_manager_free(struct vod_manager **mp)
{
    struct vod_manager *m = mp ? *mp : NULL;
    if (!m)
        return;
    metrics_unregister_provider(vod_metrics, m);
    stop_background(m);
    while (m->sessions)
        vod_session_destroy(m->sessions, 503, "the server is shutting down");
    vod_export_free_all(m);
    if (m->trash_pending)
        sweep_trash(m);
    vod_thumbs_free(&m->thumbs);
    vod_index_close(&m->ix);
    free(m);
    *mp = NULL;
}
