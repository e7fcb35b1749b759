/* RFC 6381 codec strings of HEVC streams (media/codecs.c), from both forms
 * the extradata comes in, and the copy rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "media/codecs.h"

static void set_extradata(AVCodecParameters *par, const uint8_t *d, size_t n)
{
    av_freep(&par->extradata);
    par->extradata = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE);
    assert_non_null(par->extradata);
    memcpy(par->extradata, d, n);
    par->extradata_size = (int)n;
}

static AVCodecParameters *hevc_par(void)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    assert_non_null(par);
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_HEVC;
    par->format = AV_PIX_FMT_YUV420P;
    par->width = 320;
    par->height = 180;
    return par;
}

/* Main profile, Main tier, level 2 (60), progressive-source constraint. */
static void test_hvcc_record(void **state)
{
    (void)state;
    static const uint8_t hvcc[] = {0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x3c, 0xf0, 0x00, 0xfc, 0xfd, 0xf8};
    AVCodecParameters *par = hevc_par();
    char buf[64];
    set_extradata(par, hvcc, sizeof(hvcc));
    assert_int_equal(media_hevc_codec_string(par, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "hvc1.1.6.L60.90");
    /* Main 10, High tier, level 5.1, no constraint flags. */
    static const uint8_t main10[] = {0x01, 0x22, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x99, 0xf0, 0x00};
    set_extradata(par, main10, sizeof(main10));
    assert_int_equal(media_hevc_codec_string(par, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "hvc1.2.4.H153");
    assert_int_equal(media_hevc_codec_string(par, buf, 8), -ENAMETOOLONG);
    avcodec_parameters_free(&par);
}

/* MPEG-TS sources: parameter sets in Annex B, the SPS with emulation
 * prevention bytes inside its profile_tier_level. */
static void test_annexb_sps(void **state)
{
    (void)state;
    static const uint8_t annexb[] = {
        0x00, 0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x01, /* a VPS first */
        0x00, 0x00, 0x01, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
        0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08};
    AVCodecParameters *par = hevc_par();
    char buf[64], why[128];
    set_extradata(par, annexb, sizeof(annexb));
    assert_int_equal(media_hevc_codec_string(par, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "hvc1.1.6.L60.90");
    assert_true(media_hevc_copyable(par, why, sizeof(why)));
    /* Cut inside the PTL: refused, not read past the end. */
    set_extradata(par, annexb, 22);
    assert_int_equal(media_hevc_codec_string(par, buf, sizeof(buf)), -EINVAL);
    assert_false(media_hevc_copyable(par, why, sizeof(why)));
    assert_string_equal(why, "no HEVC parameter sets in the stream header");
    avcodec_parameters_free(&par);
}

static void test_copy_rules(void **state)
{
    (void)state;
    static const uint8_t hvcc[] = {0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x3c};
    AVCodecParameters *par = hevc_par();
    char why[128], buf[64];
    set_extradata(par, hvcc, sizeof(hvcc));
    assert_true(media_hevc_copyable(par, why, sizeof(why)));
    par->format = AV_PIX_FMT_YUV422P;
    assert_false(media_hevc_copyable(par, why, sizeof(why)));
    assert_non_null(strstr(why, "yuv422p"));
    par->format = AV_PIX_FMT_YUV420P10LE;
    assert_true(media_hevc_copyable(par, why, sizeof(why)));
    par->field_order = AV_FIELD_TT;
    assert_false(media_hevc_copyable(par, why, sizeof(why)));
    par->field_order = AV_FIELD_PROGRESSIVE;
    par->codec_id = AV_CODEC_ID_H264;
    assert_false(media_hevc_copyable(par, why, sizeof(why)));
    assert_string_equal(why, "video codec h264 is not HEVC");
    assert_int_equal(media_hevc_codec_string(par, buf, sizeof(buf)), -EINVAL);
    avcodec_parameters_free(&par);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hvcc_record),
        cmocka_unit_test(test_annexb_sps),
        cmocka_unit_test(test_copy_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
