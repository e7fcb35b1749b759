/* Clip export helpers (src/vod/export_name.c): the download's file name,
 * the {end_ts} parameter with its ".mp4" suffix, the size estimate and disk
 * check of the admission; plus the export job's contract (core/jobspec.c)
 * round trip and bounds. */
#include "core/jobspec.h"
#include "vod/export.h"
#include "vod/index.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_filename(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(vod_export_filename("cam1", 1700000002.9, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "cam1-2023-11-14_22-13-22Z.mp4");
    assert_int_equal(vod_export_filename("front-door.2", 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "front-door.2-1970-01-01_00-00-00Z.mp4");
    /* 2024-02-29 (leap day) 23:59:59 */
    assert_int_equal(vod_export_filename("c", 1709251199, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "c-2024-02-29_23-59-59Z.mp4");
    assert_int_equal(vod_export_filename("c", -1, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(vod_export_filename("c", NAN, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(vod_export_filename("c", INFINITY, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(vod_export_filename("c", 1e15, buf, sizeof(buf)), -EINVAL);
    /* never a path or a header break */
    assert_int_equal(vod_export_filename("../x", 0, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(vod_export_filename("a\"b", 0, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(vod_export_filename("", 0, buf, sizeof(buf)), -EINVAL);
    char small[16];
    assert_int_equal(vod_export_filename("cam1", 0, small, sizeof(small)), -ENAMETOOLONG);
}

static void test_split_end(void **state)
{
    (void)state;
    char buf[16];
    bool dl = true;
    assert_int_equal(vod_export_split_end("1700000010.5", buf, sizeof(buf), &dl), 0);
    assert_string_equal(buf, "1700000010.5");
    assert_false(dl);
    assert_int_equal(vod_export_split_end("1700000010.mp4", buf, sizeof(buf), &dl), 0);
    assert_string_equal(buf, "1700000010");
    assert_true(dl);
    /* only the exact suffix counts */
    assert_int_equal(vod_export_split_end("10.MP4", buf, sizeof(buf), &dl), 0);
    assert_false(dl);
    assert_string_equal(buf, "10.MP4");
    assert_int_equal(vod_export_split_end(".mp4", buf, sizeof(buf), &dl), -EINVAL);
    assert_int_equal(vod_export_split_end("", buf, sizeof(buf), &dl), -EINVAL);
    assert_int_equal(vod_export_split_end(NULL, buf, sizeof(buf), &dl), -EINVAL);
    assert_int_equal(vod_export_split_end("1234567890123456.mp4", buf, sizeof(buf), &dl), -EINVAL);
    assert_int_equal(vod_export_split_end("123456789012345.mp4", buf, sizeof(buf), &dl), 0);
    assert_true(dl);
}

static void test_job_round_trip(void **state)
{
    (void)state;
    struct jobspec_export j, back;
    struct jobspec_source src[2] = {{"/rec/b.mp4", 20, 30}, {"/rec/a.mp4", 10, 0}};
    char err[160];
    cJSON *json = NULL;
    jobspec_export_defaults(&j);
    assert_true(j.passthrough);
    assert_true(j.allow_transcode); /* a job without the key may transcode */
    j.allow_transcode = false;
    j.out_dir = "/state/exports/abc";
    j.file = "cam-1970-01-01_00-00-10Z.mp4";
    j.sources = src;
    j.n_sources = 2;
    j.range_start = 12;
    j.range_end = 25;
    j.video.max_height = 720;
    assert_int_equal(jobspec_export_to_json(&j, &json, err, sizeof(err)), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "kind")), "export");
    assert_int_equal(jobspec_export_from_json(json, &back, err, sizeof(err)), 0);
    assert_string_equal(back.file, j.file);
    assert_int_equal(back.n_sources, 2);
    assert_string_equal(back.sources[1].path, "/rec/a.mp4");
    assert_float_equal(back.range_end, 25, 1e-9);
    assert_int_equal(back.video.max_height, 720);
    assert_false(back.allow_transcode);
    jobspec_export_clear(&back);
    /* a file name that is a path is refused on the way out and in */
    cJSON_ReplaceItemInObject(json, "file", cJSON_CreateString("../../etc/passwd"));
    assert_int_equal(jobspec_export_from_json(json, &back, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "file"));
    cJSON_Delete(json);
    j.file = "a/b.mp4";
    assert_int_equal(jobspec_export_to_json(&j, &json, err, sizeof(err)), -EINVAL);
    /* another kind is not an export */
    cJSON *vod = cJSON_Parse("{\"kind\":\"vod\",\"out_dir\":\"/x\",\"file\":\"a.mp4\","
                             "\"sources\":[],\"range_start\":1,\"range_end\":2}");
    assert_int_equal(jobspec_export_from_json(vod, &back, err, sizeof(err)), -EINVAL);
    cJSON_Delete(vod);
}

static void test_estimate_and_disk(void **state)
{
    (void)state;
    /* 100 MB over 100 s, then 50 MB over 50 s after a gap */
    struct vod_recording r[2] = {{.start_time = 1000, .end_time = 1100, .size = 100000000},
                                 {.start_time = 1200, .end_time = 1250, .size = 50000000}};
    /* remux: the recordings' bytes in proportion (+5 %: the keyframe before) */
    assert_float_equal(vod_export_estimate(r, 2, 1050, 1100, true), 55e6, 1);
    assert_float_equal(vod_export_estimate(r, 2, 1090, 1225, true), 15e6 + 27.5e6, 1);
    assert_float_equal(vod_export_estimate(r, 2, 1000, 1300, true), 150e6, 1); /* capped */
    assert_float_equal(vod_export_estimate(r, 2, 1100, 1200, true), 0, 1e-9);  /* the gap */
    /* transcode: 4 Mbit/s of recorded range, whatever the recordings weigh */
    assert_float_equal(vod_export_estimate(r, 2, 1090, 1225, false), 35 * 500000.0, 1);
    struct vod_recording unknown = {.start_time = 0, .end_time = 10, .size = 0};
    assert_float_equal(vod_export_estimate(&unknown, 1, 0, 10, true), 0, 1e-9);
    /* disk: the estimate plus the reserve must be free */
    assert_true(vod_export_fits_disk(2e9, 0.5e9, 1.5e9));
    assert_false(vod_export_fits_disk(2e9, 0.5e9 + 1, 1.5e9));
    assert_false(vod_export_fits_disk(0, 0, 1));
    assert_true(vod_export_fits_disk(0, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filename),
        cmocka_unit_test(test_split_end),
        cmocka_unit_test(test_job_round_trip),
        cmocka_unit_test(test_estimate_and_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
