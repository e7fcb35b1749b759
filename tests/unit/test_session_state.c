/* The transcode session state machine (src/vod/session.c, the states of
 * vod_session_state) driven by real child processes: the process table runs a
 * shell script in the worker's place, which plans three segments, writes
 * them, then waits (paused) until asked for more (then "done") or stopped.
 * The recording's path picks a scenario: normal, or a crash after the plan. */
#include "core/config.h"
#include "core/loop.h"
#include "core/util.h"
#include "http/http.h"
#include "vod/index.h"
#include "vod/session.h"
#include "vod/session_priv.h"
#include "worker/proc.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_worker.h"

static char tmp[64];
static struct loop *loop;
static struct proc_table *procs;
static struct hlsd_config *cfg;
static struct http_server *http;
static struct vod_manager *mgr;

static const char fake_worker[] =
    "#!/bin/sh\n"
    "IFS= read -r job <&3\n"
    "field() { printf '%s\\n' \"$job\" | sed -n \"s/.*\\\"$1\\\":\\\"\\([^\\\"]*\\)\\\".*/\\1/p\"; "
    "}\n"
    "out=$(field out_dir); pre=$(field segment_prefix)\n"
    "ev() { printf '%s\\n' \"$1\" >&3; }\n"
    "case \"$job\" in *huge.mp4*)\n"
    "  ev '{\"type\":\"plan\",\"segments\":10000000,\"duration\":6}'\n"
    "  ev '{\"type\":\"progress\",\"percent\":1e300,\"speed\":-5,\"encoded_up_to\":9e18}'\n"
    "  ev '{\"type\":\"segment\",\"index\":5000000}'\n"
    "  while IFS= read -r cmd <&3; do :; done; exit 0 ;;\n"
    "esac\n"
    "n=3; case \"$job\" in *partial.mp4*) n=5 ;; esac\n"
    "ev \"{\\\"type\\\":\\\"plan\\\",\\\"segments\\\":$n,\\\"duration\\\":6}\"\n"
    "case \"$job\" in *crash.mp4*) sleep 0.2; kill -SEGV $$ ;; esac\n"
    "for i in 0 1 2; do\n"
    "  [ -e \"$out/$pre$i.ts\" ] && continue\n"
    "  printf x >\"$out/$pre$i.ts.tmp\"; mv \"$out/$pre$i.ts.tmp\" \"$out/$pre$i.ts\"\n"
    "  ev \"{\\\"type\\\":\\\"segment\\\",\\\"index\\\":$i}\"\n"
    "done\n"
    "while IFS= read -r cmd <&3; do case \"$cmd\" in\n"
    "  *stop*) exit 0 ;;\n"
    "  *want*) ev '{\"type\":\"done\"}'; exit 0 ;;\n"
    "esac; done\n";

static void add_recording(const char *camera, const char *path)
{
    struct vod_recording rec = {0};
    snprintf(rec.camera, sizeof(rec.camera), "%s", camera);
    rec.path = (char *)path;
    rec.start_time = 1000;
    rec.end_time = 1006;
    rec.duration = 6;
    snprintf(rec.video_codec, sizeof(rec.video_codec), "hevc");
    snprintf(rec.pix_fmt, sizeof(rec.pix_fmt), "yuv420p");
    rec.width = 320;
    rec.height = 180;
    rec.size = 1;
    rec.mtime = 1;
    assert_int_equal(vod_index_put(mgr->ix, &rec), 0);
}

