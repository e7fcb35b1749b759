/* Segment plan math. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "media/grid.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

static void expect_durations(const struct grid_plan *plan, const double *want, size_t n)
{
    if (plan->n != n) {
        for (size_t i = 0; i < plan->n; i++)
            print_message("seg %zu: %.6f\n", i, plan->segs[i].duration);
        fail_msg("%zu segments, want %zu", plan->n, n);
    }
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        if (!NEAR(plan->segs[i].duration, want[i]))
            fail_msg("segment %zu: %.6f, want %.6f", i, plan->segs[i].duration, want[i]);
        assert_true(NEAR(plan->segs[i].start, t));
        t += want[i];
    }
    assert_true(NEAR(plan->duration, t));
}

static struct grid_params params(double start, double end, double seg)
{
    return (struct grid_params){.range_start = start, .range_end = end, .segment_seconds = seg};
}

static void test_uniform(void **state)
{
    (void)state;
    struct grid_source src = {.wall_start = 1000, .wall_end = 1100};
    struct grid_params p = params(1000, 1020, 6);
    struct grid_plan plan;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 6, 6, 2}, 4);
    assert_true(NEAR(plan.segs[1].pdt, 1006));
    assert_true(NEAR(plan.segs[3].src_start, 18));
    assert_true(NEAR(plan.segs[3].src_end, 20));
    assert_false(plan.segs[0].discontinuity);
    assert_int_equal(plan.segs[0].frame_start, -1);
    grid_plan_free(&plan);

    /* A 0.3 s tail merges into the previous segment. */
    p = params(1000, 1012.3, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 6.3}, 2);
    grid_plan_free(&plan);

    /* ... but a 0.6 s one stays (and the whole range may be shorter than S). */
    p = params(1000, 1012.6, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 6, 0.6}, 3);
    grid_plan_free(&plan);
    p = params(1050, 1052, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){2}, 1);
    assert_true(NEAR(plan.segs[0].src_start, 50));
    assert_true(NEAR(plan.segs[0].pdt, 1050));
    grid_plan_free(&plan);

    /* The range may extend past the recording. */
    p = params(900, 2000, 50);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){50, 50}, 2);
    grid_plan_free(&plan);
}

static void test_fast_start(void **state)
{
    (void)state;
    struct grid_source src = {.wall_start = 1000, .wall_end = 1100};
    double fast[] = {1, 2, 3};
    struct grid_params p = params(1000, 1030, 6);
    p.fast_start = fast;
    p.n_fast_start = 3;
    struct grid_plan plan;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){1, 2, 3, 6, 6, 6, 6}, 7);
    grid_plan_free(&plan);

    /* Shorter than the fast start itself. */
    p.range_end = 1002.5;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){1, 1.5}, 2);
    grid_plan_free(&plan);
}

