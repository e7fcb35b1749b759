/* Daemon side of the workers. Everything runs on the loop's thread. Processes
 * are reaped only by waitpid(pid) on our own pids (never waitpid(-1)), so a
 * pid we signal is never a recycled one: until we reap it, it is ours. */
#include "worker/supervisor.h"

#include "core/log.h"
#include "core/util.h"
#include "worker/protocol.h"
#include "worker/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Pending output above this means the worker stopped reading: refuse more. */
#define OUT_MAX (4 * 1024 * 1024)
/* Safety net for a lost SIGCHLD (a thread that does not block it would take it). */
#define REAP_POLL_SECONDS 1.0
/* After the ladder's last step, how long shutdown still waits for the reap. */
#define SHUTDOWN_KILL_WAIT 1.0

enum ladder { LADDER_NONE, LADDER_ASKED, LADDER_TERM, LADDER_KILL };

struct worker {
    char *name;
    pid_t pid;
    int fd; /* -1 once the channel is closed */
    struct proto_reader rd;
    char *out; /* bytes not yet written to the channel */
    size_t out_len, out_off;
    struct worker_callbacks cb;
    void *arg;
    double ask_seconds, term_seconds;
    double started_at;
    enum ladder ladder;
    struct loop_timer *timer;
    bool requested; /* worker_stop() was called */
    bool signalled; /* we sent a signal (a signal death is then not a crash) */
    bool reaped;
    bool detached; /* worker_free() was called: no more callbacks */
    int busy;      /* callbacks running on this worker */
    struct worker *next;
};

static struct {
    struct loop *loop;
    char *self_exe;
    char *log_level;
    struct worker *workers;
    struct loop_timer *poll_timer;
    unsigned long crashes; /* exits logged as crashes (log_exit) */
} g;

static void reap_all(void);

