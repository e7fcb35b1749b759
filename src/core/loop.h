/* The daemon's single-threaded event loop (epoll): fd watchers, one-shot
 * timers, signals (signalfd) and hooks run around each wait. Everything in the
 * daemon process runs on this thread, so daemon state needs no locks, and
 * workers are spawned from it (PR_SET_PDEATHSIG follows the spawning thread). */
#ifndef HLSD_LOOP_H
#define HLSD_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*loop_timer_cb)(void *arg);
typedef void (*loop_signal_cb)(void *arg, int signo);
/* Returns the longest the loop may sleep in ms (-1 = no limit). */
typedef int64_t (*loop_prepare_cb)(void *arg);
/* Called after every wake-up (e.g. MHD_run). */
typedef void (*loop_check_cb)(void *arg);

/* *out is freed with loop_free(). Returns 0 or -errno. */
int loop_new(struct loop **out);
/* Frees the loop and every timer still armed (without calling them). Accepts NULL. */
void loop_free(struct loop **l);

/* Watches fd (not owned: the caller closes it after loop_del_fd). Returns 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
int loop_del_fd(struct loop *l, int fd);

/* One-shot timer after `seconds`. The returned handle belongs to the loop and
 * is valid until the callback starts or loop_timer_cancel() is called. */
struct loop_timer *loop_timer_add(struct loop *l, double seconds, loop_timer_cb cb, void *arg);
/* Cancels *t if still pending and sets *t to NULL. Accepts NULL / *t == NULL. */
void loop_timer_cancel(struct loop *l, struct loop_timer **t);

/* Blocks signo for the process and delivers it through the loop (signalfd).
 * One callback per signal. Returns 0 or -errno. */
int loop_add_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg);

void loop_set_hooks(struct loop *l, loop_prepare_cb prepare, loop_check_cb check, void *arg);

/* Runs until loop_stop(). Returns 0 or -errno on an epoll failure. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* Runs one iteration waiting at most timeout_ms (used while shutting down). */
int loop_run_once(struct loop *l, int timeout_ms);

#endif