static void test_frames(void **state)
{
    (void)state;
    /* 25 fps, range start between frames: the piece starts at the next
     * frame (0.04 s), boundaries are whole frames after it. */
    struct grid_source src = {.wall_start = 1000, .wall_end = 1100, .fps = 25};
    struct grid_params p = params(1000.03, 1010, 2);
    struct grid_plan plan;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){2, 2, 2, 2, 1.96}, 5);
    assert_int_equal(plan.segs[0].frame_start, 1);
    assert_int_equal(plan.segs[0].frame_end, 51);
    assert_int_equal(plan.segs[4].frame_end, 250);
    assert_int_equal(plan.segs[3].piece_frame0, 1);
    assert_true(NEAR(plan.segs[0].src_start, 0.04));
    assert_true(NEAR(plan.segs[0].pdt, 1000.04));
    grid_plan_free(&plan);

    /* NTSC rate: every boundary is the first frame at or after the planned
     * time, so each EXTINF is within one frame of the planned length and the
     * sum is the frame count. */
    double fps = 30000.0 / 1001.0;
    src.fps = fps;
    p = params(1000, 1060, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    assert_int_equal(plan.n, 10);
    for (size_t i = 0; i < plan.n; i++) {
        const struct grid_segment *s = &plan.segs[i];
        double planned_start = 6.0 * (double)i;
        assert_true(s->src_start >= planned_start - 1e-9);
        assert_true(s->src_start < planned_start + 1 / fps);
        assert_int_equal(s->frame_start, (int64_t)ceil(planned_start * fps - 1e-3));
        assert_true(NEAR(s->duration, (double)(s->frame_end - s->frame_start) / fps));
        assert_true(fabs(s->duration - 6) < 1 / fps);
        if (i > 0)
            assert_int_equal(s->frame_start, plan.segs[i - 1].frame_end);
    }
    assert_int_equal(plan.segs[9].frame_end, 1799); /* ceil(60 * 29.97) */
    assert_true(NEAR(plan.duration, 1799 / fps));
    grid_plan_free(&plan);

    /* A fast-start length under one frame still advances a frame. */
    double tiny[] = {0.001, 0.001};
    src.fps = 25;
    p = params(1000, 1001, 6);
    p.fast_start = tiny;
    p.n_fast_start = 2;
    p.min_segment = 0.01;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){0.04, 0.04, 0.92}, 3);
    grid_plan_free(&plan);

    assert_int_equal(grid_frame_slot(0.0399, 25), 1);
    assert_int_equal(grid_frame_slot(0.019, 25), 0);
    assert_int_equal(grid_frame_ceil(0.04, 25), 1);
    assert_int_equal(grid_frame_ceil(0.0400001, 25), 1); /* noise */
    assert_int_equal(grid_frame_ceil(0.041, 25), 2);
}

static void test_gaps(void **state)
{
    (void)state;
    struct grid_source src[] = {
        {.wall_start = 1000, .wall_end = 1030},
        {.wall_start = 1040, .wall_end = 1070},
    };
    struct grid_params p = params(1010, 1060, 6);
    struct grid_plan plan;
    assert_int_equal(grid_plan(src, 2, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 6, 6, 2, 6, 6, 6, 2}, 8);
    for (size_t i = 0; i < plan.n; i++)
        assert_int_equal(plan.segs[i].discontinuity, i == 4);
    assert_int_equal(plan.segs[3].source, 0);
    assert_int_equal(plan.segs[4].source, 1);
    assert_true(NEAR(plan.segs[0].pdt, 1010));
    assert_true(NEAR(plan.segs[0].src_start, 10));
    assert_true(NEAR(plan.segs[4].pdt, 1040));
    assert_true(NEAR(plan.segs[4].src_start, 0));
    assert_true(NEAR(plan.segs[4].start, 20));
    assert_true(NEAR(plan.segs[4].piece_start, 20));
    assert_true(NEAR(plan.segs[7].pdt, 1058));

    /* Time <-> index. */
    assert_int_equal(grid_find(&plan, -1), 0);
    assert_int_equal(grid_find(&plan, 0), 0);
    assert_int_equal(grid_find(&plan, 5.999), 0);
    assert_int_equal(grid_find(&plan, 6), 1);
    assert_int_equal(grid_find(&plan, 20.5), 4);
    assert_int_equal(grid_find(&plan, 1e9), 7);
    assert_int_equal(grid_find_wall(&plan, 1009), -1);
    assert_int_equal(grid_find_wall(&plan, 1010), 0);
    assert_int_equal(grid_find_wall(&plan, 1029.9), 3);
    assert_int_equal(grid_find_wall(&plan, 1035), 4); /* in the gap: the next one */
    assert_int_equal(grid_find_wall(&plan, 1046.5), 5);
    assert_int_equal(grid_find_wall(&plan, 1060), -1);
    grid_plan_free(&plan);

    struct grid_plan empty = {0};
    assert_int_equal(grid_find(&empty, 1), -1);
    assert_int_equal(grid_find_wall(&empty, 1), -1);
}

