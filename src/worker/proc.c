/* The daemon's child processes: see proc.h. Everything runs on the loop's
 * thread. Processes are reaped only by waitpid(pid) on our own pids (never
 * waitpid(-1)), so a pid we signal is never a recycled one: until we reap it,
 * it is ours. */
#include "worker/proc.h"

#include "core/log.h"
#include "core/util.h"
#include "worker/proc_priv.h"
#include "worker/protocol.h"

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
/* After the ladder's last step, how long shutdown still waits for the reap. */
#define SHUTDOWN_KILL_WAIT 1.0

enum ladder { LADDER_NONE, LADDER_ASKED, LADDER_TERM, LADDER_KILL };

struct proc {
    struct proc_table *t;
    char *name;
    bool worker; /* has a control channel (else a helper) */
    pid_t pid;
    int fd; /* -1 once the channel is closed, always for helpers */
    struct proto_reader rd;
    char *out; /* bytes not yet written to the channel */
    size_t out_len, out_off;
    struct proc_callbacks cb;
    void *arg;
    double ask_seconds, term_seconds;
    double started_at;
    enum ladder ladder;
    struct loop_timer *timer;
    bool requested; /* proc_stop() was called */
    bool signalled; /* we sent a signal (a signal death is then not a crash) */
    bool reaped;
    bool detached; /* proc_free() was called: no more callbacks */
    int busy;      /* callbacks running on this process */
    struct proc *next;
};

struct proc_table {
    struct loop *loop;
    char *self_exe;
    char *log_level;
    struct proc *procs;
    unsigned long crashes; /* worker exits logged as crashes (log_exit) */
};

/* The registered table (see proc.h for why there is one per process). */
static struct proc_table *g_current;

static void reap_all(struct proc_table *t);

static const char *kind(const struct proc *p)
{
    return p->worker ? "worker" : "helper";
}

