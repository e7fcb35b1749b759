/* Test hooks, registered only when the environment has HLSD_TEST_ROUTES=1:
 *   GET /api/test/suspend?seconds=N[&deadline=D]
 *     suspends the request and answers {"slept":N} after N seconds from a
 *     loop timer; with deadline D < N the server's deadline (504) fires first.
 * They let the integration tests hold many suspended requests without media. */
#include "http/http_internal.h"

#include "core/util.h"

#include <errno.h>
#include <stdlib.h>

struct sleeper {
    struct http_server *srv;
    struct http_request *req;
    struct loop_timer *timer;
    double seconds;
};

static void sleeper_done(void *arg)
{
    struct sleeper *z = arg;
    z->timer = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddNumberToObject(o, "slept", z->seconds);
    if (o)
        http_respond_json(z->req, 200, o);
    else
        http_respond_error(z->req, 500, "out of memory");
    cJSON_Delete(o);
    free(z);
}

/* Timeout and abort both end the sleeper; on timeout the server answers 504. */
static void sleeper_cancel(void *arg, struct http_request *req)
{
    struct sleeper *z = arg;
    (void)req;
    loop_timer_cancel(z->srv->loop, &z->timer);
    free(z);
}

static int h_suspend(void *arg, struct http_request *r)
{
    struct http_server *s = arg;
    double secs = 1, deadline;
    const char *q = http_req_query(r, "seconds");
    if (q && (util_parse_double(q, &secs) < 0 || secs < 0 || secs > 600))
        return http_respond_error(r, 400, "seconds: expected 0..600");
    deadline = secs + 10;
    q = http_req_query(r, "deadline");
    if (q && (util_parse_double(q, &deadline) < 0 || deadline < 0 || deadline > 600))
        return http_respond_error(r, 400, "deadline: expected 0..600");
    struct sleeper *z = calloc(1, sizeof(*z));
    if (!z)
        return -ENOMEM;
    z->srv = s;
    z->req = r;
    z->seconds = secs;
    int ret = http_suspend(r, deadline, sleeper_cancel, sleeper_cancel, z);
    if (ret < 0) {
        free(z);
        return ret;
    }
    z->timer = loop_timer_add(s->loop, secs, sleeper_done, z);
    if (!z->timer) {
        http_respond_error(r, 500, "out of memory"); /* ends the suspension */
        free(z);
    }
    return 0;
}

int http_test_routes_init(struct http_server *s)
{
    return http_route(s, "GET", "/api/test/suspend", HTTP_ROUTE_PUBLIC, h_suspend, s);
}
