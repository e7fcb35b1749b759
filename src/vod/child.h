/* Short-lived helper processes of the daemon: our own binary re-executed as
 * `hlsd recordings scan|sample` (probing media files can crash on a
 * malformed file; a child crashing costs nothing). Not workers: no control
 * channel, and their exit is polled with waitpid(pid, WNOHANG) so the
 * worker supervisor's reaping is never disturbed and vice versa. */
#ifndef HLSD_VOD_CHILD_H
#define HLSD_VOD_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

/* Forks and execs /proc/self/exe with argv (argv[0] is the name shown in ps),
 * stdin from /dev/null, stdout and stderr to the daemon's stderr, every other
 * fd closed, signals unblocked, PR_SET_PDEATHSIG(SIGKILL), niceness raised by
 * `nice`, and with `idle` the SCHED_IDLE policy (it only gets CPU time nothing
 * else wants: the sample recording must not slow anything down). Must run on
 * the daemon's main thread (the death signal follows the spawning thread).
 * argv is borrowed. *pid receives the child, reaped with vod_child_poll or
 * vod_child_kill. 0 or -errno. */
int vod_child_spawn(char *const argv[], int nice, bool idle, pid_t *pid);

/* Non-blocking: 1 when the child has exited (*wstatus set; -1 when someone
 * else reaped it), 0 while it runs, -errno on error. */
int vod_child_poll(pid_t pid, int *wstatus);

/* SIGKILL + blocking reap (shutdown). Accepts pid <= 0. */
void vod_child_kill(pid_t pid);

#endif
