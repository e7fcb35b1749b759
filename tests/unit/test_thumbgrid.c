/* Scrub thumbnails: times, gaps, layout, the VTT and the I-frame playlist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jobspec.h"
#include "core/thumbgrid.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static const struct thumbgrid_layout L = {160, 90, 10, 10};

static void test_default_interval(void **state)
{
    (void)state;
    assert_true(NEAR(thumbgrid_default_interval(20), 1));
    assert_true(NEAR(thumbgrid_default_interval(300), 1));
    assert_true(NEAR(thumbgrid_default_interval(301), 2));
    assert_true(NEAR(thumbgrid_default_interval(3600), 15));
    assert_true(NEAR(thumbgrid_default_interval(86400), 300));
    assert_true(NEAR(thumbgrid_default_interval(1e7), 3600));
    for (double d = 1; d < 1e6; d *= 1.7)
        assert_true(d / thumbgrid_default_interval(d) <= THUMBGRID_TARGET_CUES);
}

static void test_plan_gaps(void **state)
{
    (void)state;
    /* Unsorted, overlapping spans: [100,120) and [110,125) merge; a gap to
     * 140; [140,150). Range [100,150) every 4 s. */
    struct thumbgrid_span spans[] = {{140, 150}, {110, 125}, {100, 120}};
    struct thumbgrid_cue *c = NULL;
    size_t n = 0;
    assert_int_equal(thumbgrid_plan(spans, 3, 100, 150, 4, 100, &c, &n), 0);
    /* 100..124 step 4 (7 cues), 128..136 in the gap, 140..148 (3 cues) */
    double want_t[] = {100, 104, 108, 112, 116, 120, 124, 140, 144, 148};
    assert_int_equal(n, 10);
    for (size_t k = 0; k < n; k++)
        assert_true(NEAR(c[k].t, want_t[k]));
    /* session timeline: 25 s of coverage, then the second recording */
    assert_true(NEAR(c[0].out_start, 0) && NEAR(c[0].out_end, 4));
    assert_true(NEAR(c[6].out_start, 24));
    assert_true(NEAR(c[6].out_end, 25)); /* next cue starts at 25 + 0 */
    assert_true(NEAR(c[7].out_start, 25) && NEAR(c[7].out_end, 29));
    assert_true(NEAR(c[9].out_start, 33) && NEAR(c[9].out_end, 35)); /* coverage ends at 150 */
    /* the span that starts first covers a time in the overlap */
    assert_int_equal(c[0].source, 2);
    assert_int_equal(c[3].source, 2); /* 112: both cover, [100,120) starts first */
    assert_int_equal(c[5].source, 1); /* 120: only [110,125) */
    assert_int_equal(c[7].source, 0);
    free(c);
}

static void test_plan_edges(void **state)
{
    (void)state;
    struct thumbgrid_span s = {100, 200};
    struct thumbgrid_cue *c = NULL;
    size_t n = 99;
    /* the range starts in a gap: the grid stays on range_start + k * N */
    assert_int_equal(thumbgrid_plan(&s, 1, 95, 120, 10, 100, &c, &n), 0);
    assert_int_equal(n, 2);
    assert_true(NEAR(c[0].t, 105) && NEAR(c[0].out_start, 5) && NEAR(c[1].t, 115));
    free(c);
    /* no coverage */
    assert_int_equal(thumbgrid_plan(&s, 1, 300, 400, 10, 100, &c, &n), 0);
    assert_int_equal(n, 0);
    assert_null(c);
    /* refusals */
    assert_int_equal(thumbgrid_plan(&s, 1, 100, 200, 0.5, 100, &c, &n), -EINVAL);
    assert_int_equal(thumbgrid_plan(&s, 1, 100, 200, NAN, 100, &c, &n), -EINVAL);
    assert_int_equal(thumbgrid_plan(&s, 1, 200, 100, 10, 100, &c, &n), -EINVAL);
    /* far times: adding the interval would not move t (a lying worker's) */
    assert_int_equal(thumbgrid_plan(&s, 1, -1e300, 200, 3600, 100, &c, &n), -EINVAL);
    assert_int_equal(thumbgrid_plan(&s, 1, 100, 1e13, 3600, 100, &c, &n), -EINVAL);
    assert_int_equal(thumbgrid_plan(&s, 1, 100, 200, 1, 99, &c, &n), -E2BIG);
    assert_int_equal(thumbgrid_plan(&s, 1, 100, 200, 1, 100, &c, &n), 0);
    assert_int_equal(n, 100);
    free(c);
}

