/* The process module. Workers against the real binary (HLSD_BINARY, set by
 * meson) running the test job kinds (HLSD_TEST_JOBS=1): spawn, messages, the
 * stop ladder, crashes, release of a running worker, shutdown, limits, and
 * death with the parent. Helpers (no channel) with /bin/sh: exit reported
 * through SIGCHLD alone, several at once, a signal death, shutdown. Every test
 * gets a fresh loop and table (setup_one/teardown_one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/util.h"
#include "worker/proc.h"

static struct loop *g_loop;
static struct proc_table *g_table;
static const char *g_binary;

struct rec {
    struct proc *w;
    pid_t pid;
    cJSON *msgs; /* copies, in arrival order */
    int progress;
    long last_frame;
    bool order_ok;
    bool exited;
    int status;
    bool requested;
    double exit_time;
    bool msg_after_exit;
    int free_at_progress; /* >0: worker_free from on_message at that progress count */
    int calls_after_free;
    bool freed;
};

static void on_message(void *arg, struct proc *w, const cJSON *msg)
{
    struct rec *r = arg;
    assert_ptr_equal(w, r->w);
    if (r->freed)
        r->calls_after_free++;
    if (r->exited)
        r->msg_after_exit = true;
    cJSON_AddItemToArray(r->msgs, cJSON_Duplicate(msg, true));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "type"));
    if (type && strcmp(type, "progress") == 0) {
        long f = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(msg, "frames"));
        if (f != r->last_frame + 1)
            r->order_ok = false;
        r->last_frame = f;
        r->progress++;
        if (r->free_at_progress && r->progress == r->free_at_progress) {
            proc_free(&r->w);
            r->freed = true;
        }
    }
}

static void on_exit_cb(void *arg, struct proc *w, int wstatus, bool requested)
{
    struct rec *r = arg;
    assert_ptr_equal(w, r->w);
    if (r->freed)
        r->calls_after_free++;
    r->exited = true;
    r->status = wstatus;
    r->requested = requested;
    r->exit_time = util_now_mono();
    /* Freeing from on_exit is allowed. */
    proc_free(&r->w);
}

static const struct proc_callbacks cbs = {on_message, on_exit_cb};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    r->msgs = cJSON_CreateArray();
    r->order_ok = true;
}

static void rec_done(struct rec *r)
{
    proc_free(&r->w);
    cJSON_Delete(r->msgs);
}

static cJSON *job_of(const char *kind, const char *name)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", kind);
    cJSON_AddStringToObject(j, "name", name);
    return j;
}

static int spawn(struct rec *r, cJSON *job, double ask, double term)
{
    struct proc_opts o = {.name = cJSON_GetStringValue(cJSON_GetObjectItem(job, "name")),
                          .job = job,
                          .ask_seconds = ask,
                          .term_seconds = term};
    int ret = proc_spawn(&o, &cbs, r, &r->w);
    if (ret == 0)
        r->pid = proc_pid(r->w);
    return ret;
}

/* rec_init + spawn of a job {kind, name}. */
static int rec_start(struct rec *r, const char *kind, const char *name, double ask, double term)
{
    rec_init(r);
    cJSON *job = job_of(kind, name);
    int ret = spawn(r, job, ask, term);
    cJSON_Delete(job);
    return ret;
}

typedef bool (*cond_fn)(void *);

static bool run_until(cond_fn cond, void *arg, double timeout)
{
    double deadline = util_now_mono() + timeout;
    while (!cond(arg)) {
        if (util_now_mono() >= deadline)
            return false;
        loop_run_once(g_loop, 50);
    }
    return true;
}

static bool has_exited(void *arg)
{
    return ((struct rec *)arg)->exited;
}

static bool has_progress3(void *arg)
{
    return ((struct rec *)arg)->progress >= 3;
}

static bool was_freed(void *arg)
{
    return ((struct rec *)arg)->freed;
}

static bool no_workers(void *arg)
{
    (void)arg;
    return proc_table_count(g_table) == 0;
}

