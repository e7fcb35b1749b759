/* Whole-request deadline per connection (slowloris).
 *
 * libmicrohttpd's connection timeout only measures idleness, so a client that
 * sends one header byte every few seconds keeps a connection (and its memory)
 * forever. We give each request limits.connection_timeout seconds from the
 * connection's start (or the end of the previous response on a keep-alive
 * connection) until it is fully received; after that the socket is shut
 * down, which MHD notices as a closed connection. Suspended requests and
 * responses being sent are not subject to it. */
#include "http/http_internal.h"

#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>
#include <sys/socket.h>

struct http_conn {
    struct http_server *srv;
    int fd;
    double deadline; /* monotonic seconds; 0 = not receiving a request */
    struct http_conn *prev, *next;
};

#define SWEEP_INTERVAL 0.5

static double request_timeout(const struct http_server *s)
{
    int t = s->cfg->limits.connection_timeout;
    return t > 0 ? t : 30;
}

static void sweep(void *arg)
{
    struct http_server *s = arg;
    double now = util_now_mono();
    bool pending = false;
    s->sweep = NULL;
    for (struct http_conn *c = s->conns; c; c = c->next) {
        if (c->deadline <= 0)
            continue;
        if (now >= c->deadline) {
            LOG_DEBUG("http", "closing a connection that did not send its request in %.0f s",
                      request_timeout(s));
            shutdown(c->fd, SHUT_RDWR);
            c->deadline = 0;
        } else {
            pending = true;
        }
    }
    if (pending)
        s->sweep = loop_timer_add(s->loop, SWEEP_INTERVAL, sweep, s);
}

static void arm(struct http_conn *c)
{
    struct http_server *s = c->srv;
    c->deadline = util_now_mono() + request_timeout(s);
    if (!s->sweep)
        s->sweep = loop_timer_add(s->loop, SWEEP_INTERVAL, sweep, s);
}

void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    struct http_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof(*c));
        if (!c || !ci) {
            free(c);
            return; /* this connection simply has no request deadline */
        }
        c->srv = s;
        c->fd = ci->connect_fd;
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        *socket_context = c;
        arm(c);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && c) {
        if (c->prev)
            c->prev->next = c->next;
        else
            s->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
    }
}

static struct http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_conn_request_received(struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    if (c)
        c->deadline = 0;
}

void http_conn_request_done(struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    if (c)
        arm(c);
}

void http_conns_free(struct http_server *s)
{
    loop_timer_cancel(s->loop, &s->sweep);
}