/* What thumbgrid_plan must give: every grid step start + k * interval
 * (same formula) that some span covers, in order. */
static void check_against_brute_force(const struct thumbgrid_span *spans, size_t n, double start,
                                      double end, double iv)
{
    struct thumbgrid_cue *c = NULL;
    size_t count = 0, k = 0;
    assert_int_equal(thumbgrid_plan(spans, n, start, end, iv, THUMBGRID_MAX_CUES, &c, &count), 0);
    for (long long step = 0;; step++) {
        double t = start + (double)step * iv;
        bool covered = false;
        if (t >= end)
            break;
        for (size_t i = 0; i < n; i++)
            covered = covered || (spans[i].start <= t && t < spans[i].end);
        if (!covered)
            continue;
        assert_true(k < count);
        assert_true(c[k].t == t);
        assert_true(spans[c[k].source].start <= t && t < spans[c[k].source].end);
        assert_true(c[k].out_end >= c[k].out_start);
        k++;
    }
    assert_int_equal(k, count);
    free(c);
}

/* A gap whose first grid step the float quotient rounds back onto the
 * step already taken: this looped forever (the daemon's only thread). */
static void test_plan_gap_rounding(void **state)
{
    (void)state;
    struct thumbgrid_span spans[] = {{9000, 9500}, {29956.508191240388, 40000}};
    check_against_brute_force(spans, 2, 9451.6666666666661, 40000, 28.518555667001003);
    /* fractional intervals, gaps of every size */
    struct thumbgrid_span many[] = {{1000.1, 1003.7},
                                    {1010.05, 1010.06},
                                    {1020.3, 1100.9},
                                    {1100.9, 1200},
                                    {1500.333, 1777.777}};
    for (double iv = 1.0; iv < 40; iv += 0.7071)
        for (double off = 0; off < 3; off += 0.37)
            check_against_brute_force(many, 5, 990 + off, 1800, iv);
    /* near 1970: tiny times, the grid starting at 0 */
    struct thumbgrid_span tiny[] = {{0.001, 0.5}, {3.3, 10}, {1e-9, 2e-9}, {11.0000001, 20}};
    check_against_brute_force(tiny, 4, 0, 20, 1.1);
    check_against_brute_force(tiny, 4, 1e-6, 19.5, 1.0000001);
    check_against_brute_force(tiny, 4, 0.4, 20, 3.3);
}

static void test_layout(void **state)
{
    (void)state;
    size_t sheet;
    int x, y, w, h;
    assert_int_equal(thumbgrid_per_sheet(&L), 100);
    assert_int_equal(thumbgrid_sheets(&L, 0), 0);
    assert_int_equal(thumbgrid_sheets(&L, 100), 1);
    assert_int_equal(thumbgrid_sheets(&L, 101), 2);
    thumbgrid_tile(&L, 0, &sheet, &x, &y);
    assert_true(sheet == 0 && x == 0 && y == 0);
    thumbgrid_tile(&L, 13, &sheet, &x, &y);
    assert_true(sheet == 0 && x == 480 && y == 90);
    thumbgrid_tile(&L, 199, &sheet, &x, &y);
    assert_true(sheet == 1 && x == 1440 && y == 810);
    thumbgrid_sheet_size(&L, 120, 0, &w, &h);
    assert_true(w == 1600 && h == 900);
    thumbgrid_sheet_size(&L, 120, 1, &w, &h);
    assert_true(w == 1600 && h == 180);
    thumbgrid_sheet_size(&L, 101, 1, &w, &h);
    assert_true(w == 1600 && h == 90);
}