static const char *type_at(const struct rec *r, int i)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(r->msgs, i), "type"));
}

static int count_type(const struct rec *r, const char *type)
{
    int n = 0;
    for (int i = 0; i < cJSON_GetArraySize(r->msgs); i++)
        if (type_at(r, i) && strcmp(type_at(r, i), type) == 0)
            n++;
    return n;
}

static bool pid_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* ---- tests ---- */

/* Polite stop: asked over the channel, the worker ends with "done" and status
 * 0 long before the ladder's SIGTERM. Messages arrive in order; a command
 * sent with worker_send is echoed back. */
static void test_polite_stop(void **state)
{
    (void)state;
    struct rec r;
    assert_int_equal(rec_start(&r, "test-sleep", "polite", 2.0, 2.0), 0);
    assert_true(r.pid > 0);
    assert_true(proc_alive(r.w));
    assert_int_equal(proc_table_count(g_table), 1);
    assert_true(run_until(has_progress3, &r, 10));
    assert_string_equal(type_at(&r, 0), "started");
    assert_int_equal(
        (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(r.msgs, 0), "pid")),
        r.pid);

    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddStringToObject(cmd, "cmd", "want");
    cJSON_AddNumberToObject(cmd, "segment", 42);
    assert_int_equal(proc_send(r.w, cmd), 0);
    cJSON_Delete(cmd);
    int before = cJSON_GetArraySize(r.msgs);
    double deadline = util_now_mono() + 5;
    while (count_type(&r, "echo") == 0 && util_now_mono() < deadline)
        loop_run_once(g_loop, 50);
    assert_int_equal(count_type(&r, "echo"), 1);
    for (int i = before; i < cJSON_GetArraySize(r.msgs); i++) {
        if (strcmp(type_at(&r, i), "echo") != 0)
            continue;
        cJSON *echoed = cJSON_GetObjectItem(cJSON_GetArrayItem(r.msgs, i), "cmd");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(echoed, "cmd")), "want");
        assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(echoed, "segment")), 42);
    }

    double t0 = util_now_mono();
    proc_stop(r.w);
    proc_stop(r.w); /* idempotent */
    assert_true(run_until(has_exited, &r, 10));
    assert_true(r.exit_time - t0 < 1.5);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_true(r.requested);
    assert_true(r.order_ok);
    assert_true(r.progress >= 3);
    /* "done" came before on_exit and is the last message. */
    assert_string_equal(type_at(&r, cJSON_GetArraySize(r.msgs) - 1), "done");
    assert_false(r.msg_after_exit);
    assert_null(r.w);
    assert_int_equal(proc_table_count(g_table), 0);
    assert_true(pid_gone(r.pid));
    rec_done(&r);
}

/* A worker that ignores the request gets SIGTERM after ask_seconds. */
static void test_ignore_stop_gets_sigterm(void **state)
{
    (void)state;
    struct rec r;
    assert_int_equal(rec_start(&r, "test-ignore-stop", "ignore-stop", 0.3, 5.0), 0);
    assert_true(run_until(has_progress3, &r, 10));
    double t0 = util_now_mono();
    proc_stop(r.w);
    assert_true(run_until(has_exited, &r, 10));
    double took = r.exit_time - t0;
    assert_true(took >= 0.3);
    assert_true(took < 3.0); /* well before term_seconds' SIGKILL */
    assert_int_equal(count_type(&r, "sigterm"), 1);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_true(r.requested);
    rec_done(&r);
}

/* Ignoring both the request and SIGTERM ends with SIGKILL after ask + term. */
static void test_ignore_term_gets_sigkill(void **state)
{
    (void)state;
    struct rec r;
    assert_int_equal(rec_start(&r, "test-ignore-term", "ignore-term", 0.3, 0.3), 0);
    assert_true(run_until(has_progress3, &r, 10));
    double t0 = util_now_mono();
    proc_stop(r.w);
    assert_true(run_until(has_exited, &r, 10));
    double took = r.exit_time - t0;
    assert_true(took >= 0.6);
    assert_true(took < 3.0);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGKILL);
    assert_int_equal(count_type(&r, "sigterm"), 0);
    assert_int_equal(count_type(&r, "done"), 0);
    assert_true(r.requested);
    assert_true(pid_gone(r.pid));
    rec_done(&r);
}

