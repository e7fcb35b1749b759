#include "core/loop.h"

#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct fd_watch {
    int fd;
    loop_fd_cb cb;
    void *arg;
    bool dead; /* removed: skipped by the dispatch, freed after the batch */
    struct fd_watch *next;
};

struct loop_timer {
    double when;
    loop_timer_cb cb;
    void *arg;
    struct loop_timer *next;
};

struct sig_watch {
    int signo;
    loop_signal_cb cb;
    void *arg;
};

struct loop {
    int epfd;
    int sigfd;
    sigset_t sigmask;
    struct fd_watch *watches;
    struct fd_watch *graveyard; /* removed watches, freed after each batch */
    struct loop_timer *timers;  /* sorted by `when` */
    struct sig_watch sigs[16];
    int nsigs;
    loop_prepare_cb prepare;
    loop_check_cb check;
    void *hook_arg;
    bool stop;
};

static void free_graveyard(struct loop *l)
{
    while (l->graveyard) {
        struct fd_watch *w = l->graveyard;
        l->graveyard = w->next;
        free(w);
    }
}

int loop_new(struct loop **out)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->sigfd = -1;
    sigemptyset(&l->sigmask);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int e = -errno;
        free(l);
        return e;
    }
    *out = l;
    return 0;
}

void loop_free(struct loop **lp)
{
    if (!lp || !*lp)
        return;
    struct loop *l = *lp;
    while (l->watches) {
        struct fd_watch *w = l->watches;
        l->watches = w->next;
        free(w);
    }
    free_graveyard(l);
    while (l->timers) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        free(t);
    }
    if (l->sigfd >= 0)
        close(l->sigfd);
    close(l->epfd);
    free(l);
    *lp = NULL;
}

static struct fd_watch *find_watch(struct loop *l, int fd)
{
    for (struct fd_watch *w = l->watches; w; w = w->next)
        if (w->fd == fd)
            return w;
    return NULL;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
    struct fd_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = -errno;
        free(w);
        return e;
    }
    w->next = l->watches;
    l->watches = w;
    return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    struct fd_watch *w = find_watch(l, fd);
    if (!w)
        return -ENOENT;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int loop_del_fd(struct loop *l, int fd)
{
    for (struct fd_watch **pp = &l->watches; *pp; pp = &(*pp)->next) {
        struct fd_watch *w = *pp;
        if (w->fd != fd)
            continue;
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        /* Events of the current batch may still point at w: keep it (dead)
         * until the batch is over, so its address cannot be reused meanwhile. */
        *pp = w->next;
        w->dead = true;
        w->next = l->graveyard;
        l->graveyard = w;
        return 0;
    }
    return -ENOENT;
}

struct loop_timer *loop_timer_add(struct loop *l, double seconds, loop_timer_cb cb, void *arg)
{
    struct loop_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    t->when = util_now_mono() + seconds;
    t->cb = cb;
    t->arg = arg;
    struct loop_timer **pp = &l->timers;
    while (*pp && (*pp)->when <= t->when)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    return t;
}

void loop_timer_cancel(struct loop *l, struct loop_timer **tp)
{
    if (!tp || !*tp)
        return;
    for (struct loop_timer **pp = &l->timers; *pp; pp = &(*pp)->next) {
        if (*pp == *tp) {
            *pp = (*tp)->next;
            free(*tp);
            break;
        }
    }
    *tp = NULL;
}

static void on_signalfd(void *arg, int fd, uint32_t events)
{
    struct loop *l = arg;
    (void)events;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        for (int i = 0; i < l->nsigs; i++)
            if (l->sigs[i].signo == (int)si.ssi_signo)
                l->sigs[i].cb(l->sigs[i].arg, (int)si.ssi_signo);
    }
}

int loop_add_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg)
{
    if (l->nsigs >= (int)UTIL_ARRAY_LEN(l->sigs))
        return -ENOSPC;
    sigaddset(&l->sigmask, signo);
    if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
        return -errno;
    int fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (l->sigfd < 0) {
        int ret = loop_add_fd(l, fd, EPOLLIN, on_signalfd, l);
        if (ret < 0) {
            close(fd);
            return ret;
        }
        l->sigfd = fd;
    }
    l->sigs[l->nsigs++] = (struct sig_watch){signo, cb, arg};
    return 0;
}

void loop_set_hooks(struct loop *l, loop_prepare_cb prepare, loop_check_cb check, void *arg)
{
    l->prepare = prepare;
    l->check = check;
    l->hook_arg = arg;
}

static void run_due_timers(struct loop *l)
{
    double now = util_now_mono();
    /* Timers added by callbacks run on the next iteration at the earliest. */
    int budget = 1024;
    while (l->timers && l->timers->when <= now && budget-- > 0) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        loop_timer_cb cb = t->cb;
        void *arg = t->arg;
        free(t);
        cb(arg);
    }
}

int loop_run_once(struct loop *l, int timeout_ms)
{
    struct epoll_event evs[64];
    int64_t wait = timeout_ms;
    if (l->timers) {
        double d = (l->timers->when - util_now_mono()) * 1000.0;
        int64_t tms = d <= 0 ? 0 : (int64_t)ceil(d);
        if (wait < 0 || tms < wait)
            wait = tms;
    }
    if (l->prepare) {
        int64_t p = l->prepare(l->hook_arg);
        if (p >= 0 && (wait < 0 || p < wait))
            wait = p;
    }
    if (wait > 60000)
        wait = 60000;
    int n = epoll_wait(l->epfd, evs, (int)UTIL_ARRAY_LEN(evs), (int)wait);
    if (n < 0 && errno != EINTR)
        return -errno;
    for (int i = 0; i < n; i++) {
        struct fd_watch *w = evs[i].data.ptr;
        /* A callback may have removed a later watch of this batch. */
        if (!w->dead)
            w->cb(w->arg, w->fd, evs[i].events);
    }
    free_graveyard(l);
    run_due_timers(l);
    if (l->check)
        l->check(l->hook_arg);
    return 0;
}

int loop_run(struct loop *l)
{
    l->stop = false;
    while (!l->stop) {
        int ret = loop_run_once(l, -1);
        if (ret < 0)
            return ret;
    }
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stop = true;
}
