/* libmicrohttpd in external epoll mode on the daemon's loop: MHD's epoll fd is
 * watched by the loop, MHD_run() runs after each wake-up and MHD_get_timeout()
 * bounds the loop's sleep. One thread, so no locks.
 *
 * Request lifetime: the URI log callback allocates our request (it sees the raw
 * target before MHD unescapes it), NOTIFY_COMPLETED frees it. Handlers run on
 * the final access-handler call; a response given while suspended is stored
 * and queued when MHD calls the access handler again after the resume. */
#include "http/http_internal.h"

#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void request_free(struct http_request *r)
{
    if (!r)
        return;
    if (r->pending)
        MHD_destroy_response(r->pending);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->param_names[i]);
        free(r->param_values[i]);
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r->raw_uri);
    free(r);
}

/* Ends the suspension bookkeeping (timer, hang-up watch, list) without resuming. */
static void suspension_detach(struct http_request *r)
{
    struct http_server *s = r->srv;
    if (!r->suspended)
        return;
    loop_timer_cancel(s->loop, &r->deadline);
    if (r->watch_fd >= 0) {
        loop_del_fd(s->loop, r->watch_fd);
        r->watch_fd = -1;
    }
    if (r->susp_prev)
        r->susp_prev->susp_next = r->susp_next;
    else
        s->suspended = r->susp_next;
    if (r->susp_next)
        r->susp_next->susp_prev = r->susp_prev;
    r->susp_prev = r->susp_next = NULL;
    r->suspended = false;
    if (s->stats.suspended_now > 0)
        s->stats.suspended_now--;
}

static void count_response(struct http_request *r, unsigned status)
{
    unsigned cls = status / 100 < 6 ? status / 100 : 5;
    r->srv->stats.responses_by_class[cls]++;
    if (r->route)
        r->route->by_class[cls]++;
    else
        r->srv->unmatched_by_class[cls]++;
}

int http_respond_mhd(struct http_request *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return -ENOMEM;
    if (r->responded) {
        MHD_destroy_response(resp);
        return -EALREADY;
    }
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->responded = true;
    r->status = status;
    r->pending = resp;
    count_response(r, status);
    LOG_DEBUG("http", "%s %s %s -> %u", r->client_addr, r->method ? r->method : "-", r->path,
              status);
    if (r->suspended) {
        suspension_detach(r);
        /* MHD calls the access handler again after the resume: it queues `pending`. */
        MHD_resume_connection(r->conn);
    }
    return 0;
}

static enum MHD_Result queue_pending(struct http_request *r)
{
    struct MHD_Response *resp = r->pending;
    r->pending = NULL;
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->srv = cls;
    r->conn = conn;
    r->watch_fd = -1;
    r->raw_ptr = uri;
    r->raw_uri = strdup(uri ? uri : "");
    if (!r->raw_uri) {
        free(r);
        return NULL;
    }
    return r;
}

static void fill_client(struct http_request *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(r->client_addr, sizeof(r->client_addr), "?");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, r->client_addr, sizeof(r->client_addr));
        r->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, r->client_addr, sizeof(r->client_addr));
        r->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                      (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    }
}

/* A raw NUL in the request line ends MHD's C string early, so
 * "GET /a\0/../x HTTP/1.1" arrives as "/a". MHD splits the line in place (the
 * target, then '\0' where the space before the version was), so the version
 * string starting further away than the target's end betrays bytes we never saw. */
static bool has_hidden_nul(const struct http_request *r, const char *url, const char *version)
{
    if (!r->raw_ptr || url != r->raw_ptr || !version || !version[0])
        return false;
    size_t rawlen = strlen(r->raw_uri);
    return version > url && (size_t)(version - url) > rawlen + 1 &&
           (size_t)(version - url) < rawlen + 1 + 64 * 1024;
}

/* A declared body over the limit is refused before it is read: any run of
 * digits longer than the limit's is too big (no integer overflow for 2^31+
 * or 20-digit values); what is not a number is left to libmicrohttpd. */
