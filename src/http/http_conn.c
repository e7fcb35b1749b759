/* Per-connection rules libmicrohttpd does not have.
 *
 * Whole-request deadline (slowloris): MHD's connection timeout only measures
 * idleness (limits.connection_timeout, the keep-alive idle time), so a
 * client that sends one header byte every few seconds keeps a connection
 * (and its memory) forever. We give each request limits.header_timeout
 * seconds from the connection's start (or the end of the previous response
 * on a keep-alive connection) until it is fully received; after that the
 * socket is shut down, which MHD notices as a closed connection. Suspended
 * requests and responses being sent are not subject to it.
 *
 * Connections per client address (limits.per_ip_connections): counted here
 * rather than by MHD so that trusted proxies, which carry many clients, are
 * exempt. A connection over the limit is shut down as it is accepted. */
#include "http/http_internal.h"

#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct http_conn {
    struct http_server *srv;
    int fd;
    char addr[64];   /* the peer's address */
    double deadline; /* monotonic seconds; 0 = not receiving a request */
    struct http_conn *prev, *next;
};

#define SWEEP_INTERVAL 0.5

static double request_timeout(const struct http_server *s)
{
    int t = s->cfg->limits.header_timeout;
    return t > 0 ? t : 10;
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

static void peer_addr(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
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
        peer_addr(conn, c->addr, sizeof(c->addr));
        int limit = s->cfg->limits.per_ip_connections;
        if (limit > 0 && c->addr[0] && !http_guard_is_proxy(s, c->addr)) {
            int n = 0;
            for (const struct http_conn *o = s->conns; o; o = o->next)
                n += strcmp(o->addr, c->addr) == 0;
            if (n >= limit) {
                if (!s->per_ip_warned)
                    LOG_WARN("http",
                             "%s has %d connections open (limits.per_ip_connections): "
                             "closing new ones",
                             c->addr, n);
                s->per_ip_warned = true;
                s->stats.refused_connections++;
                shutdown(c->fd, SHUT_RDWR);
            } else {
                s->per_ip_warned = false;
            }
        }
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