static void test_contiguous_and_overlap(void **state)
{
    (void)state;
    /* Back-to-back files (0.2 s apart, within tolerance): no discontinuity,
     * but boundaries restart at each file. A third file overlapping the
     * second starts where the second ended. */
    struct grid_source src[] = {
        {.wall_start = 1000, .wall_end = 1010},
        {.wall_start = 1010.2, .wall_end = 1020.2},
        {.wall_start = 1018.2, .wall_end = 1030.2},
    };
    struct grid_params p = params(1000, 1100, 6);
    struct grid_plan plan;
    assert_int_equal(grid_plan(src, 3, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 4, 6, 4, 6, 4}, 6);
    for (size_t i = 0; i < plan.n; i++)
        assert_false(plan.segs[i].discontinuity);
    assert_int_equal(plan.segs[4].source, 2);
    assert_true(NEAR(plan.segs[4].src_start, 2));
    assert_true(NEAR(plan.segs[4].pdt, 1020.2));
    grid_plan_free(&plan);

    /* Passthrough marks every file change. */
    p.discontinuity_every_source = true;
    assert_int_equal(grid_plan(src, 2, &p, &plan), 0);
    assert_true(plan.segs[2].discontinuity);
    grid_plan_free(&plan);

    /* A larger tolerance hides a 5 s gap, a smaller one shows 0.2 s. */
    p = params(1000, 1100, 6);
    p.gap_tolerance = 0.1;
    assert_int_equal(grid_plan(src, 2, &p, &plan), 0);
    assert_true(plan.segs[2].discontinuity);
    grid_plan_free(&plan);

    /* A source entirely inside the previous one contributes nothing. */
    struct grid_source nested[] = {
        {.wall_start = 1000, .wall_end = 1010},
        {.wall_start = 1002, .wall_end = 1008},
        {.wall_start = 1010, .wall_end = 1012},
    };
    assert_int_equal(grid_plan(nested, 3, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 4, 2}, 3);
    assert_int_equal(plan.segs[2].source, 2);
    assert_false(plan.segs[2].discontinuity);
    grid_plan_free(&plan);
}

static void test_keyframes(void **state)
{
    (void)state;
    double kf2[15];
    for (int i = 0; i < 15; i++)
        kf2[i] = 2.0 * i;
    struct grid_source src = {
        .wall_start = 1000, .wall_end = 1030, .fps = 25, .keyframes = kf2, .n_keyframes = 15};
    struct grid_params p = params(1003, 1021, 6);
    struct grid_plan plan;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    /* Starts at the keyframe before the range (2 s), ends at the keyframe
     * after it (22 s). */
    expect_durations(&plan, (double[]){6, 6, 6, 2}, 4);
    assert_true(NEAR(plan.segs[0].src_start, 2));
    assert_true(NEAR(plan.segs[0].pdt, 1002));
    assert_true(NEAR(plan.segs[3].src_end, 22));
    grid_plan_free(&plan);

    /* No keyframe after the range end: the source's end, on the frame grid. */
    src.wall_end = 1028.99;
    p = params(1003, 1028.5, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){6, 6, 6, 6, 3}, 5);
    assert_true(NEAR(plan.segs[4].src_end, 29));
    assert_int_equal(plan.segs[0].frame_start, -1);
    grid_plan_free(&plan);

    /* GOP of 5 s, asked for 6: the nearest keyframes (5, 10, 15, 20, 25). */
    double kf5[] = {0, 5, 10, 15, 20, 25};
    src.keyframes = kf5;
    src.n_keyframes = 6;
    src.wall_end = 1030;
    p = params(1000, 1030, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){5, 5, 5, 5, 5, 5}, 6);
    grid_plan_free(&plan);

    /* Irregular keyframes, fast start, and a tail merged into the last. */
    double kfx[] = {0, 0.9, 1.1, 3.5, 4.0, 9.9, 10.3, 16.4, 20.1};
    double fast[] = {1, 2};
    src.keyframes = kfx;
    src.n_keyframes = 9;
    src.fps = 0;
    src.wall_end = 1020.4;
    p = params(1000, 1020.4, 6);
    p.fast_start = fast;
    p.n_fast_start = 2;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    /* 0 -> 0.9 (target 1; 1.1 is further), -> 3.5 (target 2.9), -> 9.9
     * (target 9.5), -> 16.4 (target 15.9), then 20.1 leaves 0.3: merged. */
    expect_durations(&plan, (double[]){0.9, 2.6, 6.4, 6.5, 4.0}, 5);
    grid_plan_free(&plan);

    /* A range inside one GOP: that whole GOP. Nothing when no keyframe
     * precedes the end. */
    double kf_late[] = {10, 20};
    src.keyframes = kf_late;
    src.n_keyframes = 2;
    src.wall_end = 1030;
    p = params(1000, 1012, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), 0);
    expect_durations(&plan, (double[]){10}, 1);
    grid_plan_free(&plan);
    p = params(1000, 1009, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -ENOENT);
    assert_int_equal(plan.n, 0);
}

