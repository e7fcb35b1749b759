/* Internal to the live preview manager: the port state machine (preview.c)
 * shared with the HTTP side (preview_api.c). Everything runs on the daemon's
 * loop thread, so nothing here is locked. */
#ifndef HLSD_PREVIEW_PRIV_H
#define HLSD_PREVIEW_PRIV_H

#include "live/preview.h"
#include "worker/supervisor.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum live_state {
    LIVE_STOPPED = 0,
    LIVE_STARTING,     /* worker spawned, input not open yet */
    LIVE_RUNNING,      /* input open, segments flowing */
    LIVE_RECONNECTING, /* input failed (worker retries) or worker died (we respawn) */
    LIVE_STOPPING,     /* stop ladder under way */
    LIVE_FAILED,       /* fatal worker error (bad settings, unwritable folder) */
};

struct live_port {
    struct live_manager *m;
    const struct cfg_port *cfg; /* borrowed from the manager's config */
    char log_name[32];          /* "port 3" */
    char playlist[48];          /* "port_3.m3u8" */
    char file_prefix[40];       /* "port_3-": every segment of the port starts with it */

    enum live_state state;
    struct worker *w;        /* NULL while stopped or waiting to respawn */
    bool restart_after_stop; /* POST (or a viewer) arrived during the stop ladder */
    bool fatal;              /* the current worker reported a fatal "error" */
    bool have_segment;       /* this preview (since its start) wrote a segment */

    double started_at;    /* wall clock of the start, NAN before the first */
    double fps, bitrate;  /* last progress event */
    int width, height;    /* output size from "started" */
    long segments;        /* segment events since the start */
    long restarts_base;   /* crashes + input restarts of earlier workers */
    long worker_restarts; /* input restarts reported by the current worker */
    char *last_error;     /* owned, NULL = none */

    unsigned crash_streak; /* consecutive crashes without a segment: backoff index */
    struct loop_timer *respawn_timer;
    struct loop_timer *idle_timer;
    double last_request; /* monotonic time of the last playlist/segment request */

    struct http_request **waiters; /* playlist requests suspended until a segment exists */
    size_t n_waiters, cap_waiters;
};

struct live_manager {
    struct loop *loop;
    const struct hlsd_config *cfg;
    struct http_server *http;
    char hls_dir[PATH_MAX];
    struct live_port *ports; /* one per configured port, in config order */
    size_t n_ports;
    bool shutting_down;
};

/* preview.c */
struct live_port *live_find_port(struct live_manager *m, long index);
const char *live_state_name(enum live_state s);
/* True while a preview is wanted and not being stopped. */
bool live_port_previewing(const struct live_port *p);
/* Starts a stopped/failed port (no-op when previewing; queued while stopping).
 * `why` goes to the log. 0 or -errno (spawn failure, recorded in last_error). */
int live_port_start(struct live_port *p, const char *why);
/* Starts the stop ladder; no-op when stopped. Returns true when something was stopped. */
bool live_port_stop(struct live_port *p, const char *why);
/* A playlist or segment request for the port: refreshes the idle timer. */
void live_port_touch(struct live_port *p);
/* Suspends a playlist request until the first segment exists (start_timeout). */
int live_port_wait_first_segment(struct live_port *p, struct http_request *req);
/* Status object (caller owns). */
cJSON *live_port_status_json(const struct live_port *p);

/* preview_api.c */
int live_api_register(struct live_manager *m);

#endif