static void test_vtt(void **state)
{
    (void)state;
    struct thumbgrid_span s = {0, 4000};
    struct thumbgrid_cue *c = NULL;
    size_t n = 0, len = 0;
    char *text = NULL;
    assert_int_equal(thumbgrid_plan(&s, 1, 0, 3725.5, 10, 1000, &c, &n), 0);
    assert_int_equal(n, 373);
    assert_int_equal(thumbgrid_write_vtt(c, n, &L, "sheet-", &text, &len), 0);
    assert_int_equal(strlen(text), len);
    /* cue 372 at 3720 s: sheet 3, tile 72 (row 7, column 2); ends with the range */
    assert_non_null(
        strstr(text, "\n01:02:00.000 --> 01:02:05.500\nsheet-3.jpg#xywh=320,630,160,90\n"));
    size_t cues = 0;
    for (const char *p = text; (p = strstr(p, " --> ")); p++)
        cues++;
    assert_int_equal(cues, n);
    free(text);

    assert_int_equal(thumbgrid_write_iframes(c, n, "iframe-", &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "#EXT-X-I-FRAMES-ONLY\n"));
    assert_non_null(strstr(text, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_non_null(strstr(text, "#EXTINF:10.000,\niframe-0.ts\n"));
    assert_non_null(strstr(text, "#EXTINF:5.500,\niframe-372.ts\n#EXT-X-ENDLIST\n"));
    free(text);
    free(c);
}

/* Whole texts of a small set with a gap: every byte is checked. */
static void test_vtt_iframes_full(void **state)
{
    (void)state;
    /* 2023-11-14T22:13:20Z = 1700000000; cues at +0, +10 | gap | +30, +40 */
    struct thumbgrid_span s[] = {{1700000000, 1700000015.5}, {1700000030, 1700000045}};
    struct thumbgrid_layout small = {160, 90, 2, 1};
    struct thumbgrid_cue *c = NULL;
    size_t n = 0, len = 0;
    char *text = NULL;
    assert_int_equal(thumbgrid_plan(s, 2, 1700000000, 1700000045, 10, 100, &c, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(thumbgrid_write_vtt(c, n, &small, "sheet-", &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_string_equal(text, "WEBVTT\n"
                              "\n00:00:00.000 --> 00:00:10.000\nsheet-0.jpg#xywh=0,0,160,90\n"
                              "\n00:00:10.000 --> 00:00:15.500\nsheet-0.jpg#xywh=160,0,160,90\n"
                              "\n00:00:15.500 --> 00:00:25.500\nsheet-1.jpg#xywh=0,0,160,90\n"
                              "\n00:00:25.500 --> 00:00:30.500\nsheet-1.jpg#xywh=160,0,160,90\n");
    free(text);
    assert_int_equal(thumbgrid_write_iframes(c, n, "iframe-", &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_string_equal(text, "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:10\n"
                              "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                              "#EXT-X-I-FRAMES-ONLY\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n"
                              "#EXTINF:10.000,\niframe-0.ts\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.000Z\n"
                              "#EXTINF:5.500,\niframe-1.ts\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:50.000Z\n"
                              "#EXTINF:10.000,\niframe-2.ts\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:00.000Z\n"
                              "#EXTINF:5.000,\niframe-3.ts\n"
                              "#EXT-X-ENDLIST\n");
    free(text);
    free(c);
}

/* The thumbs job through its option table: round trip and bounds. */
static void test_jobspec_thumbs(void **state)
{
    (void)state;
    struct jobspec_thumbs j, back;
    struct jobspec_source src[2] = {{"/rec/a.mp4", 100, 160}, {"/rec/b.mp4", 170, 230}};
    char err[160];
    cJSON *job = NULL;
    jobspec_thumbs_defaults(&j);
    assert_int_equal(j.tile_width, 160);
    assert_int_equal(j.columns, 10);
    assert_true(j.iframes);
    j.out_dir = "/state/thumbs/x";
    j.sources = src;
    j.n_sources = 2;
    j.range_start = 100;
    j.range_end = 230;
    j.interval = 2;
    assert_int_equal(jobspec_thumbs_to_json(&j, &job, err, sizeof(err)), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "kind")), "thumbs");
    assert_int_equal(jobspec_thumbs_from_json(job, &back, err, sizeof(err)), 0);
    assert_int_equal(back.n_sources, 2);
    assert_string_equal(back.sources[1].path, "/rec/b.mp4");
    assert_true(NEAR(back.interval, 2) && NEAR(back.range_end, 230));
    assert_string_equal(back.segment_prefix, "sheet-");
    jobspec_thumbs_clear(&back);
    cJSON_ReplaceItemInObject(job, "interval", cJSON_CreateNumber(0.5));
    assert_int_equal(jobspec_thumbs_from_json(job, &back, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "interval"));
    cJSON_Delete(job);
    /* another kind is refused */
    struct jobspec_vod v;
    job = cJSON_Parse("{\"kind\":\"thumbs\",\"out_dir\":\"/x\",\"sources\":[],"
                      "\"range_start\":1,\"range_end\":2}");
    assert_int_equal(jobspec_vod_from_json(job, &v, err, sizeof(err)), -EINVAL);
    cJSON_Delete(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_interval), cmocka_unit_test(test_plan_gaps),
        cmocka_unit_test(test_plan_edges),       cmocka_unit_test(test_plan_gap_rounding),
        cmocka_unit_test(test_layout),           cmocka_unit_test(test_vtt),
        cmocka_unit_test(test_vtt_iframes_full), cmocka_unit_test(test_jobspec_thumbs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
