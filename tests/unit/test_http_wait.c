/* The wait queue against a real in-process server: requests suspended with
 * keys, woken by key and all at once, one timing out (the queue's on_timeout
 * answers), one whose client leaves (removed silently). */
#include "core/loop.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_wait.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define N_CLIENTS 5

struct wt {
    struct loop *loop;
    struct http_server *srv;
    struct http_wait_queue q;
    int port;
    int added, timeouts;
    size_t count_at_check, woken_key1, woken_all, woken_missing;
    char *answers[N_CLIENTS];
};

static void on_timeout(void *arg, struct http_waiter *w)
{
    struct wt *t = arg;
    t->timeouts++;
    http_respond_error(w->req, 504, "timeout %lld", w->key);
}

static void answer(void *arg, struct http_waiter *w)
{
    const char *what = arg;
    char body[64];
    int n = snprintf(body, sizeof(body), "%s %lld %s", what, w->key, w->name);
    http_respond_data(w->req, 200, "text/plain", body, (size_t)n);
}

static int h_wait(void *arg, struct http_request *r)
{
    struct wt *t = arg;
    const char *d = http_req_query(r, "deadline");
    struct http_waiter tmpl = {.key = atoll(http_req_param(r, "key")), .sub = -1};
    snprintf(tmpl.name, sizeof(tmpl.name), "n%d", t->added);
    int ret = http_wait_add(&t->q, r, d ? atof(d) : 10, &tmpl);
    if (ret == 0)
        t->added++;
    return ret;
}

static void check_then_wake(void *arg)
{
    struct wt *t = arg;
    /* by now: key 3 timed out (0.2 s), the client of key 4 left (0.3 s) */
    t->count_at_check = http_wait_count(&t->q);
    t->woken_missing = http_wait_wake_key(&t->q, 99, answer, "none");
    t->woken_key1 = http_wait_wake_key(&t->q, 1, answer, "key");
    t->woken_all = http_wait_wake_all(&t->q, answer, "all");
}

static void *client_main(void *arg)
{
    struct wt *t = arg;
    static const char *const paths[N_CLIENTS] = {"/w/1", "/w/2", "/w/1", "/w/3?deadline=0.2",
                                                 "/w/4"};
    int fds[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        char req[128];
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0)
            continue;
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", paths[i]);
        (void)!write(fds[i], req, (size_t)n);
        usleep(20000); /* arrival order = index order */
    }
    usleep(300000);
    close(fds[4]); /* leaves while waiting */
    for (int i = 0; i < N_CLIENTS - 1; i++) {
        char buf[4096];
        size_t n = 0;
        ssize_t k;
        while (n < sizeof(buf) - 1 && (k = read(fds[i], buf + n, sizeof(buf) - 1 - n)) > 0)
            n += (size_t)k;
        buf[n] = '\0';
        t->answers[i] = strdup(buf);
        close(fds[i]);
    }
    return NULL;
}

static void stop_loop(void *arg)
{
    loop_stop(arg);
}

static void assert_has(const char *answer, const char *needle)
{
    if (!answer || !strstr(answer, needle))
        fail_msg("answer lacks '%s':\n%s", needle, answer ? answer : "(none)");
}

static void test_wait_queue(void **state)
{
    (void)state;
    static struct hlsd_config cfg;
    struct wt t = {0};
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen_addr = "127.0.0.1";
    cfg.web_dir = "/tmp";
    cfg.limits = (struct cfg_limits){.max_connections = 64,
                                     .connection_timeout = 5,
                                     .max_request_bytes = 100,
                                     .connection_memory = 32768};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    t.port = ntohs(a.sin_port);
    cfg.listen_port = t.port;

    assert_int_equal(loop_new(&t.loop), 0);
    assert_int_equal(http_server_new(t.loop, &cfg, &t.srv), 0);
    http_wait_init(&t.q, on_timeout, &t);
    assert_int_equal(http_route(t.srv, "GET", "/w/{key}", 0, h_wait, &t), 0);
    assert_int_equal(http_server_start(t.srv), 0);
    assert_non_null(loop_timer_add(t.loop, 0.6, check_then_wake, &t));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_main, &t), 0);
    /* The clients read until the server closes; the loop must keep serving. */
    assert_non_null(loop_timer_add(t.loop, 1.5, stop_loop, t.loop));
    assert_int_equal(loop_run(t.loop), 0);
    pthread_join(th, NULL);

    assert_int_equal(t.added, 5);
    assert_int_equal(t.timeouts, 1);
    assert_int_equal(t.count_at_check, 3);
    assert_int_equal(t.woken_missing, 0);
    assert_int_equal(t.woken_key1, 2);
    assert_int_equal(t.woken_all, 1);
    assert_int_equal(http_wait_count(&t.q), 0);
    assert_null(http_wait_first(&t.q));
    assert_has(t.answers[0], "HTTP/1.1 200");
    assert_has(t.answers[0], "key 1 n0");
    assert_has(t.answers[2], "key 1 n2");
    assert_has(t.answers[1], "all 2 n1");
    assert_has(t.answers[3], "HTTP/1.1 504");
    assert_has(t.answers[3], "timeout 3");
    for (int i = 0; i < N_CLIENTS; i++)
        free(t.answers[i]);
    http_server_free(&t.srv);
    loop_free(&t.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
