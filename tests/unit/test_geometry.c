/* Output geometry math (media/geometry.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <libavutil/display.h>

#include "media/geometry.h"

static struct media_geom_out fit(int w, int h, int sn, int sd, int rot, double fps, int mw, int mh)
{
    struct media_geom_in in = {w, h, sn, sd, rot, fps, mw, mh};
    struct media_geom_out out = {0};
    assert_int_equal(media_geometry_fit(&in, &out), 0);
    assert_int_equal(out.width % 2, 0);
    assert_int_equal(out.height % 2, 0);
    return out;
}

static void test_downscale_keeps_aspect(void **state)
{
    (void)state;
    struct media_geom_out o = fit(1920, 1080, 1, 1, 0, 30, 0, 720);
    assert_int_equal(o.width, 1280);
    assert_int_equal(o.height, 720);
    assert_int_equal(o.scale_width, 1280);
    assert_int_equal(o.scale_height, 720);
    /* Box limited by width. */
    o = fit(1920, 1080, 1, 1, 0, 30, 640, 0);
    assert_int_equal(o.width, 640);
    assert_int_equal(o.height, 360);
    /* Both limits: the tighter one wins. */
    o = fit(1920, 1080, 1, 1, 0, 30, 1280, 360);
    assert_int_equal(o.width, 640);
    assert_int_equal(o.height, 360);
}

static void test_never_upscale(void **state)
{
    (void)state;
    struct media_geom_out o = fit(640, 480, 0, 1, 0, 25, 1280, 720);
    assert_int_equal(o.width, 640);
    assert_int_equal(o.height, 480);
    o = fit(320, 240, 1, 1, 0, 25, 0, 0);
    assert_int_equal(o.width, 320);
    assert_int_equal(o.height, 240);
}

static void test_even_dimensions(void **state)
{
    (void)state;
    struct media_geom_out o = fit(641, 481, 1, 1, 0, 25, 0, 0);
    assert_true(abs(o.width - 641) <= 1);
    assert_true(abs(o.height - 481) <= 1);
    /* 4:3 into a 359-high box: rounding must stay inside the box. */
    o = fit(640, 480, 1, 1, 0, 25, 0, 359);
    assert_true(o.height <= 359);
    assert_true(fabs((double)o.width / o.height - 4.0 / 3.0) < 0.02);
    /* Tiny pictures stay at least 2x2. */
    o = fit(1, 1, 1, 1, 0, 25, 0, 0);
    assert_int_equal(o.width, 2);
    assert_int_equal(o.height, 2);
}

static void test_sample_aspect_ratio(void **state)
{
    (void)state;
    /* Anamorphic 16:9 PAL DVD: 720x576 with SAR 64:45 displays as 1024x576. */
    struct media_geom_out o = fit(720, 576, 64, 45, 0, 25, 0, 0);
    assert_int_equal(o.width, 1024);
    assert_int_equal(o.height, 576);
    /* 640x480 with SAR 4:3 is a 16:9 picture. */
    o = fit(640, 480, 4, 3, 0, 25, 0, 360);
    assert_int_equal(o.height, 360);
    assert_int_equal(o.width, 640);
    /* Narrow pixels. */
    o = fit(1440, 1080, 3, 4, 0, 25, 0, 0);
    assert_int_equal(o.width, 1080);
    assert_int_equal(o.height, 1080);
}

static void test_rotation(void **state)
{
    (void)state;
    struct media_geom_out o = fit(1920, 1080, 1, 1, 90, 30, 0, 720);
    assert_int_equal(o.width, 406); /* 720 * 1080/1920 = 405 -> even */
    assert_int_equal(o.height, 720);
    assert_int_equal(o.scale_width, 720);
    assert_int_equal(o.scale_height, 406);
    o = fit(640, 480, 1, 1, 270, 30, 0, 0);
    assert_int_equal(o.width, 480);
    assert_int_equal(o.height, 640);
    o = fit(640, 480, 1, 1, 180, 30, 0, 0);
    assert_int_equal(o.width, 640);
    assert_int_equal(o.height, 480);
}

static void test_level_41_limits(void **state)
{
    (void)state;
    /* 4K without a box must come down to <= 8192 macroblocks per frame. */
    struct media_geom_out o = fit(3840, 2160, 1, 1, 0, 30, 0, 0);
    long mbs = (long)((o.width + 15) / 16) * ((o.height + 15) / 16);
    assert_true(mbs <= 8192);
    assert_true(fabs((double)o.width / o.height - 16.0 / 9.0) < 0.02);
    /* 1080p60 exceeds 245760 macroblocks/s: smaller picture. */
    o = fit(1920, 1080, 1, 1, 0, 60, 0, 0);
    mbs = (long)((o.width + 15) / 16) * ((o.height + 15) / 16);
    assert_true(mbs * 60 <= 245760);
    /* 1080p30 fits as is. */
    o = fit(1920, 1080, 1, 1, 0, 30, 0, 0);
    assert_int_equal(o.width, 1920);
    assert_int_equal(o.height, 1080);
}

static void test_absurd_refused(void **state)
{
    (void)state;
    struct media_geom_out o;
    struct media_geom_in bad[] = {
        {0, 480, 1, 1, 0, 25, 0, 0},      {640, -1, 1, 1, 0, 25, 0, 0},
        {100000, 480, 1, 1, 0, 25, 0, 0}, {640, 65536, 1, 1, 0, 25, 0, 0},
        {640, 480, 1000, 1, 0, 25, 0, 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(media_geometry_fit(&bad[i], &o), -EINVAL);
}

static void test_rotation_from_matrix(void **state)
{
    (void)state;
    int32_t m[9];
    assert_int_equal(media_geometry_rotation(NULL), 0);
    av_display_rotation_set(m, 0);
    assert_int_equal(media_geometry_rotation(m), 0);
    /* The convention of the ffmpeg CLI's autorotate (clockwise = minus
     * av_display_rotation_get): a matrix made with av_display_rotation_set(m, a)
     * is displayed turned by a degrees clockwise. */
    av_display_rotation_set(m, 90);
    assert_int_equal(media_geometry_rotation(m), 90);
    av_display_rotation_set(m, -90);
    assert_int_equal(media_geometry_rotation(m), 270);
    av_display_rotation_set(m, 180);
    assert_int_equal(media_geometry_rotation(m), 180);
    av_display_rotation_set(m, 89.6);
    assert_int_equal(media_geometry_rotation(m), 90);
    av_display_rotation_set(m, 270);
    assert_int_equal(media_geometry_rotation(m), 270);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_downscale_keeps_aspect),
        cmocka_unit_test(test_never_upscale),
        cmocka_unit_test(test_even_dimensions),
        cmocka_unit_test(test_sample_aspect_ratio),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_level_41_limits),
        cmocka_unit_test(test_absurd_refused),
        cmocka_unit_test(test_rotation_from_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
