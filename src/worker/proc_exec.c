/* Starting a child process: see proc_priv.h. Between fork and exec the child
 * makes async-signal-safe calls only, so the environment is built before the
 * fork. */
#include "worker/proc_priv.h"

#include "core/log.h"
#include "worker/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Builds the child's environment: ours with HLSD_PARENT_PID replaced. */
static char **build_env(pid_t parent, char *pidvar, size_t pidvar_len)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HLSD_PARENT_PID=", 16) != 0)
            env[k++] = environ[i];
    snprintf(pidvar, pidvar_len, "HLSD_PARENT_PID=%d", (int)parent);
    env[k++] = pidvar;
    env[k] = NULL;
    return env;
}

/* Reports a failed step through the exec-status pipe and exits. Child side:
 * async-signal-safe calls only. */
static _Noreturn void child_fail(int status_fd, int err)
{
    ssize_t n = write(status_fd, &err, sizeof(err));
    (void)n;
    _exit(127);
}

/* Marks every fd from `first` up close-on-exec (status_fd already is: it must
 * stay open until execve reports through it). */
static void cloexec_from(int first)
{
    if (close_range((unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    for (int fd = first; fd < 4096; fd++) /* kernels before 5.11 */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Runs between fork and exec in the child. sock is -1 without a channel. */
static _Noreturn void child_exec(int sock, int status_fd, pid_t parent, const struct proc_exec *x,
                                 char *const envp[])
{
    /* Workers get their own process group: a terminal's ^C reaches the
     * daemon only, which then stops them with the ladder (so live playlists
     * get their ENDLIST). Helpers may die with the ^C. The death signal
     * covers the daemon dying. */
    if (x->channel)
        setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(status_fd, errno);
    /* The daemon may have died between fork and prctl. */
    if (getppid() != parent)
        _exit(127);

    /* status_fd may sit on fd 3: move it out of the way first. */
    if (status_fd == PROTO_WORKER_FD && sock != PROTO_WORKER_FD) {
        int moved = fcntl(status_fd, F_DUPFD_CLOEXEC, PROTO_WORKER_FD + 1);
        if (moved < 0)
            _exit(127);
        status_fd = moved;
    }
    if (sock == PROTO_WORKER_FD) {
        if (fcntl(sock, F_SETFD, 0) < 0)
            child_fail(status_fd, errno);
    } else if (sock >= 0) {
        if (dup2(sock, PROTO_WORKER_FD) < 0) /* dup2 clears FD_CLOEXEC */
            child_fail(status_fd, errno);
    }
    /* Descriptors the daemon forgot to mark close-on-exec (library sockets,
     * the database) must not leak into children. */
    cloexec_from(sock >= 0 ? PROTO_WORKER_FD + 1 : PROTO_WORKER_FD);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        child_fail(status_fd, errno);
    if (devnull != STDIN_FILENO && dup2(devnull, STDIN_FILENO) < 0)
        child_fail(status_fd, errno);
    /* Children never write to stdout on purpose: anything that does lands
     * in the log. */
    if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        child_fail(status_fd, errno);

    if (x->nice > 0) {
        errno = 0;
        if (nice(x->nice) == -1 && errno != 0)
            child_fail(status_fd, errno);
    }
    if (x->idle) {
        /* Best effort, as the niceness already keeps it out of the way. */
        struct sched_param sp = {0};
        sched_setscheduler(0, SCHED_IDLE, &sp);
    }
    if (x->memory_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)x->memory_mb * 1024 * 1024;
        if (setrlimit(RLIMIT_DATA, &rl) < 0)
            child_fail(status_fd, errno);
    }
    if (x->cpu_seconds > 0) {
        /* SIGXCPU at the soft limit (a crash report), SIGKILL a little later. */
        struct rlimit rl = {.rlim_cur = (rlim_t)x->cpu_seconds,
                            .rlim_max = (rlim_t)x->cpu_seconds + 5};
        if (setrlimit(RLIMIT_CPU, &rl) < 0)
            child_fail(status_fd, errno);
    }

    /* The daemon blocks SIGINT/SIGTERM/SIGCHLD for its signalfd and ignores
     * SIGPIPE; a blocked mask and ignored dispositions survive execve, and a
     * child that cannot receive SIGTERM would break the ladder. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    /* Background process group (see setpgid): writing logs to a terminal with
     * `stty tostop` would otherwise stop the worker. */
    signal(SIGTTOU, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    execve(x->path, x->argv, envp);
    child_fail(status_fd, errno);
}

int proc_exec_start(const char *log_name, const struct proc_exec *x, pid_t *pid_out, int *fd_out)
{
    char **env = NULL;
    int sv[2] = {-1, -1};
    int status_pipe[2] = {-1, -1};
    char pidvar[48];
    const char *step;
    int ret;

    pid_t parent = getpid();
    env = build_env(parent, pidvar, sizeof(pidvar));
    if (!env) {
        step = "environment";
        ret = -ENOMEM;
        goto fail;
    }
    if (x->channel && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        step = "socketpair";
        ret = -errno;
        goto fail;
    }
    if (pipe2(status_pipe, O_CLOEXEC) < 0) {
        step = "pipe";
        ret = -errno;
        goto fail;
    }

    pid_t pid = fork();
    if (pid < 0) {
        step = "fork";
        ret = -errno;
        goto fail;
    }
    if (pid == 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        close(status_pipe[0]);
        child_exec(sv[1], status_pipe[1], parent, x, env);
    }
    if (sv[1] >= 0)
        close(sv[1]);
    sv[1] = -1;
    close(status_pipe[1]);
    status_pipe[1] = -1;

    /* EOF means execve succeeded (the pipe is close-on-exec); an int is the
     * errno of the step that failed. Only the few steps before exec run here. */
    int child_err = 0;
    ssize_t n;
    do
        n = read(status_pipe[0], &child_err, sizeof(child_err));
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        step = "exec";
        ret = child_err > 0 ? -child_err : -ECHILD;
        goto fail;
    }

    *pid_out = pid;
    *fd_out = sv[0];
    sv[0] = -1;
    ret = 0;
    goto out;
fail:
    LOG_ERROR(log_name, "cannot start %s (%s): %s", x->path, step, strerror(-ret));
out:
    if (status_pipe[1] >= 0)
        close(status_pipe[1]);
    if (status_pipe[0] >= 0)
        close(status_pipe[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (sv[0] >= 0)
        close(sv[0]);
    free(env);
    return ret;
}
