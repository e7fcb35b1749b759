/* `hlsd worker`: the worker side of docs/WORKER-PROTOCOL.md. Reads the job
 * from fd 3, runs it with media_job_run() and reports events on fd 3.
 *
 * Stop sources, all folded into should_stop(): a {"cmd":"stop"} line, SIGTERM
 * or SIGINT (the ladder's second step: the flag makes libav's interrupt
 * callback give up a blocked read), and EOF on fd 3 (the daemon is gone).
 *
 * Before any job runs, the worker confines its own writes to the job's
 * out_dir with landlock when the kernel has it (worker/sandbox.h).
 *
 * Test hooks: with HLSD_TEST_JOBS=1 in the environment the job kinds
 * "test-sleep", "test-ignore-stop", "test-ignore-term" and "test-crash" run
 * small built-in jobs that exercise the process module's stop ladder, and
 * "test-write" tries file operations to check the confinement (see
 * run_test_job). Without the variable they are refused. */
#include "core/log.h"
#include "core/util.h"
#include "media/job.h"
#include "worker/protocol.h"
#include "worker/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int worker_main(int argc, char **argv);

#define JOB_TIMEOUT_SECONDS 10.0
/* should_stop() is called per packet and from libav's interrupt callback:
 * look at the socket at most this often. Flags are checked every time. */
#define CHANNEL_CHECK_INTERVAL 0.05
#define QUEUE_MAX 1024
/* Test jobs end by themselves after this long, so a forgotten one cannot linger. */
#define TEST_JOB_MAX_SECONDS 60.0

static volatile sig_atomic_t g_term; /* SIGTERM or SIGINT received */

/* The channel, shared by every thread that calls the media_ctl hooks. */
static struct {
    pthread_mutex_t lock;
    struct proto_reader rd;
    cJSON *job;   /* the first line */
    cJSON *queue; /* array of commands other than stop */
    atomic_bool stop_cmd;
    atomic_bool eof;
    _Atomic double last_check;
} ch = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_term_signal(int sig)
{
    (void)sig;
    g_term = 1;
}

static double now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_line(void *arg, cJSON *msg)
{
    (void)arg;
    if (!ch.job) {
        ch.job = cJSON_Duplicate(msg, true);
        return;
    }
    const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "cmd"));
    if (!cmd) {
        LOG_WARN(NULL, "ignoring a control line without \"cmd\"");
        return;
    }
    if (strcmp(cmd, "stop") == 0) {
        if (!atomic_exchange(&ch.stop_cmd, true))
            LOG_DEBUG(NULL, "stop requested by the daemon");
        return;
    }
    if (cJSON_GetArraySize(ch.queue) >= QUEUE_MAX) {
        LOG_WARN(NULL, "command queue full: dropping the oldest command");
        cJSON_Delete(cJSON_DetachItemFromArray(ch.queue, 0));
    }
    cJSON *copy = cJSON_Duplicate(msg, true);
    if (copy)
        cJSON_AddItemToArray(ch.queue, copy);
}

/* Reads what fd 3 has now. Caller holds ch.lock. */
static void pump_locked(void)
{
    if (atomic_load(&ch.eof))
        return;
    int ret = proto_read(PROTO_WORKER_FD, &ch.rd, on_line, NULL);
    if (ret == 0)
        return;
    if (ret == -EPIPE || ret == -ECONNRESET)
        LOG_INFO(NULL, "control channel closed by the daemon: stopping");
    else
        LOG_ERROR(NULL, "control channel: %s: stopping", strerror(-ret));
    atomic_store(&ch.eof, true);
}

static bool flags_say_stop(void)
{
    return g_term || atomic_load(&ch.stop_cmd) || atomic_load(&ch.eof);
}

static bool ctl_should_stop(void *arg)
{
    (void)arg;
    if (flags_say_stop())
        return true;
    double now = now_coarse();
    if (now - atomic_load(&ch.last_check) < CHANNEL_CHECK_INTERVAL)
        return false;
    /* Another thread holding the channel will see any stop line itself. */
    if (pthread_mutex_trylock(&ch.lock) != 0)
        return false;
    atomic_store(&ch.last_check, now);
    pump_locked();
    pthread_mutex_unlock(&ch.lock);
    return flags_say_stop();
}

/* Waits until fd 3 is readable, a signal arrives or ms pass. */
static void wait_readable(int ms)
{
    struct pollfd pfd = {.fd = PROTO_WORKER_FD, .events = POLLIN};
    if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
        LOG_DEBUG(NULL, "poll: %s", strerror(errno));
}

