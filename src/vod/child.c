#include "vod/child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Between fork and exec only async-signal-safe calls: everything the child
 * needs is prepared before fork. */
int vod_child_spawn(char *const argv[], int nice, bool idle, pid_t *out)
{
    pid_t parent = getpid();
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(devnull);
        return -e;
    }
    if (pid == 0) {
        sigset_t all;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* The loop blocks signals for its signalfd and SIGPIPE is ignored:
         * both would survive exec. */
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(devnull, 0) < 0 || dup2(2, 1) < 0)
            _exit(127);
        /* The daemon's sockets, epoll and database stay out of the child. */
        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
            for (int fd = 3; fd < 4096; fd++) /* kernels before 5.9 */
                close(fd);
        if (nice > 0)
            setpriority(PRIO_PROCESS, 0, nice);
        if (idle) {
            struct sched_param sp = {0};
            sched_setscheduler(0, SCHED_IDLE, &sp);
        }
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(devnull);
    *out = pid;
    return 0;
}

int vod_child_poll(pid_t pid, int *wstatus)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == 0)
        return 0;
    if (r == pid) {
        *wstatus = st;
        return 1;
    }
    if (r < 0 && errno == ECHILD) {
        *wstatus = -1;
        return 1;
    }
    return r < 0 ? -errno : 0;
}

void vod_child_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}
