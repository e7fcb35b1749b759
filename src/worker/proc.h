/* The daemon's child processes, one module for both kinds (in the manner of
 * OpenBSD httpd's proc.c):
 *
 * - workers: our own binary re-executed as `hlsd worker`, with a control
 *   channel (a socketpair on fd 3, JSON lines both ways, see
 *   docs/WORKER-PROTOCOL.md) and the stop ladder: ask over the channel ->
 *   ask_seconds (3) -> SIGTERM -> term_seconds (2) -> SIGKILL;
 * - helpers: short-lived children without a channel (`hlsd recordings
 *   scan|sample`: probing media files can crash on a malformed file, and a
 *   crashing child costs nothing). stdin is /dev/null, every fd above 2 is
 *   closed, optional niceness and SCHED_IDLE. Their ladder skips the ask.
 *
 * Both kinds get PR_SET_PDEATHSIG(SIGKILL), default signal dispositions and
 * an empty signal mask, and are reaped by one reaper: the SIGCHLD callback on
 * the loop's signalfd (no polling timer). It reaps with waitpid(pid) on our
 * own pids only, so a pid we signal is never a recycled one (until we reap
 * it, it is ours) and children forked by anyone else are left alone.
 *
 * One table per process: SIGCHLD and wait status are per process, so there
 * can be only one reaper, and the loop cannot remove a signal callback (so
 * the callback reaches the table through the registered instance, never
 * through a pointer it keeps). proc_table_new() registers the table;
 * proc_spawn() spawns into it, so callers deep in the live and vod modules
 * need not carry it around.
 *
 * Rules:
 * - Single-threaded: call everything from the loop's thread (the one that
 *   created the table; PR_SET_PDEATHSIG follows the spawning thread).
 * - Create the table before any other thread starts: SIGCHLD is blocked for
 *   the loop's signalfd, and a thread that does not block it could take the
 *   signal (there is no polling safety net). The daemon process has no other
 *   thread.
 * - Callbacks never run synchronously inside proc_spawn/send/stop/kill/free;
 *   they run from the loop. Every event line a worker wrote before dying is
 *   delivered before on_exit; no callback follows on_exit or proc_free().
 * - If a worker closes its channel without exiting, the ladder starts by
 *   itself (on_exit then has requested == false).
 * - Writes to a worker are queued and never block the loop.
 * - Functions return 0 or a negative errno and log their own failures.
 * - Exits are logged with name, pid and status. Workers: exit 0 INFO, exit 1
 *   WARN, killed by the ladder WARN, any other status or signal ERROR
 *   ("crashed", counted for /metrics). Helpers: exit 0 DEBUG, anything else
 *   WARN (not counted: they are not workers). */
#ifndef HLSD_PROC_H
#define HLSD_PROC_H

#include "core/loop.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

struct proc_table;
struct proc;

struct proc_callbacks {
    /* An event line from a worker (never for helpers). msg is borrowed (valid
     * during the call). */
    void (*on_message)(void *arg, struct proc *p, const cJSON *msg);
    /* The process is gone (reaped). wstatus is waitpid's; `requested` is true
     * when proc_stop() had been called (or the table shut down). The handle
     * stays valid until proc_free(), which the callback may call. May be NULL. */
    void (*on_exit)(void *arg, struct proc *p, int wstatus, bool requested);
};

struct proc_opts {
    const char *name; /* log prefix, e.g. "port 0" or "vod 3fa2…" */
    /* Non-NULL: a worker (`<self_exe> worker --log-level <level>` with the
     * control channel); sent as the first line, copied. NULL: a helper. */
    const cJSON *job;
    /* Helpers only: argv (argv[0] is the name shown in ps; borrowed) and the
     * executable (NULL: our own binary, self_exe of the table). */
    char *const *argv;
    const char *path;
    int nice;            /* added niceness (0 = none) */
    bool idle;           /* SCHED_IDLE: only CPU time nothing else wants */
    long memory_mb;      /* RLIMIT_DATA; 0 = unlimited */
    long cpu_seconds;    /* RLIMIT_CPU; 0 = unlimited */
    double ask_seconds;  /* stop ladder: wait after asking (default 3) */
    double term_seconds; /* wait after SIGTERM (default 2) */
};

/* Creates the process table on loop and registers it as the process's table
 * (-EBUSY when one is registered). self_exe is the path to re-exec (usually
 * /proc/self/exe resolved at start); log_level is passed to workers. Adds a
 * SIGCHLD callback to the loop. *out is owned by the caller (proc_table_free).
 * Returns 0 or -errno. */
int proc_table_new(struct loop *loop, const char *self_exe, const char *log_level,
                   struct proc_table **out);

/* The registered table, or NULL. */
struct proc_table *proc_table_current(void);

/* Shutdown: kills helpers (SIGKILL), runs the stop ladder on every worker and
 * returns once all are reaped or after the ladder's deadline (then SIGKILLs
 * the rest). Drives the table's loop itself. on_exit is called for handles
 * not yet freed. Accepts NULL. */
void proc_table_shutdown(struct proc_table *t);

/* Shuts down (as above) and frees the table and the handles left in it;
 * unregisters it. Callers must have freed their handles before (a handle kept
 * past this point dangles). The loop must still exist. Accepts NULL. */
void proc_table_free(struct proc_table **t);

/* Number of live worker processes (including released ones not yet reaped;
 * helpers not counted). 0 for NULL. */
int proc_table_count(const struct proc_table *t);

/* Copies the pids of live worker processes (as counted above) into out, at
 * most max of them; returns how many there are (may exceed max). */
int proc_table_pids(const struct proc_table *t, pid_t *out, int max);

/* Worker processes that crashed since the table was created (the exits
 * logged as "crashed" above: exit status >= 2, a signal we did not send, or
 * an unknown wait status), for /metrics. */
unsigned long proc_table_crashes(const struct proc_table *t);

/* Spawns a worker (opts->job set) or a helper (opts->argv set) into the
 * registered table. Returns once execve succeeded or failed: 0 and *out
 * (owned by the caller: proc_free after on_exit, or before to release it), or
 * -errno (logged; -ENXIO without a table). cb and arg are kept. */
int proc_spawn(const struct proc_opts *opts, const struct proc_callbacks *cb, void *arg,
               struct proc **out);

/* Sends a control message (copied onto the wire). 0 or -errno (-EPIPE when
 * gone or a helper). Not logged: callers decide whether a lost message matters. */
int proc_send(struct proc *p, const cJSON *msg);

/* Starts the stop ladder; idempotent. on_exit follows. Accepts NULL. */
void proc_stop(struct proc *p);

/* Sends SIGKILL now (fault tests, shutdown deadline). Accepts NULL. */
void proc_kill(struct proc *p);

pid_t proc_pid(const struct proc *p);
bool proc_alive(const struct proc *p);

/* Frees a handle. If the process is still running it is killed (SIGKILL)
 * and reaped later by the table without callbacks. Accepts NULL / *p == NULL. */
void proc_free(struct proc **p);

#endif