static cJSON *ctl_next_command(void *arg, int timeout_ms)
{
    (void)arg;
    double deadline = util_now_mono() + (timeout_ms > 0 ? timeout_ms / 1000.0 : 0);
    for (;;) {
        pthread_mutex_lock(&ch.lock);
        pump_locked();
        cJSON *cmd = cJSON_DetachItemFromArray(ch.queue, 0);
        pthread_mutex_unlock(&ch.lock);
        if (cmd || flags_say_stop())
            return cmd;
        double left = deadline - util_now_mono();
        if (left <= 0)
            return NULL;
        /* Short slices: a SIGTERM taken by another thread does not interrupt our poll. */
        int ms = (int)(left * 1000.0) + 1;
        wait_readable(ms < 100 ? ms : 100);
    }
}

static void ctl_emit(void *arg, const cJSON *event)
{
    (void)arg;
    if (atomic_load(&ch.eof))
        return;
    pthread_mutex_lock(&ch.lock);
    int ret = proto_send(PROTO_WORKER_FD, event);
    pthread_mutex_unlock(&ch.lock);
    if (ret == -EPIPE || ret == -ECONNRESET) {
        LOG_INFO(NULL, "control channel closed by the daemon: stopping");
        atomic_store(&ch.eof, true);
    } else if (ret < 0) {
        LOG_WARN(NULL, "cannot report an event: %s", strerror(-ret));
    }
}

static void emit_simple(const struct media_ctl *ctl, const char *type, const char *message)
{
    cJSON *ev = cJSON_CreateObject();
    if (!ev)
        return;
    cJSON_AddStringToObject(ev, "type", type);
    if (message)
        cJSON_AddStringToObject(ev, "message", message);
    ctl->emit(ctl->arg, ev);
    cJSON_Delete(ev);
}

/* ---- test hooks (HLSD_TEST_JOBS=1) ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR (a signal) just ends the nap early */
}

static void emit_progress(const struct media_ctl *ctl, long frames)
{
    cJSON *ev = cJSON_CreateObject();
    if (!ev)
        return;
    cJSON_AddStringToObject(ev, "type", "progress");
    cJSON_AddNumberToObject(ev, "frames", (double)frames);
    ctl->emit(ctl->arg, ev);
    cJSON_Delete(ev);
}

/* test-write: tries each {"op":"create"|"mkdir"|"remove","path":P} of the job's
 * "ops" and reports {"type":"write","op":O,"path":P,"errno":E} (0 = done). */
static void run_write_ops(const cJSON *job, const struct media_ctl *ctl)
{
    const cJSON *op;
    cJSON_ArrayForEach(op, cJSON_GetObjectItemCaseSensitive(job, "ops"))
    {
        const char *what = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op"));
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
        int e = EINVAL;
        if (what && path) {
            errno = 0;
            if (strcmp(what, "create") == 0) {
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0) {
                    if (write(fd, "x", 1) != 1 && errno == 0)
                        errno = EIO;
                    close(fd);
                }
            } else if (strcmp(what, "mkdir") == 0) {
                mkdir(path, 0755);
            } else if (strcmp(what, "remove") == 0) {
                unlink(path);
            } else {
                errno = EINVAL;
            }
            e = errno;
        }
        cJSON *ev = cJSON_CreateObject();
        if (!ev)
            continue;
        cJSON_AddStringToObject(ev, "type", "write");
        cJSON_AddStringToObject(ev, "op", what ? what : "");
        cJSON_AddStringToObject(ev, "path", path ? path : "");
        cJSON_AddNumberToObject(ev, "errno", e);
        ctl->emit(ctl->arg, ev);
        cJSON_Delete(ev);
    }
}

/* Returns 1 when kind is not a test kind, else the job's result.
 *  test-sleep:       "progress" every 100 ms (frames 1, 2, ...); echoes each command as
 *                    {"type":"echo","cmd":{...}}; honours every stop source; optional
 *                    "seconds" (ends by itself, then "done") and "fail" (a message: ends
 *                    with that error instead).
 *  test-ignore-stop: ignores the stop command; on SIGTERM emits {"type":"sigterm"} and
 *                    exits 0; exits on EOF too.
 *  test-ignore-term: ignores stop, SIGTERM, SIGINT and EOF: only SIGKILL ends it.
 *  test-crash:       emits "started", then abort() (no core file).
 *  test-write:       emits "started", then a "write" event per entry of "ops"
 *                    (see run_write_ops), then ends.
 * Every test job emits {"type":"started","pid":P} first and gives up after
 * TEST_JOB_MAX_SECONDS. */
