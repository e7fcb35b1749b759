/* HTTP side of the live previews: /api/ports, /api/ports/{index}/preview,
 * /api/previews and /hls/ (serving, on-demand start, idle tracking). */
#include "live/preview_priv.h"

#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- URL redaction ---- */

static bool is_secret_key(const char *k, size_t n)
{
    static const char *const keys[] = {"password", "passwd", "pass", "pwd",        "token",
                                       "secret",   "auth",   "key",  "passphrase", "user",
                                       "username", "login",  "pkey", "apikey",     "api_key"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(keys); i++)
        if (strlen(keys[i]) == n && strncasecmp(k, keys[i], n) == 0)
            return true;
    return false;
}

int live_redact_url(const char *url, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = url, *scheme_end, *auth, *auth_end, *at = NULL;

#define PUT(s, n)                                                                                  \
    do {                                                                                           \
        if (o + (n) >= outlen)                                                                     \
            return -ENAMETOOLONG;                                                                  \
        memcpy(out + o, (s), (n));                                                                 \
        o += (n);                                                                                  \
    } while (0)

    if (outlen == 0)
        return -ENAMETOOLONG;
    scheme_end = strstr(url, "://");
    /* Only scheme://... (the scheme being letters, digits, + - .) is a URL. */
    for (const char *s = url; scheme_end && s < scheme_end; s++)
        if (!isalnum((unsigned char)*s) && *s != '+' && *s != '-' && *s != '.')
            scheme_end = NULL;
    if (!scheme_end || scheme_end == url) {
        PUT(url, strlen(url));
        out[o] = '\0';
        return 0;
    }
    auth = scheme_end + 3;
    auth_end = auth + strcspn(auth, "/?#");
    for (const char *s = auth; s < auth_end; s++)
        if (*s == '@')
            at = s; /* the last '@': passwords may contain '@' unencoded */
    PUT(url, (size_t)(auth - url));
    p = at ? at + 1 : auth;
    PUT(p, (size_t)(auth_end - p));
    p = auth_end;
    /* path up to the query */
    size_t n = strcspn(p, "?#");
    PUT(p, n);
    p += n;
    if (*p == '?') {
        PUT("?", 1);
        p++;
        while (*p && *p != '#') {
            size_t len = strcspn(p, "&#");
            const char *eq = memchr(p, '=', len);
            if (eq && is_secret_key(p, (size_t)(eq - p))) {
                PUT(p, (size_t)(eq - p + 1));
                PUT("***", 3);
            } else {
                PUT(p, len);
            }
            p += len;
            if (*p == '&') {
                PUT("&", 1);
                p++;
            }
        }
    }
    PUT(p, strlen(p));
    out[o] = '\0';
    return 0;
#undef PUT
}

/* ---- helpers ---- */

/* "{index}": digits only, no sign or space, within int range. */
static int parse_index(const char *s, long *out)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 9)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
    return util_parse_int(s, 0, 999999999, out);
}

/* Resolves {index} or answers 400/404 (then returns NULL). */
static struct live_port *port_from_request(struct live_manager *m, struct http_request *req,
                                           int *resp)
{
    long idx;
    const char *s = http_req_param(req, "index");
    struct live_port *p;

    if (parse_index(s, &idx) < 0) {
        *resp = http_respond_error(req, 400, "malformed port index '%.32s'", s ? s : "");
        return NULL;
    }
    p = live_find_port(m, idx);
    if (!p) {
        *resp = http_respond_error(req, 404, "no port %ld", idx);
        return NULL;
    }
    return p;
}

static int respond_owned(struct http_request *req, unsigned status, cJSON *body)
{
    int r;
    if (!body)
        return http_respond_error(req, 500, "out of memory");
    r = http_respond_json(req, status, body);
    cJSON_Delete(body);
    return r;
}

static cJSON *input_summary(const struct cfg_input *in)
{
    char url[2048];
    if (live_redact_url(in->url ? in->url : "", url, sizeof(url)) < 0)
        snprintf(url, sizeof(url), "(too long)");
    return live_input_json(in, url);
}

/* ---- handlers ---- */

static int h_list(void *arg, struct http_request *req)
{
    struct live_manager *m = arg;
    cJSON *body = cJSON_CreateObject();
    cJSON *arr = body ? cJSON_AddArrayToObject(body, "ports") : NULL;
    char buf[96];

    if (!arr) {
        cJSON_Delete(body);
        return http_respond_error(req, 500, "out of memory");
    }
    for (size_t i = 0; i < m->n_ports; i++) {
        const struct live_port *p = &m->ports[i];
        if (!http_req_may_see(req, p->cfg->name))
            continue;
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "index", p->cfg->index);
        cJSON_AddStringToObject(o, "name", p->cfg->name);
        cJSON_AddItemToObject(o, "input", input_summary(&p->cfg->input));
        if (p->cfg->audio_input)
            cJSON_AddItemToObject(o, "audio_input", input_summary(p->cfg->audio_input));
        else
            cJSON_AddNullToObject(o, "audio_input");
        cJSON_AddBoolToObject(o, "previewing", live_port_previewing(p));
        cJSON_AddStringToObject(o, "state", live_state_name(p->state));
        cJSON_AddBoolToObject(o, "on_demand", p->cfg->on_demand);
        snprintf(buf, sizeof(buf), "/hls/%s", p->playlist);
        cJSON_AddStringToObject(o, "playlist", buf);
    }
    return respond_owned(req, 200, body);
}

