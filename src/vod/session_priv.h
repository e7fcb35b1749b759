/* Internal to src/vod (session.c, session_http.c, catalog.c): the manager and
 * session structures. Everything here runs on the daemon's loop thread. */
#ifndef HLSD_VOD_SESSION_PRIV_H
#define HLSD_VOD_SESSION_PRIV_H

#include "core/config.h"
#include "core/jobspec.h"
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

#define VOD_ID_LEN 24              /* hex characters of the keyed hash */
#define VOD_PLAYLIST "master.m3u8" /* the one the API names (a media playlist with one track) */
#define VOD_MAX_VIEWERS 16
#define VOD_VIEWER_WINDOW 30.0 /* seconds a client address counts as watching */
#define VOD_MAX_SOURCES 5000   /* recordings in one session (job line size) */
#define VOD_MAX_SESSIONS 64    /* sessions kept (active or finished, until their ttl) */

struct vod_session;
struct vod_export;

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

/* What a track's worker makes (the job's "variant"). */
enum vod_track_kind {
    VOD_TRACK_AUTO = 0, /* the one variant: H.264 remuxed, the rest transcoded */
    VOD_TRACK_H264,     /* the H.264 transcode of a two-variant session */
    VOD_TRACK_HEVC,     /* the source HEVC copied into fMP4: no encoder */
};
#define VOD_MAX_TRACKS 2

/* One rendition of a session: its own worker, media playlist, segments and
 * waiting requests. */
struct vod_track {
    struct vod_session *s;
    enum vod_track_kind kind;
    char name[24];     /* log prefix "vod <id8>" or "vod <id8>/hevc" */
    char playlist[16]; /* its media playlist in the session folder */
    cJSON *job;        /* kept for restarts */

    struct proc *w; /* NULL when no worker process runs */
    bool releasing; /* w is being stopped because it sat paused (not a failure) */
    bool released;  /* the last worker was released that way: state "idle" */
    pid_t pid;
    int restarts;
    bool planned, done, failed;
    bool unavailable; /* hevc: the recordings cannot be copied (left out of the master) */
    char error[256];  /* the last worker error */
    char encoder[24]; /* the worker's video encoder, "copy" when none */

    int n_segments;
    double duration;
    bool passthrough;
    unsigned char *have; /* n_segments flags: written */
    int n_have;
    int max_wanted;
    int lookahead; /* segments of its plan (the worker scales vod.lookahead) */
    int encoded_up_to;
    double percent, speed, fps;
    double last_access; /* monotonic: requests for this track */
    struct http_wait_queue waiters;
};

struct vod_session {
    struct vod_session *next;
    struct vod_manager *m;
    char id[VOD_ID_LEN + 1];
    char name[16]; /* log prefix "vod <first 8 of id>" */
    char camera[VOD_CAMERA_MAX + 1];
    double start, end;  /* the requested range */
    char variant[8];    /* "" or the variant forced by ?variant= (part of the id) */
    char dir[PATH_MAX]; /* <state>/transcode/<id> */
    char prefix[32];    /* segment file prefix, fixed for the session's life */
    size_t n_sources;   /* recordings in the job */
    char owner[80];     /* who created the session: a user name, or "addr:" + address */

    /* One track, or two (dual): t[0] the H.264 transcode, t[1] the HEVC
     * copy, both on the source keyframes' grid, named by master.m3u8 which
     * the daemon writes from the first plan. */
    struct vod_track t[VOD_MAX_TRACKS];
    int n_tracks;
    bool dual;
    bool master_ready;
    struct http_wait_queue master_waiters; /* dual: the API call and master.m3u8 */

    double created;     /* wall clock */
    double last_access; /* monotonic: playlist/segment/API requests */
    struct vod_viewer viewers[VOD_MAX_VIEWERS];
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
    struct vod_thumbs *thumbs;  /* scrub thumbnails (thumbs.c) */
    struct vod_export *exports; /* clip exports (export.c) */
    double next_scan;           /* monotonic */
};

/* session.c */
/* What every job of recordings takes from vod.*: the video settings
 * (encoder, preset, crf, max_height) and the audio bitrate written into
 * video/audio (after their jobspec defaults), and the recordings as job
 * sources (*sources: calloc'ed, owned by the job spec, whose _clear frees
 * it; paths borrowed from recs). 0 or -ENOMEM. */
