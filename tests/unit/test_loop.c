/* The event loop: timer order and cancel, fd watches removed or replaced in
 * the middle of a batch, signals through signalfd, hooks bounding the wait. */
#include "core/loop.h"
#include "core/util.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct rec {
    struct loop *loop;
    char order[16];
    int n;
    int stop_after;
};

static void note(struct rec *r, char c)
{
    if (r->n < (int)sizeof(r->order) - 1)
        r->order[r->n++] = c;
    if (r->stop_after && r->n >= r->stop_after)
        loop_stop(r->loop);
}

struct tmark {
    struct rec *r;
    char c;
};

static void on_timer(void *arg)
{
    struct tmark *m = arg;
    note(m->r, m->c);
}

static void test_timers_in_deadline_order(void **state)
{
    (void)state;
    struct rec r = {.stop_after = 3};
    assert_int_equal(loop_new(&r.loop), 0);
    struct tmark c = {&r, 'c'}, a = {&r, 'a'}, b = {&r, 'b'}, x = {&r, 'x'};
    assert_non_null(loop_timer_add(r.loop, 0.06, on_timer, &c));
    assert_non_null(loop_timer_add(r.loop, 0.02, on_timer, &a));
    struct loop_timer *tx = loop_timer_add(r.loop, 0.03, on_timer, &x);
    assert_non_null(loop_timer_add(r.loop, 0.04, on_timer, &b));
    loop_timer_cancel(r.loop, &tx);
    assert_null(tx);
    loop_timer_cancel(r.loop, &tx); /* already NULL: no-op */
    loop_timer_cancel(r.loop, NULL);
    double t0 = util_now_mono();
    assert_int_equal(loop_run(r.loop), 0);
    double took = util_now_mono() - t0;
    assert_string_equal(r.order, "abc");
    assert_true(took >= 0.055);
    assert_true(took < 2.0);
    /* A timer still armed at free is dropped without being called (ASan
     * reports a leak if it is not freed). */
    assert_non_null(loop_timer_add(r.loop, 100, on_timer, &x));
    loop_free(&r.loop);
    assert_null(r.loop);
    loop_free(NULL);
    assert_string_equal(r.order, "abc");
}

/* Two readable pipes in one batch: whichever callback runs first removes the
 * other watch (and re-adds the same fd with a new callback). The removed
 * watch must not be called, and the new one must not get the stale event of
 * this batch, only a fresh one on the next iteration. */
struct pair {
    struct loop *loop;
    int fds[2][2];
    int calls[2];
    int replaced_calls;
    int first;
};

static void on_replaced(void *arg, int fd, uint32_t ev)
{
    struct pair *p = arg;
    (void)fd;
    (void)ev;
    p->replaced_calls++;
}

static void on_pipe(struct pair *p, int me)
{
    int other = !me;
    p->calls[me]++;
    if (p->first < 0) {
        p->first = me;
        assert_int_equal(loop_del_fd(p->loop, p->fds[other][0]), 0);
        assert_int_equal(loop_add_fd(p->loop, p->fds[other][0], EPOLLIN, on_replaced, p), 0);
    }
}

static void on_pipe0(void *arg, int fd, uint32_t ev)
{
    (void)fd;
    assert_true(ev & EPOLLIN);
    on_pipe(arg, 0);
}

static void on_pipe1(void *arg, int fd, uint32_t ev)
{
    (void)fd;
    assert_true(ev & EPOLLIN);
    on_pipe(arg, 1);
}

