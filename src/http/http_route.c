/* Request-target validation, route patterns and dispatch (auth, 404/405). */
#include "http/http_internal.h"

#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* MHD unescapes the path before we see it, so "%2e%2e" and "%2f" would be
 * indistinguishable from the real thing: decode the raw target ourselves. */
int http_path_decode(const char *raw, char *out, size_t outlen)
{
    if (!raw || raw[0] != '/' || outlen == 0)
        return -EINVAL;
    if (strlen(raw) > HTTP_MAX_TARGET)
        return -ENAMETOOLONG;
    size_t rawlen = strcspn(raw, "?");
    if (rawlen > HTTP_MAX_PATH)
        return -ENAMETOOLONG;
    size_t o = 0;
    for (size_t i = 0; i < rawlen; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c <= 0x20 || c == 0x7f || c == '\\' || c == '#')
            return -EINVAL;
        if (c == '%') {
            int hi = hexval(raw[i + 1]), lo = hi < 0 ? -1 : hexval(raw[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi * 16 + lo);
            /* An encoded separator would turn one segment into two after decoding. */
            if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
                return -EINVAL;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -ENAMETOOLONG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    /* No "." or ".." segment, whether it was sent raw or encoded. */
    for (const char *seg = out; seg; seg = strchr(seg + 1, '/')) {
        const char *s = seg + 1;
        size_t len = strcspn(s, "/");
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return -EINVAL;
    }
    return 0;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int http_pattern_check(const char *pattern)
{
    if (!pattern || pattern[0] != '/')
        return -EINVAL;
    if (pattern[1] == '\0')
        return 0;
    const char *p = pattern + 1;
    for (;;) {
        size_t len = strcspn(p, "/");
        if (len == 0)
            return -EINVAL;
        if (p[0] == '{') {
            bool rest = len > 1 && p[1] == '*';
            size_t start = rest ? 2 : 1;
            if (len < start + 2 || p[len - 1] != '}')
                return -EINVAL;
            for (size_t i = start; i < len - 1; i++)
                if (!is_name_char(p[i]))
                    return -EINVAL;
            if (rest && p[len] != '\0')
                return -EINVAL; /* {*rest} must be last */
        } else {
            for (size_t i = 0; i < len; i++)
                if (p[i] == '{' || p[i] == '}')
                    return -EINVAL;
        }
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

bool http_pattern_match(const char *pattern, const char *path, struct http_param_span *params,
                        size_t *n_params)
{
    size_t np = 0;
    *n_params = 0;
    if (pattern[0] != '/' || path[0] != '/')
        return false;
    const char *p = pattern + 1, *u = path + 1;
    if (*p == '\0')
        return *u == '\0';
    for (;;) {
        size_t plen = strcspn(p, "/");
        size_t ulen = strcspn(u, "/");
        if (p[0] == '{' && p[1] == '*') {
            if (*u == '\0' || np >= HTTP_MAX_PARAMS)
                return false;
            params[np++] = (struct http_param_span){p + 2, plen - 3, u, strlen(u)};
            break;
        }
        if (p[0] == '{') {
            if (ulen == 0 || (ulen == 1 && u[0] == '.') ||
                (ulen == 2 && u[0] == '.' && u[1] == '.') || np >= HTTP_MAX_PARAMS)
                return false;
            params[np++] = (struct http_param_span){p + 1, plen - 2, u, ulen};
        } else if (plen != ulen || memcmp(p, u, plen) != 0) {
            return false;
        }
        bool pend = p[plen] == '\0', uend = u[ulen] == '\0';
        if (pend || uend) {
            if (pend != uend)
                return false;
            break;
        }
        p += plen + 1;
        u += ulen + 1;
    }
    *n_params = np;
    return true;
}

int http_route(struct http_server *s, const char *method, const char *pattern, int flags,
               http_handler h, void *arg)
{
    if (!s || !method || !h || http_pattern_check(pattern) < 0)
        return -EINVAL;
    struct http_route_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->method = strdup(method);
    e->pattern = strdup(pattern);
    if (!e->method || !e->pattern) {
        free(e->method);
        free(e->pattern);
        free(e);
        return -ENOMEM;
    }
    e->flags = flags;
    e->handler = h;
    e->arg = arg;
    *s->routes_tail = e;
    s->routes_tail = &e->next;
    return 0;
}

void http_routes_free(struct http_server *s)
{
    while (s->routes) {
        struct http_route_entry *e = s->routes;
        s->routes = e->next;
        free(e->method);
        free(e->pattern);
        free(e);
    }
    s->routes_tail = &s->routes;
}

void http_server_foreach_route(const struct http_server *s, http_route_stat_cb cb, void *arg)
{
    if (!s)
        return;
    for (const struct http_route_entry *e = s->routes; e; e = e->next)
        cb(arg, e->method, e->pattern, e->by_class);
    cb(arg, "*", "(unmatched)", s->unmatched_by_class);
}

static bool method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

static void add_allow(char *allow, size_t len, const char *m)
{
    /* Skip duplicates: several routes may share a method. */
    size_t ml = strlen(m);
    for (const char *p = allow; (p = strstr(p, m)) != NULL; p += ml)
        if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
            return;
    size_t cur = strlen(allow);
    snprintf(allow + cur, len - cur, "%s%s", cur ? ", " : "", m);
}

static int copy_params(struct http_request *r, const struct http_param_span *sp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        r->param_names[i] = strndup(sp[i].name, sp[i].name_len);
        r->param_values[i] = strndup(sp[i].value, sp[i].value_len);
        r->n_params = i + 1;
        if (!r->param_names[i] || !r->param_values[i])
            return -ENOMEM;
    }
    return 0;
}

void http_dispatch(struct http_request *r)
{
    struct http_server *s = r->srv;
    struct http_route_entry *found = NULL;
    struct http_param_span sp[HTTP_MAX_PARAMS];
    size_t np = 0;
    char allow[128] = "";

    for (struct http_route_entry *e = s->routes; e; e = e->next) {
        size_t n;
        if (!http_pattern_match(e->pattern, r->path, sp, &n))
            continue;
        if (method_matches(e->method, r->method)) {
            found = e;
            np = n;
            break;
        }
        add_allow(allow, sizeof(allow), e->method);
        if (strcmp(e->method, "GET") == 0)
            add_allow(allow, sizeof(allow), "HEAD");
    }
    if (!found) {
        if (allow[0]) {
            http_add_header(r, "Allow", allow);
            http_respond_error(r, 405, "method %s not allowed on %s", r->method, r->path);
        } else {
            http_respond_error(r, 404, "not found: %s", r->path);
        }
        return;
    }
    r->route = found;
    if (copy_params(r, sp, np) < 0) {
        http_respond_error(r, 500, "out of memory");
        return;
    }

    if (!s->auth) {
        r->who = (struct http_principal){"anonymous", true, NULL};
    } else if (found->flags & HTTP_ROUTE_PUBLIC) {
        r->who = (struct http_principal){"anonymous", false, NULL};
    } else {
        r->who = (struct http_principal){"anonymous", false, NULL};
        if (!s->auth(s->auth_arg, r, &r->who)) {
            if (!r->responded)
                http_respond_error(r, 401, "authentication required");
            return;
        }
        if ((found->flags & HTTP_ROUTE_ADMIN) && !r->who.admin) {
            http_respond_error(r, 403, "admin role required");
            return;
        }
    }

    int ret = found->handler(found->arg, r);
    if (ret < 0) {
        if (!r->responded)
            http_respond_error(r, 500, "internal error: %s", strerror(-ret));
        else
            LOG_WARN("http", "%s %s: handler failed after answering: %s", r->method, r->path,
                     strerror(-ret));
    } else if (!r->responded && !r->suspended) {
        LOG_ERROR("http", "%s %s: handler neither answered nor suspended", r->method, r->path);
        http_respond_error(r, 500, "internal error: no answer");
    }
}
