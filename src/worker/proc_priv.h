/* Starting a child process, private to src/worker/proc.c: fork, the child's
 * setup between fork and exec, and the exec-status handshake. */
#ifndef HLSD_WORKER_PROC_PRIV_H
#define HLSD_WORKER_PROC_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_exec {
    const char *path;  /* executable */
    char *const *argv; /* argv[0] is the name shown in ps */
    bool channel;      /* worker: socketpair on fd 3, own process group */
    bool idle;         /* SCHED_IDLE (best effort) */
    int nice;          /* added niceness */
    long memory_mb;    /* RLIMIT_DATA; 0 = unlimited */
    long cpu_seconds;  /* RLIMIT_CPU; 0 = unlimited */
};

/* Forks a child that becomes x->argv run from x->path with our environment
 * plus HLSD_PARENT_PID set to our pid, SIGKILL when we die, stdin from
 * /dev/null, stdout to our stderr, default signal dispositions and an empty
 * mask, and the niceness, scheduling policy and limits of x. With a channel
 * one end of a new socketpair is its fd 3 (PROTO_WORKER_FD), every fd above
 * is closed and the child gets its own process group; without one every fd
 * above 2 is closed.
 * Returns once execve succeeded: 0, *pid, and in *fd our end of the channel
 * (close-on-exec, blocking; the caller owns it) or -1 without a channel. On
 * failure logs under log_name and returns the failed step's negative errno
 * (a step in the child failing: the child is reaped here). */
int proc_exec_start(const char *log_name, const struct proc_exec *x, pid_t *pid, int *fd);

#endif