static int run_test_job(const char *kind, const cJSON *job, const struct media_ctl *ctl, char *err,
                        size_t errlen)
{
    enum { SLEEP, IGNORE_STOP, IGNORE_TERM, CRASH, WRITE } k;
    if (strcmp(kind, "test-sleep") == 0)
        k = SLEEP;
    else if (strcmp(kind, "test-ignore-stop") == 0)
        k = IGNORE_STOP;
    else if (strcmp(kind, "test-ignore-term") == 0)
        k = IGNORE_TERM;
    else if (strcmp(kind, "test-crash") == 0)
        k = CRASH;
    else if (strcmp(kind, "test-write") == 0)
        k = WRITE;
    else
        return 1;

    if (k == IGNORE_TERM) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
    }
    cJSON *ev = cJSON_CreateObject();
    if (ev) {
        cJSON_AddStringToObject(ev, "type", "started");
        cJSON_AddNumberToObject(ev, "pid", (double)getpid());
        ctl->emit(ctl->arg, ev);
        cJSON_Delete(ev);
    }
    if (k == CRASH) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        abort();
    }
    if (k == WRITE) {
        run_write_ops(job, ctl);
        return 0;
    }

    double seconds = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(job, "seconds"));
    const char *fail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "fail"));
    double t0 = util_now_mono();
    for (long frames = 1;; frames++) {
        double ran = util_now_mono() - t0;
        if (ran >= TEST_JOB_MAX_SECONDS) {
            snprintf(err, errlen, "%s: gave up after %.0f s", kind, TEST_JOB_MAX_SECONDS);
            return -ETIMEDOUT;
        }
        if (seconds > 0 && ran >= seconds) {
            if (fail) {
                snprintf(err, errlen, "%s", fail);
                return -EIO;
            }
            return 0;
        }
        emit_progress(ctl, frames);
        if (k == SLEEP) {
            cJSON *cmd = ctl->next_command(ctl->arg, 100);
            if (cmd) {
                cJSON *echo = cJSON_CreateObject();
                if (echo) {
                    cJSON_AddStringToObject(echo, "type", "echo");
                    cJSON_AddItemToObject(echo, "cmd", cmd);
                    ctl->emit(ctl->arg, echo);
                    cJSON_Delete(echo);
                } else {
                    cJSON_Delete(cmd);
                }
            }
            if (ctl->should_stop(ctl->arg))
                return 0;
        } else {
            sleep_ms(100);
            ctl->should_stop(ctl->arg); /* consumes (and here ignores) stop lines */
            if (k == IGNORE_STOP && (g_term || atomic_load(&ch.eof))) {
                if (g_term)
                    emit_simple(ctl, "sigterm", NULL);
                return 0;
            }
        }
    }
}

/* ---- startup ---- */

static int check_parent(void)
{
    const char *s = getenv("HLSD_PARENT_PID");
    if (!s) {
        LOG_DEBUG(NULL, "HLSD_PARENT_PID not set: not checking the parent");
        return 0;
    }
    long want;
    if (util_parse_int(s, 1, INT32_MAX, &want) < 0) {
        LOG_ERROR(NULL, "bad HLSD_PARENT_PID '%s'", s);
        return -EINVAL;
    }
    /* The daemon set PR_SET_PDEATHSIG before exec; if it died before that,
     * we were re-parented and must not run unsupervised. */
    if ((long)getppid() != want) {
        LOG_ERROR(NULL, "parent %ld is gone (parent is now %d): exiting", want, (int)getppid());
        return -ESRCH;
    }
    return 0;
}

/* Landlock where the kernel has it; a worker that cannot be confined still
 * runs (the daemon's own checks on names and paths stay in force). */
static void confine_writes(const char *out_dir)
{
    enum worker_sandbox_state st;
    int abi;
    int r = worker_sandbox_apply(out_dir, &st, &abi);
    if (r < 0)
        LOG_WARN(NULL, "cannot confine writes to %s (landlock ABI %d): %s; running unconfined",
                 out_dir ? out_dir : "(no out_dir)", abi, strerror(-r));
    else if (st == WORKER_SANDBOX_UNAVAILABLE)
        LOG_DEBUG(NULL, "landlock not available in this kernel: writes not confined");
    else
        LOG_DEBUG(NULL, "writes confined to %s (landlock ABI %d)", out_dir ? out_dir : "(nothing)",
                  abi);
}

