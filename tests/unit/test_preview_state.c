/* The live port state machine (src/live/preview.c) driven by real child
 * processes: the process table re-executes a small shell script instead of our
 * binary, which plays a worker's part over the real channel (job line in,
 * JSON events out, exit on "stop"). Each port's input URL picks a script
 * scenario: normal, crash once, fatal error, input error. */
#include "core/config.h"
#include "core/loop.h"
#include "core/util.h"
#include "live/preview_priv.h"
#include "worker/proc.h"

#include <errno.h>
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
static struct live_manager *mgr;

static const char fake_worker[] =
    "#!/bin/sh\n"
    "# a worker's part: job on fd 3, events back on fd 3\n"
    "IFS= read -r job <&3\n"
    "dir=$(dirname \"$0\")\n"
    "ev() { printf '%s\\n' \"$1\" >&3; }\n"
    "case \"$job\" in\n"
    "*'\"url\":\"crash-once\"'*)\n"
    "  if [ ! -e \"$dir/crashed\" ]; then : >\"$dir/crashed\"; ev '{\"type\":\"started\"}';\n"
    "    kill -SEGV $$; fi ;;\n"
    "*'\"url\":\"fatal\"'*) ev '{\"type\":\"error\",\"message\":\"bad settings\"}'; exit 1 ;;\n"
    "esac\n"
    "case \"$job\" in *'\"continue\":true'*) : >\"$dir/continued\" ;; esac\n"
    "ev '{\"type\":\"started\",\"width\":64,\"height\":36}'\n"
    "ev '{\"type\":\"segment\",\"index\":0,\"file\":\"x.ts\",\"duration\":1}'\n"
    "case \"$job\" in *'\"url\":\"input-error\"'*)\n"
    "  ev '{\"type\":\"input_error\",\"message\":\"source gone\",\"restarts\":1}' ;; esac\n"
    "while IFS= read -r cmd <&3; do case \"$cmd\" in *stop*) exit 0 ;; esac; done\n"
    "exit 0\n";