int vod_job_settings(const struct cfg_vod *v, const struct vod_recording *recs, size_t n,
                     struct jobspec_video *video, struct jobspec_audio *audio,
                     struct jobspec_source **sources);
struct vod_session *vod_session_find(struct vod_manager *m, const char *id);
/* Derives the session id of (camera, start, end[, forced variant]). 0 or -errno. */
int vod_session_id(const struct vod_manager *m, const char *camera, double start, double end,
                   const char *variant, char id[VOD_ID_LEN + 1]);
bool vod_valid_id(const char *id);
/* Who a request counts against (vod.max_sessions_per_user,
 * vod.export_max_per_user): the user name, or "addr:" + the client address
 * without users (session_http.c). */
void vod_request_owner(struct http_request *req, char *out, size_t size);
/* A number parameter of a request (s borrowed, NULL allowed): at most
 * VOD_NUMBER_MAX characters, finite, within [lo, hi]. 0, or -EINVAL once req
 * has been answered 400 naming `name`. */
#define VOD_NUMBER_MAX 32
#define VOD_TS_MAX 1e11 /* epoch seconds: year 5138 */
int vod_req_number(struct http_request *req, const char *name, const char *s, double lo, double hi,
                   double *out);
/* The {camera}/start/{start_ts}/end/{end_ts} of a recordings route, checked
 * alike by every route: a safe camera name the principal may see (403), both
 * times numbers of epoch seconds, end after start, at most max_len seconds
 * apart (the message names max_key). end_ts: the end as given when the route
 * strips a suffix first (export's ".mp4"), NULL = the route's parameter.
 * camera borrows from req. 0, or -EINVAL/-EPERM once req has been answered. */
struct vod_req_range {
    const char *camera;
    double start, end;
};
int vod_req_range(struct http_request *req, const char *end_ts, double max_len, const char *max_key,
                  struct vod_req_range *out);
/* 0 when the index has recordings of camera; else req is answered (404
 * unknown camera, 503 index unavailable, logged) and -ENOENT/-EIO. */
int vod_req_camera_known(struct vod_manager *m, struct http_request *req, const char *camera);

/* Creates a session and starts its first worker (the HEVC one of a dual
 * session). The session belongs to the manager's list (*out is borrowed;
 * vod_session_destroy frees it). variant: "" (one variant, or both for HEVC
 * recordings with vod.hevc_variant), "h264" or "hevc" (forced). owner: who
 * creates it (copied), for max_sessions_per_user. 0, -ENOENT (no recording
 * in range), -E2BIG (too many recordings), -EBUSY (max_concurrent reached),
 * -EMEDIUMTYPE (hevc forced on other recordings), -EDQUOT (that owner has
 * max_sessions_per_user sessions and none of them is idle), -errno. */
int vod_session_create(struct vod_manager *m, const char *owner, const char *camera, double start,
                       double end, const char *variant, const char *id, struct vod_session **out);
/* Stops the workers, removes the folder, answers waiters, frees. */
void vod_session_destroy(struct vod_session *s, unsigned status, const char *why);
void vod_session_touch(struct vod_session *s, struct http_request *req);
/* Dual: writes master.m3u8 from a plan's "variants" (both renditions'
 * CODECS, RESOLUTION, BANDWIDTH) and answers the waiters of the master. */
/* media_start: wall clock of session time 0 (the first segment's first
 * frame), what the I-frame playlist's cues are aligned to. */
void vod_session_write_master(struct vod_session *s, const cJSON *variants, double media_start);
/* How far before the range start a worker may say session time 0 is (a
 * copied rendition starts at the keyframe at or before it: a GOP). */
#define VOD_MAX_START_EARLY 60.0

/* track.c */
/* A worker's claim: v when it is a finite number within [lo, hi], else dflt
 * (what workers say is checked, never believed). */
double vod_json_bounded(const cJSON *v, double lo, double hi, double dflt);
/* Sessions with a track whose worker encodes (or plans): what
 * max_concurrent limits. Paused, releasing and HEVC (copy) workers do not
 * count. */
bool vod_session_encoding(const struct vod_session *s);
int vod_active_count(const struct vod_manager *m);
/* Stops paused workers nobody asked anything of for pause_release_seconds
 * (the tick calls it). True when it did. */
bool vod_session_release_if_idle(struct vod_session *s, double now);
/* Answers every waiter that can be answered now; with a non-zero status,
 * fails the rest with it (every track and the master). */
