/* Pure helpers of the clip export (export.h): the download's file name and
 * the {end_ts} parameter with its ".mp4" suffix. */
#include "vod/export.h"

#include "core/util.h"

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
