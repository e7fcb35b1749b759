/* Daemon side of the worker processes: spawn (re-exec of our own binary in
 * worker mode), control channel, reaping without blocking the loop, and the
 * stop ladder: ask over the channel -> 3 s -> SIGTERM -> 2 s -> SIGKILL.
 *
 * Behaviour (see also docs/WORKER-PROTOCOL.md, "Process setup"):
 * - Single-threaded: call everything from the loop's thread (the one that
 *   called supervisor_init; PR_SET_PDEATHSIG follows the spawning thread).
 * - Callbacks never run synchronously inside worker_spawn/send/stop/kill/free;
 *   they run from the loop. Every event line the worker wrote before dying is
 *   delivered before on_exit; no callback follows on_exit or worker_free().
 * - If the worker closes its channel without exiting, the ladder starts by
 *   itself (on_exit then has requested == false).
 * - Writes to the worker are queued and never block the loop.
 * - Exits are logged with name, pid and status: exit 0 INFO, exit 1 WARN,
 *   killed by the ladder WARN, any other status or signal ERROR ("crashed"). */
#ifndef HLSD_SUPERVISOR_H
#define HLSD_SUPERVISOR_H

#include "core/loop.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

struct worker;

struct worker_callbacks {
    /* An event line from the worker. msg is borrowed (valid during the call). */
    void (*on_message)(void *arg, struct worker *w, const cJSON *msg);
    /* The process is gone (reaped). wstatus is waitpid's; `requested` is true
     * when worker_stop() had been called. The worker handle stays valid until
     * worker_free(), which the callback may call. */
    void (*on_exit)(void *arg, struct worker *w, int wstatus, bool requested);
};

struct worker_spawn_opts {
    const char *name;    /* log prefix, e.g. "port 0" or "vod 3fa2…" */
    const cJSON *job;    /* sent as the first line; copied */
    int nice;            /* added niceness (0 = none) */
    long memory_mb;      /* RLIMIT_DATA; 0 = unlimited */
    long cpu_seconds;    /* RLIMIT_CPU; 0 = unlimited */
    double ask_seconds;  /* stop ladder: wait after asking (default 3) */
    double term_seconds; /* wait after SIGTERM (default 2) */
};

/* Called once at daemon start. self_exe is the path to re-exec (usually
 * /proc/self/exe resolved at start); log_level is passed to workers. Installs a
 * SIGCHLD handler on the loop. Returns 0 or -errno. */
int supervisor_init(struct loop *loop, const char *self_exe, const char *log_level);

/* Spawns a worker. *out is owned by the caller (free with worker_free after
 * on_exit). Returns 0 or -errno. */
int worker_spawn(const struct worker_spawn_opts *opts, const struct worker_callbacks *cb, void *arg,
                 struct worker **out);

/* Sends a control message (copied onto the wire). 0 or -errno (-EPIPE when gone). */
int worker_send(struct worker *w, const cJSON *msg);

/* Starts the stop ladder; idempotent. on_exit follows. */
void worker_stop(struct worker *w);

/* Sends SIGKILL now (fault tests, shutdown deadline). */
void worker_kill(struct worker *w);

pid_t worker_pid(const struct worker *w);
bool worker_alive(const struct worker *w);

/* Frees a worker handle. If the process is still running it is killed
 * (SIGKILL) and reaped later by the supervisor without callbacks. Accepts NULL. */
void worker_free(struct worker **w);

/* Number of live worker processes (including released ones not yet reaped). */
int supervisor_count(void);

/* Copies the pids of live worker processes (as counted above) into out, at
 * most max of them; returns how many there are (may exceed max). */
int supervisor_pids(pid_t *out, int max);

/* Worker processes that crashed since the daemon started (the exits logged
 * as "crashed" above: exit status >= 2, a signal we did not send, or an
 * unknown wait status), for /metrics. */
unsigned long supervisor_crashes(void);

/* Shutdown: runs the stop ladder on every worker and returns once all are reaped
 * or after the ladder's deadline (then SIGKILLs the rest). Drives the loop itself. */
void supervisor_shutdown(struct loop *loop);

#endif
