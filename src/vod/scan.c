#include "vod/scan.h"

#include "core/util.h"
#include "media/job.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Container extensions NVRs use; the layout fixes the rest of the name. */
static const char *const recording_exts[] = {".mp4", ".mkv", ".mov", ".ts"};

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int vod_scan_parse_layout(const char *rel, char camera[VOD_CAMERA_MAX + 1], double *start)
{
    const char *parts[4];
    size_t lens[4];
    const char *p = rel;

    for (int i = 0; i < 4; i++) {
        const char *slash = strchr(p, '/');
        if ((i < 3) != (slash != NULL))
            return -EINVAL;
        parts[i] = p;
        lens[i] = slash ? (size_t)(slash - p) : strlen(p);
        p = slash ? slash + 1 : p + lens[i];
    }
    if (lens[0] == 0 || lens[0] > VOD_CAMERA_MAX)
        return -EINVAL;
    memcpy(camera, parts[0], lens[0]);
    camera[lens[0]] = '\0';
    if (!util_is_safe_name(camera))
        return -EINVAL;

    /* YYYY-MM-DD */
    const char *d = parts[1];
    if (lens[1] != 10 || d[4] != '-' || d[7] != '-' || !all_digits(d, 4) || !all_digits(d + 5, 2) ||
        !all_digits(d + 8, 2))
        return -EINVAL;
    /* HH */
    if (lens[2] != 2 || !all_digits(parts[2], 2))
        return -EINVAL;
    /* MM.SS.ext */
    const char *f = parts[3];
    if (lens[3] < 6 || !all_digits(f, 2) || f[2] != '.' || !all_digits(f + 3, 2))
        return -EINVAL;
    bool ext_ok = false;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(recording_exts); i++)
        if (strcmp(f + 5, recording_exts[i]) == 0)
            ext_ok = true;
    if (!ext_ok)
        return -EINVAL;

    struct tm tm = {0};
    tm.tm_year = num(d, 4) - 1900;
    tm.tm_mon = num(d + 5, 2) - 1;
    tm.tm_mday = num(d + 8, 2);
    tm.tm_hour = num(parts[2], 2);
    tm.tm_min = num(f, 2);
    tm.tm_sec = num(f + 3, 2);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 59 || tm.tm_year < 70)
        return -EINVAL;
    struct tm want = tm;
    time_t t = timegm(&tm);
    /* timegm normalises 2024-02-31 into March: refuse dates that moved. */
    if (t == (time_t)-1 || tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon)
        return -EINVAL;
    *start = (double)t;
    return 0;
}

static double mtime_of(const struct stat *sb)
{
    return (double)sb->st_mtim.tv_sec + (double)sb->st_mtim.tv_nsec / 1e9;
}

int vod_scan_add_file(struct vod_index *ix, const char *path, const char *camera, double start,
                      struct vod_recording *out, char *err, size_t errlen)
{
    struct media_probe pr;
    struct vod_recording rec;
    struct stat sb;
    char perr[256] = "";
    int r;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!util_is_safe_name(camera)) {
        snprintf(err, errlen, "the camera name is not allowed (1-64 of A-Z a-z 0-9 . _ -)");
        return -EINVAL;
    }
    if (stat(path, &sb) < 0) {
        r = -errno;
        snprintf(err, errlen, "%s", strerror(errno));
        return r;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        return -EINVAL;
    }
    if (sb.st_size == 0) {
        snprintf(err, errlen, "empty file");
        return -EINVAL;
    }
    memset(&pr, 0, sizeof(pr));
    r = media_probe_file(path, &pr, perr, sizeof(perr));
    if (r < 0) {
        snprintf(err, errlen, "%s", perr[0] ? perr : "cannot read the file");
        return r;
    }
    if (!pr.video_codec[0]) {
        snprintf(err, errlen, "no video stream");
        return -EINVAL;
    }
    if (!isfinite(pr.duration) || pr.duration <= 0) {
        snprintf(err, errlen, "no duration");
        return -EINVAL;
    }
    if (isnan(start))
        start = pr.creation_time;
    if (!isfinite(start) || start < 0) {
        snprintf(err, errlen, "no start time: the file has no creation_time (give --start EPOCH)");
        return -EINVAL;
    }

    memset(&rec, 0, sizeof(rec));
    snprintf(rec.camera, sizeof(rec.camera), "%s", camera);
    rec.path = (char *)path;
    rec.start_time = start;
    rec.duration = pr.duration;
    rec.end_time = start + pr.duration;
    snprintf(rec.video_codec, sizeof(rec.video_codec), "%s", pr.video_codec);
    snprintf(rec.pix_fmt, sizeof(rec.pix_fmt), "%s", pr.pix_fmt);
    snprintf(rec.audio_codec, sizeof(rec.audio_codec), "%s", pr.audio_codec);
    rec.width = pr.width;
    rec.height = pr.height;
    rec.size = (int64_t)sb.st_size;
    rec.mtime = mtime_of(&sb);
    rec.browser_playable = pr.browser_playable;
    r = vod_index_put(ix, &rec);
    if (r < 0) {
        snprintf(err, errlen, "index: %s",
                 vod_index_errmsg(ix)[0] ? vod_index_errmsg(ix) : strerror(-r));
        return r;
    }
    vod_index_clear_failure(ix, path);
    if (out) {
        *out = rec;
        out->path = strdup(path);
        if (!out->path)
            return -ENOMEM;
    }
    return 0;
}

