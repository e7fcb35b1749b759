/* The recordings index (SQLite) and the NVR folder layout parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util.h"
#include "vod/index.h"
#include "vod/scan.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct vod_index *ix;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    snprintf(f->dir, sizeof(f->dir), "/tmp/hlsd-test-index-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(vod_index_open(f->dir, &f->ix, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vod_index_close(&f->ix);
    util_rm_rf(f->dir);
    free(f);
    return 0;
}

static struct vod_recording rec(const char *camera, const char *path, double start, double dur)
{
    struct vod_recording r;
    memset(&r, 0, sizeof(r));
    snprintf(r.camera, sizeof(r.camera), "%s", camera);
    r.path = (char *)path;
    r.start_time = start;
    r.duration = dur;
    r.end_time = start + dur;
    snprintf(r.video_codec, sizeof(r.video_codec), "hevc");
    snprintf(r.pix_fmt, sizeof(r.pix_fmt), "yuv420p");
    r.width = 320;
    r.height = 180;
    r.size = 1000;
    r.mtime = 5;
    return r;
}

static void test_schema_and_wal(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX];
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(path, sizeof(path), "%s/%s", f->dir, VOD_INDEX_FILE);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type='index'"
                                        " AND name='recordings_camera_start'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Reopening an up-to-date database runs no migration and keeps data. */
    struct vod_recording r = rec("cam1", "/x/a.mp4", 100, 10);
    assert_int_equal(vod_index_put(f->ix, &r), 0);
    vod_index_close(&f->ix);
    assert_int_equal(vod_index_open(f->dir, &f->ix, NULL, 0), 0);
    long n = -1;
    assert_int_equal(vod_index_count(f->ix, "cam1", &n), 0);
    assert_int_equal(n, 1);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], err[256] = "";
    sqlite3 *db;
    struct vod_index *ix = NULL;

    vod_index_close(&f->ix);
    snprintf(path, sizeof(path), "%s/%s", f->dir, VOD_INDEX_FILE);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_true(vod_index_open(f->dir, &ix, err, sizeof(err)) < 0);
    assert_null(ix);
    assert_non_null(strstr(err, "newer"));
}

