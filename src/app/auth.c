/* HTTP glue of access control: the hook that turns a Bearer token or a
 * session cookie into a principal, and the login/logout/me routes. The rules
 * themselves (hash checks, sessions, rate limit) are in auth_store.c. */
#include "app/auth.h"

#include "core/log.h"
#include "core/util.h"
#include "app/auth_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct auth {
    const struct hlsd_config *cfg;
    struct http_server *http;
    struct auth_store *store; /* NULL when auth is disabled */
};

static const char *role_name(const struct cfg_user *u)
{
    return u && u->role == CFG_ROLE_ADMIN ? "admin" : "viewer";
}

static void fill_principal(struct http_principal *who, const struct cfg_user *u)
{
    who->name = u->name;
    who->admin = u->role == CFG_ROLE_ADMIN;
    who->user = u;
}

static void respond_429(struct http_request *req, const char *addr, double wait)
{
    char secs[32];
    int n = (int)wait + 1;
    snprintf(secs, sizeof(secs), "%d", n);
    http_add_header(req, "Retry-After", secs);
    http_respond_error(req, 429, "too many failed logins from %s; try again in %d s", addr, n);
}

/* 429 with Retry-After when addr has used up its failed attempts. */
static bool refuse_if_limited(struct auth *a, struct http_request *req, const char *addr)
{
    double wait = auth_store_blocked_for(a->store, addr, util_now_mono());
    if (wait <= 0)
        return false;
    respond_429(req, addr, wait);
    return true;
}

static void respond_401(struct http_request *req, const char *why)
{
    http_add_header(req, "WWW-Authenticate", "Bearer realm=\"hlsd\"");
    if (why)
        http_respond_error(req, 401, "authentication required: %s", why);
    else
        http_respond_error(req, 401, "authentication required");
}

/* "Bearer TOKEN" (scheme case-insensitive) → TOKEN copied into out. */
static bool parse_bearer(const char *h, char *out, size_t outlen)
{
    if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return false;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= outlen)
        return false;
    memcpy(out, h, n);
    out[n] = '\0';
    return true;
}

/* The user the request's Bearer token or session cookie names. Returns 0
 * with *u set; -EAGAIN when the client's address has used up its failed
 * attempts (*wait: seconds left); -EACCES otherwise, with *why (NULL: no
 * credentials at all). An invalid token counts as a failed attempt. */
static int identify(struct auth *a, struct http_request *req, const struct cfg_user **u,
                    const char **why, double *wait)
{
    const char *addr = http_req_client_addr(req);
    const char *authz = http_req_header(req, "Authorization");
    const char *cookie = http_req_cookie(req, AUTH_COOKIE);

    *u = NULL;
    *why = NULL;
    *wait = 0;
    if (authz) {
        char token[AUTH_TOKEN_MAX + 1];
        /* Tokens can be guessed through any route, so the login limit applies here too. */
        *wait = auth_store_blocked_for(a->store, addr, util_now_mono());
        if (*wait > 0)
            return -EAGAIN;
        if (!parse_bearer(authz, token, sizeof(token)) ||
            !(*u = auth_store_check_token(a->store, token))) {
            auth_store_record_failure(a->store, addr, util_now_mono());
            LOG_WARN("auth", "invalid token from %s (%s %s)", addr, http_req_method(req),
                     http_req_path(req));
            *why = "invalid token";
            return -EACCES;
        }
        return 0;
    }
    if (cookie) {
        /* Session keys are 256 random bits: nothing to rate-limit here. */
        *u = auth_store_session_get(a->store, cookie, util_now_mono());
        if (!*u) {
            *why = "session ended, log in again";
            return -EACCES;
        }
        return 0;
    }
    return -EACCES;
}

static bool auth_hook(void *arg, struct http_request *req, struct http_principal *who)
{
    struct auth *a = arg;
    const struct cfg_user *u;
    const char *why;
    double wait;

    switch (identify(a, req, &u, &why, &wait)) {
    case 0:
        fill_principal(who, u);
        return true;
    case -EAGAIN:
        respond_429(req, http_req_client_addr(req), wait);
        return false;
    default:
        respond_401(req, why);
        return false;
    }
}

static cJSON *user_json(const char *name, const char *role, const struct cfg_user *u)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cams = cJSON_CreateArray();
    if (!o || !cams) {
        cJSON_Delete(o);
        cJSON_Delete(cams);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "role", role);
    for (size_t i = 0; u && i < u->n_cameras; i++)
        cJSON_AddItemToArray(cams, cJSON_CreateString(u->cameras[i]));
    /* An empty list means every camera. */
    cJSON_AddItemToObject(o, "cameras", cams);
    return o;
}

static int respond_user(struct auth *a, struct http_request *req, unsigned status, const char *name,
                        const char *role, const struct cfg_user *u)
{
    cJSON *o = user_json(name, role, u);
    if (!o)
        return -ENOMEM;
    cJSON_AddBoolToObject(o, "auth", a->store != NULL);
    int r = http_respond_json(req, status, o);
    cJSON_Delete(o);
    return r;
}