static bool content_length_too_big(const char *cl, size_t limit)
{
    size_t n = strspn(cl, "0123456789");
    if (n == 0 || cl[n] != '\0')
        return false;
    while (n > 1 && *cl == '0') {
        cl++;
        n--;
    }
    if (n > 18)
        return true;
    return strtoull(cl, NULL, 10) > limit;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_request *r = *con_cls;
    if (!r || r->aborted)
        return MHD_NO; /* out of memory, or the client left while suspended: close */

    if (!r->started) {
        r->started = true;
        r->method = method;
        s->stats.requests++;
        fill_client(r);
        http_guard_client(r);
        int bad = http_path_decode(r->raw_uri, r->path, sizeof(r->path));
        if (!bad && has_hidden_nul(r, url, version))
            bad = -EINVAL;
        if (bad) {
            unsigned st = bad == -ENAMETOOLONG ? 414 : 400;
            http_conn_request_received(conn);
            snprintf(r->path, sizeof(r->path), "(invalid)");
            http_respond_error(r, st, "%s",
                               st == 414 ? "request path too long" : "malformed request path");
            return queue_pending(r);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && content_length_too_big(cl, s->cfg->limits.max_request_bytes)) {
            http_conn_request_received(conn);
            http_respond_error(r, 413, "request body too large");
            return queue_pending(r);
        }
        unsigned st;
        const char *why;
        if (http_guard_check(r, &st, &why) < 0) {
            http_conn_request_received(conn);
            LOG_WARN("http", "%s %s %s: %s", r->client_addr, method, r->path, why);
            http_respond_error(r, st, "%s", why);
            return queue_pending(r);
        }
        return MHD_YES;
    }

    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        size_t limit = s->cfg->limits.max_request_bytes;
        if (r->body_too_large || r->body_len + n > limit) {
            /* Chunked bodies have no Content-Length to refuse up front. */
            r->body_too_large = true;
            r->body_len += n;
            return r->body_len > 16 * limit + 65536 ? MHD_NO : MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 1024;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }

    if (r->pending)
        return queue_pending(r);
    if (r->dispatched)
        return MHD_YES; /* still suspended or resuming */
    r->dispatched = true;
    http_conn_request_received(conn);
    r->in_handler = true;
    if (r->body_too_large)
        http_respond_error(r, 413, "request body too large");
    else
        http_dispatch(r);
    r->in_handler = false;
    if (r->pending && !r->suspended)
        return queue_pending(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_request *r = *con_cls;
    (void)cls;
    (void)toe;
    http_conn_request_done(conn);
    if (!r)
        return;
    suspension_detach(r);
    request_free(r);
    *con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    LOG_INFO("http", "libmicrohttpd: %s", buf);
}

/* ---- loop integration ---- */

static void run_mhd(struct http_server *s)
{
    if (s->mhd)
        MHD_run(s->mhd);
}

static void on_mhd_fd(void *arg, int fd, uint32_t events)
{
    struct http_server *s = arg;
    (void)fd;
    (void)events;
    run_mhd(s);
    s->mhd_ran = true;
}

static int64_t on_prepare(void *arg)
{
    struct http_server *s = arg;
    MHD_UNSIGNED_LONG_LONG t;
    if (!s->mhd || MHD_get_timeout(s->mhd, &t) != MHD_YES)
        return -1;
    return t > INT64_MAX ? INT64_MAX : (int64_t)t;
}

static void on_check(void *arg)
{
    struct http_server *s = arg;
    /* Timeouts and work queued by timers (resumes) need a run even when MHD's fd was quiet. */
    if (!s->mhd_ran)
        run_mhd(s);
    s->mhd_ran = false;
}

/* ---- suspension ---- */

static void on_deadline(void *arg)
{
    struct http_request *r = arg;
    r->deadline = NULL;
    if (!r->suspended)
        return;
    if (r->on_timeout)
        r->on_timeout(r->susp_arg, r);
    if (!r->responded)
        http_respond_error(r, 504, "timed out waiting for %s", r->path);
}

static void on_hangup(void *arg, int fd, uint32_t events)
{
    struct http_request *r = arg;
    (void)fd;
    if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || !r->suspended)
        return;
    LOG_DEBUG("http", "%s %s: client left while waiting", r->client_addr, r->path);
    http_suspend_cb cb = r->on_abort;
    void *cb_arg = r->susp_arg;
    suspension_detach(r);
    r->aborted = true;
    r->responded = true;
    if (cb)
        cb(cb_arg, r);
    /* The next access-handler call sees `aborted` and closes the connection. */
    MHD_resume_connection(r->conn);
}