static int setup(void **state)
{
    (void)state;
    char path[128], yaml[1024], err[256];
    snprintf(tmp, sizeof(tmp), "/tmp/hlsd-session-state-XXXXXX");
    fake_worker_write(tmp, fake_worker, path, sizeof(path));
    snprintf(
        yaml, sizeof(yaml),
        "state_dir: %s/state\n"
        "vod: { sample_recording: false, max_concurrent: 1, lookahead: 2, hevc_variant: false,\n"
        "       pause_release_seconds: 1 }\n",
        tmp);
    int r = config_load_string(yaml, "test", &cfg, err, sizeof(err));
    if (r < 0)
        fail_msg("config: %s", err);
    snprintf(path, sizeof(path), "%s/state", tmp);
    assert_int_equal(util_mkdir_p(path, 0755), 0);
    assert_int_equal(loop_new(&loop), 0);
    snprintf(path, sizeof(path), "%s/fake-worker", tmp);
    assert_int_equal(proc_table_new(loop, path, "warn", &procs), 0);
    assert_int_equal(http_server_new(loop, cfg, &http), 0);
    assert_int_equal(vod_manager_new(loop, cfg, http, &mgr), 0);
    add_recording("cam", "/rec/ok.mp4");
    add_recording("bad", "/rec/crash.mp4");
    add_recording("huge", "/rec/huge.mp4");
    add_recording("part", "/rec/partial.mp4");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vod_manager_shutdown(mgr);
    proc_table_shutdown(procs);
    vod_manager_free(&mgr);
    http_server_free(&http);
    proc_table_free(&procs);
    loop_free(&loop);
    config_free(&cfg);
    util_rm_rf(tmp);
    return 0;
}

static void run_until(struct vod_session *s, const char *st)
{
    double until = util_now_mono() + 10;
    while (strcmp(vod_session_state(s), st) != 0 && util_now_mono() < until)
        assert_int_equal(loop_run_once(loop, 50), 0);
    if (strcmp(vod_session_state(s), st) != 0)
        fail_msg("%s: state %s, expected %s", s->name, vod_session_state(s), st);
}

static void test_plan_encode_pause_done(void **state)
{
    (void)state;
    struct vod_session *s = NULL, *other = NULL;
    assert_int_equal(
        vod_session_create(mgr, "tester", "cam", 1000, 1006, "", "aaaaaaaaaaaaaaaaaaaaaaaa", &s),
        0);
    assert_string_equal(vod_session_state(s), "starting");
    /* max_concurrent 1: a second session is refused while this one works */
    assert_int_equal(vod_session_create(mgr, "tester", "bad", 1000, 1006, "",
                                        "bbbbbbbbbbbbbbbbbbbbbbbb", &other),
                     -EBUSY);
    assert_null(other);
    run_until(s, "paused"); /* every segment written, the worker still alive */
    assert_true(s->t[0].planned);
    assert_int_equal(s->t[0].n_segments, 3);
    assert_int_equal(s->t[0].n_have, 3);
    assert_int_equal(s->t[0].encoded_up_to, 2);
    assert_int_equal(vod_active_count(mgr), 0); /* a paused worker holds no slot */
    vod_track_want(&s->t[0], 2);
    run_until(s, "done");
    assert_null(s->t[0].w);
    assert_false(s->t[0].failed);
    assert_int_equal(vod_active_count(mgr), 0);
    assert_true(vod_segment_exists(&s->t[0], 1));
    /* a worker respawned for a finished session reuses every segment on disk */
    assert_int_equal(vod_track_ensure_worker(&s->t[0]), 0);
    run_until(s, "paused");
    assert_int_equal(s->t[0].n_have, 3);
    vod_session_destroy(s, 410, "test over");
    assert_int_equal(vod_active_count(mgr), 0);
}

static void test_crash_fails_then_respawns(void **state)
{
    (void)state;
    struct vod_session *s = NULL;
    assert_int_equal(
        vod_session_create(mgr, "tester", "bad", 1000, 1006, "", "cccccccccccccccccccccccc", &s),
        0);
    run_until(s, "failed");
    assert_true(s->t[0].failed);
    assert_string_equal(s->t[0].error, "worker crashed (signal 11)");
    assert_null(s->t[0].w);
    /* the next segment request respawns it (vod_session_ensure_worker) */
    assert_int_equal(vod_track_ensure_worker(&s->t[0]), 0);
    assert_false(s->t[0].failed);
    assert_int_equal(s->t[0].restarts, 1);
    run_until(s, "failed");
    vod_session_destroy(s, 410, "test over");
}

/* A worker's claims are checked against the job: a plan far beyond what a
 * 6 s range can have, and out-of-range numbers, are not believed. */
