/* Access control for the HTTP server: the authentication hook (Bearer token
 * or login-session cookie) and the routes POST /api/login, POST /api/logout,
 * GET /api/me. Roles and per-camera rights are then enforced by the HTTP
 * server (HTTP_ROUTE_ADMIN) and by handlers (http_req_may_see()).
 *
 * With auth.enabled and no configured users, the first start generates an
 * admin token, stores its SHA-256 in <state_dir>/admin_token.sha256 and logs
 * the token once. With auth.enabled false no hook is installed (everyone is
 * an admin named "anonymous") and a warning is logged when the listen address
 * is not loopback. */
#ifndef HLSD_AUTH_H
#define HLSD_AUTH_H

#include "core/config.h"
#include "http/http.h"

struct auth;

/* The session cookie set by POST /api/login. */
#define AUTH_COOKIE "hlsd_session"

/* Installs the hook and the routes on http (call right after
 * http_server_new(), before other routes are added is not required). cfg and
 * http are borrowed and must outlive *out; free *out only after
 * http_server_free(). Returns 0 or -errno (logged here with the cause). */
int auth_new(const struct hlsd_config *cfg, struct http_server *http, struct auth **out);
void auth_free(struct auth **a);

/* For public routes that decide access themselves (GET /metrics): checks the
 * request's Bearer token or session cookie as the hook does, without
 * answering. Returns 0 when they name an admin (or auth is disabled, or a is
 * NULL), -EACCES (no credentials, an invalid token, an ended session:
 * answer 401), -EPERM (a valid non-admin: 403) or -EAGAIN (this address has
 * used up its failed attempts: 429).
 * An invalid token counts as a failed attempt, as in the hook. */
int auth_check_admin(struct auth *a, struct http_request *req);

#endif
