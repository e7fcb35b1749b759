/* Starting a worker process, private to src/worker (supervisor.c): fork,
 * the child's setup between fork and exec, and the exec-status handshake. */
#ifndef HLSD_WORKER_SPAWN_H
#define HLSD_WORKER_SPAWN_H

#include "worker/supervisor.h"

#include <sys/types.h>

/* Forks a child that becomes argv (argv[0] is the executable's path) with
 * one end of a new socketpair as its fd PROTO_WORKER_FD, our environment with
 * HLSD_PARENT_PID set to our pid, its own process group, SIGKILL when we
 * die, default signal dispositions, and the niceness and limits of o.
 * Returns once execve succeeded: 0, *pid, and in *fd our end of the channel
 * (close-on-exec, blocking; the caller owns it). When a step in the child
 * failed, the child is reaped, the failure logged under log_name, and the
 * step's negative errno returned; socketpair, pipe, fork or memory failures
 * return negative errno without a log line. */
int spawn_worker_process(const char *log_name, const struct worker_spawn_opts *o,
                         char *const argv[], pid_t *pid, int *fd);

#endif