static void unlink_worker(struct worker *w)
{
    for (struct worker **pp = &g.workers; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

static void close_channel(struct worker *w)
{
    if (w->fd < 0)
        return;
    if (g.loop)
        loop_del_fd(g.loop, w->fd);
    close(w->fd);
    w->fd = -1;
    proto_reader_reset(&w->rd);
    free(w->out);
    w->out = NULL;
    w->out_len = w->out_off = 0;
}

static void destroy(struct worker *w)
{
    unlink_worker(w);
    close_channel(w);
    if (g.loop)
        loop_timer_cancel(g.loop, &w->timer);
    free(w->name);
    free(w);
}

/* Frees a detached worker once it is reaped and no callback is on the stack. */
static void maybe_destroy(struct worker *w)
{
    if (w->detached && w->reaped && w->busy == 0)
        destroy(w);
}

static const char *sig_name(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, len, "SIG%s", abbrev);
    else
        snprintf(buf, len, "signal %d", sig);
    return buf;
}

static void send_signal(struct worker *w, int sig)
{
    if (w->reaped || w->pid <= 0)
        return;
    char sn[32];
    LOG_DEBUG(w->name, "sending %s to worker pid %d", sig_name(sig, sn, sizeof(sn)), (int)w->pid);
    w->signalled = true;
    if (kill(w->pid, sig) < 0 && errno != ESRCH)
        LOG_WARN(w->name, "kill(%d, %d): %s", (int)w->pid, sig, strerror(errno));
}

/* ---- stop ladder ---- */

static void on_ladder_timer(void *arg)
{
    struct worker *w = arg;
    w->timer = NULL;
    if (w->reaped)
        return;
    if (w->ladder == LADDER_ASKED) {
        LOG_WARN(w->name, "worker pid %d still running %.1f s after the stop request: SIGTERM",
                 (int)w->pid, w->ask_seconds);
        w->ladder = LADDER_TERM;
        send_signal(w, SIGTERM);
        w->timer = loop_timer_add(g.loop, w->term_seconds, on_ladder_timer, w);
    } else if (w->ladder == LADDER_TERM) {
        LOG_WARN(w->name, "worker pid %d ignored SIGTERM for %.1f s: SIGKILL", (int)w->pid,
                 w->term_seconds);
        w->ladder = LADDER_KILL;
        send_signal(w, SIGKILL);
    }
}

static int queue_send(struct worker *w, const cJSON *msg);

/* Starts the ladder at its first step (ask over the channel when there is one). */
static void ladder_begin(struct worker *w)
{
    if (w->reaped || w->ladder != LADDER_NONE)
        return;
    w->ladder = LADDER_ASKED;
    if (w->fd >= 0) {
        cJSON *stop = cJSON_CreateObject();
        int ret =
            stop && cJSON_AddStringToObject(stop, "cmd", "stop") ? queue_send(w, stop) : -ENOMEM;
        cJSON_Delete(stop);
        if (ret < 0)
            LOG_DEBUG(w->name, "stop request not delivered (%s): going on with the ladder",
                      strerror(-ret));
    }
    w->timer = loop_timer_add(g.loop, w->ask_seconds, on_ladder_timer, w);
    if (!w->timer) {
        /* Cannot time the ladder: be blunt rather than leave the worker running. */
        w->ladder = LADDER_KILL;
        send_signal(w, SIGKILL);
    }
}

/* ---- channel ---- */

static void on_channel(void *arg, int fd, uint32_t events);

static int flush_out(struct worker *w)
{
    while (w->out_off < w->out_len) {
        ssize_t n = send(w->fd, w->out + w->out_off, w->out_len - w->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return loop_mod_fd(g.loop, w->fd, EPOLLIN | EPOLLOUT);
        if (n < 0)
            return -errno;
        w->out_off += (size_t)n;
    }
    free(w->out);
    w->out = NULL;
    w->out_len = w->out_off = 0;
    return loop_mod_fd(g.loop, w->fd, EPOLLIN);
}

/* Queues msg + '\n' and writes what the socket takes now: never blocks the loop. */
static int queue_send(struct worker *w, const cJSON *msg)
{
    if (w->fd < 0 || w->reaped)
        return -EPIPE;
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    size_t pending = w->out_len - w->out_off;
    if (pending + len + 1 > OUT_MAX) {
        free(text);
        return -ENOBUFS;
    }
    if (w->out_off > 0) {
        memmove(w->out, w->out + w->out_off, pending);
        w->out_len = pending;
        w->out_off = 0;
    }
    char *b = realloc(w->out, w->out_len + len + 1);
    if (!b) {
        free(text);
        return -ENOMEM;
    }
    memcpy(b + w->out_len, text, len);
    b[w->out_len + len] = '\n';
    w->out = b;
    w->out_len += len + 1;
    free(text);
    return flush_out(w);
}

static void on_channel_msg(void *arg, cJSON *msg)
{
    struct worker *w = arg;
    if (w->detached || !w->cb.on_message)
        return;
    w->busy++;
    w->cb.on_message(w->arg, w, msg);
    w->busy--;
}

/* Reads everything available; on EOF or a broken channel closes our end. */
static void drain_channel(struct worker *w)
{
    if (w->fd < 0)
        return;
    w->busy++;
    int ret = proto_read(w->fd, &w->rd, on_channel_msg, w);
    w->busy--;
    /* worker_free() from on_message leaves the channel to us (its reader was in use). */
    if (w->detached) {
        close_channel(w);
        return;
    }
    if (ret == 0)
        return;
    if (ret == -EPIPE || ret == -ECONNRESET) {
        LOG_DEBUG(w->name, "worker pid %d closed its channel", (int)w->pid);
    } else {
        LOG_ERROR(w->name, "worker pid %d channel: %s; killing it", (int)w->pid, strerror(-ret));
        w->ladder = LADDER_KILL;
        send_signal(w, SIGKILL);
    }
    close_channel(w);
    /* A worker without a channel can no longer be asked to stop: if it does
     * not exit by itself, the ladder's signals end it. */
    if (!w->reaped && w->ladder == LADDER_NONE && !w->detached)
        ladder_begin(w);
}

static void on_channel(void *arg, int fd, uint32_t events)
{
    struct worker *w = arg;
    (void)fd;
    if (events & EPOLLOUT) {
        int ret = flush_out(w);
        if (ret < 0 && ret != -ENOENT) {
            LOG_DEBUG(w->name, "writing to worker pid %d: %s", (int)w->pid, strerror(-ret));
            free(w->out);
            w->out = NULL;
            w->out_len = w->out_off = 0;
            loop_mod_fd(g.loop, w->fd, EPOLLIN);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        drain_channel(w);
    maybe_destroy(w);
    /* A process that closed its channel has usually exited: reap it now
     * rather than wait for SIGCHLD's turn in the loop. */
    if (g.workers)
        reap_all();
}

/* ---- reaping ---- */

static void log_exit(const struct worker *w, int st)
{
    char sn[32];
    double ran = util_now_mono() - w->started_at;
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == 0)
            LOG_INFO(w->name, "worker pid %d exited normally (status 0) after %.1f s", (int)w->pid,
                     ran);
        else if (code == 1)
            LOG_WARN(w->name, "worker pid %d failed (exit status 1) after %.1f s", (int)w->pid,
                     ran);
        else {
            g.crashes++;
            LOG_ERROR(w->name, "worker pid %d crashed (exit status %d) after %.1f s", (int)w->pid,
                      code, ran);
        }
    } else if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (w->signalled && w->detached && sig == SIGKILL)
            LOG_INFO(w->name, "worker pid %d killed by SIGKILL (released) after %.1f s",
                     (int)w->pid, ran);
        else if (w->signalled && (sig == SIGTERM || sig == SIGKILL))
            LOG_WARN(w->name, "worker pid %d killed by %s%s after %.1f s", (int)w->pid,
                     sig_name(sig, sn, sizeof(sn)), w->requested ? " (stop ladder)" : "", ran);
        else {
            g.crashes++;
            LOG_ERROR(w->name, "worker pid %d crashed: killed by %s%s after %.1f s", (int)w->pid,
                      sig_name(sig, sn, sizeof(sn)), WCOREDUMP(st) ? " (core dumped)" : "", ran);
        }
    } else {
        g.crashes++;
        LOG_ERROR(w->name, "worker pid %d ended with wait status 0x%x", (int)w->pid, st);
    }
}

static void handle_reaped(struct worker *w, int st)
{
    w->reaped = true;
    if (g.loop)
        loop_timer_cancel(g.loop, &w->timer);
    /* Whatever it wrote before dying is still in the socket: deliver it
     * before on_exit (SIGCHLD may be seen before the socket's last EPOLLIN). */
    for (int i = 0; i < 8 && w->fd >= 0 && !w->detached; i++)
        drain_channel(w);
    close_channel(w);
    log_exit(w, st);
    if (!w->detached && w->cb.on_exit) {
        w->busy++;
        w->cb.on_exit(w->arg, w, st, w->requested);
        w->busy--;
    }
    maybe_destroy(w);
}

/* Reaps one exited worker per pass and restarts the scan after the callback,
 * since on_exit may spawn or free workers (the list changes under us). */
static void reap_all(void)
{
    for (;;) {
        struct worker *found = NULL;
        int st = 0;
        for (struct worker *w = g.workers; w; w = w->next) {
            if (w->reaped || w->pid <= 0)
                continue;
            pid_t r = waitpid(w->pid, &st, WNOHANG);
            if (r == w->pid) {
                found = w;
                break;
            }
            if (r < 0 && errno == ECHILD) {
                /* Reaped behind our back (someone called waitpid(-1)). */
                LOG_WARN(w->name, "worker pid %d was reaped elsewhere; status unknown",
                         (int)w->pid);
                st = W_EXITCODE(255, 0);
                found = w;
                break;
            }
        }
        if (!found)
            return;
        handle_reaped(found, st);
    }
}

static void on_sigchld(void *arg, int signo)
{
    (void)arg;
    (void)signo;
    reap_all();
}

static bool any_running(void)
{
    for (struct worker *w = g.workers; w; w = w->next)
        if (!w->reaped)
            return true;
    return false;
}

static void on_poll_timer(void *arg)
{
    (void)arg;
    g.poll_timer = NULL;
    reap_all();
    if (any_running())
        g.poll_timer = loop_timer_add(g.loop, REAP_POLL_SECONDS, on_poll_timer, NULL);
}

static void arm_poll_timer(void)
{
    if (!g.poll_timer && g.loop)
        g.poll_timer = loop_timer_add(g.loop, REAP_POLL_SECONDS, on_poll_timer, NULL);
}

/* ---- spawning ---- */

int supervisor_init(struct loop *loop, const char *self_exe, const char *log_level)
{
    if (!loop || !self_exe || !self_exe[0])
        return -EINVAL;
    char *exe = strdup(self_exe);
    char *lvl = strdup(log_level && log_level[0] ? log_level : "info");
    if (!exe || !lvl) {
        free(exe);
        free(lvl);
        return -ENOMEM;
    }
    if (g.loop != loop) {
        int ret = loop_add_signal(loop, SIGCHLD, on_sigchld, NULL);
        if (ret < 0) {
            free(exe);
            free(lvl);
            return ret;
        }
        /* A new loop (tests; a forked child): timers of the old one are not ours to cancel. */
        g.poll_timer = NULL;
        g.loop = loop;
    }
    free(g.self_exe);
    free(g.log_level);
    g.self_exe = exe;
    g.log_level = lvl;
    return 0;
}

int worker_spawn(const struct worker_spawn_opts *opts, const struct worker_callbacks *cb, void *arg,
                 struct worker **out)
{
    struct worker *w = NULL;
    pid_t pid = -1;
    int fd = -1;
    int ret;

    if (!g.loop || !g.self_exe)
        return -EINVAL;
    if (!opts || !opts->job || !cb || !out)
        return -EINVAL;
    struct worker_spawn_opts o = *opts;
#ifdef __SANITIZE_ADDRESS__
    /* ASan reserves terabytes of shadow memory at start, which any
     * RLIMIT_DATA refuses: sanitizer builds run workers without it. */
    static bool warned;
    if (o.memory_mb > 0 && !warned) {
        LOG_WARN(NULL, "sanitizer build: worker memory limit (%ld MB) not applied", o.memory_mb);
        warned = true;
    }
    o.memory_mb = 0;
#endif

    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = -1;
    w->pid = -1;
    w->name = strdup(opts->name && opts->name[0] ? opts->name : "worker");
    if (!w->name) {
        ret = -ENOMEM;
        goto fail;
    }
    w->cb = *cb;
    w->arg = arg;
    w->ask_seconds = opts->ask_seconds > 0 ? opts->ask_seconds : 3.0;
    w->term_seconds = opts->term_seconds > 0 ? opts->term_seconds : 2.0;

    char *argv[] = {g.self_exe, "worker", "--log-level", g.log_level, NULL};
    w->started_at = util_now_mono();
    if ((ret = spawn_worker_process(w->name, &o, argv, &pid, &fd)) < 0)
        goto fail;
    w->pid = pid;
    w->fd = fd;
    w->next = g.workers;
    g.workers = w;
    arm_poll_timer();

    ret = 0;
    if (fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK) < 0 ||
        (ret = loop_add_fd(g.loop, w->fd, EPOLLIN, on_channel, w)) < 0 ||
        (ret = queue_send(w, opts->job)) < 0) {
        if (ret == 0)
            ret = -errno;
        /* The process exists: it is killed and reaped later, without callbacks. */
        LOG_ERROR(w->name, "worker pid %d: cannot hand over the job: %s", (int)pid, strerror(-ret));
        worker_free(&w);
        return ret;
    }
    LOG_INFO(w->name, "worker started (pid %d)", (int)pid);
    *out = w;
    return 0;

fail:
    if (w) {
        free(w->name);
        free(w);
    }
    return ret;
}