/* The H.264 rendition's grid: the copy's keyframe boundaries, each span
 * split into parts of about split_seconds on the frame grid. */
static void test_keyframes_split(void **state)
{
    (void)state;
    double kf[] = {0, 2, 4, 6, 8, 10, 12};
    struct grid_source src = {
        .wall_start = 1000, .wall_end = 1014, .fps = 25, .keyframes = kf, .n_keyframes = 7};
    struct grid_params p = params(1000, 1014, 6);
    struct grid_plan copy, split;
    assert_int_equal(grid_plan(&src, 1, &p, &copy), 0);
    expect_durations(&copy, (double[]){6, 6, 2}, 3);
    p.split_seconds = 1;
    assert_int_equal(grid_plan(&src, 1, &p, &split), 0);
    expect_durations(&split, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 14);
    /* every boundary of the copy is one of the split plan's */
    for (size_t i = 0; i < copy.n; i++) {
        bool found = false;
        for (size_t k = 0; k < split.n; k++)
            found = found || NEAR(split.segs[k].start, copy.segs[i].start);
        assert_true(found);
    }
    assert_true(NEAR(split.duration, copy.duration));
    grid_plan_free(&split);
    grid_plan_free(&copy);

    /* Odd spans land on whole frames (25 fps: 0.04 s). */
    double kf2[] = {0, 2.6, 3.8};
    src = (struct grid_source){
        .wall_start = 1000, .wall_end = 1005, .fps = 25, .keyframes = kf2, .n_keyframes = 3};
    p = params(1000, 1005, 2.6);
    p.split_seconds = 1;
    assert_int_equal(grid_plan(&src, 1, &p, &split), 0);
    expect_durations(&split, (double[]){0.88, 0.84, 0.88, 1.2, 1.2}, 5);
    for (size_t k = 0; k < split.n; k++) {
        double f = split.segs[k].src_start * 25;
        assert_true(fabs(f - round(f)) < 1e-6);
    }
    grid_plan_free(&split);

    /* A span under 1.5 parts stays whole. */
    double kf3[] = {0, 1.4};
    src = (struct grid_source){
        .wall_start = 1000, .wall_end = 1002.8, .fps = 25, .keyframes = kf3, .n_keyframes = 2};
    p = params(1000, 1002.8, 1.4);
    p.split_seconds = 1;
    assert_int_equal(grid_plan(&src, 1, &p, &split), 0);
    expect_durations(&split, (double[]){1.4, 1.4}, 2);
    grid_plan_free(&split);

    p.split_seconds = -1;
    assert_int_equal(grid_plan(&src, 1, &p, &split), -EINVAL);
}

static void test_errors(void **state)
{
    (void)state;
    struct grid_source src = {.wall_start = 1000, .wall_end = 1100};
    struct grid_plan plan;
    struct grid_params p = params(1000, 1010, 0);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -EINVAL);
    p = params(1000, 1010, NAN);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -EINVAL);
    p = params(1010, 1010, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -EINVAL);
    p = params(NAN, 1010, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -EINVAL);
    p = params(1000, INFINITY, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -EINVAL);
    double bad[] = {1, -2};
    p = params(1000, 1010, 6);
    p.fast_start = bad;
    p.n_fast_start = 2;
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -EINVAL);

    struct grid_source unsorted[] = {{.wall_start = 1050, .wall_end = 1060},
                                     {.wall_start = 1000, .wall_end = 1010}};
    p = params(1000, 1100, 6);
    assert_int_equal(grid_plan(unsorted, 2, &p, &plan), -EINVAL);
    double kf_bad[] = {0, 0};
    struct grid_source kfs = {
        .wall_start = 1000, .wall_end = 1100, .keyframes = kf_bad, .n_keyframes = 2};
    assert_int_equal(grid_plan(&kfs, 1, &p, &plan), -EINVAL);
    kfs.n_keyframes = 0;
    assert_int_equal(grid_plan(&kfs, 1, &p, &plan), -EINVAL);

    /* Nothing in range. */
    p = params(2000, 2010, 6);
    assert_int_equal(grid_plan(&src, 1, &p, &plan), -ENOENT);
    assert_int_equal(grid_plan(&src, 0, &p, &plan), -ENOENT);
    assert_null(plan.segs);

    /* Absurd segment count is refused, quickly. */
    p = params(0, 86400, 0.001);
    struct grid_source day = {.wall_start = 0, .wall_end = 86400};
    assert_int_equal(grid_plan(&day, 1, &p, &plan), -E2BIG);
    assert_null(plan.segs);
    grid_plan_free(&plan);
    grid_plan_free(NULL);
}