/* A crash is reported through on_exit with the signal, without a stop. */
static void test_crash(void **state)
{
    (void)state;
    struct rec r;
    assert_int_equal(rec_start(&r, "test-crash", "crash", 0.3, 0.3), 0);
    assert_true(run_until(has_exited, &r, 10));
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGABRT);
    assert_false(r.requested);
    assert_string_equal(type_at(&r, 0), "started");
    rec_done(&r);
}

/* A job that fails reports "error" with its message, then exits 1; one that
 * finishes by itself reports "done" and exits 0. */
static void test_error_and_done(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    cJSON *job = job_of("test-sleep", "fails");
    cJSON_AddNumberToObject(job, "seconds", 0.3);
    cJSON_AddStringToObject(job, "fail", "boom: the test failure");
    assert_int_equal(spawn(&r, job, 1, 1), 0);
    cJSON_Delete(job);
    assert_true(run_until(has_exited, &r, 10));
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 1);
    assert_false(r.requested);
    int last = cJSON_GetArraySize(r.msgs) - 1;
    assert_string_equal(type_at(&r, last), "error");
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(r.msgs, last), "message")),
        "boom: the test failure");
    rec_done(&r);

    rec_init(&r);
    job = job_of("test-sleep", "finishes");
    cJSON_AddNumberToObject(job, "seconds", 0.3);
    assert_int_equal(spawn(&r, job, 1, 1), 0);
    cJSON_Delete(job);
    assert_true(run_until(has_exited, &r, 10));
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(type_at(&r, cJSON_GetArraySize(r.msgs) - 1), "done");
    rec_done(&r);

    /* Test kinds are refused without HLSD_TEST_JOBS=1 (the worker inherits our env). */
    unsetenv("HLSD_TEST_JOBS");
    assert_int_equal(rec_start(&r, "test-sleep", "refused", 1, 1), 0);
    setenv("HLSD_TEST_JOBS", "1", 1);
    assert_true(run_until(has_exited, &r, 10));
    assert_int_equal(WEXITSTATUS(r.status), 1);
    assert_int_equal(count_type(&r, "started"), 0);
    assert_int_equal(count_type(&r, "error"), 1);
    rec_done(&r);
}

/* worker_free of a running worker (here from inside on_message) kills it; no
 * callback follows and the supervisor reaps it by itself. */
static void test_free_running_worker(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    r.free_at_progress = 2;
    cJSON *job = job_of("test-ignore-term", "released");
    assert_int_equal(spawn(&r, job, 5, 5), 0);
    cJSON_Delete(job);
    assert_true(run_until(was_freed, &r, 10));
    assert_null(r.w);
    assert_true(run_until(no_workers, NULL, 3));
    /* Nothing after the free, although the worker kept writing until killed. */
    assert_int_equal(r.calls_after_free, 0);
    assert_int_equal(r.progress, 2);
    assert_false(r.exited);
    assert_true(pid_gone(r.pid));
    rec_done(&r);

    /* The same from outside any callback, right after spawning. */
    assert_int_equal(rec_start(&r, "test-sleep", "released2", 5, 5), 0);
    pid_t pid = r.pid;
    proc_free(&r.w);
    assert_null(r.w);
    assert_true(run_until(no_workers, NULL, 3));
    assert_true(pid_gone(pid));
    assert_int_equal(cJSON_GetArraySize(r.msgs), 0);
    rec_done(&r);
}

/* Shutdown runs the ladder on every worker at once and returns when all are
 * reaped: polite, SIGTERM and SIGKILL cases together. */
