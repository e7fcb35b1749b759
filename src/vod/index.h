/* The recordings index: SQLite at <state_dir>/recordings.db, shared by the
 * daemon (reads) and the `hlsd recordings` CLI (writes), hence WAL mode and a
 * busy timeout. Schema changes are versioned migrations (PRAGMA user_version).
 * Every query is a prepared statement with bound parameters. */
#ifndef HLSD_VOD_INDEX_H
#define HLSD_VOD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOD_INDEX_FILE "recordings.db"
#define VOD_CAMERA_MAX 64

struct vod_index;

/* One indexed recording. `path` is owned by the record (heap). */
struct vod_recording {
    int64_t id;
    char camera[VOD_CAMERA_MAX + 1];
    char *path;
    double start_time, end_time, duration; /* epoch seconds, fractional */
    char video_codec[32];
    char pix_fmt[32];
    int width, height;
    char audio_codec[32]; /* "" when none */
    int64_t size;         /* bytes */
    double mtime;         /* file modification time when indexed */
    bool browser_playable;
};

struct vod_camera_summary {
    char name[VOD_CAMERA_MAX + 1];
    long recordings;
    double first; /* earliest start_time */
    double last;  /* latest end_time */
    double total_duration;
};

/* Opens (creating when missing) <state_dir>/recordings.db and migrates it to
 * the current schema. The state folder must exist. On failure returns -errno
 * and, when err is given, a one-line reason. *out is freed with
 * vod_index_close. */
int vod_index_open(const char *state_dir, struct vod_index **out, char *err, size_t errlen);
void vod_index_close(struct vod_index **ix);

/* The last SQLite error message of this handle (owned by the handle). */
const char *vod_index_errmsg(const struct vod_index *ix);

/* Inserts or replaces (same path) a recording; r->id is ignored. 0 or -errno
 * (-EINVAL for an unsafe camera name or an empty path). */
int vod_index_put(struct vod_index *ix, const struct vod_recording *r);

/* Looks a path up: 0 and *size / *mtime when indexed, -ENOENT when not. */
int vod_index_find_path(struct vod_index *ix, const char *path, int64_t *size, double *mtime);

/* Files that could not be indexed, remembered so a rescan of an unchanged
 * file does not probe it again. reason is copied. */
int vod_index_put_failure(struct vod_index *ix, const char *path, int64_t size, double mtime,
                          const char *reason);
/* 0 and the stored reason when path failed with this size and mtime; -ENOENT otherwise. */
int vod_index_find_failure(struct vod_index *ix, const char *path, int64_t size, double mtime,
                           char *reason, size_t reasonlen);
int vod_index_clear_failure(struct vod_index *ix, const char *path);

/* Recordings of `camera` (NULL = every camera) overlapping (after, before),
 * i.e. start_time < before and end_time > after, ordered by camera then
 * start_time, at most `limit` (0 = no limit). *out is a heap array the
 * caller frees with vod_recordings_free; *truncated (may be NULL) tells
 * whether the limit cut the list. */
int vod_index_range(struct vod_index *ix, const char *camera, double after, double before,
                    size_t limit, struct vod_recording **out, size_t *n, bool *truncated);
void vod_recordings_free(struct vod_recording **recs, size_t n);

/* Every camera with its count and time span, ordered by name. *out is a heap
 * array the caller frees with free(). */
int vod_index_cameras(struct vod_index *ix, struct vod_camera_summary **out, size_t *n);

/* Number of recordings of one camera (0 when unknown). */
int vod_index_count(struct vod_index *ix, const char *camera, long *n);

/* Removes the entries whose path is under `dir` (an absolute folder without
 * a trailing slash) and whose file no longer exists. *removed may be NULL. */
int vod_index_prune(struct vod_index *ix, const char *dir, int *removed);

/* Gaps between recordings (sorted by start_time) longer than `tolerance`
 * seconds: pure function used by the API and the tests. gaps receives up to
 * max pairs {start,end}; returns the number of gaps found (may exceed max). */
size_t vod_find_gaps(const struct vod_recording *recs, size_t n, double tolerance,
                     double (*gaps)[2], size_t max);

#endif
