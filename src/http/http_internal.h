/* Internals of the HTTP server shared by http.c, http_route.c, http_static.c
 * and http_test.c, plus the pure helpers the unit tests call directly.
 * Nothing outside src/http/http*.c and tests/unit/test_http_path.c uses this. */
#ifndef HLSD_HTTP_INTERNAL_H
#define HLSD_HTTP_INTERNAL_H

#include "http/http.h"

#include "core/util.h"

#include <microhttpd.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_PATH 1024   /* longer request paths get 414 */
#define HTTP_MAX_TARGET 8192 /* whole request target (path + query) */
#define HTTP_MAX_PARAMS 8

/* ---- pure helpers (unit-tested) ---- */

/* Validates the raw request target (as sent, path + optional "?query") and
 * writes the percent-decoded path (no query) into out. Returns 0, -EINVAL
 * (answered 400: not origin-form, control bytes, backslash, bad or dangerous
 * escapes such as %00 %2f %5c, "." or ".." segments) or -ENAMETOOLONG
 * (answered 414: path longer than HTTP_MAX_PATH or target longer than
 * HTTP_MAX_TARGET). */
int http_path_decode(const char *raw, char *out, size_t outlen);

/* One captured route parameter: name and value point into pattern and path. */
struct http_param_span {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Checks that pattern is well formed ("/" + literal, {name} or a final
 * {*rest} segments). Returns 0 or -EINVAL. */
int http_pattern_check(const char *pattern);

/* Matches a decoded path against a pattern (see http_route in http.h).
 * Returns true and fills params (at most HTTP_MAX_PARAMS) on a match. */
bool http_pattern_match(const char *pattern, const char *path, struct http_param_span *params,
                        size_t *n_params);

/* Parses a Range header value for a file of `size` bytes. Returns 1 with
 * start and len set for one satisfiable range, 0 when the header is to be
 * ignored (malformed, several ranges: serve the whole file), -1 when the
 * range is unsatisfiable (416). */
int http_parse_range(const char *value, uint64_t size, uint64_t *start, uint64_t *len);

/* MIME type and Cache-Control value for a file name (by extension). */
const char *http_mime_type(const char *path);
const char *http_cache_control(const char *path);
/* True for playlists and media segments (they get Access-Control-Allow-Origin: *). */
bool http_is_media(const char *path);

/* ---- server internals ---- */

struct http_route_entry {
    char *method;
    char *pattern;
    int flags;
    http_handler handler;
    void *arg;
    unsigned long by_class[6];
    struct http_route_entry *next;
};

struct http_header {
    char *name;
    char *value;
};

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    char *raw_uri;
    const char *raw_ptr; /* MHD's pointer to the target in its read buffer (see on_access) */
    const char *method;  /* owned by MHD, valid for the request */
    char path[HTTP_MAX_PATH + 1];
    char client_addr[64];
    bool loopback;
    struct http_route_entry *route;
    char *param_names[HTTP_MAX_PARAMS];
    char *param_values[HTTP_MAX_PARAMS];
    size_t n_params;
    char *body;
    size_t body_len;
    size_t body_cap;
    bool body_too_large;
    struct http_principal who;

    bool started;    /* first access-handler call seen */
    bool dispatched; /* the route handler ran */
    bool in_handler; /* inside the access handler: MHD_queue_response is allowed */
    bool responded;  /* a response was given (or the request was aborted) */
    bool aborted;    /* client went away while suspended: close on next call */
    unsigned status;
    struct MHD_Response *pending; /* response waiting to be queued */
    struct http_header *headers;  /* from http_add_header, added to the response */
    size_t n_headers;

    /* suspension */
    bool suspended;
    int watch_fd; /* connection socket watched for hang-ups while suspended, or -1 */
    struct loop_timer *deadline;
    http_suspend_cb on_timeout;
    http_suspend_cb on_abort;
    void *susp_arg;
    struct http_request *susp_prev, *susp_next;
};

struct http_server {
    struct loop *loop;
    const struct hlsd_config *cfg;
    struct MHD_Daemon *mhd;
    int mhd_epoll_fd;
    bool mhd_ran; /* MHD_run already ran during this loop iteration */
    struct http_route_entry *routes;
    struct http_route_entry **routes_tail;
    unsigned long unmatched_by_class[6];
    http_auth_cb auth;
    void *auth_arg;
    struct http_stats stats;
    struct http_request *suspended; /* list of suspended requests */
    struct http_conn *conns;        /* open connections (http_conn.c) */
    struct loop_timer *sweep;       /* request-deadline sweep, armed while needed */

    /* http_guard.c */
    const char **hosts; /* accepted Host names (borrowed from the config and literals) */
    size_t n_hosts;
    bool any_host; /* no Host check (a public bind without server.hosts) */
    bool per_ip_warned; /* the per-address limit was logged (until a connection fits again) */
    struct util_cidr *proxies;
    size_t n_proxies;
};

/* http_guard.c: who may talk to the server. */
int http_guard_init(struct http_server *s); /* 0 or -ENOMEM */
void http_guard_free(struct http_server *s);
bool http_guard_is_proxy(const struct http_server *s, const char *addr);
/* Replaces r->client_addr by the client named in X-Forwarded-For/Forwarded
 * when the peer is a trusted proxy. */
void http_guard_client(struct http_request *r);
/* 0, or -EPERM/-EINVAL with the status to answer (421 foreign Host, 403
 * foreign Origin on a state-changing request, 415 a body that is not JSON)
 * and a message. */
int http_guard_check(const struct http_request *r, unsigned *status, const char **why);

/* Hands a response (ownership taken, NULL = out of memory) to the request;
 * see http.c. Returns 0, -ENOMEM or -EALREADY. */
int http_respond_mhd(struct http_request *r, unsigned status, struct MHD_Response *resp);

/* Request deadlines per connection (http_conn.c): the MHD connection
 * notifier, and the points where a request has been fully received / answered. */
void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
void http_conn_request_received(struct MHD_Connection *conn);
void http_conn_request_done(struct MHD_Connection *conn);
void http_conns_free(struct http_server *s);

/* Routing (http_route.c): finds the route for r and runs it, answering
 * 404/405/401/403 itself. */
void http_dispatch(struct http_request *r);
void http_routes_free(struct http_server *s);

/* Built-in routes: health, version, the web page (http_static.c), and the
 * test-only routes when HLSD_TEST_ROUTES=1 (http_test.c). */
int http_static_init(struct http_server *s);
int http_test_routes_init(struct http_server *s);

#endif
