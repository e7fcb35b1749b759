/* Internal to the live preview manager: the port state machine (preview.c)
 * shared with the HTTP side (preview_api.c). Everything runs on the daemon's
 * loop thread, so nothing here is locked. */
#ifndef HLSD_PREVIEW_PRIV_H
#define HLSD_PREVIEW_PRIV_H

#include "live/preview.h"
#include "http/http_wait.h"
#include "worker/proc.h"

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

/* What the worker of a `lowlatency` port has published so far, from its
 * `part` and `segment` events (the playlist on disk says the same). */
struct live_ll {
    bool known;              /* an event arrived since the preview started */
    long long open_msn;      /* the segment being written */
    long open_parts;         /* its parts published so far */
    long last_parts;         /* parts of segment open_msn - 1 */
    char hint[NAME_MAX + 1]; /* the part being written (preload hint), "" = none */
    /* Held requests: a blocking playlist reload (key _HLS_msn, sub
     * _HLS_part or -1) or a hinted part file (flags LIVE_LL_PART_FILE, name). */
    struct http_wait_queue waiters;
};

#define LIVE_LL_PART_FILE 0x1
/* Bounds of media sequence and part numbers, from the worker or a client. */
#define LIVE_LL_MAX_MSN 9007199254740992.0 /* 2^53 */
#define LIVE_LL_MAX_PART 1000000.0

struct live_port {
    struct live_manager *m;
    const struct cfg_port *cfg; /* borrowed from the manager's config */
    char log_name[32];          /* "port 3" */
    char playlist[48];          /* "port_3.m3u8" */
    char file_prefix[40];       /* "port_3-": every segment of the port starts with it */

    enum live_state state;
    struct proc *w;          /* NULL while stopped or waiting to respawn */
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

    struct http_wait_queue first_segment; /* playlist requests until a segment exists */

    struct live_ll ll; /* variant lowlatency only */
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
/* {"format": in's format or null, "url": url} (caller owns; NULL on OOM):
 * the worker job gets the real URL, the API a redacted one. */
cJSON *live_input_json(const struct cfg_input *in, const char *url);

/* preview_api.c */
int live_api_register(struct live_manager *m);

/* llhls.c: LL-HLS blocking playlist reload and hinted part requests. */
/* True when the port's preview uses variant lowlatency. */
bool live_ll_enabled(const struct live_port *p);
/* Sets up the port's queue of held requests (once, at manager creation). */
void live_ll_init(struct live_port *p);
/* Forgets what an earlier preview published (a fresh start). */
void live_ll_reset(struct live_port *p);
/* A worker event of the port ("part", "segment"): updates what is
 * published and answers the waiting requests it satisfies. */
void live_ll_on_event(struct live_port *p, const char *type, const cJSON *msg);
/* What the two request functions below did with a request. */
#define LIVE_LL_SERVE 0 /* nothing: the caller serves the file as usual */
#define LIVE_LL_TAKEN 1 /* answered or suspended: the caller must not touch it */

/* A playlist request: with _HLS_msn/_HLS_part, answers 400 for bad or too
 * distant directives or holds the request until the playlist has that part
 * (or three target durations pass: then the current playlist). Returns
 * LIVE_LL_TAKEN, LIVE_LL_SERVE or -errno. */
int live_ll_playlist_request(struct live_port *p, struct http_request *req);
/* A media file request: the preload-hinted part, not written yet, is held
 * until it exists (404 after three target durations). Same returns. */
int live_ll_part_request(struct live_port *p, struct http_request *req, const char *name);
/* Answers every held request: playlists with the file as it is (status 0)
 * or all with an error status; hinted parts with 404 (status 0) or status. */
void live_ll_answer_all(struct live_port *p, unsigned status, const char *msg);

#endif
