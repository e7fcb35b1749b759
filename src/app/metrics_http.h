/* GET /metrics and the daemon's built-in families (per port, HTTP requests
 * by route, workers, the process itself), over the registry of
 * http/metrics.h. Part of the composition root: it reads the live manager,
 * the supervisor and auth, which the transport layer must not know. */
#ifndef HLSD_APP_METRICS_HTTP_H
#define HLSD_APP_METRICS_HTTP_H

#include "core/config.h"
#include "http/http.h"
#include "http/metrics.h"

struct auth;
struct live_manager;

struct metrics;

/* Registers GET /metrics on http (as a public route: the handler itself lets
 * admins in, and loopback clients when cfg->metrics_from_loopback, asking
 * auth_check_admin() for the rest) and the built-in providers. cfg, http,
 * auth (NULL = no access control beyond the server's) and live (NULL = no
 * port metrics) are borrowed and must outlive *out; free *out after
 * http_server_free(). Returns 0 or -errno (logged here). */
int metrics_http_new(const struct hlsd_config *cfg, struct http_server *http, struct auth *auth,
                     struct live_manager *live, struct metrics **out);
/* Unregisters the built-in providers and resets the registry. Accepts NULL. */
void metrics_http_free(struct metrics **m);

#endif
