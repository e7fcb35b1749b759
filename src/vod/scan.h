/* Indexing recording files: one file (`hlsd recordings add`) or an NVR folder
 * tree DIR/{camera}/{YYYY-MM-DD}/{HH}/{MM}.{SS}.mp4 in UTC (`scan`).
 * Probing opens media with libavformat, so these run in the CLI process,
 * never inside the daemon (the daemon runs `hlsd recordings scan` as a child:
 * a malformed file must not take the daemon down). */
#ifndef HLSD_VOD_SCAN_H
#define HLSD_VOD_SCAN_H

#include "vod/index.h"

#include <stdbool.h>

/* A file modified less than this long ago may still be growing: skipped, and
 * indexed by a later scan once it has settled. */
#define VOD_SCAN_SETTLE_SECONDS 2.0

struct vod_scan_stats {
    int indexed;   /* new or changed files now in the index */
    int unchanged; /* already indexed with the same size and mtime */
    int failed;    /* unreadable / invalid files (reported, not indexed) */
    int growing;   /* modified within the settle time: left for a later scan */
    int removed;   /* index entries whose file disappeared */
};

struct vod_scan_opts {
    bool quiet_known; /* do not report again a failure already reported for the
                       * same unchanged file (the daemon's periodic scans) */
    double settle_seconds;
};

/* Parses "CAMERA/YYYY-MM-DD/HH/MM.SS.ext" (relative to the scanned folder)
 * into the camera name and the UTC start time. 0, or -EINVAL when the path
 * does not follow the layout (or the camera name is unsafe). */
int vod_scan_parse_layout(const char *relpath, char camera[VOD_CAMERA_MAX + 1], double *start);

/* Probes path and indexes it as `camera` starting at `start` (NAN = the
 * file's creation_time). 0, or a negative errno/AVERROR with a one-line
 * reason in err. path should be absolute. *out (may be NULL) receives the
 * stored record (free its path). */
int vod_scan_add_file(struct vod_index *ix, const char *path, const char *camera, double start,
                      struct vod_recording *out, char *err, size_t errlen);

/* Scans a folder tree; reports each problem as one line on stderr. Returns 0
 * when the folder could be walked (even if some files failed), or -errno on a
 * fatal error (folder missing, database failure) with the reason in err. */
int vod_scan_dir(struct vod_index *ix, const char *dir, const struct vod_scan_opts *opts,
                 struct vod_scan_stats *stats, char *err, size_t errlen);

#endif