struct walk {
    struct vod_index *ix;
    const struct vod_scan_opts *opts;
    struct vod_scan_stats *st;
    double now;
    int fatal;
    char *err;
    size_t errlen;
};

/* One line per problem: control characters in file names are shown as '?'. */
static void report(const char *path, const char *what)
{
    char safe[PATH_MAX];
    size_t i = 0;
    for (; path[i] && i < sizeof(safe) - 1; i++)
        safe[i] = (unsigned char)path[i] < 0x20 || path[i] == 0x7f ? '?' : path[i];
    safe[i] = '\0';
    fprintf(stderr, "hlsd recordings: %s: %s\n", safe, what);
}

static void scan_file(struct walk *w, const char *path, const char *rel)
{
    char camera[VOD_CAMERA_MAX + 1], reason[256] = "";
    double start, mtime;
    int64_t size, isize;
    double imtime;
    struct stat sb;
    int r;

    if (vod_scan_parse_layout(rel, camera, &start) < 0) {
        if (!w->opts->quiet_known)
            report(path, "not in the CAMERA/YYYY-MM-DD/HH/MM.SS.mp4 layout, ignored");
        return;
    }
    if (stat(path, &sb) < 0) {
        w->st->failed++;
        report(path, strerror(errno));
        return;
    }
    if (!S_ISREG(sb.st_mode))
        return;
    size = (int64_t)sb.st_size;
    mtime = mtime_of(&sb);
    /* A file touched within the settle time (or stamped in the future) may
     * still be growing: a recorder appends until it closes the file. */
    if (w->now - mtime < w->opts->settle_seconds) {
        w->st->growing++;
        if (!w->opts->quiet_known)
            report(path, "still being written, left for a later scan");
        return;
    }
    r = vod_index_find_path(w->ix, path, &isize, &imtime);
    if (r == 0 && isize == size && imtime == mtime) {
        w->st->unchanged++;
        return;
    }
    if (r < 0 && r != -ENOENT)
        goto db_fail;
    r = vod_index_find_failure(w->ix, path, size, mtime, reason, sizeof(reason));
    if (r == 0) {
        w->st->failed++;
        if (!w->opts->quiet_known)
            report(path, reason);
        return;
    }
    if (r != -ENOENT)
        goto db_fail;
    r = vod_scan_add_file(w->ix, path, camera, start, NULL, reason, sizeof(reason));
    if (r == 0) {
        w->st->indexed++;
        return;
    }
    if (strncmp(reason, "index: ", 7) == 0) {
        snprintf(w->err, w->errlen, "%s: %s", path, reason);
        w->fatal = r;
        return;
    }
    w->st->failed++;
    report(path, reason);
    r = vod_index_put_failure(w->ix, path, size, mtime, reason);
    if (r < 0)
        goto db_fail;
    return;
db_fail:
    snprintf(w->err, w->errlen, "index: %s", vod_index_errmsg(w->ix));
    w->fatal = r;
}

/* depth 0 = the scanned folder; recordings are at depth 4. */
static void walk_dir(struct walk *w, const char *path, const char *rel, int depth)
{
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d) {
        if (depth == 0) {
            w->fatal = -errno;
            snprintf(w->err, w->errlen, "%s: %s", path, strerror(errno));
        } else {
            w->st->failed++;
            report(path, strerror(errno));
        }
        return;
    }
    while (!w->fatal && (de = readdir(d))) {
        char child[PATH_MAX], crel[PATH_MAX];
        struct stat sb;
        if (de->d_name[0] == '.')
            continue; /* ., .., hidden and temporary files */
        if (util_fmt(child, sizeof(child), "%s/%s", path, de->d_name) < 0 ||
            util_fmt(crel, sizeof(crel), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) < 0) {
            report(path, "name too long, skipped");
            continue;
        }
        /* Folders are not followed through symlinks (no loops, no escapes);
         * recording files may be symlinks. */
        if (lstat(child, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth == 0 && !util_is_safe_name(de->d_name)) {
                w->st->failed++;
                report(child,
                       "camera folder name is not allowed (1-64 of A-Z a-z 0-9 . _ -), skipped");
                continue;
            }
            if (depth < 3)
                walk_dir(w, child, crel, depth + 1);
            continue;
        }
        if (depth == 3)
            scan_file(w, child, crel);
    }
    closedir(d);
}

int vod_scan_dir(struct vod_index *ix, const char *dir, const struct vod_scan_opts *opts,
                 struct vod_scan_stats *stats, char *err, size_t errlen)
{
    char abs[PATH_MAX];
    struct walk w = {0};
    int removed = 0, r;

    memset(stats, 0, sizeof(*stats));
    if (!realpath(dir, abs)) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return r;
    }
    struct stat sb;
    if (stat(abs, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a folder", dir);
        return -ENOTDIR;
    }
    w.ix = ix;
    w.opts = opts;
    w.st = stats;
    w.now = util_now_wall();
    w.err = err;
    w.errlen = errlen;
    walk_dir(&w, abs, "", 0);
    if (w.fatal)
        return w.fatal;
    r = vod_index_prune(ix, abs, &removed);
    if (r < 0) {
        snprintf(err, errlen, "index: %s", vod_index_errmsg(ix));
        return r;
    }
    stats->removed = removed;
    return 0;
}
