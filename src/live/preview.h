/* Live previews of the configured ports: one worker per running preview,
 * the /api/ports and /api/previews routes, and /hls/ serving (on-demand start). */
#ifndef HLSD_PREVIEW_H
#define HLSD_PREVIEW_H

#include "core/config.h"
#include "core/loop.h"
#include "server/http.h"

struct live_manager;

/* Registers the routes on http and starts the ports that are not on-demand...
 * only when asked (previews start through the API). cfg must outlive the
 * manager. Returns 0 or -errno. */
int live_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http,
                     struct live_manager **out);
/* Asks every running preview to stop (the ladder follows). */
void live_manager_shutdown(struct live_manager *m);
void live_manager_free(struct live_manager **m);

#endif
