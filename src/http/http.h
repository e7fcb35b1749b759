/* The HTTP server: libmicrohttpd in external epoll mode driven by the daemon's
 * loop (single thread), a route table, JSON helpers, confined static files and
 * suspended requests. */
#ifndef HLSD_HTTP_H
#define HLSD_HTTP_H

#include "core/config.h"
#include "core/loop.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct http_server;
struct http_request;

/* Who made the request, set by the auth hook before a handler runs. */
struct http_principal {
    const char *name; /* "anonymous" when auth is disabled */
    bool admin;
    const struct cfg_user *user; /* NULL when auth is disabled */
};

/* Route flags. */
#define HTTP_ROUTE_PUBLIC 0x1 /* no authentication (health, login, the web page) */
/* (on a public route the principal is "anonymous": admin only when no auth hook is set) */
#define HTTP_ROUTE_ADMIN 0x2 /* admin role required */

/* A handler must answer (http_respond_*) or suspend (http_suspend) before returning.
 * Returns 0, or a negative errno which the server turns into a 500 JSON error. */
typedef int (*http_handler)(void *arg, struct http_request *req);

/* Authentication hook: fills *who from the request or answers 401 itself and
 * returns false. NULL hook = everyone is an admin ("anonymous"). */
typedef bool (*http_auth_cb)(void *arg, struct http_request *req, struct http_principal *who);

/* Creates the server with its built-in routes (not listening yet). loop and
 * cfg are borrowed and must outlive *out, which is freed with
 * http_server_free(). Returns 0 or -errno. */
int http_server_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server **out);
/* Binds and starts serving. Returns 0 or -errno. */
int http_server_start(struct http_server *s);
/* Stops accepting, resumes+fails suspended requests, frees. Accepts NULL. */
void http_server_free(struct http_server **s);

void http_server_set_auth(struct http_server *s, http_auth_cb cb, void *arg);

/* Pattern: "/api/ports/{index}/preview"; {name} matches one path segment
 * (never empty, never containing '/'); a trailing "{*rest}" matches the rest
 * of the path (one or more segments). Method "GET" also answers HEAD.
 * More specific routes must be added first (first match wins). method and
 * pattern are copied; arg is borrowed and passed to h. 0, -EINVAL, -ENOMEM. */
int http_route(struct http_server *s, const char *method, const char *pattern, int flags,
               http_handler h, void *arg);

/* Request accessors. Strings are owned by the request and live until it is answered. */
const char *http_req_method(const struct http_request *r);
const char *http_req_path(const struct http_request *r); /* decoded path, no query */
const char *http_req_param(const struct http_request *r, const char *name); /* {name} */
const char *http_req_query(const struct http_request *r, const char *name); /* ?name= */
const char *http_req_header(const struct http_request *r, const char *name);
const char *http_req_cookie(const struct http_request *r, const char *name);
const char *http_req_body(const struct http_request *r, size_t *len); /* NULL if none */
const char *http_req_client_addr(const struct http_request *r);       /* "127.0.0.1" */
bool http_req_is_loopback(const struct http_request *r);
const struct http_principal *http_req_principal(const struct http_request *r);
/* True when the principal may see this camera or port name (admins: always). */
bool http_req_may_see(const struct http_request *r, const char *camera);

/* Responses. Each returns 0 or -errno; exactly one per request. */
int http_respond_json(struct http_request *r, unsigned status, const cJSON *body);
/* Adds key: v to the object being built, or key: null when v is NULL. */
void http_json_add_string_or_null(cJSON *o, const char *key, const char *v);
/* {"success":false,"message":msg} */
int http_respond_error(struct http_request *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int http_respond_data(struct http_request *r, unsigned status, const char *content_type,
                      const void *data, size_t len); /* data copied */
/* Adds a header to the response about to be sent (call before respond). */
int http_add_header(struct http_request *r, const char *name, const char *value);

/* Serves root/relpath: confined to root (no "..", no absolute paths, no
 * symlink leaving root, regular files only), MIME type from the extension,
 * Cache-Control (playlists no-cache, media segments immutable), Range, sendfile.
 * Answers 400/403/404 itself. */
int http_respond_file(struct http_request *r, const char *root, const char *relpath);
/* HTTP_FILE_PRIVATE: a file made for one requester (a clip export): not
 * stored by any cache ("private, no-store") and no CORS header, whatever
 * the extension says. */
#define HTTP_FILE_PRIVATE 0x1u
/* http_respond_file with flags (HTTP_FILE_*); 0 behaves like it. */
int http_respond_file_flags(struct http_request *r, const char *root, const char *relpath,
                            unsigned flags);

/* Checks relpath for confinement without serving. 0, -EINVAL (malformed:
 * "..", NUL, backslash, absolute, too long), -ENOENT, -EACCES (symlink out,
 * not a regular file). out (PATH_MAX) receives the resolved path. */
int http_confine_path(const char *root, const char *relpath, char *out, size_t outlen);

/* Suspension: the request waits (no thread, no polling) until resumed with one
 * of the http_respond_* calls on the same request, or until `deadline_seconds`
 * pass, when on_timeout runs (it must respond). The request pointer stays
 * valid until a response has been sent. If the client disconnects meanwhile,
 * on_abort (may be NULL) is called and the request must not be used again. */
typedef void (*http_suspend_cb)(void *arg, struct http_request *req);
int http_suspend(struct http_request *r, double deadline_seconds, http_suspend_cb on_timeout,
                 http_suspend_cb on_abort, void *arg);

/* Counters for /metrics. */
struct http_stats {
    unsigned long requests;
    unsigned long suspended_now;
    unsigned long responses_by_class[6]; /* index status/100 */
    unsigned long refused_connections;   /* over limits.per_ip_connections */
};
void http_server_stats(const struct http_server *s, struct http_stats *out);

/* Per-route counters for /metrics: cb runs once per registered route (in
 * registration order) with its responses by status class (index status/100),
 * then once with method "*" and pattern "(unmatched)" for requests no route
 * took (404, 405, malformed paths, oversized bodies). Strings are the server's. */
typedef void (*http_route_stat_cb)(void *arg, const char *method, const char *pattern,
                                   const unsigned long by_class[6]);
void http_server_foreach_route(const struct http_server *s, http_route_stat_cb cb, void *arg);

#endif