void vod_session_flush_waiters(struct vod_session *s, unsigned status, const char *why);
/* Dual: requests waiting for master.m3u8 (api: the /api/transcode call).
 * _init once at creation; _flush answers them once the master exists, or
 * fails them with a non-zero status. */
void vod_session_master_init(struct vod_session *s);
int vod_session_wait_master(struct vod_session *s, struct http_request *req, bool api);
void vod_session_flush_master(struct vod_session *s, unsigned status, const char *why);
/* Waiters of every track and of the master. */
size_t vod_session_waiting(const struct vod_session *s);
/* Workers running for the session. */
int vod_session_workers(const struct vod_session *s);
/* Asks every running worker to stop. */
void vod_session_stop_workers(struct vod_session *s);

void vod_track_init(struct vod_track *t, struct vod_session *s, enum vod_track_kind kind,
                    const char *playlist);
/* Frees what the track owns (its worker is killed). */
void vod_track_clear(struct vod_track *t);
int vod_track_spawn(struct vod_track *t);
/* Starts the worker again when it is not running. 0, -EBUSY, -errno. */
int vod_track_ensure_worker(struct vod_track *t);
/* Sends {"cmd":"want","segment":n} when a worker runs. */
void vod_track_want(struct vod_track *t, int n);
/* Sends {"cmd":"init","source":i} (hevc). */
void vod_track_want_init(struct vod_track *t, int source);
/* True when a request already waits for segment n (its `want` was sent). */
bool vod_track_is_waited(const struct vod_track *t, int n);
/* Adds a waiter (suspends req until the plan (-1), segment n (>= 0) or
 * init segment of source i (VOD_KEY_INIT(i)), or ready_timeout). */
#define VOD_KEY_INIT(i) (-2 - (long long)(i))
int vod_track_wait(struct vod_track *t, struct http_request *req, long long key, bool api);
/* Answers req with segment n of t, counted in the bytes served by kind. */
int vod_track_serve_segment(struct vod_track *t, struct http_request *req, int n);
bool vod_segment_exists(const struct vod_track *t, int n);
void vod_segment_name(const struct vod_track *t, int n, char *buf, size_t size);
void vod_init_name(const struct vod_track *t, int source, char *buf, size_t size);
bool vod_init_exists(const struct vod_track *t, int source);
/* "auto", "h264", "hevc". */
const char *vod_track_variant(const struct vod_track *t);
/* The track's state: "starting", "encoding", "paused", "idle", "done",
 * "failed", "stopped". */
const char *vod_track_state(const struct vod_track *t);
/* The track the session-level status fields describe: of the planned
 * ones, the one a viewer used last (dual), else t[0]. */
const struct vod_track *vod_session_primary(const struct vod_session *s);

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

/* session_http.c */
/* The session state: the most active of its tracks'. */
const char *vod_session_state(const struct vod_session *s);
/* The session's status object (the caller deletes it), or NULL on OOM;
 * admin adds the workers' pids and restarts. */
cJSON *vod_session_status_json(const struct vod_session *s, bool admin);
/* Answers the /api/transcode call with the session's JSON. */
int vod_respond_started(struct vod_session *s, struct http_request *req);
int vod_register_session_routes(struct vod_manager *m);

/* thumbs.c: scrub thumbnails, /api/thumbnails/… and /stream/thumbs/… */
struct vod_thumbs;
/* Creates <state>/thumbs (keeping the most recent sets of earlier runs)
 * and registers the routes. *out is freed with vod_thumbs_free. 0 or -errno
 * (logged). */
int vod_thumbs_new(struct vod_manager *m, struct vod_thumbs **out);
/* Answers waiters with 503 and asks the workers to stop. Accepts NULL. */
void vod_thumbs_shutdown(struct vod_thumbs *th);
/* Kills the workers, frees (the cached files stay). Accepts NULL. */
void vod_thumbs_free(struct vod_thumbs **th);
/* The #EXT-X-I-FRAME-STREAM-INF line (with its newline) naming the I-frame
 * playlist of the range's thumbnails at the default interval; the set is
 * registered (its playlist written), no worker starts until a file of it is
 * asked for. 0 or -errno (-ENOENT: no recording). */
int vod_thumbs_iframe_inf(struct vod_manager *m, const char *camera, double start, double end,
                          char *buf, size_t size);

/* catalog.c */
int vod_register_catalog_routes(struct vod_manager *m);

#endif
