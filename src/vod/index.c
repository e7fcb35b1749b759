#include "vod/index.h"

#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The daemon reads while a CLI scan writes: waiting a few seconds for the
 * writer's lock is better than failing a request or a scan. */
#define INDEX_BUSY_MS 5000

struct vod_index {
    sqlite3 *db;
    char errmsg[256];
};

/* Migration N brings the schema from user_version N to N+1. Append only:
 * a shipped migration is never edited. Fixed SQL, no data in it. */
static const char *const migrations[] = {
    /* 1: recordings */
    "CREATE TABLE recordings ("
    "  id INTEGER PRIMARY KEY,"
    "  camera TEXT NOT NULL,"
    "  path TEXT NOT NULL UNIQUE,"
    "  start_time REAL NOT NULL,"
    "  end_time REAL NOT NULL,"
    "  duration REAL NOT NULL,"
    "  video_codec TEXT NOT NULL DEFAULT '',"
    "  width INTEGER NOT NULL DEFAULT 0,"
    "  height INTEGER NOT NULL DEFAULT 0,"
    "  audio_codec TEXT NOT NULL DEFAULT '',"
    "  pix_fmt TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  browser_playable INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX recordings_camera_start ON recordings(camera, start_time);",
    /* 2: the file's mtime (rescans skip unchanged files) and remembered failures */
    "ALTER TABLE recordings ADD COLUMN mtime REAL NOT NULL DEFAULT 0;"
    "CREATE TABLE scan_failures ("
    "  path TEXT PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  mtime REAL NOT NULL,"
    "  reason TEXT NOT NULL);",
};

static int fail(struct vod_index *ix, int rc)
{
    snprintf(ix->errmsg, sizeof(ix->errmsg), "%s", sqlite3_errmsg(ix->db));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    default:
        return -EIO;
    }
}