static int setup(void **state)
{
    (void)state;
    char path[128], yaml[2048], err[256];
    snprintf(tmp, sizeof(tmp), "/tmp/hlsd-preview-state-XXXXXX");
    fake_worker_write(tmp, fake_worker, path, sizeof(path));
    snprintf(yaml, sizeof(yaml),
             "state_dir: %s/state\n"
             "preview: { backoff: [0.2], hls: { variant: mpegts } }\n"
             "ports:\n"
             "  - { index: 1, name: normal, input: { url: normal } }\n"
             "  - { index: 2, name: crash, input: { url: crash-once } }\n"
             "  - { index: 3, name: fatal, input: { url: fatal } }\n"
             "  - { index: 4, name: flaky, input: { url: input-error } }\n",
             tmp);
    int r = config_load_string(yaml, "test", &cfg, err, sizeof(err));
    if (r < 0)
        fail_msg("config: %s", err);
    assert_int_equal(loop_new(&loop), 0);
    assert_int_equal(proc_table_new(loop, path, "warn", &procs), 0);
    assert_int_equal(live_manager_new(loop, cfg, NULL, &mgr), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    live_manager_shutdown(mgr);
    proc_table_shutdown(procs);
    live_manager_free(&mgr);
    proc_table_free(&procs);
    loop_free(&loop);
    config_free(&cfg);
    util_rm_rf(tmp);
    return 0;
}

/* Runs the loop until port p is in state s (or 10 s pass). */
static void run_until(struct live_port *p, enum live_state s)
{
    double until = util_now_mono() + 10;
    while (p->state != s && util_now_mono() < until)
        assert_int_equal(loop_run_once(loop, 50), 0);
    if (p->state != s)
        fail_msg("%s: state %s, expected %s", p->log_name, live_state_name(p->state),
                 live_state_name(s));
}

static void test_start_run_stop(void **state)
{
    (void)state;
    struct live_port *p = live_find_port(mgr, 1);
    assert_non_null(p);
    assert_int_equal(p->state, LIVE_STOPPED);
    assert_int_equal(live_port_start(p, "test"), 0);
    assert_int_equal(p->state, LIVE_STARTING);
    assert_true(live_port_previewing(p));
    run_until(p, LIVE_RUNNING);
    double until = util_now_mono() + 5;
    while (p->segments < 1 && util_now_mono() < until)
        loop_run_once(loop, 50);
    assert_int_equal(p->segments, 1);
    assert_int_equal(p->width, 64);
    assert_int_equal(live_port_start(p, "again"), 0); /* no-op while previewing */
    assert_int_equal(p->state, LIVE_RUNNING);
    assert_true(live_port_stop(p, "test"));
    assert_int_equal(p->state, LIVE_STOPPING);
    assert_false(live_port_stop(p, "twice")); /* already stopping */
    run_until(p, LIVE_STOPPED);
    assert_null(p->w);
    assert_null(p->last_error);
    assert_false(live_port_stop(p, "stopped")); /* nothing to stop */
}

static void test_start_while_stopping_restarts(void **state)
{
    (void)state;
    struct live_port *p = live_find_port(mgr, 1);
    assert_int_equal(live_port_start(p, "test"), 0);
    run_until(p, LIVE_RUNNING);
    pid_t first = proc_pid(p->w);
    assert_true(live_port_stop(p, "test"));
    assert_int_equal(live_port_start(p, "during the ladder"), 0);
    assert_int_equal(p->state, LIVE_STOPPING); /* queued, not doubled */
    run_until(p, LIVE_RUNNING);
    assert_non_null(p->w);
    assert_true(proc_pid(p->w) != first);
    assert_true(live_port_stop(p, "end"));
    run_until(p, LIVE_STOPPED);
}

static void test_crash_respawns_and_continues(void **state)
{
    (void)state;
    char path[128];
    struct live_port *p = live_find_port(mgr, 2);
    assert_int_equal(live_port_start(p, "test"), 0);
    run_until(p, LIVE_RECONNECTING); /* the worker died of SIGSEGV */
    assert_null(p->w);
    assert_non_null(p->last_error);
    assert_non_null(strstr(p->last_error, "signal 11"));
    assert_int_equal(p->restarts_base, 1);
    run_until(p, LIVE_RUNNING); /* respawned after the 0.2 s backoff */
    snprintf(path, sizeof(path), "%s/continued", tmp);
    assert_int_equal(access(path, F_OK), 0); /* the respawn continued the playlist */
    assert_true(live_port_stop(p, "end"));
    run_until(p, LIVE_STOPPED);
}

static void test_fatal_error_fails_without_respawn(void **state)
{
    (void)state;
    struct live_port *p = live_find_port(mgr, 3);
    assert_int_equal(live_port_start(p, "test"), 0);
    run_until(p, LIVE_FAILED);
    assert_string_equal(p->last_error, "bad settings");
    assert_null(p->w);
    assert_null(p->respawn_timer);
    assert_false(live_port_previewing(p));
    assert_false(live_port_stop(p, "ack")); /* acknowledged: back to stopped */
    assert_int_equal(p->state, LIVE_STOPPED);
    assert_string_equal(p->last_error, "bad settings"); /* kept for the status */
}

static void test_input_error_reconnects(void **state)
{
    (void)state;
    struct live_port *p = live_find_port(mgr, 4);
    assert_int_equal(live_port_start(p, "test"), 0);
    run_until(p, LIVE_RECONNECTING);
    assert_non_null(p->w); /* the worker retries by itself: no respawn */
    assert_string_equal(p->last_error, "source gone");
    assert_int_equal(p->worker_restarts, 1);
    assert_true(live_port_stop(p, "end"));
    run_until(p, LIVE_STOPPED);
    assert_int_equal(p->restarts_base, 1); /* folded in at exit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_run_stop),
        cmocka_unit_test(test_start_while_stopping_restarts),
        cmocka_unit_test(test_crash_respawns_and_continues),
        cmocka_unit_test(test_fatal_error_fails_without_respawn),
        cmocka_unit_test(test_input_error_reconnects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