static void test_shutdown(void **state)
{
    (void)state;
    static const char *kinds[] = {"test-sleep", "test-ignore-stop", "test-ignore-term"};
    struct rec r[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rec_start(&r[i], kinds[i], kinds[i] + 5, 0.3, 0.3), 0);
    }
    assert_int_equal(proc_table_count(g_table), 3);
    pid_t pids[2];
    assert_int_equal(proc_table_pids(g_table, pids, 2), 3);
    for (int i = 0; i < 2; i++)
        assert_true(pids[i] == r[0].pid || pids[i] == r[1].pid || pids[i] == r[2].pid);
    for (int i = 0; i < 3; i++)
        assert_true(run_until(has_progress3, &r[i], 10));
    double t0 = util_now_mono();
    proc_table_shutdown(g_table);
    double took = util_now_mono() - t0;
    assert_true(took < 3.0);
    assert_int_equal(proc_table_count(g_table), 0);
    assert_int_equal(proc_table_pids(g_table, pids, 2), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(r[i].exited);
        assert_true(r[i].requested);
    }
    assert_true(WIFEXITED(r[0].status) && WEXITSTATUS(r[0].status) == 0);
    assert_true(WIFEXITED(r[1].status) && WEXITSTATUS(r[1].status) == 0);
    assert_int_equal(count_type(&r[1], "sigterm"), 1);
    assert_true(WIFSIGNALED(r[2].status) && WTERMSIG(r[2].status) == SIGKILL);
    for (int i = 0; i < 3; i++)
        rec_done(&r[i]);
}

static bool has_started(void *arg)
{
    return cJSON_GetArraySize(((struct rec *)arg)->msgs) > 0;
}

/* /proc files report size 0: read them in a loop. Returns a NUL-terminated
 * heap buffer (and its length, counting embedded NULs). */
static char *read_proc(pid_t pid, const char *file, size_t *len_out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0)
        len += n;
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static long limit_value(pid_t pid, const char *label)
{
    char *text = read_proc(pid, "limits", NULL);
    char *line = strstr(text, label);
    assert_non_null(line);
    long v = -1;
    sscanf(line + strlen(label), "%ld", &v);
    free(text);
    return v;
}

static char *proc_field(pid_t pid, const char *file, const char *key)
{
    char *text = read_proc(pid, file, NULL);
    char *line = strstr(text, key);
    assert_non_null(line);
    line += strlen(key);
    while (*line == ' ' || *line == '\t')
        line++;
    char *out = strndup(line, strcspn(line, "\n"));
    free(text);
    return out;
}

/* What the child sets up before exec: limits, niceness, an empty signal mask
 * (the daemon blocks SIGCHLD for its signalfd), its own process group,
 * HLSD_PARENT_PID, and no fd of ours beyond 0-3. */
static void test_child_setup(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    cJSON *job = job_of("test-sleep", "limits");
    struct proc_opts o = {.name = "limits",
                          .job = job,
                          .nice = 5,
                          .cpu_seconds = 100,
                          .memory_mb = 4096,
                          .ask_seconds = 2,
                          .term_seconds = 2};
    /* A stray fd without close-on-exec must not reach the worker. */
    int stray = open("/dev/null", O_RDONLY);
    assert_true(stray > 3);
    assert_int_equal(proc_spawn(&o, &cbs, &r, &r.w), 0);
    close(stray);
    cJSON_Delete(job);
    r.pid = proc_pid(r.w);
    assert_true(run_until(has_started, &r, 10));

    assert_int_equal(limit_value(r.pid, "Max cpu time"), 100);
#ifdef __SANITIZE_ADDRESS__
    /* ASan's shadow memory does not fit any RLIMIT_DATA: not applied there. */
    assert_int_equal(limit_value(r.pid, "Max data size"), -1);
#else
    assert_int_equal(limit_value(r.pid, "Max data size"), 4096L * 1024 * 1024);
#endif
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, (id_t)r.pid);
    assert_int_equal(errno, 0);
    assert_int_equal(prio, getpriority(PRIO_PROCESS, 0) + 5);
    char *blk = proc_field(r.pid, "status", "SigBlk:");
    assert_string_equal(blk, "0000000000000000");
    free(blk);
    assert_int_equal(getpgid(r.pid), r.pid);

    size_t len;
    char *env = read_proc(r.pid, "environ", &len);
    char path[64];
    char want[64];
    snprintf(want, sizeof(want), "HLSD_PARENT_PID=%d", (int)getpid());
    bool found = false;
    for (size_t off = 0; off < len; off += strlen(env + off) + 1)
        if (strcmp(env + off, want) == 0)
            found = true;
    free(env);
    assert_true(found);

    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)r.pid, stray);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)r.pid);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));

    proc_stop(r.w);
    assert_true(run_until(has_exited, &r, 10));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    rec_done(&r);
}

