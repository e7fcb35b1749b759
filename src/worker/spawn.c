/* Starting a worker process: see spawn.h. Between fork and exec the child
 * makes async-signal-safe calls only, so the environment is built before the
 * fork. */
#include "worker/spawn.h"

#include "core/log.h"
#include "worker/protocol.h"

#include <errno.h>
#include <fcntl.h>
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

/* Builds the worker's environment: ours with HLSD_PARENT_PID replaced. */
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

/* Runs between fork and exec in the child. */
static _Noreturn void child_exec(int sock, int status_fd, pid_t parent,
                                 const struct worker_spawn_opts *o, char *const argv[],
                                 char *const envp[])
{
    /* Own process group: a terminal's ^C reaches the daemon only, which then
     * stops workers with the ladder (so live playlists get their ENDLIST).
     * The death signal covers the daemon dying. */
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(status_fd, errno);
    /* The daemon may have died between fork and prctl. */
    if (getppid() != parent)
        _exit(127);

    if (sock == PROTO_WORKER_FD) {
        if (fcntl(sock, F_SETFD, 0) < 0)
            child_fail(status_fd, errno);
    } else {
        /* status_fd may sit on fd 3: move it out of the way first. */
        if (status_fd == PROTO_WORKER_FD) {
            int moved = fcntl(status_fd, F_DUPFD_CLOEXEC, PROTO_WORKER_FD + 1);
            if (moved < 0)
                _exit(127);
            status_fd = moved;
        }
        if (dup2(sock, PROTO_WORKER_FD) < 0) /* dup2 clears FD_CLOEXEC */
            child_fail(status_fd, errno);
    }
    /* Descriptors the daemon forgot to mark close-on-exec (library sockets)
     * must not leak into workers. Best effort: older kernels lack it. */
    close_range(PROTO_WORKER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0 && devnull != STDIN_FILENO)
        dup2(devnull, STDIN_FILENO);
    /* The worker never writes to stdout: anything that does lands in the log. */
    dup2(STDERR_FILENO, STDOUT_FILENO);

    if (o->nice > 0) {
        errno = 0;
        if (nice(o->nice) == -1 && errno != 0)
            child_fail(status_fd, errno);
    }
    if (o->memory_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)o->memory_mb * 1024 * 1024;
        if (setrlimit(RLIMIT_DATA, &rl) < 0)
            child_fail(status_fd, errno);
    }
    if (o->cpu_seconds > 0) {
        /* SIGXCPU at the soft limit (a crash report), SIGKILL a little later. */
        struct rlimit rl = {.rlim_cur = (rlim_t)o->cpu_seconds,
                            .rlim_max = (rlim_t)o->cpu_seconds + 5};
        if (setrlimit(RLIMIT_CPU, &rl) < 0)
            child_fail(status_fd, errno);
    }

    /* The daemon blocks SIGINT/SIGTERM/SIGCHLD for its signalfd and ignores
     * SIGPIPE; a blocked mask and ignored dispositions survive execve, and a
     * worker that cannot receive SIGTERM would break the ladder. */
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

    execve(argv[0], argv, envp);
    child_fail(status_fd, errno);
}

int spawn_worker_process(const char *log_name, const struct worker_spawn_opts *o,
                         char *const argv[], pid_t *pid_out, int *fd_out)
{
    char **env = NULL;
    int sv[2] = {-1, -1};
    int status_pipe[2] = {-1, -1};
    char pidvar[48];
    int ret;

    pid_t parent = getpid();
    env = build_env(parent, pidvar, sizeof(pidvar));
    if (!env) {
        ret = -ENOMEM;
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe2(status_pipe, O_CLOEXEC) < 0) {
        ret = -errno;
        goto out;
    }

    pid_t pid = fork();
    if (pid < 0) {
        ret = -errno;
        goto out;
    }
    if (pid == 0) {
        close(sv[0]);
        close(status_pipe[0]);
        child_exec(sv[1], status_pipe[1], parent, o, argv, env);
    }
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
    close(status_pipe[0]);
    status_pipe[0] = -1;
    if (n > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        ret = child_err > 0 ? -child_err : -ECHILD;
        LOG_ERROR(log_name, "cannot start worker %s: %s", argv[0], strerror(-ret));
        goto out;
    }

    *pid_out = pid;
    *fd_out = sv[0];
    sv[0] = -1;
    ret = 0;
out:
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (status_pipe[0] >= 0)
        close(status_pipe[0]);
    if (status_pipe[1] >= 0)
        close(status_pipe[1]);
    free(env);
    return ret;
}
