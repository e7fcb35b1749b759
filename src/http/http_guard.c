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
    /* The names are borrowed: the configuration outlives the server. */
    static const char *const local[] = {"localhost", "127.0.0.1", "::1"};
    bool on_loopback = s->cfg->listen_addr && util_addr_is_loopback(s->cfg->listen_addr);
    size_t n = sv->n_hosts ? sv->n_hosts : on_loopback ? UTIL_ARRAY_LEN(local) + 1 : 0;
    /* A public bind serves names we cannot know: server.hosts narrows it. */
    s->any_host = n == 0;
    if (n == 0)
        return 0;
    if (!(s->hosts = calloc(n, sizeof(*s->hosts))))
        return -ENOMEM;
    for (size_t i = 0; i < sv->n_hosts; i++)
        s->hosts[s->n_hosts++] = sv->hosts[i];
    if (!sv->n_hosts) {
        for (size_t i = 0; i < UTIL_ARRAY_LEN(local); i++)
            s->hosts[s->n_hosts++] = local[i];
        s->hosts[s->n_hosts++] = s->cfg->listen_addr;
    }
    return 0;
}

void http_guard_free(struct http_server *s)
{
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

/* The rightmost address of the list that is not a trusted proxy: each
 * proxy appends the peer it saw, so everything left of that is the
 * client's own claim. Returns false when the list names none. */
static bool client_from_list(const struct http_server *s, const char *h, char *out, size_t size)
{
    size_t len = strlen(h);
    while (len > 0) {
        size_t start = len;
        while (start > 0 && h[start - 1] != ',')
            start--;
        char addr[INET6_ADDRSTRLEN + 1];
        if (!clean_addr(h + start, len - start, addr, sizeof(addr)))
            return false; /* unparsable: do not guess further left */
        if (!http_guard_is_proxy(s, addr)) {
            snprintf(out, size, "%s", addr);
            return true;
        }
        len = start > 0 ? start - 1 : 0;
    }
    return false;
}

struct xff_join {
    char buf[2048];
    size_t len;
    bool overflow;
};

/* Every X-Forwarded-For line, joined in order: a proxy may add its own line
 * after the client's instead of appending to it. */
static enum MHD_Result join_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct xff_join *j = cls;
    (void)kind;
    if (!key || strcasecmp(key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    size_t n = strlen(value);
    if (j->len + n + 2 >= sizeof(j->buf)) {
        j->overflow = true;
        return MHD_NO;
    }
    if (j->len)
        j->buf[j->len++] = ',';
    memcpy(j->buf + j->len, value, n);
    j->len += n;
    j->buf[j->len] = '\0';
    return MHD_YES;
}

void http_guard_client(struct http_request *r)
{
    const struct http_server *s = r->srv;
    char addr[INET6_ADDRSTRLEN + 1];
    struct xff_join j = {.len = 0};
    if (!s->n_proxies || !http_guard_is_proxy(s, r->client_addr))
        return;
    /* Only X-Forwarded-For, which the proxy appends to (nginx:
     * $proxy_add_x_forwarded_for); a Forwarded header the client sent would
     * pass through nginx untouched, so it is not believed. */
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, join_xff, &j);
    if (j.overflow || !j.len || !client_from_list(s, j.buf, addr, sizeof(addr)))
        return; /* the proxy's own request (health checks), or nonsense */
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

/* The port of an authority ("host:port", "[v6]:port"): 0 when it has none,
 * -1 when it is malformed. */
static long authority_port(const char *h)
{
    const char *colon;
    if (*h == '[') {
        const char *e = strchr(h, ']');
        if (!e)
            return -1;
        colon = e[1] == ':' ? e + 1 : NULL;
    } else {
        colon = strchr(h, ':');
    }
    if (!colon)
        return 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    return end != colon + 1 && (*end == '\0' || *end == '/') && p > 0 && p < 65536 ? p : -1;
}

/* An Origin is ours when its host and port are the request's own Host's
 * (a page of another local server, on another port, is not), or it names an
 * allowed host on the same port. */
static bool origin_ours(const struct http_server *s, const char *origin, const char *host)
{
    const char *p = strstr(origin, "://");
    char oname[256], hname[256];
    if (!p || !host || !host_name(p + 3, oname, sizeof(oname)) ||
        !host_name(host, hname, sizeof(hname)))
        return false;
    long oport = authority_port(p + 3), hport = authority_port(host);
    if (oport == 0)
        oport = strncasecmp(origin, "https://", 8) == 0 ? 443 : 80;
    /* A Host without a port is the scheme's default one (behind a TLS proxy
     * we do not know which scheme): then 80 and 443 both match. */
    bool same_port = hport == 0 ? (oport == 80 || oport == 443) : oport == hport;
    if (oport < 0 || hport < 0 || !same_port)
        return false;
    return strcmp(oname, hname) == 0 || (!s->any_host && host_allowed(s, p + 3));
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