static int h_status(void *arg, struct http_request *req)
{
    int resp = 0;
    struct live_port *p = port_from_request(arg, req, &resp);
    if (!p)
        return resp;
    if (!http_req_may_see(req, p->cfg->name))
        return http_respond_error(req, 403, "not allowed to see port %d", p->cfg->index);
    return respond_owned(req, 200, live_port_status_json(p));
}

static int h_start(void *arg, struct http_request *req)
{
    int resp = 0, r;
    struct live_port *p = port_from_request(arg, req, &resp);
    if (!p)
        return resp;
    r = live_port_start(p, "API request");
    if (r == -ESHUTDOWN)
        return http_respond_error(req, 503, "shutting down");
    if (r < 0)
        return http_respond_error(req, 500, "port %d: %s", p->cfg->index,
                                  p->last_error ? p->last_error : strerror(-r));
    return respond_owned(req, 200, live_port_status_json(p));
}

static int h_stop(void *arg, struct http_request *req)
{
    int resp = 0;
    struct live_port *p = port_from_request(arg, req, &resp);
    if (!p)
        return resp;
    live_port_stop(p, "API request");
    return respond_owned(req, 200, live_port_status_json(p));
}

static int h_stop_all(void *arg, struct http_request *req)
{
    struct live_manager *m = arg;
    int n = 0;
    for (size_t i = 0; i < m->n_ports; i++)
        if (live_port_stop(&m->ports[i], "API request: stop all"))
            n++;
    cJSON *body = cJSON_CreateObject();
    if (body)
        cJSON_AddNumberToObject(body, "stopped", n);
    return respond_owned(req, 200, body);
}

/* The port an HLS file belongs to: "port_<N>.m3u8" or "port_<N>-...".
 * Sets *is_playlist. NULL when the name is not of a configured port. */
static struct live_port *port_of_file(struct live_manager *m, const char *name, bool *is_playlist)
{
    long idx;
    char digits[12];
    size_t n;

    if (strncmp(name, "port_", 5) != 0)
        return NULL;
    name += 5;
    n = strspn(name, "0123456789");
    if (n == 0 || n >= sizeof(digits))
        return NULL;
    memcpy(digits, name, n);
    digits[n] = '\0';
    if (parse_index(digits, &idx) < 0)
        return NULL;
    if (name[n] != '-' && name[n] != '.')
        return NULL;
    *is_playlist = strcmp(name + n, ".m3u8") == 0;
    return live_find_port(m, idx);
}

static int h_hls(void *arg, struct http_request *req)
{
    struct live_manager *m = arg;
    const char *rest = http_req_param(req, "rest");
    bool is_playlist = false;
    struct live_port *p;
    int r;

    /* Every file of the HLS folder belongs to a port; anything else (other
     * names, sub-folders) does not exist. */
    if (!rest || strchr(rest, '/') || !(p = port_of_file(m, rest, &is_playlist)))
        return http_respond_error(req, 404, "not found");
    if (!http_req_may_see(req, p->cfg->name))
        return http_respond_error(req, 403, "not allowed to see port %d", p->cfg->index);
    live_port_touch(p);
    if (is_playlist) {
        if (p->cfg->on_demand && !live_port_previewing(p) && !m->shutting_down) {
            r = live_port_start(p, "on-demand playlist request");
            if (r < 0)
                return http_respond_error(req, 502, "port %d: cannot start: %s", p->cfg->index,
                                          p->last_error ? p->last_error : strerror(-r));
        }
        /* Until the first segment the playlist is missing (or is the
         * previous run's, being replaced): wait instead of a 404. */
        if (p->restart_after_stop || (live_port_previewing(p) && !p->have_segment)) {
            r = live_port_wait_first_segment(p, req);
            if (r == 0)
                return 0;
            LOG_WARN(p->log_name, "cannot suspend a playlist request: %s", strerror(-r));
        }
        /* LL-HLS blocking reload (_HLS_msn / _HLS_part). */
        if ((r = live_ll_playlist_request(p, req)) != LIVE_LL_SERVE)
            return r < 0 ? r : 0;
    } else if ((r = live_ll_part_request(p, req, rest)) != LIVE_LL_SERVE) {
        return r < 0 ? r : 0; /* the preload-hinted part, not written yet */
    }
    return http_respond_file(req, m->hls_dir, rest);
}

int live_api_register(struct live_manager *m)
{
    static const struct {
        const char *method, *pattern;
        int flags;
        http_handler h;
    } routes[] = {
        {"GET", "/api/ports", 0, h_list},
        {"GET", "/api/ports/{index}/preview", 0, h_status},
        {"POST", "/api/ports/{index}/preview", HTTP_ROUTE_ADMIN, h_start},
        {"DELETE", "/api/ports/{index}/preview", HTTP_ROUTE_ADMIN, h_stop},
        {"DELETE", "/api/previews", HTTP_ROUTE_ADMIN, h_stop_all},
        {"GET", "/hls/{*rest}", 0, h_hls},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(routes); i++) {
        int r = http_route(m->http, routes[i].method, routes[i].pattern, routes[i].flags,
                           routes[i].h, m);
        if (r < 0) {
            LOG_ERROR("live", "cannot register %s %s: %s", routes[i].method, routes[i].pattern,
                      strerror(-r));
            return r;
        }
    }
    return 0;
}