static void unlink_proc(struct proc *p)
{
    for (struct proc **pp = &p->t->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

static void close_channel(struct proc *p)
{
    if (p->fd < 0)
        return;
    loop_del_fd(p->t->loop, p->fd);
    close(p->fd);
    p->fd = -1;
    proto_reader_reset(&p->rd);
    free(p->out);
    p->out = NULL;
    p->out_len = p->out_off = 0;
}

static void destroy(struct proc *p)
{
    unlink_proc(p);
    close_channel(p);
    loop_timer_cancel(p->t->loop, &p->timer);
    free(p->name);
    free(p);
}

/* Frees a detached process once it is reaped and no callback is on the stack. */
static void maybe_destroy(struct proc *p)
{
    if (p->detached && p->reaped && p->busy == 0)
        destroy(p);
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

static void send_signal(struct proc *p, int sig)
{
    if (p->reaped || p->pid <= 0)
        return;
    char sn[32];
    LOG_DEBUG(p->name, "sending %s to %s pid %d", sig_name(sig, sn, sizeof(sn)), kind(p),
              (int)p->pid);
    p->signalled = true;
    if (kill(p->pid, sig) < 0 && errno != ESRCH)
        LOG_WARN(p->name, "kill(%d, %d): %s", (int)p->pid, sig, strerror(errno));
}

/* ---- stop ladder ---- */

static void on_ladder_timer(void *arg)
{
    struct proc *p = arg;
    p->timer = NULL;
    if (p->reaped)
        return;
    if (p->ladder == LADDER_ASKED) {
        LOG_WARN(p->name, "worker pid %d still running %.1f s after the stop request: SIGTERM",
                 (int)p->pid, p->ask_seconds);
        p->ladder = LADDER_TERM;
        send_signal(p, SIGTERM);
        p->timer = loop_timer_add(p->t->loop, p->term_seconds, on_ladder_timer, p);
    } else if (p->ladder == LADDER_TERM) {
        LOG_WARN(p->name, "%s pid %d ignored SIGTERM for %.1f s: SIGKILL", kind(p), (int)p->pid,
                 p->term_seconds);
        p->ladder = LADDER_KILL;
        send_signal(p, SIGKILL);
    }
    if (p->ladder != LADDER_KILL && !p->timer) {
        /* Cannot time the next step: be blunt rather than leave it running. */
        p->ladder = LADDER_KILL;
        send_signal(p, SIGKILL);
    }
}

static int queue_send(struct proc *p, const cJSON *msg);

/* Starts the ladder at its first step: a worker is asked over its channel
 * (if the channel is gone, its EOF already asked it) and given ask_seconds; a
 * helper has no channel to ask on and gets SIGTERM at once. */
static void ladder_begin(struct proc *p)
{
    if (p->reaped || p->ladder != LADDER_NONE)
        return;
    if (p->worker) {
        p->ladder = LADDER_ASKED;
        if (p->fd >= 0) {
            cJSON *stop = cJSON_CreateObject();
            int ret = stop && cJSON_AddStringToObject(stop, "cmd", "stop") ? queue_send(p, stop)
                                                                           : -ENOMEM;
            cJSON_Delete(stop);
            if (ret < 0)
                LOG_DEBUG(p->name, "stop request not delivered (%s): going on with the ladder",
                          strerror(-ret));
        }
        p->timer = loop_timer_add(p->t->loop, p->ask_seconds, on_ladder_timer, p);
    } else {
        p->ladder = LADDER_TERM;
        send_signal(p, SIGTERM);
        p->timer = loop_timer_add(p->t->loop, p->term_seconds, on_ladder_timer, p);
    }
    if (!p->timer) {
        p->ladder = LADDER_KILL;
        send_signal(p, SIGKILL);
    }
}

/* ---- channel (workers) ---- */

static int flush_out(struct proc *p)
{
    while (p->out_off < p->out_len) {
        ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return loop_mod_fd(p->t->loop, p->fd, EPOLLIN | EPOLLOUT);
        if (n < 0)
            return -errno;
        p->out_off += (size_t)n;
    }
    free(p->out);
    p->out = NULL;
    p->out_len = p->out_off = 0;
    return loop_mod_fd(p->t->loop, p->fd, EPOLLIN);
}

/* Queues msg + '\n' and writes what the socket takes now: never blocks the loop. */
static int queue_send(struct proc *p, const cJSON *msg)
{
    if (p->fd < 0 || p->reaped)
        return -EPIPE;
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    size_t pending = p->out_len - p->out_off;
    if (pending + len + 1 > OUT_MAX) {
        free(text);
        return -ENOBUFS;
    }
    if (p->out_off > 0) {
        memmove(p->out, p->out + p->out_off, pending);
        p->out_len = pending;
        p->out_off = 0;
    }
    char *b = realloc(p->out, p->out_len + len + 1);
    if (!b) {
        free(text);
        return -ENOMEM;
    }
    memcpy(b + p->out_len, text, len);
    b[p->out_len + len] = '\n';
    p->out = b;
    p->out_len += len + 1;
    free(text);
    return flush_out(p);
}

static void on_channel_msg(void *arg, cJSON *msg)
{
    struct proc *p = arg;
    if (p->detached || !p->cb.on_message)
        return;
    p->busy++;
    p->cb.on_message(p->arg, p, msg);
    p->busy--;
}

/* Reads everything available; on EOF or a broken channel closes our end. */
static void drain_channel(struct proc *p)
{
    if (p->fd < 0)
        return;
    p->busy++;
    int ret = proto_read(p->fd, &p->rd, on_channel_msg, p);
    p->busy--;
    /* proc_free() from on_message leaves the channel to us (its reader was in use). */
    if (p->detached) {
        close_channel(p);
        return;
    }
    if (ret == 0)
        return;
    if (ret == -EPIPE || ret == -ECONNRESET) {
        LOG_DEBUG(p->name, "worker pid %d closed its channel", (int)p->pid);
    } else {
        LOG_ERROR(p->name, "worker pid %d channel: %s; killing it", (int)p->pid, strerror(-ret));
        loop_timer_cancel(p->t->loop, &p->timer);
        p->ladder = LADDER_KILL;
        send_signal(p, SIGKILL);
    }
    close_channel(p);
    /* A worker without a channel can no longer be asked to stop: if it does
     * not exit by itself, the ladder's signals end it. */
    if (!p->reaped && p->ladder == LADDER_NONE && !p->detached)
        ladder_begin(p);
}

static void on_channel(void *arg, int fd, uint32_t events)
{
    struct proc *p = arg;
    struct proc_table *t = p->t;
    (void)fd;
    if (events & EPOLLOUT) {
        int ret = flush_out(p);
        if (ret < 0 && ret != -ENOENT) {
            LOG_DEBUG(p->name, "writing to worker pid %d: %s", (int)p->pid, strerror(-ret));
            free(p->out);
            p->out = NULL;
            p->out_len = p->out_off = 0;
            loop_mod_fd(t->loop, p->fd, EPOLLIN);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        drain_channel(p);
    maybe_destroy(p); /* p may be gone from here on */
    /* A process that closed its channel has usually exited: reap it now
     * rather than wait for SIGCHLD's turn in the loop. */
    if (t->procs)
        reap_all(t);
}

/* ---- reaping ---- */

static void log_exit(struct proc *p, int st)
{
    char sn[32];
    double ran = util_now_mono() - p->started_at;
    if (!p->worker) {
        /* Helpers run every few seconds (scans): a clean exit is no news. */
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            LOG_DEBUG(p->name, "helper pid %d exited normally after %.1f s", (int)p->pid, ran);
        else if (WIFEXITED(st))
            LOG_WARN(p->name, "helper pid %d exited with status %d after %.1f s", (int)p->pid,
                     WEXITSTATUS(st), ran);
        else if (WIFSIGNALED(st) && p->signalled)
            LOG_DEBUG(p->name, "helper pid %d killed by %s after %.1f s", (int)p->pid,
                      sig_name(WTERMSIG(st), sn, sizeof(sn)), ran);
        else if (WIFSIGNALED(st))
            LOG_WARN(p->name, "helper pid %d crashed: killed by %s%s after %.1f s", (int)p->pid,
                     sig_name(WTERMSIG(st), sn, sizeof(sn)), WCOREDUMP(st) ? " (core dumped)" : "",
                     ran);
        else
            LOG_WARN(p->name, "helper pid %d ended with wait status 0x%x", (int)p->pid, st);
        return;
    }
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == 0)
            LOG_INFO(p->name, "worker pid %d exited normally (status 0) after %.1f s", (int)p->pid,
                     ran);
        else if (code == 1)
            LOG_WARN(p->name, "worker pid %d failed (exit status 1) after %.1f s", (int)p->pid,
                     ran);
        else {
            p->t->crashes++;
            LOG_ERROR(p->name, "worker pid %d crashed (exit status %d) after %.1f s", (int)p->pid,
                      code, ran);
        }
    } else if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (p->signalled && p->detached && sig == SIGKILL)
            LOG_INFO(p->name, "worker pid %d killed by SIGKILL (released) after %.1f s",
                     (int)p->pid, ran);
        else if (p->signalled && (sig == SIGTERM || sig == SIGKILL))
            LOG_WARN(p->name, "worker pid %d killed by %s%s after %.1f s", (int)p->pid,
                     sig_name(sig, sn, sizeof(sn)), p->requested ? " (stop ladder)" : "", ran);
        else {
            p->t->crashes++;
            LOG_ERROR(p->name, "worker pid %d crashed: killed by %s%s after %.1f s", (int)p->pid,
                      sig_name(sig, sn, sizeof(sn)), WCOREDUMP(st) ? " (core dumped)" : "", ran);
        }
    } else {
        p->t->crashes++;
        LOG_ERROR(p->name, "worker pid %d ended with wait status 0x%x", (int)p->pid, st);
    }
}

static void handle_reaped(struct proc *p, int st)
{
    p->reaped = true;
    loop_timer_cancel(p->t->loop, &p->timer);
    /* Whatever it wrote before dying is still in the socket: deliver it
     * before on_exit (SIGCHLD may be seen before the socket's last EPOLLIN). */
    for (int i = 0; i < 8 && p->fd >= 0 && !p->detached; i++)
        drain_channel(p);
    close_channel(p);
    log_exit(p, st);
    if (!p->detached && p->cb.on_exit) {
        p->busy++;
        p->cb.on_exit(p->arg, p, st, p->requested);
        p->busy--;
    }
    maybe_destroy(p);
}

/* Reaps one exited process per pass and restarts the scan after the callback,
 * since on_exit may spawn or free processes (the list changes under us). */
static void reap_all(struct proc_table *t)
{
    for (;;) {
        struct proc *found = NULL;
        int st = 0;
        for (struct proc *p = t->procs; p; p = p->next) {
            if (p->reaped || p->pid <= 0)
                continue;
            pid_t r = waitpid(p->pid, &st, WNOHANG);
            if (r == p->pid) {
                found = p;
                break;
            }
            if (r < 0 && errno == ECHILD) {
                /* Reaped behind our back (someone called waitpid(-1)). */
                LOG_WARN(p->name, "%s pid %d was reaped elsewhere; status unknown", kind(p),
                         (int)p->pid);
                st = W_EXITCODE(255, 0);
                found = p;
                break;
            }
        }
        if (!found)
            return;
        handle_reaped(found, st);
    }
}

/* The loop keeps this callback for its lifetime (it cannot remove one), so it
 * holds no table pointer: it reaps into whichever table is registered. */
static void on_sigchld(void *arg, int signo)
{
    (void)arg;
    (void)signo;
    if (g_current)
        reap_all(g_current);
}

static bool any_running(const struct proc_table *t)
{
    for (const struct proc *p = t->procs; p; p = p->next)
        if (!p->reaped)
            return true;
    return false;
}

/* ---- the table ---- */

int proc_table_new(struct loop *loop, const char *self_exe, const char *log_level,
                   struct proc_table **out)
{
    struct proc_table *t = NULL;
    int ret;

    if (!loop || !self_exe || !self_exe[0] || !out)
        return -EINVAL;
    *out = NULL;
    if (g_current) {
        LOG_ERROR(NULL, "process table: one is registered already");
        return -EBUSY;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        ret = -ENOMEM;
        goto fail;
    }
    t->loop = loop;
    t->self_exe = strdup(self_exe);
    t->log_level = strdup(log_level && log_level[0] ? log_level : "info");
    if (!t->self_exe || !t->log_level) {
        ret = -ENOMEM;
        goto fail;
    }
    if ((ret = loop_add_signal(loop, SIGCHLD, on_sigchld, NULL)) < 0)
        goto fail;
    g_current = t;
    *out = t;
    return 0;
fail:
    LOG_ERROR(NULL, "process table: %s", strerror(-ret));
    if (t) {
        free(t->log_level);
        free(t->self_exe);
        free(t);
    }
    return ret;
}

struct proc_table *proc_table_current(void)
{
    return g_current;
}

void proc_table_shutdown(struct proc_table *t)
{
    if (!t)
        return;
    double ladder = 0;
    for (struct proc *p = t->procs; p; p = p->next) {
        if (p->reaped)
            continue;
        if (!p->worker) {
            /* Helpers only index recordings: nothing to finish cleanly. */
            p->requested = !p->detached;
            proc_kill(p);
            continue;
        }
        if (p->ask_seconds + p->term_seconds > ladder)
            ladder = p->ask_seconds + p->term_seconds;
        if (!p->detached) {
            /* The ladder's own timers escalate; stop() never calls back synchronously. */
            p->requested = true;
            if (p->ladder == LADDER_NONE)
                ladder_begin(p);
        }
    }
    if (!any_running(t))
        return;
    int n = proc_table_count(t);
    if (n > 0)
        LOG_INFO(NULL, "stopping %d worker%s", n, n == 1 ? "" : "s");
    double deadline = util_now_mono() + ladder + 0.5;
    while (any_running(t) && util_now_mono() < deadline) {
        loop_run_once(t->loop, 100);
        reap_all(t);
    }
    for (struct proc *p = t->procs; p; p = p->next)
        if (!p->reaped)
            proc_kill(p);
    deadline = util_now_mono() + SHUTDOWN_KILL_WAIT;
    while (any_running(t) && util_now_mono() < deadline) {
        loop_run_once(t->loop, 50);
        reap_all(t);
    }
    n = 0;
    for (struct proc *p = t->procs; p; p = p->next)
        n += !p->reaped;
    if (n > 0)
        LOG_ERROR(NULL, "%d child process%s not reaped after SIGKILL", n, n == 1 ? "" : "es");
}

void proc_table_free(struct proc_table **tp)
{
    struct proc_table *t = tp ? *tp : NULL;
    if (!t)
        return;
    proc_table_shutdown(t);
    /* What is left: handles the callers did not free, or processes that
     * survived SIGKILL (uninterruptible sleep). */
    while (t->procs)
        destroy(t->procs);
    if (g_current == t)
        g_current = NULL;
    free(t->log_level);
    free(t->self_exe);
    free(t);
    *tp = NULL;
}

int proc_table_count(const struct proc_table *t)
{
    return proc_table_pids(t, NULL, 0);
}

int proc_table_pids(const struct proc_table *t, pid_t *out, int max)
{
    int n = 0;
    for (const struct proc *p = t ? t->procs : NULL; p; p = p->next) {
        if (p->reaped || !p->worker)
            continue;
        if (out && n < max)
            out[n] = p->pid;
        n++;
    }
    return n;
}

unsigned long proc_table_crashes(const struct proc_table *t)
{
    return t ? t->crashes : 0;
}

/* ---- spawning ---- */

/* The worker's end of the channel: non-blocking, on the loop, job sent. */
static int attach_channel(struct proc *p, const cJSON *job)
{
    int ret;
    if (fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
    if ((ret = loop_add_fd(p->t->loop, p->fd, EPOLLIN, on_channel, p)) < 0)
        return ret;
    return queue_send(p, job);
}

int proc_spawn(const struct proc_opts *opts, const struct proc_callbacks *cb, void *arg,
               struct proc **out)
{
    struct proc_table *t = g_current;
    struct proc *p = NULL;
    pid_t pid = -1;
    int fd = -1;
    int ret;

    if (!opts || !cb || !out || (!opts->job && (!opts->argv || !opts->argv[0]))) {
        LOG_ERROR(opts ? opts->name : NULL, "proc_spawn: invalid arguments");
        return -EINVAL;
    }
    *out = NULL;
    if (!t) {
        LOG_ERROR(opts->name, "cannot start a process: no process table");
        return -ENXIO;
    }
    bool worker = opts->job != NULL;
    char *wargv[] = {t->self_exe, "worker", "--log-level", t->log_level, NULL};
    struct proc_exec x = {
        .path = worker || !opts->path ? t->self_exe : opts->path,
        .argv = worker ? wargv : opts->argv,
        .channel = worker,
        .idle = opts->idle,
        .nice = opts->nice,
        .memory_mb = opts->memory_mb,
        .cpu_seconds = opts->cpu_seconds,
    };
#ifdef __SANITIZE_ADDRESS__
    /* ASan reserves terabytes of shadow memory at start, which any
     * RLIMIT_DATA refuses: sanitizer builds run children without it. */
    static bool warned;
    if (x.memory_mb > 0 && !warned) {
        LOG_WARN(NULL, "sanitizer build: worker memory limit (%ld MB) not applied", x.memory_mb);
        warned = true;
    }
    x.memory_mb = 0;
#endif

    p = calloc(1, sizeof(*p));
    if (!p) {
        ret = -ENOMEM;
        LOG_ERROR(opts->name, "cannot start a process: %s", strerror(-ret));
        return ret;
    }
    p->t = t;
    p->fd = -1;
    p->pid = -1;
    p->worker = worker;
    p->name = strdup(opts->name && opts->name[0] ? opts->name : worker ? "worker" : "helper");
    if (!p->name) {
        ret = -ENOMEM;
        LOG_ERROR(opts->name, "cannot start a process: %s", strerror(-ret));
        goto fail;
    }
    p->cb = *cb;
    p->arg = arg;
    p->ask_seconds = opts->ask_seconds > 0 ? opts->ask_seconds : 3.0;
    p->term_seconds = opts->term_seconds > 0 ? opts->term_seconds : 2.0;

    p->started_at = util_now_mono();
    if ((ret = proc_exec_start(p->name, &x, &pid, &fd)) < 0) /* logs */
        goto fail;
    p->pid = pid;
    p->fd = fd;
    p->next = t->procs;
    t->procs = p;

    if (worker && (ret = attach_channel(p, opts->job)) < 0) {
        /* The process exists: it is killed and reaped later, without callbacks. */
        LOG_ERROR(p->name, "worker pid %d: cannot hand over the job: %s", (int)pid, strerror(-ret));
        proc_free(&p);
        return ret;
    }
    if (worker)
        LOG_INFO(p->name, "worker started (pid %d)", (int)pid);
    else
        LOG_DEBUG(p->name, "helper started (pid %d)", (int)pid);
    *out = p;
    return 0;

fail:
    free(p->name);
    free(p);
    return ret;
}

/* ---- control ---- */

int proc_send(struct proc *p, const cJSON *msg)
{
    if (!p || !msg)
        return -EINVAL;
    if (p->detached || !p->worker)
        return -EPIPE;
    return queue_send(p, msg);
}

void proc_stop(struct proc *p)
{
    if (!p || p->reaped || p->detached)
        return;
    p->requested = true;
    if (p->ladder == LADDER_NONE)
        ladder_begin(p);
}

void proc_kill(struct proc *p)
{
    if (!p || p->reaped)
        return;
    loop_timer_cancel(p->t->loop, &p->timer);
    p->ladder = LADDER_KILL;
    send_signal(p, SIGKILL);
}

pid_t proc_pid(const struct proc *p)
{
    return p ? p->pid : -1;
}

bool proc_alive(const struct proc *p)
{
    return p && !p->reaped && p->pid > 0;
}

void proc_free(struct proc **pp)
{
    if (!pp || !*pp)
        return;
    struct proc *p = *pp;
    *pp = NULL;
    if (p->detached)
        return;
    p->detached = true;
    if (!p->reaped) {
        proc_kill(p);
        if (p->busy == 0)
            close_channel(p);
    }
    maybe_destroy(p);
}
