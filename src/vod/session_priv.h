/* Internal to src/vod (session.c, session_http.c, catalog.c): the manager and
 * session structures. Everything here runs on the daemon's loop thread. */
#ifndef HLSD_VOD_SESSION_PRIV_H
#define HLSD_VOD_SESSION_PRIV_H

#include "core/config.h"
#include "core/loop.h"
#include "http/http.h"
#include "http/http_wait.h"
#include "vod/index.h"
#include "vod/session.h"
#include "worker/proc.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define VOD_ID_LEN 24 /* hex characters of the keyed hash */
#define VOD_PLAYLIST "master.m3u8"
#define VOD_MAX_VIEWERS 16
#define VOD_VIEWER_WINDOW 30.0 /* seconds a client address counts as watching */
#define VOD_MAX_SOURCES 5000   /* recordings in one session (job line size) */
#define VOD_MAX_SESSIONS 64    /* sessions kept (active or finished, until their ttl) */

struct vod_session;

/* Requests wait in a session's queue with key = the segment, or -1 for the
 * plan; VOD_WAIT_API marks the /api/transcode call (answered with JSON). */
#define VOD_WAIT_API 0x1

/* What viewers are told when a worker fails: its own message names
 * recording paths, so it goes to the log and to admins only. */
#define VOD_PUBLIC_ERROR "transcoding failed (details in the server log)"

struct vod_viewer {
    char addr[64];
    double last; /* monotonic */
};

struct vod_session {
    struct vod_session *next;
    struct vod_manager *m;
    char id[VOD_ID_LEN + 1];
    char name[16]; /* log prefix "vod <first 8 of id>" */
    char camera[VOD_CAMERA_MAX + 1];
    double start, end;  /* the requested range */
    char dir[PATH_MAX]; /* <state>/transcode/<id> */
    char prefix[32];    /* segment file prefix, fixed for the session's life */
    cJSON *job;         /* kept for restarts */
    size_t n_sources;   /* recordings in the job */

    struct proc *w; /* NULL when no worker process runs */
    bool releasing; /* w is being stopped because it sat paused (not a failure) */
    bool released;  /* the last worker was released that way: state "idle" */
    char owner[80]; /* who created the session: a user name, or "addr:" + address */
    pid_t pid;
    int restarts;
    bool planned, done, failed;
    char error[256]; /* the last worker error */

    int n_segments;
    double duration;
    bool passthrough;
    unsigned char *have; /* n_segments flags: written */
    int n_have;
    int max_wanted;
    int encoded_up_to;
    double percent, speed, fps;

    double created;     /* wall clock */
    double last_access; /* monotonic: playlist/segment/API requests */
    struct vod_viewer viewers[VOD_MAX_VIEWERS];
    struct http_wait_queue waiters;
};

struct vod_manager {
    struct loop *loop;
    const struct hlsd_config *cfg;
    struct http_server *http;
    struct vod_index *ix;
    char transcode_dir[PATH_MAX];
    unsigned char key[32];
    struct vod_session *sessions;
    struct loop_timer *tick;
    bool shutting_down;
    bool trash_pending; /* a removed session folder could not be fully deleted */

    struct proc *scan, *sample; /* helper children (manager.c); NULL when none runs */
    double next_scan;           /* monotonic */
};

/* session.c */
struct vod_session *vod_session_find(struct vod_manager *m, const char *id);
/* Derives the session id of (camera, start, end). 0 or -errno. */
int vod_session_id(const struct vod_manager *m, const char *camera, double start, double end,
                   char id[VOD_ID_LEN + 1]);
bool vod_valid_id(const char *id);
/* Creates a session and starts its worker. The session belongs to the
 * manager's list (*out is borrowed; vod_session_destroy frees it). 0, -ENOENT
 * (no recording in range), -E2BIG (too many recordings), -EBUSY
 * (max_concurrent reached), -errno. */
/* Sessions whose worker encodes (or plans): what max_concurrent limits. A
 * paused or releasing worker does not count. */
bool vod_session_encoding(const struct vod_session *s);
/* Stops a paused worker nobody asked anything of for pause_release_seconds
 * (the tick calls it). True when it did. */
bool vod_session_release_if_idle(struct vod_session *s, double now);
/* owner: who creates it (copied), for max_sessions_per_user. -EDQUOT when
 * that owner has max_sessions_per_user sessions and none of them is idle. */
int vod_session_create(struct vod_manager *m, const char *owner, const char *camera, double start,
                       double end, const char *id, struct vod_session **out);
/* Starts the worker again when it is not running. 0, -EBUSY, -errno. */
int vod_session_ensure_worker(struct vod_session *s);
/* Answers every waiter that can be answered now; with a non-zero status,
 * fails the rest with it. */
void vod_session_flush_waiters(struct vod_session *s, unsigned status, const char *why);
/* Stops the worker, removes the folder, answers waiters, frees. */
void vod_session_destroy(struct vod_session *s, unsigned status, const char *why);
int vod_active_count(const struct vod_manager *m);
void vod_session_touch(struct vod_session *s, struct http_request *req);
/* Sends {"cmd":"want","segment":n} when a worker runs. */
void vod_session_want(struct vod_session *s, int n);
/* True when a request already waits for segment n (its `want` was sent). */
bool vod_session_is_waited(const struct vod_session *s, int n);
/* Adds a waiter (suspends req until the plan / segment, or ready_timeout). */
int vod_session_wait(struct vod_session *s, struct http_request *req, int segment, bool api);
/* registry.c (vod.shared_dir): records the session's camera and range so
 * other nodes can take it over (failures are logged, not fatal). */
void vod_registry_record(const struct vod_manager *m, const struct vod_session *s);
/* Removes the session's record (an admin DELETE: no node takes it over). */
void vod_registry_remove(const struct vod_manager *m, const char *id);
/* A session this node does not have but the registry names (another node
 * created it): the record must hash to the id, req's user must see the
 * camera, then the session is created here. 0, -ENOENT (no registry, not in
 * it), -EINVAL (the record does not match the id), -EPERM, or
 * vod_session_create's errors. */
int vod_registry_adopt(struct vod_manager *m, struct http_request *req, const char *owner,
                       const char *id, struct vod_session **out);

/* "starting", "encoding", "paused", "idle", "done", "failed", "stopped". */
const char *vod_session_state(const struct vod_session *s);
/* The session's status object (the caller deletes it), or NULL on OOM;
 * admin adds the worker's pid and restarts. */
cJSON *vod_session_status_json(const struct vod_session *s, bool admin);
/* Answers the /api/transcode call with the session's JSON. */
int vod_respond_started(struct vod_session *s, struct http_request *req);
bool vod_segment_exists(const struct vod_session *s, int n);
void vod_segment_name(const struct vod_session *s, int n, char *buf, size_t size);

/* session_http.c */
int vod_register_session_routes(struct vod_manager *m);

/* catalog.c */
int vod_register_catalog_routes(struct vod_manager *m);

#endif