static void test_put_upsert_and_find(void **state)
{
    struct fx *f = *state;
    struct vod_recording r = rec("cam1", "/rec/cam1/a.mp4", 1000, 60);
    int64_t size = 0;
    double mtime = 0;
    long n = 0;

    assert_int_equal(vod_index_put(f->ix, &r), 0);
    assert_int_equal(vod_index_find_path(f->ix, "/rec/cam1/a.mp4", &size, &mtime), 0);
    assert_int_equal(size, 1000);
    assert_true(mtime == 5);
    assert_int_equal(vod_index_find_path(f->ix, "/rec/cam1/b.mp4", NULL, NULL), -ENOENT);

    /* Same path again: updated in place, not duplicated. */
    r.size = 2000;
    r.duration = 61;
    r.end_time = r.start_time + 61;
    assert_int_equal(vod_index_put(f->ix, &r), 0);
    assert_int_equal(vod_index_count(f->ix, "cam1", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(vod_index_find_path(f->ix, "/rec/cam1/a.mp4", &size, NULL), 0);
    assert_int_equal(size, 2000);

    /* Unsafe camera names and empty paths never reach the database. */
    struct vod_recording bad = rec("../etc", "/rec/x.mp4", 1, 1);
    assert_int_equal(vod_index_put(f->ix, &bad), -EINVAL);
    bad = rec("cam'); DROP TABLE recordings;--", "/rec/y.mp4", 1, 1);
    assert_int_equal(vod_index_put(f->ix, &bad), -EINVAL);
    bad = rec("cam1", "", 1, 1);
    assert_int_equal(vod_index_put(f->ix, &bad), -EINVAL);
    assert_int_equal(vod_index_count(f->ix, "cam1", &n), 0);
    assert_int_equal(n, 1);
}

static void test_range_and_cameras(void **state)
{
    struct fx *f = *state;
    struct vod_recording *recs = NULL;
    size_t n = 0;
    bool trunc = true;
    char p[8][32];

    /* cam1: [0,10) [10,20) gap [30,40); cam2: [5,15). Inserted out of order. */
    double starts[] = {30, 0, 10};
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof(p[i]), "/r/cam1/%d.mp4", i);
        struct vod_recording r = rec("cam1", p[i], starts[i], 10);
        assert_int_equal(vod_index_put(f->ix, &r), 0);
    }
    struct vod_recording r2 = rec("cam2", "/r/cam2/0.mp4", 5, 10);
    assert_int_equal(vod_index_put(f->ix, &r2), 0);

    assert_int_equal(vod_index_range(f->ix, "cam1", -INFINITY, INFINITY, 0, &recs, &n, &trunc), 0);
    assert_int_equal(n, 3);
    assert_false(trunc);
    assert_true(recs[0].start_time == 0 && recs[1].start_time == 10 && recs[2].start_time == 30);
    assert_string_equal(recs[2].path, "/r/cam1/0.mp4");
    assert_string_equal(recs[0].video_codec, "hevc");
    assert_int_equal(recs[0].width, 320);

    double gaps[4][2];
    assert_int_equal(vod_find_gaps(recs, n, 0.5, gaps, 4), 1);
    assert_true(gaps[0][0] == 20 && gaps[0][1] == 30);
    vod_recordings_free(&recs, n);
    assert_null(recs);

    /* Overlap, not containment: (15, 31) touches [10,20) and [30,40). */
    assert_int_equal(vod_index_range(f->ix, "cam1", 15, 31, 0, &recs, &n, NULL), 0);
    assert_int_equal(n, 2);
    vod_recordings_free(&recs, n);
    /* Touching ends do not overlap. */
    assert_int_equal(vod_index_range(f->ix, "cam1", 20, 30, 0, &recs, &n, NULL), 0);
    assert_int_equal(n, 0);
    vod_recordings_free(&recs, n);
    /* The limit cuts and says so. */
    assert_int_equal(vod_index_range(f->ix, "cam1", -INFINITY, INFINITY, 2, &recs, &n, &trunc), 0);
    assert_int_equal(n, 2);
    assert_true(trunc);
    vod_recordings_free(&recs, n);
    /* Every camera. */
    assert_int_equal(vod_index_range(f->ix, NULL, -INFINITY, INFINITY, 0, &recs, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(recs[3].camera, "cam2");
    vod_recordings_free(&recs, n);

    struct vod_camera_summary *cams = NULL;
    assert_int_equal(vod_index_cameras(f->ix, &cams, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(cams[0].name, "cam1");
    assert_int_equal(cams[0].recordings, 3);
    assert_true(cams[0].first == 0 && cams[0].last == 40);
    assert_true(cams[0].total_duration == 30);
    assert_string_equal(cams[1].name, "cam2");
    free(cams);

    long cnt = -1;
    assert_int_equal(vod_index_count(f->ix, "nope", &cnt), 0);
    assert_int_equal(cnt, 0);
}

static void test_gaps_overlapping(void **state)
{
    (void)state;
    struct vod_recording r[4];
    memset(r, 0, sizeof(r));
    /* [0,50) contains [10,20): the gap starts at 50, not 20. */
    r[0].start_time = 0, r[0].end_time = 50;
    r[1].start_time = 10, r[1].end_time = 20;
    r[2].start_time = 50.3, r[2].end_time = 60; /* under the tolerance: no gap */
    r[3].start_time = 70, r[3].end_time = 80;
    double g[1][2];
    assert_int_equal(vod_find_gaps(r, 4, 0.5, g, 1), 1);
    assert_true(g[0][0] == 60 && g[0][1] == 70);
    assert_int_equal(vod_find_gaps(r, 1, 0.5, g, 1), 0);
    assert_int_equal(vod_find_gaps(r, 0, 0.5, g, 1), 0);
}

static void test_failures(void **state)
{
    struct fx *f = *state;
    char reason[64] = "";
    assert_int_equal(vod_index_put_failure(f->ix, "/r/bad.mp4", 10, 1.5, "invalid data"), 0);
    assert_int_equal(vod_index_find_failure(f->ix, "/r/bad.mp4", 10, 1.5, reason, sizeof(reason)),
                     0);
    assert_string_equal(reason, "invalid data");
    /* A changed file is probed again. */
    assert_int_equal(vod_index_find_failure(f->ix, "/r/bad.mp4", 11, 1.5, NULL, 0), -ENOENT);
    assert_int_equal(vod_index_find_failure(f->ix, "/r/bad.mp4", 10, 2.5, NULL, 0), -ENOENT);
    assert_int_equal(vod_index_clear_failure(f->ix, "/r/bad.mp4"), 0);
    assert_int_equal(vod_index_find_failure(f->ix, "/r/bad.mp4", 10, 1.5, NULL, 0), -ENOENT);
}

static void test_prune(void **state)
{
    struct fx *f = *state;
    char dir[128], a[256], b[256], other[256];
    int removed = -1;
    long n = 0;

    snprintf(dir, sizeof(dir), "%s/rec%%_", f->dir); /* LIKE wildcards in the name */
    assert_int_equal(util_mkdir_p(dir, 0755), 0);
    snprintf(a, sizeof(a), "%s/a.mp4", dir);
    snprintf(b, sizeof(b), "%s/b.mp4", dir);
    snprintf(other, sizeof(other), "%s/recX_/c.mp4", f->dir);
    FILE *fp = fopen(a, "w");
    assert_non_null(fp);
    fclose(fp);
    struct vod_recording ra = rec("cam1", a, 0, 1), rb = rec("cam1", b, 1, 1),
                         rc = rec("cam1", other, 2, 1);
    assert_int_equal(vod_index_put(f->ix, &ra), 0);
    assert_int_equal(vod_index_put(f->ix, &rb), 0);
    assert_int_equal(vod_index_put(f->ix, &rc), 0);
    /* b is missing and under dir; c is missing but under another folder. */
    assert_int_equal(vod_index_prune(f->ix, dir, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(vod_index_count(f->ix, "cam1", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(vod_index_find_path(f->ix, b, NULL, NULL), -ENOENT);
    assert_int_equal(vod_index_find_path(f->ix, other, NULL, NULL), 0);
}

static void test_layout(void **state)
{
    (void)state;
    char cam[VOD_CAMERA_MAX + 1];
    double t = 0;

    assert_int_equal(vod_scan_parse_layout("cam1/2024-02-29/23/59.58.mp4", cam, &t), 0);
    assert_string_equal(cam, "cam1");
    assert_true(t == 1709251198.0); /* 2024-02-29T23:59:58Z */
    assert_int_equal(vod_scan_parse_layout("front-door_2/1970-01-01/00/00.00.mp4", cam, &t), 0);
    assert_true(t == 0);

    static const char *const bad[] = {
        "cam1/2024-02-30/10/00.00.mp4", /* no such day */
        "cam1/2023-02-29/10/00.00.mp4", /* not a leap year */
        "cam1/2024-13-01/10/00.00.mp4",
        "cam1/2024-01-01/24/00.00.mp4",
        "cam1/2024-01-01/10/60.00.mp4",
        "cam1/2024-01-01/10/00.60.mp4",
        "cam1/2024-01-01/10/00.00.txt",
        "cam1/2024-01-01/10/0.00.mp4",
        "cam1/2024-1-01/10/00.00.mp4",
        "cam1/2024-01-01/1/00.00.mp4",
        "cam1/2024-01-01/10/extra/00.00.mp4",
        "2024-01-01/10/00.00.mp4",
        "../2024-01-01/10/00.00.mp4",
        "ca m/2024-01-01/10/00.00.mp4",
        "cam$(x)/2024-01-01/10/00.00.mp4",
        "/2024-01-01/10/00.00.mp4",
        "",
        "cam1/2024-01-01/10/00.00.mp4/",
        "cam1/2024-01-01/10/+1.00.mp4",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (vod_scan_parse_layout(bad[i], cam, &t) != -EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_upsert_and_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_and_cameras, setup, teardown),
        cmocka_unit_test(test_gaps_overlapping),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test(test_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
