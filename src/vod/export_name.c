/* Pure helpers of the clip export (export.h): the download's file name, the
 * {end_ts} parameter with its ".mp4" suffix, the disk space estimate. */
#include "vod/export.h"

#include "core/util.h"
#include "vod/index.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MP4_SUFFIX ".mp4"

int vod_export_filename(const char *camera, double start, char *buf, size_t size)
{
    struct tm tm;
    /* year 9999 at most: a name never grows with absurd numbers */
    if (!isfinite(start) || start < 0 || start >= 253402300800.0 || !util_is_safe_name(camera))
        return -EINVAL;
    time_t t = (time_t)floor(start);
    if (!gmtime_r(&t, &tm))
        return -EINVAL;
    /* UTC, the zone named by the Z: readable, sortable, no ':' (which
     * Windows refuses in file names). */
    return util_fmt(buf, size, "%s-%04d-%02d-%02d_%02d-%02d-%02dZ.mp4", camera, tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int vod_export_split_end(const char *param, char *buf, size_t size, bool *download)
{
    size_t len = param ? strlen(param) : 0, sl = strlen(MP4_SUFFIX);
    *download = len >= sl && strcmp(param + len - sl, MP4_SUFFIX) == 0;
    if (*download)
        len -= sl;
    if (len == 0 || len >= size)
        return -EINVAL;
    memcpy(buf, param, len);
    buf[len] = '\0';
    return 0;
}

/* 4 Mbit/s: above what vod.crf makes of a 720p camera, so the check errs on
 * the safe side. */
#define EXPORT_TRANSCODE_BYTES_PER_S 500000.0

double vod_export_estimate(const struct vod_recording *recs, size_t n, double start, double end,
                           bool remux)
{
    double bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct vod_recording *r = &recs[i];
        double from = fmax(start, r->start_time), to = fmin(end, r->end_time);
        double len = r->end_time - r->start_time;
        if (to <= from)
            continue;
        if (!remux)
            bytes += (to - from) * EXPORT_TRANSCODE_BYTES_PER_S;
        else if (len > 0 && r->size > 0)
            /* a remux starts at the keyframe before: a little more */
            bytes += (double)r->size * fmin(1.0, (to - from) / len + 0.05);
    }
    return bytes;
}

bool vod_export_fits_disk(double free_bytes, double estimate, double min_free)
{
    return free_bytes >= estimate + min_free;
}