/* ---- control ---- */

int worker_send(struct worker *w, const cJSON *msg)
{
    if (!w || !msg)
        return -EINVAL;
    if (w->detached)
        return -EPIPE;
    return queue_send(w, msg);
}

void worker_stop(struct worker *w)
{
    if (!w || w->reaped || w->detached)
        return;
    w->requested = true;
    if (w->ladder == LADDER_NONE)
        ladder_begin(w);
}

void worker_kill(struct worker *w)
{
    if (!w || w->reaped)
        return;
    if (g.loop)
        loop_timer_cancel(g.loop, &w->timer);
    w->ladder = LADDER_KILL;
    send_signal(w, SIGKILL);
}

pid_t worker_pid(const struct worker *w)
{
    return w ? w->pid : -1;
}

bool worker_alive(const struct worker *w)
{
    return w && !w->reaped && w->pid > 0;
}

void worker_free(struct worker **wp)
{
    if (!wp || !*wp)
        return;
    struct worker *w = *wp;
    *wp = NULL;
    if (w->detached)
        return;
    w->detached = true;
    if (!w->reaped) {
        worker_kill(w);
        if (w->busy == 0)
            close_channel(w);
    }
    maybe_destroy(w);
}

int supervisor_count(void)
{
    int n = 0;
    for (struct worker *w = g.workers; w; w = w->next)
        if (!w->reaped)
            n++;
    return n;
}