static int read_job(void)
{
    double deadline = util_now_mono() + JOB_TIMEOUT_SECONDS;
    for (;;) {
        pthread_mutex_lock(&ch.lock);
        pump_locked();
        pthread_mutex_unlock(&ch.lock);
        if (ch.job)
            return 0;
        if (atomic_load(&ch.eof))
            return -EPIPE;
        if (g_term)
            return -EINTR;
        double left = deadline - util_now_mono();
        if (left <= 0)
            return -ETIMEDOUT;
        wait_readable((int)(left * 1000.0) + 1);
    }
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            enum log_level lvl;
            if (log_parse_level(argv[++i], &lvl) < 0) {
                fprintf(stderr, "hlsd worker: unknown log level '%s'\n", argv[i]);
                return -EINVAL;
            }
            log_set_level(lvl);
        } else {
            fprintf(stderr,
                    "hlsd worker: unexpected argument '%s' (usage: hlsd worker [--log-level L];"
                    " started by the daemon with the control socket on fd 3)\n",
                    argv[i]);
            return -EINVAL;
        }
    }
    return 0;
}

int worker_main(int argc, char **argv)
{
    struct media_ctl ctl = {.arg = NULL,
                            .should_stop = ctl_should_stop,
                            .next_command = ctl_next_command,
                            .emit = ctl_emit};
    char err[512] = "";
    int status = 1, ret;

    log_set_process_prefix("worker");
    if (parse_args(argc, argv) < 0)
        return 2;

    /* No SA_RESTART: a blocking poll or sleep returns at once on SIGTERM. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Already set by the daemon before exec; repeated for a worker started another way. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (check_parent() < 0)
        return 1;

    int fl = fcntl(PROTO_WORKER_FD, F_GETFL);
    if (fl < 0) {
        LOG_ERROR(NULL, "fd %d is not open: `hlsd worker` is started by the daemon",
                  PROTO_WORKER_FD);
        return 2;
    }
    if (fcntl(PROTO_WORKER_FD, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(PROTO_WORKER_FD, F_SETFD, FD_CLOEXEC) < 0) {
        LOG_ERROR(NULL, "fd %d: %s", PROTO_WORKER_FD, strerror(errno));
        return 2;
    }
    ch.queue = cJSON_CreateArray();
    if (!ch.queue) {
        LOG_ERROR(NULL, "out of memory");
        return 1;
    }

    ret = read_job();
    if (ret == -EINTR) {
        LOG_INFO(NULL, "stopped before the job arrived");
        status = 0;
        goto out;
    }
    if (ret < 0) {
        LOG_ERROR(NULL, "no job from the daemon: %s",
                  ret == -ETIMEDOUT ? "timed out"
                  : ret == -EPIPE   ? "channel closed"
                                    : strerror(-ret));
        goto out;
    }

    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ch.job, "name"));
    if (name && name[0])
        log_set_process_prefix(name);
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ch.job, "kind"));
    LOG_DEBUG(NULL, "job received (kind %s, pid %d)", kind ? kind : "?", (int)getpid());

    confine_writes(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ch.job, "out_dir")));

    if (!kind) {
        snprintf(err, sizeof(err), "job without a \"kind\"");
        ret = -EINVAL;
    } else if (strncmp(kind, "test-", 5) == 0) {
        const char *t = getenv("HLSD_TEST_JOBS");
        if (!t || strcmp(t, "1") != 0) {
            snprintf(err, sizeof(err), "job kind '%s' is a test hook (needs HLSD_TEST_JOBS=1)",
                     kind);
            ret = -EINVAL;
        } else {
            ret = run_test_job(kind, ch.job, &ctl, err, sizeof(err));
            if (ret == 1) {
                snprintf(err, sizeof(err), "unknown test job kind '%s'", kind);
                ret = -EINVAL;
            }
        }
    } else {
        ret = media_job_run(ch.job, &ctl, err, sizeof(err));
    }

    if (ret < 0) {
        if (!err[0])
            snprintf(err, sizeof(err), "%s", strerror(ret > -4096 ? -ret : EIO));
        LOG_ERROR(NULL, "%s", err);
        emit_simple(&ctl, "error", err);
        status = 1;
    } else {
        emit_simple(&ctl, "done", NULL);
        status = 0;
    }

out:
    cJSON_Delete(ch.job);
    ch.job = NULL;
    cJSON_Delete(ch.queue);
    ch.queue = NULL;
    proto_reader_reset(&ch.rd);
    return status;
}