static int handle_login(void *arg, struct http_request *req)
{
    struct auth *a = arg;
    const char *addr = http_req_client_addr(req);
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    cJSON *j = NULL;
    char key[65];
    int r;

    if (!a->store) /* auth disabled: everyone is already an admin */
        return respond_user(a, req, 200, "anonymous", "admin", NULL);
    if (refuse_if_limited(a, req, addr))
        return 0;
    j = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "token");
    if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
        cJSON_Delete(j);
        return http_respond_error(req, 400, "expected a JSON body {\"token\": \"...\"}");
    }
    const struct cfg_user *u = auth_store_check_token(a->store, tok->valuestring);
    cJSON_Delete(j);
    if (!u) {
        auth_store_record_failure(a->store, addr, util_now_mono());
        LOG_WARN("auth", "failed login from %s", addr);
        return http_respond_error(req, 401, "invalid token");
    }
    double wait = auth_store_login_blocked_for(a->store, u, addr, util_now_mono());
    if (wait > 0) {
        LOG_WARN("auth", "too many logins for %s or from %s", u->name, addr);
        char retry[16];
        snprintf(retry, sizeof(retry), "%d", (int)wait + 1);
        http_add_header(req, "Retry-After", retry);
        return http_respond_error(req, 429, "too many logins; try again in %s s", retry);
    }
    auth_store_record_login(a->store, u, addr, util_now_mono());
    r = auth_store_session_new(a->store, u, util_now_mono(), key);
    if (r < 0)
        return r;
    char cookie[160];
    snprintf(cookie, sizeof(cookie), "%s=%s; HttpOnly; SameSite=Strict; Path=/", AUTH_COOKIE, key);
    memset(key, 0, sizeof(key));
    http_add_header(req, "Set-Cookie", cookie);
    memset(cookie, 0, sizeof(cookie));
    http_add_header(req, "Cache-Control", "no-store");
    LOG_INFO("auth", "login: %s (%s) from %s", u->name, role_name(u), addr);
    return respond_user(a, req, 200, u->name, role_name(u), u);
}

static int handle_logout(void *arg, struct http_request *req)
{
    struct auth *a = arg;
    const char *cookie = http_req_cookie(req, AUTH_COOKIE);
    bool ended = a->store && cookie && auth_store_session_end(a->store, cookie);
    char clear[128];
    snprintf(clear, sizeof(clear), "%s=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/",
             AUTH_COOKIE);
    http_add_header(req, "Set-Cookie", clear);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return -ENOMEM;
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON_AddBoolToObject(o, "ended", ended);
    int r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

static int handle_me(void *arg, struct http_request *req)
{
    struct auth *a = arg;
    const struct http_principal *who = http_req_principal(req);
    return respond_user(a, req, 200, who->name, who->admin ? "admin" : "viewer", who->user);
}

int auth_check_admin(struct auth *a, struct http_request *req)
{
    const struct cfg_user *u;
    const char *why;
    double wait;

    if (!a || !a->store)
        return 0;
    int r = identify(a, req, &u, &why, &wait);
    if (r < 0)
        return r;
    return u->role == CFG_ROLE_ADMIN ? 0 : -EPERM;
}

int auth_new(const struct hlsd_config *cfg, struct http_server *http, struct auth **out)
{
    struct auth *a = NULL;
    char hash[65], token[49] = "", path[4096] = "";
    int r;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = cfg;
    a->http = http;

    if (!cfg->auth.enabled) {
        if (!util_addr_is_loopback(cfg->listen_addr))
            LOG_WARN("auth",
                     "auth.enabled is false and hlsd listens on %s: anyone who can reach "
                     "it has full admin rights",
                     cfg->listen_addr);
        else
            LOG_WARN("auth",
                     "authentication is disabled: every program on this machine (and any web "
                     "page it opens, through the Host/Origin checks only) has full admin "
                     "rights; set auth.enabled: true for anything but a local test");
    } else {
        const char *admin_hash = NULL;
        if (cfg->auth.n_users == 0) {
            r = auth_admin_hash_load_or_create(cfg->state_dir, hash, token, path, sizeof(path));
            if (r < 0) {
                LOG_ERROR("auth", "admin token file %s: %s", path,
                          r == -EINVAL ? "does not hold a SHA-256 (64 hex characters); delete "
                                         "it to generate a new token"
                                       : strerror(-r));
                goto fail;
            }
            admin_hash = hash;
            if (token[0])
                LOG_WARN("auth",
                         "generated admin token: %s ; stored its hash in %s (shown "
                         "only this once)",
                         token, path);
            else
                LOG_INFO("auth", "no users configured: admin token hash read from %s", path);
            memset(token, 0, sizeof(token));
        }
        r = auth_store_new(cfg->auth.users, cfg->auth.n_users, admin_hash,
                           cfg->auth.login_attempts_per_minute, &a->store);
        if (r < 0) {
            LOG_ERROR("auth", "cannot set up access control: %s", strerror(-r));
            goto fail;
        }
        http_server_set_auth(http, auth_hook, a);
    }

    if ((r = http_route(http, "POST", "/api/login", HTTP_ROUTE_PUBLIC, handle_login, a)) < 0 ||
        (r = http_route(http, "POST", "/api/logout", HTTP_ROUTE_PUBLIC, handle_logout, a)) < 0 ||
        (r = http_route(http, "GET", "/api/me", 0, handle_me, a)) < 0) {
        LOG_ERROR("auth", "cannot add routes: %s", strerror(-r));
        goto fail;
    }
    *out = a;
    return 0;
fail:
    if (a->store)
        http_server_set_auth(http, NULL, NULL);
    auth_free(&a);
    return r;
}

void auth_free(struct auth **ap)
{
    struct auth *a = ap ? *ap : NULL;
    if (!a)
        return;
    auth_store_free(&a->store);
    free(a);
    *ap = NULL;
}