static void test_watch_removed_mid_batch(void **state)
{
    (void)state;
    struct pair p = {.first = -1};
    assert_int_equal(loop_new(&p.loop), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pipe(p.fds[i]), 0);
        assert_int_equal(write(p.fds[i][1], "x", 1), 1);
    }
    assert_int_equal(loop_add_fd(p.loop, p.fds[0][0], EPOLLIN, on_pipe0, &p), 0);
    assert_int_equal(loop_add_fd(p.loop, p.fds[1][0], EPOLLIN, on_pipe1, &p), 0);
    assert_int_equal(loop_add_fd(p.loop, p.fds[0][0], EPOLLIN, on_pipe0, &p), -EEXIST);

    assert_int_equal(loop_run_once(p.loop, 1000), 0);
    assert_int_equal(p.calls[0] + p.calls[1], 1);
    assert_int_equal(p.replaced_calls, 0);

    /* level-triggered: the fd is still readable, the new watch sees it now */
    assert_int_equal(loop_run_once(p.loop, 1000), 0);
    assert_int_equal(p.replaced_calls, 1);
    assert_int_equal(p.calls[!p.first], 0);

    assert_int_equal(loop_del_fd(p.loop, p.fds[0][0]), 0);
    assert_int_equal(loop_del_fd(p.loop, p.fds[0][0]), -ENOENT);
    assert_int_equal(loop_del_fd(p.loop, p.fds[1][0]), 0);
    for (int i = 0; i < 2; i++) {
        close(p.fds[i][0]);
        close(p.fds[i][1]);
    }
    loop_free(&p.loop);
}

static int got_signo;

static void on_signal(void *arg, int signo)
{
    struct loop *l = arg;
    got_signo = signo;
    loop_stop(l);
}

static void test_signal_through_loop(void **state)
{
    (void)state;
    struct loop *l = NULL;
    assert_int_equal(loop_new(&l), 0);
    assert_int_equal(loop_add_signal(l, SIGUSR1, on_signal, l), 0);
    /* blocked now: raise() queues it for the signalfd instead of killing us */
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(got_signo, SIGUSR1);
    loop_free(&l);
}

struct hooks {
    int prepares, checks;
};

static int64_t prepare_10ms(void *arg)
{
    struct hooks *h = arg;
    h->prepares++;
    return 10;
}

static void check(void *arg)
{
    struct hooks *h = arg;
    h->checks++;
}

static void test_prepare_hook_bounds_the_wait(void **state)
{
    (void)state;
    struct loop *l = NULL;
    struct hooks h = {0};
    assert_int_equal(loop_new(&l), 0);
    loop_set_hooks(l, prepare_10ms, check, &h);
    double t0 = util_now_mono();
    for (int i = 0; i < 5; i++)
        assert_int_equal(loop_run_once(l, 5000), 0);
    double took = util_now_mono() - t0;
    assert_true(took < 1.0); /* 5 x 10 ms, not 5 x 5 s */
    assert_int_equal(h.prepares, 5);
    assert_int_equal(h.checks, 5);
    loop_free(&l);
}

/* A timer added from a timer callback, due at once, runs on the next
 * iteration: a callback re-arming itself cannot starve fd watchers. */
struct rearm {
    struct loop *loop;
    int runs;
    int iteration_runs;
};

static void on_rearm(void *arg)
{
    struct rearm *r = arg;
    r->runs++;
    r->iteration_runs++;
    assert_non_null(loop_timer_add(r->loop, 0, on_rearm, r));
}

static void test_rearmed_timer_waits_for_next_iteration(void **state)
{
    (void)state;
    struct rearm r = {0};
    assert_int_equal(loop_new(&r.loop), 0);
    assert_non_null(loop_timer_add(r.loop, 0, on_rearm, &r));
    for (int i = 0; i < 3; i++) {
        r.iteration_runs = 0;
        assert_int_equal(loop_run_once(r.loop, 100), 0);
        assert_true(r.iteration_runs <= 1);
    }
    assert_true(r.runs >= 2);
    loop_free(&r.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_in_deadline_order),
        cmocka_unit_test(test_watch_removed_mid_batch),
        cmocka_unit_test(test_signal_through_loop),
        cmocka_unit_test(test_prepare_hook_bounds_the_wait),
        cmocka_unit_test(test_rearmed_timer_waits_for_next_iteration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