static int prepare(struct vod_index *ix, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(ix->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : fail(ix, rc);
}

/* Runs a statement that returns no rows, then finalizes it. */
static int step_done(struct vod_index *ix, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : fail(ix, rc);
    sqlite3_finalize(st);
    return ret;
}

/* Steps a query expected to give at most one row: 0 with the row ready,
 * -ENOENT when there is none. */
static int step_row(struct vod_index *ix, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? -ENOENT : fail(ix, rc);
}

/* Makes room for one more item in a heap array that doubles (from `first`). */
static void *grow(void *arr, size_t *cap, size_t count, size_t size, size_t first)
{
    if (count < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : first;
    void *n = realloc(arr, ncap * size);
    if (n)
        *cap = ncap;
    return n;
}

static int exec_fixed(struct vod_index *ix, const char *sql)
{
    int rc = sqlite3_exec(ix->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(ix, rc);
}

static int user_version(struct vod_index *ix, int *v)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(ix, "PRAGMA user_version", &st);
    if (r < 0)
        return r;
    if ((r = step_row(ix, st)) == 0)
        *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return r;
}

static int migrate(struct vod_index *ix)
{
    int v = 0, r;
    const int latest = (int)UTIL_ARRAY_LEN(migrations);

    if ((r = user_version(ix, &v)) < 0)
        return r;
    if (v == latest)
        return 0;
    /* IMMEDIATE takes the write lock first, so a daemon and a CLI starting
     * together do not both run the same migration. */
    if ((r = exec_fixed(ix, "BEGIN IMMEDIATE")) < 0)
        return r;
    if ((r = user_version(ix, &v)) < 0)
        goto rollback;
    if (v > latest) {
        snprintf(ix->errmsg, sizeof(ix->errmsg),
                 "schema version %d is newer than this hlsd knows (%d)", v, latest);
        r = -EPROTO;
        goto rollback;
    }
    for (; v < latest; v++) {
        char pragma[64];
        if ((r = exec_fixed(ix, migrations[v])) < 0)
            goto rollback;
        /* PRAGMA takes no bound parameters; v is our own integer. */
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if ((r = exec_fixed(ix, pragma)) < 0)
            goto rollback;
    }
    return exec_fixed(ix, "COMMIT");
rollback:
    sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int vod_index_open(const char *state_dir, struct vod_index **out, char *err, size_t errlen)
{
    struct vod_index *ix = NULL;
    char path[PATH_MAX];
    int r, rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if ((r = util_fmt(path, sizeof(path), "%s/%s", state_dir, VOD_INDEX_FILE)) < 0) {
        if (err)
            snprintf(err, errlen, "state folder path too long");
        return r;
    }
    ix = calloc(1, sizeof(*ix));
    if (!ix)
        return -ENOMEM;
    rc = sqlite3_open_v2(path, &ix->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = ix->db ? fail(ix, rc) : -ENOMEM;
        goto fail;
    }
    sqlite3_extended_result_codes(ix->db, 1);
    sqlite3_busy_timeout(ix->db, INDEX_BUSY_MS);
    /* journal_mode answers with a row; exec ignores it. WAL lets the daemon
     * read while the CLI writes. */
    if ((r = exec_fixed(ix, "PRAGMA journal_mode=WAL")) < 0 ||
        (r = exec_fixed(ix, "PRAGMA synchronous=NORMAL")) < 0 ||
        (r = exec_fixed(ix, "PRAGMA foreign_keys=ON")) < 0)
        goto fail;
    if ((r = migrate(ix)) < 0)
        goto fail;
    *out = ix;
    return 0;
fail:
    if (err)
        snprintf(err, errlen, "%s: %s", path, ix->errmsg[0] ? ix->errmsg : strerror(-r));
    sqlite3_close(ix->db);
    free(ix);
    return r;
}

void vod_index_close(struct vod_index **ixp)
{
    if (!ixp || !*ixp)
        return;
    sqlite3_close((*ixp)->db);
    free(*ixp);
    *ixp = NULL;
}

const char *vod_index_errmsg(const struct vod_index *ix)
{
    return ix->errmsg;
}

int vod_index_put(struct vod_index *ix, const struct vod_recording *rec)
{
    static const char sql[] =
        "INSERT INTO recordings (camera, path, start_time, end_time, duration, video_codec,"
        " width, height, audio_codec, pix_fmt, size, browser_playable, mtime)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        " ON CONFLICT(path) DO UPDATE SET camera = excluded.camera,"
        " start_time = excluded.start_time, end_time = excluded.end_time,"
        " duration = excluded.duration, video_codec = excluded.video_codec,"
        " width = excluded.width, height = excluded.height, audio_codec = excluded.audio_codec,"
        " pix_fmt = excluded.pix_fmt, size = excluded.size,"
        " browser_playable = excluded.browser_playable, mtime = excluded.mtime";
    sqlite3_stmt *st = NULL;
    int r;

    if (!util_is_safe_name(rec->camera) || !rec->path || !rec->path[0] ||
        !isfinite(rec->start_time) || !isfinite(rec->end_time) || rec->end_time < rec->start_time)
        return -EINVAL;
    if ((r = prepare(ix, sql, &st)) < 0)
        return r;
    sqlite3_bind_text(st, 1, rec->camera, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rec->path, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, rec->start_time);
    sqlite3_bind_double(st, 4, rec->end_time);
    sqlite3_bind_double(st, 5, rec->duration);
    sqlite3_bind_text(st, 6, rec->video_codec, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, rec->width);
    sqlite3_bind_int(st, 8, rec->height);
    sqlite3_bind_text(st, 9, rec->audio_codec, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, rec->pix_fmt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, rec->size);
    sqlite3_bind_int(st, 12, rec->browser_playable ? 1 : 0);
    sqlite3_bind_double(st, 13, rec->mtime);
    return step_done(ix, st);
}

int vod_index_find_path(struct vod_index *ix, const char *path, int64_t *size, double *mtime)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(ix, "SELECT size, mtime FROM recordings WHERE path = ?1", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    if ((r = step_row(ix, st)) == 0) {
        if (size)
            *size = sqlite3_column_int64(st, 0);
        if (mtime)
            *mtime = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return r;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* Prepares sql with a file's identity bound as ?1 path, ?2 size, ?3 mtime. */
static int prepare_file(struct vod_index *ix, const char *sql, const char *path, int64_t size,
                        double mtime, sqlite3_stmt **st)
{
    int r = prepare(ix, sql, st);
    if (r < 0)
        return r;
    sqlite3_bind_text(*st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*st, 2, size);
    sqlite3_bind_double(*st, 3, mtime);
    return 0;
}

int vod_index_put_failure(struct vod_index *ix, const char *path, int64_t size, double mtime,
                          const char *reason)
{
    sqlite3_stmt *st = NULL;
    int r = prepare_file(ix,
                         "INSERT OR REPLACE INTO scan_failures (path, size, mtime, reason)"
                         " VALUES (?1, ?2, ?3, ?4)",
                         path, size, mtime, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 4, reason ? reason : "", -1, SQLITE_STATIC);
    return step_done(ix, st);
}

int vod_index_find_failure(struct vod_index *ix, const char *path, int64_t size, double mtime,
                           char *reason, size_t reasonlen)
{
    sqlite3_stmt *st = NULL;
    int r = prepare_file(ix,
                         "SELECT reason FROM scan_failures WHERE path = ?1 AND size = ?2"
                         " AND mtime = ?3",
                         path, size, mtime, &st);
    if (r < 0)
        return r;
    if ((r = step_row(ix, st)) == 0 && reason && reasonlen)
        copy_text(reason, reasonlen, st, 0);
    sqlite3_finalize(st);
    return r;
}

int vod_index_clear_failure(struct vod_index *ix, const char *path)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(ix, "DELETE FROM scan_failures WHERE path = ?1", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    return step_done(ix, st);
}

static int read_recording(sqlite3_stmt *st, struct vod_recording *rec)
{
    const unsigned char *path = sqlite3_column_text(st, 2);
    memset(rec, 0, sizeof(*rec));
    rec->id = sqlite3_column_int64(st, 0);
    copy_text(rec->camera, sizeof(rec->camera), st, 1);
    rec->path = strdup(path ? (const char *)path : "");
    if (!rec->path)
        return -ENOMEM;
    rec->start_time = sqlite3_column_double(st, 3);
    rec->end_time = sqlite3_column_double(st, 4);
    rec->duration = sqlite3_column_double(st, 5);
    copy_text(rec->video_codec, sizeof(rec->video_codec), st, 6);
    rec->width = sqlite3_column_int(st, 7);
    rec->height = sqlite3_column_int(st, 8);
    copy_text(rec->audio_codec, sizeof(rec->audio_codec), st, 9);
    copy_text(rec->pix_fmt, sizeof(rec->pix_fmt), st, 10);
    rec->size = sqlite3_column_int64(st, 11);
    rec->browser_playable = sqlite3_column_int(st, 12) != 0;
    rec->mtime = sqlite3_column_double(st, 13);
    return 0;
}

int vod_index_range(struct vod_index *ix, const char *camera, double after, double before,
                    size_t limit, struct vod_recording **out, size_t *n, bool *truncated)
{
    /* ?1 IS NULL selects every camera; the (camera, start_time) index serves
     * the usual single-camera query. */
    static const char sql[] =
        "SELECT id, camera, path, start_time, end_time, duration, video_codec, width, height,"
        " audio_codec, pix_fmt, size, browser_playable, mtime FROM recordings"
        " WHERE (?1 IS NULL OR camera = ?1) AND start_time < ?2 AND end_time > ?3"
        " ORDER BY camera, start_time, id LIMIT ?4";
    sqlite3_stmt *st = NULL;
    struct vod_recording *recs = NULL;
    size_t count = 0, cap = 0;
    int r, rc;

    *out = NULL;
    *n = 0;
    if (truncated)
        *truncated = false;
    if ((r = prepare(ix, sql, &st)) < 0)
        return r;
    if (camera)
        sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    /* Unbounded ends come as +-infinity; SQLite compares them fine as REAL. */
    sqlite3_bind_double(st, 2, before);
    sqlite3_bind_double(st, 3, after);
    sqlite3_bind_int64(st, 4, limit ? (sqlite3_int64)limit + 1 : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit && count == limit) {
            if (truncated)
                *truncated = true;
            break;
        }
        struct vod_recording *nr = grow(recs, &cap, count, sizeof(*recs), 16);
        if (!nr) {
            r = -ENOMEM;
            goto fail;
        }
        recs = nr;
        if ((r = read_recording(st, &recs[count])) < 0)
            goto fail;
        count++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = fail(ix, rc);
        goto fail;
    }
    sqlite3_finalize(st);
    *out = recs;
    *n = count;
    return 0;
fail:
    sqlite3_finalize(st);
    vod_recordings_free(&recs, count);
    return r;
}

void vod_recordings_free(struct vod_recording **recs, size_t n)
{
    if (!recs || !*recs)
        return;
    for (size_t i = 0; i < n; i++)
        free((*recs)[i].path);
    free(*recs);
    *recs = NULL;
}

int vod_index_cameras(struct vod_index *ix, struct vod_camera_summary **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct vod_camera_summary *cams = NULL;
    size_t count = 0, cap = 0;
    int r, rc;

    *out = NULL;
    *n = 0;
    r = prepare(ix,
                "SELECT camera, count(*), min(start_time), max(end_time), total(duration)"
                " FROM recordings GROUP BY camera ORDER BY camera",
                &st);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vod_camera_summary *nc = grow(cams, &cap, count, sizeof(*cams), 8);
        if (!nc) {
            r = -ENOMEM;
            goto fail;
        }
        cams = nc;
        struct vod_camera_summary *c = &cams[count++];
        copy_text(c->name, sizeof(c->name), st, 0);
        c->recordings = (long)sqlite3_column_int64(st, 1);
        c->first = sqlite3_column_double(st, 2);
        c->last = sqlite3_column_double(st, 3);
        c->total_duration = sqlite3_column_double(st, 4);
    }
    if (rc != SQLITE_DONE) {
        r = fail(ix, rc);
        goto fail;
    }
    sqlite3_finalize(st);
    *out = cams;
    *n = count;
    return 0;
fail:
    sqlite3_finalize(st);
    free(cams);
    return r;
}

int vod_index_count(struct vod_index *ix, const char *camera, long *n)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(ix, "SELECT count(*) FROM recordings WHERE camera = ?1", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
    if ((r = step_row(ix, st)) == 0)
        *n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r;
}

int vod_index_prune(struct vod_index *ix, const char *dir, int *removed)
{
    sqlite3_stmt *sel = NULL, *del = NULL;
    char prefix[PATH_MAX];
    int64_t *gone = NULL;
    size_t n_gone = 0, cap = 0;
    int r, rc, count = 0;

    if (removed)
        *removed = 0;
    if ((r = util_fmt(prefix, sizeof(prefix), "%s/", dir)) < 0)
        return r;
    /* substr() instead of LIKE: paths may contain % and _. */
    if ((r = prepare(ix, "SELECT id, path FROM recordings WHERE substr(path, 1, length(?1)) = ?1",
                     &sel)) < 0)
        return r;
    if ((r = prepare(ix, "DELETE FROM recordings WHERE id = ?1", &del)) < 0)
        goto out;
    sqlite3_bind_text(sel, 1, prefix, -1, SQLITE_STATIC);
    /* Collect first: deleting while the SELECT is stepping is allowed in
     * SQLite but harder to reason about. */
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(sel, 1);
        struct stat sb;
        if (!p || stat(p, &sb) == 0 || errno != ENOENT)
            continue;
        int64_t *ng = grow(gone, &cap, n_gone, sizeof(*gone), 16);
        if (!ng) {
            r = -ENOMEM;
            goto out;
        }
        gone = ng;
        gone[n_gone++] = sqlite3_column_int64(sel, 0);
    }
    if (rc != SQLITE_DONE) {
        r = fail(ix, rc);
        goto out;
    }
    for (size_t i = 0; i < n_gone; i++) {
        sqlite3_reset(del);
        sqlite3_bind_int64(del, 1, gone[i]);
        rc = sqlite3_step(del);
        if (rc != SQLITE_DONE) {
            r = fail(ix, rc);
            goto out;
        }
        count++;
    }
    if (removed)
        *removed = count;
    r = 0;
out:
    free(gone);
    sqlite3_finalize(del);
    sqlite3_finalize(sel);
    return r;
}

size_t vod_find_gaps(const struct vod_recording *recs, size_t n, double tolerance,
                     double (*gaps)[2], size_t max)
{
    size_t found = 0;
    double covered = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        /* Recordings may overlap: a gap starts after the furthest end so far. */
        if (i > 0 && recs[i].start_time - covered > tolerance) {
            if (found < max) {
                gaps[found][0] = covered;
                gaps[found][1] = recs[i].start_time;
            }
            found++;
        }
        if (recs[i].end_time > covered)
            covered = recs[i].end_time;
    }
    return found;
}