static double rnd(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (double)((*seed >> 8) & 0xffff) / 65536.0;
}

/* Invariants over many shapes: contiguous playlist times, positive
 * durations, pdt inside the source, segments inside their source. */
static void test_invariants(void **state)
{
    (void)state;
    uint32_t seed = 7;
#define RND() rnd(&seed)
    for (int iter = 0; iter < 500; iter++) {
        struct grid_source src[4];
        double t = 1000;
        double fps = iter % 3 == 0 ? 0 : (iter % 3 == 1 ? 25 : 30000.0 / 1001.0);
        for (int i = 0; i < 4; i++) {
            t += RND() * 3 - 0.5; /* gaps and overlaps */
            src[i] =
                (struct grid_source){.wall_start = t, .wall_end = t + 1 + RND() * 40, .fps = fps};
            t = src[i].wall_end;
        }
        double fast[] = {1, 2, 3};
        double r0 = RND(), r1 = RND(), r2 = RND();
        struct grid_params p = params(1000 + r0 * 20, 1000 + 20 + r1 * 140, 2 + r2 * 6);
        p.fast_start = fast;
        p.n_fast_start = iter % 2 ? 3 : 0;
        struct grid_plan plan;
        int ret = grid_plan(src, 4, &p, &plan);
        if (ret == -ENOENT)
            continue;
        assert_int_equal(ret, 0);
        double start = 0;
        for (size_t i = 0; i < plan.n; i++) {
            const struct grid_segment *s = &plan.segs[i];
            assert_true(s->duration > 0.04 - 1e-9);
            assert_true(NEAR(s->start, start));
            assert_true(NEAR(s->src_end - s->src_start, s->duration));
            assert_true(s->src_start >= -1e-9);
            assert_true(s->src_end <= src[s->source].wall_end - src[s->source].wall_start + 1e-6 +
                                          (fps > 0 ? 1 / fps : 0));
            assert_true(NEAR(s->pdt, src[s->source].wall_start + s->src_start));
            assert_true(s->pdt >= p.range_start - 1e-9);
            assert_true(s->pdt < p.range_end);
            if (!(s->duration < fmax(p.segment_seconds, p.n_fast_start ? 3 : 0) + 0.5 + 1e-6 +
                                    (fps > 0 ? 1 / fps : 0)))
                fail_msg("iter %d seg %zu dur %f S %f fps %f src %zu", iter, i, s->duration,
                         p.segment_seconds, fps, s->source);
            if (i > 0) {
                if (!(s->pdt >= plan.segs[i - 1].pdt + plan.segs[i - 1].duration -
                                    1e-4)) /* 1/1000 frame of noise */
                    fail_msg("iter %d seg %zu pdt %f prev end %f", iter, i, s->pdt,
                             plan.segs[i - 1].pdt + plan.segs[i - 1].duration);
                assert_true(s->source >= plan.segs[i - 1].source);
                assert_int_equal(grid_find(&plan, s->start + s->duration / 2), (long)i);
            }
            start += s->duration;
        }
        assert_true(NEAR(plan.duration, start));
        grid_plan_free(&plan);
    }
#undef RND
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_fast_start),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_contiguous_and_overlap),
        cmocka_unit_test(test_keyframes),
        cmocka_unit_test(test_keyframes_split),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