/* A binary that cannot be executed: worker_spawn fails at once with errno. */
static void test_spawn_failure(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    /* One table per process. */
    struct proc_table *second = NULL;
    assert_int_equal(proc_table_new(g_loop, g_binary, "debug", &second), -EBUSY);
    assert_null(second);
    proc_table_free(&g_table);
    assert_null(proc_table_current());
    assert_int_equal(proc_table_new(g_loop, "/nonexistent/hlsd", "debug", &g_table), 0);
    assert_ptr_equal(proc_table_current(), g_table);
    cJSON *job = job_of("test-sleep", "nope");
    assert_int_equal(spawn(&r, job, 1, 1), -ENOENT);
    assert_null(r.w);
    assert_int_equal(proc_table_count(g_table), 0);
    /* A helper whose executable is missing fails the same way. */
    struct rec h;
    rec_init(&h);
    char *argv[] = {"nope", NULL};
    struct proc_opts o = {.name = "nope", .argv = argv, .path = "/nonexistent/helper"};
    assert_int_equal(proc_spawn(&o, &cbs, &h, &h.w), -ENOENT);
    assert_null(h.w);
    rec_done(&h);
    cJSON_Delete(job);
    rec_done(&r);
}

/* The daemon is SIGKILLed: its worker (which ignores stop, SIGTERM and EOF)
 * dies by PR_SET_PDEATHSIG. We are the subreaper, so the orphan comes to us
 * and its wait status proves how it died. */
