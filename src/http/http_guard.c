/* Who may talk to the server, checked before routing (see http_internal.h):
 * the client's real address behind trusted proxies, the Host allow-list
 * (DNS rebinding), a foreign Origin on state-changing requests (CSRF) and
 * JSON-only request bodies (a cross-site form cannot send one without a
 * CORS preflight, which we never grant). */
#include "http/http_internal.h"

#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int add_host(struct http_server *s, const char *h)
{
    char **n = realloc(s->hosts, (s->n_hosts + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->hosts = n;
    if (!(s->hosts[s->n_hosts] = strdup(h)))
        return -ENOMEM;
    s->n_hosts++;
    return 0;
}

int http_guard_init(struct http_server *s)
{
    const struct cfg_server *sv = &s->cfg->server;
    int r = 0;

    if (sv->n_trusted_proxies) {
        s->proxies = calloc(sv->n_trusted_proxies, sizeof(*s->proxies));
        if (!s->proxies)
            return -ENOMEM;
    }
    for (size_t i = 0; i < sv->n_trusted_proxies; i++) {
        if ((r = util_parse_cidr(sv->trusted_proxies[i], &s->proxies[i])) < 0)
            return r; /* the config loader checked them: not reached */
        s->n_proxies++;
    }
    if (sv->n_hosts) {
        for (size_t i = 0; i < sv->n_hosts && r == 0; i++)
            r = add_host(s, sv->hosts[i]);
        s->any_host = false;
    } else if (s->cfg->listen_addr && util_addr_is_loopback(s->cfg->listen_addr)) {
        static const char *const local[] = {"localhost", "127.0.0.1", "::1", NULL};
        for (size_t i = 0; local[i] && r == 0; i++)
            r = add_host(s, local[i]);
        if (r == 0)
            r = add_host(s, s->cfg->listen_addr);
        s->any_host = false;
    } else {
        /* A public bind serves names we cannot know: server.hosts narrows it. */
        s->any_host = true;
    }
    return r;
}

void http_guard_free(struct http_server *s)
{
    for (size_t i = 0; i < s->n_hosts; i++)
        free(s->hosts[i]);
    free(s->hosts);
    s->hosts = NULL;
    s->n_hosts = 0;
    free(s->proxies);
    s->proxies = NULL;
    s->n_proxies = 0;
}

bool http_guard_is_proxy(const struct http_server *s, const char *addr)
{
    for (size_t i = 0; i < s->n_proxies; i++)
        if (util_cidr_match(&s->proxies[i], addr))
            return true;
    return false;
}

/* Copies one address of an X-Forwarded-For list item or a Forwarded for=
 * value into out, without quotes, brackets or a port. False when it is not
 * an IP address (e.g. "unknown", an obfuscated identifier). */
static bool clean_addr(const char *p, size_t n, char *out, size_t size)
{
    char buf[INET6_ADDRSTRLEN + 16];
    unsigned char tmp[16];
    while (n && isspace((unsigned char)*p))
        p++, n--;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    if (n && *p == '"' && p[n - 1] == '"')
        p++, n -= 2;
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *a = buf;
    if (*a == '[') { /* [v6]:port */
        char *e = strchr(a, ']');
        if (!e)
            return false;
        *e = '\0';
        a++;
    } else if (strchr(a, ':') == strrchr(a, ':') && strchr(a, ':')) {
        *strchr(a, ':') = '\0'; /* v4:port */
    }
    if (inet_pton(AF_INET, a, tmp) != 1 && inet_pton(AF_INET6, a, tmp) != 1)
        return false;
    size_t al = strlen(a);
    if (al >= size)
        return false;
    memcpy(out, a, al + 1);
    return true;
}

/* The rightmost address of the header that is not a trusted proxy: each
 * proxy appends the peer it saw, so everything left of that is the
 * client's own claim. Returns false when the header names none. */
static bool client_from_header(const struct http_server *s, const char *h, bool forwarded,
                               char *out, size_t size)
{
    size_t len = strlen(h);
    while (len > 0) {
        size_t start = len;
        while (start > 0 && h[start - 1] != ',')
            start--;
        const char *item = h + start;
        size_t n = len - start;
        char addr[INET6_ADDRSTRLEN + 1];
        bool ok = false;
        if (forwarded) {
            /* for=192.0.2.60;proto=http;by=... */
            const char *f = NULL;
            for (const char *q = item; q + 4 <= item + n; q++)
                if (strncasecmp(q, "for=", 4) == 0 && (q == item || q[-1] == ';' || q[-1] == ' ')) {
                    f = q + 4;
                    break;
                }
            if (f) {
                size_t fl = strcspn(f, ";,");
                if (f + fl > item + n)
                    fl = (size_t)(item + n - f);
                ok = clean_addr(f, fl, addr, sizeof(addr));
            }
        } else {
            ok = clean_addr(item, n, addr, sizeof(addr));
        }
        if (!ok)
            return false; /* unparsable: do not guess further left */
        if (!http_guard_is_proxy(s, addr)) {
            snprintf(out, size, "%s", addr);
            return true;
        }
        len = start > 0 ? start - 1 : 0;
    }
    return false;
}

void http_guard_client(struct http_request *r)
{
    const struct http_server *s = r->srv;
    char addr[INET6_ADDRSTRLEN + 1];
    if (!s->n_proxies || !http_guard_is_proxy(s, r->client_addr))
        return;
    const char *fwd = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Forwarded");
    const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
    bool found = (fwd && client_from_header(s, fwd, true, addr, sizeof(addr))) ||
                 (xff && client_from_header(s, xff, false, addr, sizeof(addr)));
    if (!found)
        return; /* the proxy's own request (health checks) */
    snprintf(r->client_addr, sizeof(r->client_addr), "%s", addr);
    r->loopback = util_addr_is_loopback(addr);
}

/* host[:port] or [v6][:port] without the port, lower case. */
static bool host_name(const char *h, char *out, size_t size)
{
    size_t n;
    if (*h == '[') {
        const char *e = strchr(h, ']');
        if (!e || (e[1] && e[1] != ':'))
            return false;
        h++;
        n = (size_t)(e - h);
    } else {
        const char *c = strchr(h, ':');
        n = c ? (size_t)(c - h) : strlen(h);
    }
    if (n == 0 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)h[i]);
    out[n] = '\0';
    return true;
}

static bool host_allowed(const struct http_server *s, const char *host)
{
    char name[256];
    if (!host || !host_name(host, name, sizeof(name)))
        return false;
    for (size_t i = 0; i < s->n_hosts; i++)
        if (strcasecmp(name, s->hosts[i]) == 0)
            return true;
    return false;
}

/* An Origin is ours when its host is the request's own Host or allowed. */
static bool origin_ours(const struct http_server *s, const char *origin, const char *host)
{
    const char *p = strstr(origin, "://");
    char oname[256], hname[256];
    if (!p || !host_name(p + 3, oname, sizeof(oname)))
        return false;
    if (host && host_name(host, hname, sizeof(hname)) && strcmp(oname, hname) == 0)
        return true;
    return !s->any_host && host_allowed(s, p + 3);
}

static bool changes_state(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

int http_guard_check(const struct http_request *r, unsigned *status, const char **why)
{
    const struct http_server *s = r->srv;
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    if (!s->any_host && !host_allowed(s, host)) {
        *status = 421;
        *why = "unknown Host (see server.hosts)";
        return -EPERM;
    }
    if (!changes_state(r->method))
        return 0;
    const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    if (origin && !origin_ours(s, origin, host)) {
        *status = 403;
        *why = "cross-origin request refused";
        return -EPERM;
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    bool body = (cl && strspn(cl, "0") != strlen(cl)) || te;
    if (body) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
        size_t n = ct ? strcspn(ct, "; \t") : 0;
        if (!ct || n != strlen("application/json") || strncasecmp(ct, "application/json", n) != 0) {
            *status = 415;
            *why = "request bodies must be application/json";
            return -EINVAL;
        }
    }
    return 0;
}
