/* Internal to src/vod/thumbs*.c: the scrub thumbnail sets (thumbs.c: sets,
 * cache, workers; thumbs_http.c: the routes). Loop thread only. */
#ifndef HLSD_VOD_THUMBS_PRIV_H
#define HLSD_VOD_THUMBS_PRIV_H

#include "core/thumbgrid.h"
#include "vod/session_priv.h"

#define THUMBS_MAX_SETS 32   /* sets cached (in memory and on disk) */
#define THUMBS_MAX_WORKERS 2 /* thumbs workers at once; more sets wait for a slot */
#define THUMBS_VTT "thumbs.vtt"
#define THUMBS_IFRAMES "iframes.m3u8"
#define THUMBS_META "meta.json"
#define THUMBS_SHEET_PREFIX "sheet-"
#define THUMBS_IFRAME_PREFIX "iframe-"
#define THUMBS_MAX_FILE_INDEX 9999999
/* Upper bound of one I-frame TS file (a 160x90 IDR at crf 30 plus PAT/PMT
 * and PES overhead is 2-5 kB): the I-frame playlist's BANDWIDTH. */
#define THUMBS_IFRAME_MAX_BYTES 12000
/* What the I-frame files are: x264 baseline, level 1.1 (media/thumbs.c). */
#define THUMBS_IFRAME_CODECS "avc1.42c00b"

/* Fixed tiles: the VTT and the sheets are known before any probing. */
extern const struct thumbgrid_layout vod_thumbs_layout;

struct thumbs_set {
    struct thumbs_set *next;
    struct vod_thumbs *th;
    char id[VOD_ID_LEN + 1];
    char name[24]; /* log prefix "thumbs <id8>" */
    char camera[VOD_CAMERA_MAX + 1];
    char dir[PATH_MAX];
    double start, end, interval;
    size_t count, sheets;
    double iframe_bandwidth;
    double *times;       /* count epoch times, for the API */
    unsigned char *have; /* sheets flags: on disk */
    cJSON *job;
    struct proc *w;
    bool failed;
    bool progress; /* the worker running (or last run) made a sheet */
    char error[256];
    double last_access;             /* monotonic */
    struct http_wait_queue waiters; /* key: the sheet; name: the file to serve */
};

struct vod_thumbs {
    struct vod_manager *m;
    char dir[PATH_MAX]; /* <state>/thumbs */
    struct thumbs_set *sets;
    int n_sets;
    /* Sets of earlier runs still on disk and not loaded, newest first: they
     * count in THUMBS_MAX_SETS and are the first to go. */
    char (*old)[VOD_ID_LEN + 1];
    int n_old;
    bool iframes; /* libx264 is there: sets have an I-frame playlist */
    bool shutting_down;
};

/* The set of id in memory, or NULL. */
struct thumbs_set *vod_thumbs_find(struct vod_thumbs *th, const char *id);
/* The set of (camera, range, interval) from the index: found, or created
 * (its VTT and I-frame playlist written). *out is borrowed (the module owns
 * sets). 0, -ENOENT (no recording in the range), -E2BIG (too many thumbnails
 * or recordings), -EBUSY (the cache is full of sets in use), -errno. */
int vod_thumbs_get(struct vod_thumbs *th, const char *camera, double start, double end,
                   double interval, struct thumbs_set **out);
/* A set of an earlier run, from <dir>/<id>/meta.json (its content must hash
 * to id). *out is borrowed. 0, -ENOENT, -EBUSY (cache full of sets in use),
 * -errno. */
int vod_thumbs_load(struct vod_thumbs *th, const char *id, struct thumbs_set **out);
/* Starts the set's worker unless it runs. 0, -EBUSY (THUMBS_MAX_WORKERS
 * run: the set's waiters get the next free slot), -errno. */
int vod_thumbs_ensure_worker(struct thumbs_set *s);
/* Asks the running worker to make sheet k next. */
void vod_thumbs_want(struct thumbs_set *s, long long k);
bool vod_thumbs_all_made(const struct thumbs_set *s);
bool vod_thumbs_sheet_on_disk(const struct thumbs_set *s, size_t k);
bool vod_thumbs_file_on_disk(const struct thumbs_set *s, const char *name);

/* thumbs_http.c: registers /api/thumbnails/… and /stream/thumbs/…. 0 or -errno. */
int vod_thumbs_register_routes(struct vod_thumbs *th);

#endif