static void test_absurd_worker_claims_are_refused(void **state)
{
    (void)state;
    struct vod_session *s = NULL;
    assert_int_equal(
        vod_session_create(mgr, "tester", "huge", 1000, 1006, "", "dddddddddddddddddddddddd", &s),
        0);
    double until = util_now_mono() + 10;
    while (!strstr(s->t[0].error, "planned") && util_now_mono() < until)
        assert_int_equal(loop_run_once(loop, 50), 0);
    for (int i = 0; i < 10; i++) /* the progress and segment lines that follow */
        assert_int_equal(loop_run_once(loop, 20), 0);
    assert_non_null(strstr(s->t[0].error, "planned 1e+07 segments"));
    assert_false(s->t[0].planned);
    assert_null(s->t[0].have);
    assert_int_equal(s->t[0].n_segments, 0);
    assert_true(s->t[0].percent >= 0 && s->t[0].percent <= 100);
    assert_true(s->t[0].speed >= 0);
    assert_int_equal(s->t[0].encoded_up_to, -1);
    assert_string_equal(vod_session_state(s), "starting");
    vod_session_destroy(s, 410, "test over");
}

static struct vod_session *create_paused(const char *owner, const char *camera, double end,
                                         const char *id)
{
    struct vod_session *s = NULL;
    assert_int_equal(vod_session_create(mgr, owner, camera, 1000, end, "", id, &s), 0);
    run_until(s, "paused");
    return s;
}

/* A worker paused at its lookahead with nobody asking exits after
 * pause_release_seconds; its segments stay and a new worker reuses them. */
static void test_paused_worker_is_released_and_resumed(void **state)
{
    (void)state;
    char path[PATH_MAX + 80], name[64];
    struct stat before, after;
    struct vod_session *s = create_paused("tester", "part", 1006, "eeeeeeeeeeeeeeeeeeeeeeee");
    vod_segment_name(&s->t[0], 0, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    assert_int_equal(stat(path, &before), 0);
    run_until(s, "idle"); /* released by the manager's tick */
    assert_null(s->t[0].w);
    assert_false(s->t[0].failed);
    assert_int_equal(s->t[0].n_have, 3);
    assert_int_equal(s->t[0].n_segments, 5);
    assert_int_equal(vod_active_count(mgr), 0);
    /* a viewer comes back: a worker starts again and re-encodes nothing */
    assert_int_equal(vod_track_ensure_worker(&s->t[0]), 0);
    run_until(s, "paused");
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino == after.st_ino && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec &&
                before.st_mtim.tv_sec == after.st_mtim.tv_sec);
    vod_session_destroy(s, 410, "test over");
}

/* max_sessions_per_user (2): alice's third session ends alice's oldest idle
 * one; bob's is untouched. */
static void test_sessions_per_user(void **state)
{
    (void)state;
    create_paused("alice", "cam", 1002, "a1a1a1a1a1a1a1a1a1a1a1a1");
    create_paused("bob", "cam", 1003, "b1b1b1b1b1b1b1b1b1b1b1b1");
    struct vod_session *a2 = create_paused("alice", "cam", 1004, "a2a2a2a2a2a2a2a2a2a2a2a2");
    a2->last_access += 1; /* a1 is the least recently used */
    create_paused("alice", "cam", 1005, "a3a3a3a3a3a3a3a3a3a3a3a3");
    assert_null(vod_session_find(mgr, "a1a1a1a1a1a1a1a1a1a1a1a1"));
    assert_non_null(vod_session_find(mgr, "a2a2a2a2a2a2a2a2a2a2a2a2"));
    assert_non_null(vod_session_find(mgr, "a3a3a3a3a3a3a3a3a3a3a3a3"));
    assert_non_null(vod_session_find(mgr, "b1b1b1b1b1b1b1b1b1b1b1b1"));
    static const char *const ids[] = {"a2a2a2a2a2a2a2a2a2a2a2a2", "a3a3a3a3a3a3a3a3a3a3a3a3",
                                      "b1b1b1b1b1b1b1b1b1b1b1b1"};
    for (size_t i = 0; i < 3; i++)
        vod_session_destroy(vod_session_find(mgr, ids[i]), 410, "test over");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_encode_pause_done),
        cmocka_unit_test(test_crash_fails_then_respawns),
        cmocka_unit_test(test_absurd_worker_claims_are_refused),
        cmocka_unit_test(test_paused_worker_is_released_and_resumed),
        cmocka_unit_test(test_sessions_per_user),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
