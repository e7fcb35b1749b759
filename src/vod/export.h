/* Clip exports (/api/export/{camera}/start/{s}/end/{e}[.mp4]): one `export`
 * worker per (camera, range) makes a fast-start MP4 in
 * <state>/exports/<id>/; requests for it share the export, downloads wait
 * (suspended) until the file is complete, finished files are kept for
 * vod.export_ttl. Internal to src/vod, on the loop thread. */
#ifndef HLSD_VOD_EXPORT_H
#define HLSD_VOD_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

struct vod_manager;

/* Pure helpers (unit-tested). */

/* The download name "<camera>-<YYYY-MM-DD>_<HH-MM-SS>Z.mp4" of a range
 * starting at `start` (epoch seconds, UTC, fractions dropped). 0,
 * -EINVAL (start out of range), -ENAMETOOLONG. */
int vod_export_filename(const char *camera, double start, char *buf, size_t size);

/* The {end_ts} parameter of a download ends with ".mp4": copies the number
 * before it into buf and sets *download. Without the suffix, copies it
 * whole. 0 or -EINVAL (empty number, too long). */
int vod_export_split_end(const char *param, char *buf, size_t size, bool *download);

struct vod_recording;

/* Bytes the export of [start, end) will most likely take: the recordings'
 * bytes in proportion to their part in the range when remuxed, 4 Mbit/s of
 * range when transcoded (the encoder's settings make far less as a rule). */
double vod_export_estimate(const struct vod_recording *recs, size_t n, double start, double end,
                           bool remux);
/* Whether an export of `estimate` bytes leaves min_free bytes free on a disk
 * with free_bytes available. */
bool vod_export_fits_disk(double free_bytes, double estimate, double min_free);

/* export.c */
/* Creates <state>/exports (emptied: exports do not survive a restart) and
 * registers the routes. 0 or -errno (logged). */
int vod_export_init(struct vod_manager *m);
/* Removes exports unused for vod.export_ttl (the manager's tick). */
void vod_export_tick(struct vod_manager *m, double now);
/* Exports whose worker transcodes (they count toward vod.max_concurrent). */
int vod_export_active(const struct vod_manager *m);
/* Answers the waiting downloads with 503 and asks the workers to stop. */
void vod_export_shutdown(struct vod_manager *m);
/* Kills the workers, removes every export and its folder. */
void vod_export_free_all(struct vod_manager *m);

#endif