int http_suspend(struct http_request *r, double deadline_seconds, http_suspend_cb on_timeout,
                 http_suspend_cb on_abort, void *arg)
{
    struct http_server *s = r->srv;
    if (r->responded || r->suspended || !r->in_handler)
        return -EINVAL;
    r->deadline = loop_timer_add(s->loop, deadline_seconds, on_deadline, r);
    if (!r->deadline)
        return -ENOMEM;
    MHD_suspend_connection(r->conn);
    r->suspended = true;
    r->on_timeout = on_timeout;
    r->on_abort = on_abort;
    r->susp_arg = arg;
    r->susp_next = s->suspended;
    if (s->suspended)
        s->suspended->susp_prev = r;
    s->suspended = r;
    s->stats.suspended_now++;
    LOG_DEBUG("http", "%s %s %s: waiting up to %.1f s", r->client_addr, r->method, r->path,
              deadline_seconds);
    /* MHD stops polling a suspended socket, so we watch it for the client leaving. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci && loop_add_fd(s->loop, ci->connect_fd, EPOLLRDHUP, on_hangup, r) == 0)
        r->watch_fd = ci->connect_fd;
    return 0;
}

/* ---- lifecycle ---- */

int http_server_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server **out)
{
    struct http_server *s = calloc(1, sizeof(*s));
    int ret;
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->cfg = cfg;
    s->mhd_epoll_fd = -1;
    s->routes_tail = &s->routes;
    if ((ret = http_guard_init(s)) < 0)
        goto fail;
    ret = http_static_init(s);
    if (ret < 0)
        goto fail;
    const char *t = getenv("HLSD_TEST_ROUTES");
    if (t && strcmp(t, "1") == 0) {
        ret = http_test_routes_init(s);
        if (ret < 0)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    http_server_free(&s);
    return ret;
}

void http_server_set_auth(struct http_server *s, http_auth_cb cb, void *arg)
{
    s->auth = cb;
    s->auth_arg = arg;
}

/* Room for max_connections sockets plus the daemon's own files. */
static void raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        LOG_WARN("http", "cannot raise the open-file limit to %lu: %s", (unsigned long)want,
                 strerror(errno));
}

int http_server_start(struct http_server *s)
{
    const struct hlsd_config *cfg = s->cfg;
    const struct cfg_limits *lim = &cfg->limits;
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    int ret;

    /* sendfile() has no MSG_NOSIGNAL: a client that hangs up mid-file must
     * give EPIPE, not kill the process (MHD_OPTION_SIGPIPE_HANDLED_BY_APP). */
    signal(SIGPIPE, SIG_IGN);
    memset(&ss, 0, sizeof(ss));
    const char *addr = cfg->listen_addr ? cfg->listen_addr : "127.0.0.1";
    char a6[INET6_ADDRSTRLEN + 2];
    /* Accept "[::1]" as well as "::1". */
    if (addr[0] == '[' && strlen(addr) < sizeof(a6) && addr[strlen(addr) - 1] == ']') {
        snprintf(a6, sizeof(a6), "%.*s", (int)strlen(addr) - 2, addr + 1);
        addr = a6;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)cfg->listen_port);
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        LOG_ERROR("http", "listen address '%s' is not an IPv4 or IPv6 literal", addr);
        return -EINVAL;
    }
    unsigned max_conn = lim->max_connections > 0 ? (unsigned)lim->max_connections : 1024;
    raise_nofile((rlim_t)max_conn + 256);

    errno = 0;
    /* One option with its value(s) per line. */
    /* clang-format off */
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        /* daemon_main ignores SIGPIPE; without this MHD refuses sendfile and
         * copies files through 4 KB pread/send pairs (a quarter of nginx's rate). */
        MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1,
        MHD_OPTION_CONNECTION_LIMIT, max_conn,
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(lim->connection_timeout > 0 ? lim->connection_timeout : 30),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(lim->connection_memory >= 4096 ? lim->connection_memory : 32768),
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s,
        MHD_OPTION_END);
    /* clang-format on */
    if (!s->mhd)
        return errno ? -errno : -EADDRINUSE;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di) {
        ret = -EIO;
        goto fail;
    }
    s->mhd_epoll_fd = di->epoll_fd;
    ret = loop_add_fd(s->loop, s->mhd_epoll_fd, EPOLLIN, on_mhd_fd, s);
    if (ret < 0)
        goto fail;
    loop_set_hooks(s->loop, on_prepare, on_check, s);
    return 0;
fail:
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    s->mhd_epoll_fd = -1;
    return ret;
}

void http_server_free(struct http_server **sp)
{
    if (!sp || !*sp)
        return;
    struct http_server *s = *sp;
    if (s->mhd) {
        loop_set_hooks(s->loop, NULL, NULL, NULL);
        loop_del_fd(s->loop, s->mhd_epoll_fd);
        /* MHD refuses to stop with suspended connections: resume them as aborted
         * (their owners are gone by now, so no callback runs). */
        while (s->suspended) {
            struct http_request *r = s->suspended;
            suspension_detach(r);
            r->aborted = true;
            r->responded = true;
            MHD_resume_connection(r->conn);
        }
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    http_conns_free(s);
    http_routes_free(s);
    http_guard_free(s);
    free(s);
    *sp = NULL;
}

void http_server_stats(const struct http_server *s, struct http_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (s)
        *out = s->stats;
}
