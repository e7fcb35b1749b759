/* Live previews of the configured ports: one worker per running preview,
 * the /api/ports and /api/previews routes, and /hls/ serving (on-demand start). */
#ifndef HLSD_PREVIEW_H
#define HLSD_PREVIEW_H

#include "core/config.h"
#include "core/loop.h"
#include "http/http.h"

#include <cjson/cJSON.h>
#include <stddef.h>

struct live_manager;

/* Removes stale files left in <state_dir>/hls by an earlier run, registers
 * the routes on http. No preview starts by itself: previews start through
 * the API, or (on-demand ports) on the first playlist request. cfg must
 * outlive the manager. Returns 0 or -errno. */
int live_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http,
                     struct live_manager **out);
/* Asks every running preview to stop (the ladder follows), answers waiting
 * playlist requests, and prevents respawns. Accepts NULL. */
void live_manager_shutdown(struct live_manager *m);
/* Frees the manager; workers still running are killed (proc_free). Accepts NULL. */
void live_manager_free(struct live_manager **m);

/* Status of every port (the objects of GET /api/ports/{index}/preview), for
 * metrics. The caller owns the returned array; NULL on allocation failure. */
cJSON *live_manager_status_json(const struct live_manager *m);

/* Copies url into out with credentials removed: the `user:pass@` part of the
 * authority and the values of credential-like query parameters (password,
 * token, ...) become nothing / "***". Strings that are not URLs are copied
 * as they are. 0, or -ENAMETOOLONG when out is too small. */
int live_redact_url(const char *url, char *out, size_t outlen);

#endif
