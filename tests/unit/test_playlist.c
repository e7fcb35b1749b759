/* Playlist model, writer, live window and reader. */
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
#include <unistd.h>

#include "core/util.h"
#include "media/playlist.h"

static char *render(const struct playlist *pl)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(playlist_render(pl, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_vod_render(void **state)
{
    (void)state;
    struct playlist pl;
    playlist_init(&pl, PLAYLIST_VOD, 0);
    assert_int_equal(playlist_add_segment(&pl, "seg-0.ts", 1.0, false, 1700000000.0), 0);
    assert_int_equal(playlist_add_segment(&pl, "seg-1.ts", 6.0, false, 1700000001.0), 0);
    assert_int_equal(playlist_add_segment(&pl, "seg-2.ts", 4.5, true, 1700000100.25), 0);
    char *text = render(&pl);
    const char *want = "#EXTM3U\n"
                       "#EXT-X-VERSION:3\n"
                       "#EXT-X-TARGETDURATION:6\n"
                       "#EXT-X-MEDIA-SEQUENCE:0\n"
                       "#EXT-X-PLAYLIST-TYPE:VOD\n"
                       "#EXT-X-INDEPENDENT-SEGMENTS\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n"
                       "#EXTINF:1.000,\nseg-0.ts\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:21.000Z\n"
                       "#EXTINF:6.000,\nseg-1.ts\n"
                       "#EXT-X-DISCONTINUITY\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:15:00.250Z\n"
                       "#EXTINF:4.500,\nseg-2.ts\n"
                       "#EXT-X-ENDLIST\n";
    assert_string_equal(text, want);
    assert_true(fabs(playlist_total_duration(&pl) - 11.5) < 1e-9);
    free(text);
    playlist_clear(&pl);
}

/* fMP4 VOD with one init segment per source: EXT-X-MAP after the
 * discontinuity of each source change, version 6. */
static void test_vod_segment_maps(void **state)
{
    (void)state;
    struct playlist pl;
    playlist_init(&pl, PLAYLIST_VOD, 0);
    assert_int_equal(playlist_set_segment_map(&pl, "init0.mp4"), -EINVAL); /* no segment yet */
    assert_int_equal(playlist_add_segment(&pl, "s-0.m4s", 2.0, false, NAN), 0);
    assert_int_equal(playlist_set_segment_map(&pl, "init0.mp4"), 0);
    assert_int_equal(playlist_add_segment(&pl, "s-1.m4s", 2.0, false, NAN), 0);
    assert_int_equal(playlist_add_segment(&pl, "s-2.m4s", 1.5, true, NAN), 0);
    assert_int_equal(playlist_set_segment_map(&pl, "init\"1.mp4"), -EINVAL);
    assert_int_equal(playlist_set_segment_map(&pl, "init1.mp4"), 0);
    char *text = render(&pl);
    const char *want = "#EXTM3U\n"
                       "#EXT-X-VERSION:6\n"
                       "#EXT-X-TARGETDURATION:2\n"
                       "#EXT-X-MEDIA-SEQUENCE:0\n"
                       "#EXT-X-PLAYLIST-TYPE:VOD\n"
                       "#EXT-X-INDEPENDENT-SEGMENTS\n"
                       "#EXT-X-MAP:URI=\"init0.mp4\"\n"
                       "#EXTINF:2.000,\ns-0.m4s\n"
                       "#EXTINF:2.000,\ns-1.m4s\n"
                       "#EXT-X-DISCONTINUITY\n"
                       "#EXT-X-MAP:URI=\"init1.mp4\"\n"
                       "#EXTINF:1.500,\ns-2.m4s\n"
                       "#EXT-X-ENDLIST\n";
    assert_string_equal(text, want);
    free(text);
    playlist_clear(&pl);
}

static void test_target_duration_rounding(void **state)
{
    (void)state;
    struct playlist pl;
    playlist_init(&pl, PLAYLIST_LIVE, 0);
    /* 6.4996 renders as 6.500, which a client rounds to 7. */
    assert_int_equal(playlist_add_segment(&pl, "a.ts", 6.4996, false, NAN), 0);
    assert_int_equal(playlist_effective_target(&pl), 7);
    playlist_clear(&pl);

    playlist_init(&pl, PLAYLIST_LIVE, 5);
    assert_int_equal(playlist_add_segment(&pl, "a.ts", 5.4, false, NAN), 0);
    assert_int_equal(playlist_effective_target(&pl), 5); /* fixed by the caller */
    assert_int_equal(playlist_add_segment(&pl, "b.ts", 8.33, false, NAN), 0);
    assert_int_equal(playlist_effective_target(&pl), 8); /* never below an EXTINF */
    char *text = render(&pl);
    assert_non_null(strstr(text, "#EXT-X-TARGETDURATION:8\n"));
    assert_null(strstr(text, "ENDLIST"));
    assert_null(strstr(text, "PLAYLIST-TYPE"));
    assert_null(strstr(text, "PROGRAM-DATE-TIME"));
    free(text);
    playlist_clear(&pl);
}

static void test_pdt_format(void **state)
{
    (void)state;
    char buf[40];
    assert_int_equal(playlist_format_pdt(1795341600.123, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2026-11-22T10:00:00.123Z");
    /* 999.6 ms rounds up into the next second. */
    assert_int_equal(playlist_format_pdt(1795341600.9996, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2026-11-22T10:00:01.000Z");
    assert_int_equal(playlist_format_pdt(NAN, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(playlist_format_pdt(INFINITY, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(playlist_format_pdt(-1, buf, sizeof(buf)), -EINVAL);
    assert_int_not_equal(playlist_format_pdt(1.0, buf, 8), 0);

    double t;
    assert_int_equal(playlist_parse_pdt("2026-11-22T10:00:00.123Z", &t), 0);
    assert_true(fabs(t - 1795341600.123) < 1e-6);
    assert_int_equal(playlist_parse_pdt("2026-11-22T11:30:00+01:30", &t), 0);
    assert_true(fabs(t - 1795341600.0) < 1e-6);
    assert_int_equal(playlist_parse_pdt("2026-11-22T10:00:00", &t), -EINVAL);
    assert_int_equal(playlist_parse_pdt("2026-13-22T10:00:00Z", &t), -EINVAL);
    assert_int_equal(playlist_parse_pdt("2026-11-22T10:00:00.Z", &t), -EINVAL);
    assert_int_equal(playlist_parse_pdt("2026-11-22T10:00:00Zx", &t), -EINVAL);
    assert_int_equal(playlist_parse_pdt("", &t), -EINVAL);
    assert_int_equal(playlist_parse_pdt("2026", &t), -EINVAL);
}

static void test_live_window(void **state)
{
    (void)state;
    struct playlist pl;
    playlist_init(&pl, PLAYLIST_LIVE, 5);
    char **removed = NULL;
    char uri[32];
    for (int i = 0; i < 3; i++) {
        snprintf(uri, sizeof(uri), "s%d.ts", i);
        assert_int_equal(playlist_live_append(&pl, uri, 5.0, i == 1, NAN, 3, &removed), 0);
        assert_null(removed);
    }
    assert_int_equal(pl.n_segs, 3);
    assert_int_equal(pl.media_sequence, 0);

    /* s0 (no discontinuity) leaves. */
    assert_int_equal(playlist_live_append(&pl, "s3.ts", 5.0, false, NAN, 3, &removed), 0);
    assert_non_null(removed);
    assert_string_equal(removed[0], "s0.ts");
    assert_null(removed[1]);
    playlist_free_strv(&removed);
    assert_null(removed);
    assert_int_equal(pl.media_sequence, 1);
    assert_int_equal(pl.discontinuity_sequence, 0);
    assert_string_equal(pl.segs[0].uri, "s1.ts");

    /* s1 carried the DISCONTINUITY tag: the sequence counts it. */
    assert_int_equal(playlist_live_append(&pl, "s4.ts", 5.0, false, NAN, 3, &removed), 0);
    assert_string_equal(removed[0], "s1.ts");
    playlist_free_strv(&removed);
    assert_int_equal(pl.media_sequence, 2);
    assert_int_equal(pl.discontinuity_sequence, 1);
    char *text = render(&pl);
    assert_non_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    assert_null(strstr(text, "s1.ts"));
    assert_null(strstr(text, "#EXT-X-DISCONTINUITY\n"));
    free(text);

    /* Shrinking the window drops several at once; removed may be NULL. */
    assert_int_equal(playlist_live_append(&pl, "s5.ts", 5.0, false, NAN, 1, &removed), 0);
    assert_string_equal(removed[0], "s2.ts");
    assert_string_equal(removed[1], "s3.ts");
    assert_string_equal(removed[2], "s4.ts");
    assert_null(removed[3]);
    playlist_free_strv(&removed);
    assert_int_equal(pl.media_sequence, 5);
    assert_int_equal(playlist_live_append(&pl, "s6.ts", 5.0, false, NAN, 1, NULL), 0);
    assert_int_equal(pl.n_segs, 1);
    assert_int_equal(pl.media_sequence, 6);

    /* Stop: ENDLIST on a live playlist. */
    pl.ended = true;
    text = render(&pl);
    assert_non_null(strstr(text, "#EXT-X-ENDLIST\n"));
    free(text);
    playlist_clear(&pl);
    playlist_clear(NULL);
}

static void test_bad_segments(void **state)
{
    (void)state;
    struct playlist pl;
    playlist_init(&pl, PLAYLIST_VOD, 0);
    assert_int_equal(playlist_add_segment(&pl, "", 1, false, NAN), -EINVAL);
    assert_int_equal(playlist_add_segment(&pl, NULL, 1, false, NAN), -EINVAL);
    assert_int_equal(playlist_add_segment(&pl, "a\nb.ts", 1, false, NAN), -EINVAL);
    assert_int_equal(playlist_add_segment(&pl, "#a.ts", 1, false, NAN), -EINVAL);
    assert_int_equal(playlist_add_segment(&pl, "a.ts", -1, false, NAN), -EINVAL);
    assert_int_equal(playlist_add_segment(&pl, "a.ts", NAN, false, NAN), -EINVAL);
    assert_int_equal(playlist_add_segment(&pl, "a.ts", 1, false, INFINITY), -EINVAL);
    char longuri[PLAYLIST_MAX_URI + 2];
    memset(longuri, 'a', sizeof(longuri) - 1);
    longuri[sizeof(longuri) - 1] = '\0';
    assert_int_equal(playlist_add_segment(&pl, longuri, 1, false, NAN), -EINVAL);
    assert_int_equal(pl.n_segs, 0);
    playlist_clear(&pl);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct playlist pl, back;
    playlist_init(&pl, PLAYLIST_LIVE, 5);
    pl.media_sequence = 41;
    pl.discontinuity_sequence = 2;
    assert_int_equal(playlist_add_segment(&pl, "port_0-ab-41.ts", 5.0, false, 1795341600.0), 0);
    assert_int_equal(playlist_add_segment(&pl, "port_0-cd-0.ts", 4.967, true, 1795341610.5), 0);
    assert_int_equal(playlist_add_segment(&pl, "port_0-cd-1.ts", 5.0, false, NAN), 0);
    char *text = render(&pl);
    assert_int_equal(playlist_parse(text, strlen(text), &back), 0);
    assert_int_equal(back.type, PLAYLIST_LIVE);
    assert_int_equal(back.target_duration, 5);
    assert_int_equal(back.media_sequence, 41);
    assert_int_equal(back.discontinuity_sequence, 2);
    assert_true(back.independent_segments);
    assert_false(back.ended);
    assert_int_equal(back.n_segs, 3);
    assert_string_equal(back.segs[1].uri, "port_0-cd-0.ts");
    assert_true(fabs(back.segs[1].duration - 4.967) < 1e-9);
    assert_true(back.segs[1].discontinuity);
    assert_false(back.segs[0].discontinuity);
    assert_true(fabs(back.segs[1].pdt - 1795341610.5) < 1e-6);
    assert_true(isnan(back.segs[2].pdt));
    char *again = render(&back);
    assert_string_equal(text, again);
    free(again);
    free(text);
    playlist_clear(&back);

    /* VOD + file round trip through the atomic writer. */
    pl.type = PLAYLIST_VOD;
    char dir[] = "/tmp/test_playlist-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/master.m3u8", dir);
    assert_int_equal(playlist_write(&pl, path), 0);
    assert_int_equal(playlist_read(path, &back), 0);
    assert_int_equal(back.type, PLAYLIST_VOD);
    assert_true(back.ended);
    assert_int_equal(back.n_segs, 3);
    playlist_clear(&back);
    assert_int_equal(util_rm_rf(dir), 0);
    assert_int_equal(playlist_read(path, &back), -ENOENT);
    playlist_clear(&pl);
}

static void test_ll_hls(void **state)
{
    (void)state;
    struct playlist pl, back;
    playlist_init(&pl, PLAYLIST_LIVE, 2);
    pl.part_target = 0.5;
    pl.part_hold_back = 1.5;
    pl.can_block_reload = true;
    assert_int_equal(playlist_set_map(&pl, "init-ab.mp4"), 0);
    assert_int_equal(playlist_add_pending_part(&pl, "s0.p0.m4s", 0.5, true), 0);
    assert_int_equal(playlist_add_pending_part(&pl, "s0.p1.m4s", 0.5, false), 0);
    assert_int_equal(playlist_add_segment(&pl, "s0.m4s", 1.0, false, 1795341600.0), 0);
    assert_int_equal(pl.segs[0].n_parts, 2);
    assert_int_equal(playlist_add_pending_part(&pl, "s1.p0.m4s", 0.5, true), 0);
    assert_int_equal(playlist_set_preload_hint(&pl, "s1.p1.m4s"), 0);
    char *text = render(&pl);
    assert_non_null(strstr(text, "#EXT-X-VERSION:6\n"));
    assert_non_null(
        strstr(text, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n"));
    assert_non_null(strstr(text, "#EXT-X-PART-INF:PART-TARGET=0.500\n"));
    assert_non_null(strstr(text, "#EXT-X-MAP:URI=\"init-ab.mp4\"\n"));
    assert_non_null(strstr(text, "#EXT-X-PART:DURATION=0.500,URI=\"s0.p0.m4s\",INDEPENDENT=YES\n"
                                 "#EXT-X-PART:DURATION=0.500,URI=\"s0.p1.m4s\"\n"
                                 "#EXTINF:1.000,\ns0.m4s\n"
                                 "#EXT-X-PART:DURATION=0.500,URI=\"s1.p0.m4s\",INDEPENDENT=YES\n"
                                 "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s1.p1.m4s\"\n"));
    assert_int_equal(playlist_parse(text, strlen(text), &back), 0);
    assert_string_equal(back.map_uri, "init-ab.mp4");
    assert_true(back.can_block_reload);
    assert_true(fabs(back.part_hold_back - 1.5) < 1e-9);
    assert_int_equal(back.segs[0].n_parts, 2);
    assert_true(back.segs[0].parts[0].independent);
    assert_false(back.segs[0].parts[1].independent);
    assert_int_equal(back.n_pending_parts, 1);
    assert_string_equal(back.preload_hint_uri, "s1.p1.m4s");
    char *again = render(&back);
    assert_string_equal(text, again);
    free(again);
    free(text);
    playlist_clear(&back);
    playlist_clear(&pl);
}

static void expect_invalid(const char *text)
{
    struct playlist pl;
    int ret = playlist_parse(text, strlen(text), &pl);
    if (ret != -EINVAL)
        fail_msg("accepted (%d): %s", ret, text);
    assert_int_equal(pl.n_segs, 0);
    assert_null(pl.segs);
}

static void test_garbage(void **state)
{
    (void)state;
    expect_invalid("");
    expect_invalid("hello");
    expect_invalid("#EXTM3\n");
    expect_invalid("#EXTM3U\nseg.ts\n");                       /* URI without EXTINF */
    expect_invalid("#EXTM3U\n#EXTINF:5,\n");                   /* EXTINF without URI */
    expect_invalid("#EXTM3U\n#EXTINF:5,\n#EXTINF:5,\na.ts\n"); /* two EXTINF */
    expect_invalid("#EXTM3U\n#EXTINF:-5,\na.ts\n");
    expect_invalid("#EXTM3U\n#EXTINF:nan,\na.ts\n");
    expect_invalid("#EXTM3U\n#EXTINF:1e308,\na.ts\n");
    expect_invalid("#EXTM3U\n#EXTINF:99999999,\na.ts\n");
    expect_invalid("#EXTM3U\n#EXTINF:,\na.ts\n");
    expect_invalid("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n");
    expect_invalid("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:99999999999999999999999\n");
    expect_invalid("#EXTM3U\n#EXT-X-TARGETDURATION:abc\n");
    expect_invalid("#EXTM3U\n#EXT-X-VERSION:0\n");
    expect_invalid("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:FOO\n");
    expect_invalid("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1,\na.ts\n");
    expect_invalid("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\n");
    expect_invalid("#EXTM3U\n#EXT-X-MAP:BYTERANGE=5\n");
    expect_invalid("#EXTM3U\n#EXT-X-PART:DURATION=0.5\n");
    expect_invalid("#EXTM3U\n#EXT-X-PART:URI=\"a\",DURATION=x\n");
    expect_invalid("#EXTM3U\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD\n");

    /* NUL and control characters inside the text. */
    struct playlist pl;
    const char nul[] = "#EXTM3U\n#EXTINF:1,\na\0b.ts\n";
    assert_int_equal(playlist_parse(nul, sizeof(nul) - 1, &pl), -EINVAL);
    expect_invalid("#EXTM3U\n#EXTINF:1,\na\x01.ts\n");

    /* Over-long line. */
    size_t n = PLAYLIST_MAX_LINE + 64;
    char *big = malloc(n + 32);
    assert_non_null(big);
    strcpy(big, "#EXTM3U\n#EXTINF:1,\n");
    size_t off = strlen(big);
    memset(big + off, 'a', n);
    big[off + n] = '\n';
    big[off + n + 1] = '\0';
    expect_invalid(big);
    free(big);

    /* Over the size limit: refused before looking at it. */
    assert_int_equal(playlist_parse("#EXTM3U\n", PLAYLIST_MAX_TEXT + 1, &pl), -EINVAL);
    assert_int_equal(playlist_parse(NULL, 0, &pl), -EINVAL);

    /* Tolerated: CRLF, unknown tags, comments, blank lines, missing title comma. */
    const char *ok = "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n# comment\r\n#EXT-X-FOO:1\r\n\r\n"
                     "#EXTINF:6\r\na.ts\r\n#EXTINF:5.5,title\r\nb.ts\r\n";
    assert_int_equal(playlist_parse(ok, strlen(ok), &pl), 0);
    assert_int_equal(pl.n_segs, 2);
    assert_string_equal(pl.segs[1].uri, "b.ts");
    assert_true(fabs(pl.segs[1].duration - 5.5) < 1e-9);
    playlist_clear(&pl);
}

/* A cheap deterministic fuzz pass: mutate a valid playlist byte by byte and
 * make sure the parser neither crashes nor leaks (ASan build). */
static void test_mutations(void **state)
{
    (void)state;
    struct playlist pl;
    playlist_init(&pl, PLAYLIST_VOD, 0);
    assert_int_equal(playlist_set_map(&pl, "init.mp4"), 0);
    assert_int_equal(playlist_add_pending_part(&pl, "p.m4s", 0.5, true), 0);
    assert_int_equal(playlist_add_segment(&pl, "a.ts", 1.5, false, 1795341600.0), 0);
    assert_int_equal(playlist_add_segment(&pl, "b.ts", 6, true, 1795341700.0), 0);
    char *text = render(&pl);
    size_t len = strlen(text);
    playlist_clear(&pl);
    uint32_t seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        char *m = malloc(len);
        assert_non_null(m);
        memcpy(m, text, len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            m[pos] = (char)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t cut = (seed >> 8) % (len + 1);
        int ret = playlist_parse(m, cut, &pl);
        assert_true(ret == 0 || ret == -EINVAL);
        playlist_clear(&pl);
        free(m);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vod_render),   cmocka_unit_test(test_target_duration_rounding),
        cmocka_unit_test(test_pdt_format),   cmocka_unit_test(test_live_window),
        cmocka_unit_test(test_bad_segments), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_ll_hls),       cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_mutations),    cmocka_unit_test(test_vod_segment_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
