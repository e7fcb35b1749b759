/* On-demand playback of recordings: transcode sessions (one worker each),
 * the /api/transcode, /api/cameras, /api/recordings routes and /stream/
 * serving with suspended segment requests. */
#ifndef HLSD_VOD_SESSION_H
#define HLSD_VOD_SESSION_H

#include "core/config.h"
#include "core/loop.h"
#include "http/http.h"

struct vod_manager;

/* Opens the recordings index in cfg->state_dir, removes session folders left
 * by an earlier run, registers the routes. loop, cfg and http are borrowed
 * and must outlive the manager; free *out before http_server_free(). Returns
 * 0 or -errno (logged here). */
int vod_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http,
                    struct vod_manager **out);
/* Answers waiting requests with 503 and asks every worker to stop (the
 * process table's shutdown then finishes the ladder). Accepts NULL. */
void vod_manager_shutdown(struct vod_manager *m);
/* Kills what still runs, removes the session folders, frees. Accepts NULL. */
void vod_manager_free(struct vod_manager **m);

#endif