int supervisor_pids(pid_t *out, int max)
{
    int n = 0;
    for (struct worker *w = g.workers; w; w = w->next) {
        if (w->reaped)
            continue;
        if (out && n < max)
            out[n] = w->pid;
        n++;
    }
    return n;
}

unsigned long supervisor_crashes(void)
{
    return g.crashes;
}

void supervisor_shutdown(struct loop *loop)
{
    if (!loop)
        loop = g.loop;
    if (!loop)
        return;
    double ladder = 0;
    for (struct worker *w = g.workers; w; w = w->next) {
        if (w->reaped)
            continue;
        if (w->ask_seconds + w->term_seconds > ladder)
            ladder = w->ask_seconds + w->term_seconds;
        if (!w->detached) {
            /* The ladder's own timers escalate; stop() never calls back synchronously. */
            w->requested = true;
            if (w->ladder == LADDER_NONE)
                ladder_begin(w);
        }
    }
    int n = supervisor_count();
    if (n == 0)
        goto out;
    LOG_INFO(NULL, "stopping %d worker%s", n, n == 1 ? "" : "s");
    double deadline = util_now_mono() + ladder + 0.5;
    while (supervisor_count() > 0 && util_now_mono() < deadline) {
        loop_run_once(loop, 100);
        reap_all();
    }
    for (struct worker *w = g.workers; w; w = w->next)
        if (!w->reaped)
            worker_kill(w);
    deadline = util_now_mono() + SHUTDOWN_KILL_WAIT;
    while (supervisor_count() > 0 && util_now_mono() < deadline) {
        loop_run_once(loop, 50);
        reap_all();
    }
    n = supervisor_count();
    if (n > 0)
        LOG_ERROR(NULL, "%d worker%s not reaped after SIGKILL", n, n == 1 ? "" : "s");
out:
    loop_timer_cancel(loop, &g.poll_timer);
}