static void test_dies_with_parent(void **state)
{
    (void)state;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t mid = fork();
    assert_true(mid >= 0);
    if (mid == 0) {
        /* The intermediate "daemon": its own loop and table (the inherited
         * one holds no process). */
        close(p[0]);
        struct loop *l = NULL;
        proc_table_free(&g_table);
        if (loop_new(&l) < 0 || proc_table_new(l, g_binary, "debug", &g_table) < 0)
            _exit(3);
        g_loop = l;
        struct rec r;
        rec_init(&r);
        cJSON *job = job_of("test-ignore-term", "orphan");
        if (spawn(&r, job, 5, 5) < 0 || !run_until(has_started, &r, 10))
            _exit(4);
        int pid = r.pid;
        if (write(p[1], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
            _exit(5);
        for (;;)
            loop_run_once(l, 1000);
    }
    close(p[1]);
    int wpid = 0;
    assert_int_equal(read(p[0], &wpid, sizeof(wpid)), (ssize_t)sizeof(wpid));
    close(p[0]);
    assert_true(wpid > 0);
    assert_int_equal(kill(wpid, 0), 0);

    assert_int_equal(kill(mid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(mid, &st, 0), mid);
    double deadline = util_now_mono() + 2.0;
    pid_t got = 0;
    while (util_now_mono() < deadline) {
        got = waitpid(wpid, &st, WNOHANG);
        if (got == wpid)
            break;
        usleep(20 * 1000);
    }
    assert_int_equal(got, wpid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* ---- helpers: children without a channel ---- */

static int spawn_helper(struct rec *r, const char *name, const char *script)
{
    rec_init(r);
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    struct proc_opts o = {.name = name, .argv = argv, .path = "/bin/sh", .term_seconds = 0.5};
    int ret = proc_spawn(&o, &cbs, r, &r->w);
    if (ret == 0)
        r->pid = proc_pid(r->w);
    return ret;
}

/* Runs the loop until cond, never reaping by hand and sleeping up to 5 s per
 * iteration: only SIGCHLD on the loop's signalfd can wake it and report a
 * helper's exit (the table arms no timer for a running helper). */
static bool run_until_signalled(cond_fn cond, void *arg, double timeout)
{
    double deadline = util_now_mono() + timeout;
    while (!cond(arg)) {
        if (util_now_mono() >= deadline)
            return false;
        loop_run_once(g_loop, 5000);
    }
    return true;
}

/* A helper's exit comes through SIGCHLD with its status, at once: the loop
 * is woken by the signal, not by a poll (it would otherwise sleep 5 s).
 * Helpers are not counted as workers and take no messages. */
static void test_helper_exit_status(void **state)
{
    (void)state;
    struct rec r;
    double t0 = util_now_mono();
    assert_int_equal(spawn_helper(&r, "helper exit", "sleep 0.2; exit 3"), 0);
    assert_true(r.pid > 0);
    assert_true(proc_alive(r.w));
    assert_int_equal(proc_table_count(g_table), 0);
    cJSON *cmd = cJSON_CreateObject();
    assert_int_equal(proc_send(r.w, cmd), -EPIPE);
    cJSON_Delete(cmd);
    assert_true(run_until_signalled(has_exited, &r, 5));
    double took = r.exit_time - t0;
    assert_true(took >= 0.2);
    assert_true(took < 4.0);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 3);
    assert_false(r.requested);
    assert_int_equal(cJSON_GetArraySize(r.msgs), 0);
    assert_null(r.w);
    assert_true(pid_gone(r.pid));
    /* Helpers are not workers: no crash counted. */
    assert_int_equal(proc_table_crashes(g_table), 0);
    rec_done(&r);
}

static bool all_exited(void *arg)
{
    struct rec *r = arg;
    for (int i = 0; i < 4; i++)
        if (!r[i].exited)
            return false;
    return true;
}

/* Several children exiting together (one SIGCHLD may stand for all of them)
 * are all reported, each with its own status, workers and helpers alike. */
static void test_several_exit_at_once(void **state)
{
    (void)state;
    struct rec r[4];
    static const char *scripts[] = {"sleep 0.3; exit 0", "sleep 0.3; exit 1", "sleep 0.3; exit 7"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(spawn_helper(&r[i], "helper many", scripts[i]), 0);
    rec_init(&r[3]);
    cJSON *job = job_of("test-sleep", "worker many");
    cJSON_AddNumberToObject(job, "seconds", 0.3);
    assert_int_equal(spawn(&r[3], job, 1, 1), 0);
    cJSON_Delete(job);
    assert_true(run_until_signalled(all_exited, r, 10));
    for (int i = 0; i < 3; i++) {
        assert_true(WIFEXITED(r[i].status));
        assert_null(r[i].w);
        assert_true(pid_gone(r[i].pid));
    }
    assert_int_equal(WEXITSTATUS(r[0].status), 0);
    assert_int_equal(WEXITSTATUS(r[1].status), 1);
    assert_int_equal(WEXITSTATUS(r[2].status), 7);
    assert_true(WIFEXITED(r[3].status) && WEXITSTATUS(r[3].status) == 0);
    assert_string_equal(type_at(&r[3], cJSON_GetArraySize(r[3].msgs) - 1), "done");
    for (int i = 0; i < 4; i++)
        rec_done(&r[i]);
}

/* Killed by a signal we did not send: reported with the signal, and for a
 * worker counted as a crash (/metrics). */
static void test_signal_death_is_a_crash(void **state)
{
    (void)state;
    struct rec h, w;
    assert_int_equal(spawn_helper(&h, "helper segv", "kill -SEGV $$"), 0);
    assert_true(run_until_signalled(has_exited, &h, 5));
    assert_true(WIFSIGNALED(h.status));
    assert_int_equal(WTERMSIG(h.status), SIGSEGV);
    assert_false(h.requested);
    assert_int_equal(proc_table_crashes(g_table), 0);
    rec_done(&h);

    assert_int_equal(rec_start(&w, "test-ignore-term", "killed outside", 5, 5), 0);
    assert_true(run_until(has_progress3, &w, 10));
    assert_int_equal(kill(w.pid, SIGKILL), 0);
    assert_true(run_until_signalled(has_exited, &w, 5));
    assert_true(WIFSIGNALED(w.status));
    assert_int_equal(WTERMSIG(w.status), SIGKILL);
    assert_false(w.requested);
    assert_int_equal(proc_table_crashes(g_table), 1);
    rec_done(&w);
}

/* Shutdown kills a sleeping helper at once (no ladder: it has nothing to
 * finish) and reports it; a released one is killed and reaped too. */
static void test_shutdown_kills_helpers(void **state)
{
    (void)state;
    struct rec r, released;
    assert_int_equal(spawn_helper(&r, "helper sleeper", "exec sleep 30"), 0);
    assert_int_equal(spawn_helper(&released, "helper released", "exec sleep 30"), 0);
    pid_t rpid = released.pid;
    /* Let both exec sleep: shutdown must not depend on the shell. */
    usleep(100 * 1000);
    double t0 = util_now_mono();
    proc_table_shutdown(g_table);
    proc_free(&released.w);
    assert_true(util_now_mono() - t0 < 1.0);
    assert_true(r.exited);
    assert_true(r.requested);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGKILL);
    assert_true(pid_gone(r.pid));
    rec_done(&r);
    rec_done(&released);

    /* Released first, then shutdown: no callback, but reaped. */
    assert_int_equal(spawn_helper(&released, "helper released", "exec sleep 30"), 0);
    rpid = released.pid;
    proc_free(&released.w);
    proc_table_shutdown(g_table);
    assert_true(pid_gone(rpid));
    assert_false(released.exited);
    rec_done(&released);
}

/* proc_stop on a helper: SIGTERM (no channel to ask on), on_exit requested. */
static void test_helper_stop(void **state)
{
    (void)state;
    struct rec r;
    assert_int_equal(spawn_helper(&r, "helper stop", "exec sleep 30"), 0);
    usleep(100 * 1000);
    proc_stop(r.w);
    assert_true(run_until_signalled(has_exited, &r, 5));
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGTERM);
    assert_true(r.requested);
    rec_done(&r);
}

static int setup(void **state)
{
    (void)state;
    g_binary = getenv("HLSD_BINARY");
    if (!g_binary || access(g_binary, X_OK) != 0) {
        fprintf(stderr, "HLSD_BINARY must name the hlsd binary (meson sets it)\n");
        return -1;
    }
    setenv("HLSD_TEST_JOBS", "1", 1);
    return 0;
}

static int setup_one(void **state)
{
    (void)state;
    if (loop_new(&g_loop) < 0)
        return -1;
    return proc_table_new(g_loop, g_binary, "debug", &g_table);
}

static int teardown_one(void **state)
{
    (void)state;
    proc_table_free(&g_table);
    loop_free(&g_loop);
    return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_one, teardown_one)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_polite_stop),
        TEST(test_ignore_stop_gets_sigterm),
        TEST(test_ignore_term_gets_sigkill),
        TEST(test_crash),
        TEST(test_error_and_done),
        TEST(test_free_running_worker),
        TEST(test_shutdown),
        TEST(test_child_setup),
        TEST(test_spawn_failure),
        TEST(test_dies_with_parent),
        TEST(test_helper_exit_status),
        TEST(test_several_exit_at_once),
        TEST(test_signal_death_is_a_crash),
        TEST(test_shutdown_kills_helpers),
        TEST(test_helper_stop),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
