/* The job contract (core/jobspec.h): struct -> JSON -> struct is the
 * identity, missing keys take the table's defaults, bad values are refused
 * with a message naming the key, and kinds do not mix. */
#include "core/jobspec.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("bad test JSON: %s", text);
    return j;
}

static void assert_str_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_video_equal(const struct jobspec_video *a, const struct jobspec_video *b)
{
    assert_str_or_null(a->encoder, b->encoder);
    assert_str_or_null(a->preset, b->preset);
    assert_str_or_null(a->tune, b->tune);
    assert_int_equal(a->bitrate, b->bitrate);
    assert_int_equal(a->crf, b->crf);
    assert_int_equal(a->max_width, b->max_width);
    assert_int_equal(a->max_height, b->max_height);
}

static void assert_input_equal(const struct jobspec_input *a, const struct jobspec_input *b)
{
    assert_str_or_null(a->format, b->format);
    assert_str_or_null(a->url, b->url);
    assert_int_equal(a->options != NULL, b->options != NULL);
    if (a->options)
        assert_true(cJSON_Compare(a->options, b->options, 1));
}

static void test_live_round_trip(void **state)
{
    (void)state;
    struct jobspec_live a, b;
    cJSON *opts = parse("{\"rtsp_transport\":\"tcp\"}"), *job = NULL;
    char err[256] = "";
    jobspec_live_defaults(&a);
    a.name = "port 0";
    a.out_dir = "/tmp/hls";
    a.playlist = "port_0.m3u8";
    a.segment_prefix = "port_0-ab12-";
    a.input = (struct jobspec_input){"rtsp", "rtsp://cam/1", opts};
    a.audio_input = (struct jobspec_input){"lavfi", "sine", NULL};
    a.realtime = false;
    a.video = (struct jobspec_video){"libx264", "fast", "zerolatency", 5000000, 30, 1280, 720};
    a.audio.bitrate = 96000;
    a.hls = (struct jobspec_hls){"lowlatency", 2, 0.5, 7, false};
    a.stall_timeout = 3;
    a.io_timeout = 4.5;
    a.n_backoff = 2;
    a.backoff[0] = 0.5;
    a.backoff[1] = 9;
    a.cont = true;
    assert_int_equal(jobspec_live_to_json(&a, &job, err, sizeof(err)), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "kind")), "live");
    assert_int_equal(jobspec_live_from_json(job, &b, err, sizeof(err)), 0);
    assert_string_equal(b.name, a.name);
    assert_string_equal(b.out_dir, a.out_dir);
    assert_string_equal(b.playlist, a.playlist);
    assert_string_equal(b.segment_prefix, a.segment_prefix);
    assert_input_equal(&b.input, &a.input);
    assert_input_equal(&b.audio_input, &a.audio_input);
    assert_false(b.realtime);
    assert_video_equal(&b.video, &a.video);
    assert_int_equal(b.audio.bitrate, 96000);
    assert_string_equal(b.hls.variant, "lowlatency");
    assert_true(b.hls.segment_seconds == 2 && b.hls.part_seconds == 0.5);
    assert_int_equal(b.hls.list_size, 7);
    assert_false(b.hls.delete_segments);
    assert_true(b.stall_timeout == 3 && b.io_timeout == 4.5);
    assert_int_equal(b.n_backoff, 2);
    assert_true(b.backoff[0] == 0.5 && b.backoff[1] == 9);
    assert_true(b.cont);
    jobspec_live_clear(&b);
    cJSON_Delete(job);
    cJSON_Delete(opts);
}

static void test_vod_round_trip(void **state)
{
    (void)state;
    struct jobspec_vod a, b;
    cJSON *job = NULL;
    char err[256] = "";
    jobspec_vod_defaults(&a);
    a.name = "vod 1";
    a.out_dir = "/tmp/v";
    a.playlist = "master.m3u8";
    a.segment_prefix = "seg-1-";
    a.n_sources = 2;
    a.sources = calloc(2, sizeof(*a.sources));
    assert_non_null(a.sources);
    a.sources[0] = (struct jobspec_source){"/r/a.mp4", 1700000000, 1700000060};
    a.sources[1] = (struct jobspec_source){"/r/b.mp4", 1700000060, 0};
    a.range_start = 1700000010;
    a.range_end = 1700000100;
    a.segment_seconds = 4;
    a.n_fast_start = 2;
    a.fast_start[0] = 1;
    a.fast_start[1] = 2;
    a.lookahead = 5;
    a.passthrough = true;
    a.video.crf = 28;
    a.video.max_height = 480;
    assert_int_equal(jobspec_vod_to_json(&a, &job, err, sizeof(err)), 0);
    assert_int_equal(jobspec_vod_from_json(job, &b, err, sizeof(err)), 0);
    assert_int_equal(b.n_sources, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(b.sources[i].path, a.sources[i].path);
        assert_true(b.sources[i].start_time == a.sources[i].start_time);
        assert_true(b.sources[i].end_time == a.sources[i].end_time);
    }
    assert_true(b.range_start == a.range_start && b.range_end == a.range_end);
    assert_true(b.segment_seconds == 4);
    assert_int_equal(b.n_fast_start, 2);
    assert_true(b.fast_start[0] == 1 && b.fast_start[1] == 2);
    assert_int_equal(b.lookahead, 5);
    assert_true(b.passthrough);
    assert_video_equal(&b.video, &a.video);
    assert_int_equal(b.audio.bitrate, a.audio.bitrate);
    jobspec_vod_clear(&b);
    jobspec_vod_clear(&a);
    assert_null(a.sources);
    jobspec_vod_clear(NULL);
    cJSON_Delete(job);
}

static void test_transcode_round_trip(void **state)
{
    (void)state;
    struct jobspec_transcode a, b;
    cJSON *job = NULL;
    char err[256] = "";
    jobspec_transcode_defaults(&a);
    a.out_dir = "/tmp/t";
    a.segment_prefix = "seg-x-";
    a.input.url = "/in.mp4";
    a.segment_seconds = 2.5;
    assert_int_equal(jobspec_transcode_to_json(&a, &job, err, sizeof(err)), 0);
    assert_int_equal(jobspec_transcode_from_json(job, &b, err, sizeof(err)), 0);
    assert_string_equal(b.name, "transcode");
    assert_string_equal(b.playlist, "index.m3u8");
    assert_input_equal(&b.input, &a.input);
    assert_true(b.segment_seconds == 2.5);
    assert_video_equal(&b.video, &a.video);
    jobspec_transcode_clear(&b);
    cJSON_Delete(job);
}

/* Only the required keys: the rest is the table's defaults. */
static void test_defaults(void **state)
{
    (void)state;
    struct jobspec_live j;
    char err[256] = "";
    cJSON *job = parse("{\"kind\":\"live\",\"out_dir\":\"/o\",\"playlist\":\"p.m3u8\","
                       "\"segment_prefix\":\"p-\",\"input\":\"/dev/video0\","
                       "\"video\":{\"preset\":null},\"backoff\":[]}");
    assert_int_equal(jobspec_live_from_json(job, &j, err, sizeof(err)), 0);
    assert_string_equal(j.name, "live");
    assert_string_equal(j.input.url, "/dev/video0");
    assert_null(j.input.format);
    assert_null(j.audio_input.url);
    assert_true(j.realtime);
    assert_string_equal(j.video.encoder, "libx264");
    assert_null(j.video.preset);
    assert_null(j.video.tune);
    assert_int_equal(j.video.bitrate, 0);
    assert_int_equal(j.video.crf, 23);
    assert_int_equal(j.audio.bitrate, 128000);
    assert_string_equal(j.hls.variant, "mpegts");
    assert_true(j.hls.segment_seconds == 5);
    assert_int_equal(j.hls.list_size, 3);
    assert_true(j.hls.delete_segments);
    assert_true(j.stall_timeout == 5 && j.io_timeout == 5);
    assert_int_equal(j.n_backoff, 11); /* an empty list keeps the default ladder */
    assert_true(j.backoff[10] == 30);
    assert_false(j.cont);
    cJSON_Delete(job);

    struct jobspec_transcode t;
    jobspec_transcode_defaults(&t);
    assert_string_equal(t.video.preset, "ultrafast");
    assert_int_equal(t.video.crf, 26);
    assert_int_equal(t.video.max_height, 720);
    assert_string_equal(t.segment_prefix, "segment-");
}

struct bad_case {
    const char *kind_and_keys; /* over a valid vod job */
    const char *needle;
};

static void test_refused(void **state)
{
    (void)state;
    static const char base[] =
        "\"out_dir\":\"/o\",\"playlist\":\"m.m3u8\",\"segment_prefix\":\"s-\","
        "\"sources\":[{\"path\":\"/a.mp4\",\"start_time\":10}],\"range_start\":10,"
        "\"range_end\":20";
    static const struct bad_case cases[] = {
        {"\"kind\":\"vod\",\"segment_seconds\":0.3",
         "segment_seconds: 0.3 is below the minimum 0.5"},
        {"\"kind\":\"vod\",\"lookahead\":2.5", "lookahead: 2.5 is not a whole number"},
        {"\"kind\":\"vod\",\"lookahead\":\"ten\"", "lookahead: expected a number"},
        {"\"kind\":\"vod\",\"passthrough\":1", "passthrough: expected true or false"},
        {"\"kind\":\"vod\",\"video\":{\"crf\":52}", "video.crf: 52 is above the maximum 51"},
        {"\"kind\":\"vod\",\"video\":[]", "video: expected an object"},
        {"\"kind\":\"vod\",\"audio\":{\"bitrate\":\"8k\"}",
         "audio.bitrate: 8000 is below the minimum 16000"},
        {"\"kind\":\"vod\",\"audio\":{\"bitrate\":\"fast\"}", "audio.bitrate: expected a bit rate"},
        {"\"kind\":\"vod\",\"fast_start\":[1,0.01]",
         "fast_start[1]: 0.01 is below the minimum 0.1"},
        {"\"kind\":\"vod\",\"fast_start\":{}", "fast_start: expected a list of numbers"},
        {"\"kind\":\"vod\",\"sources\":[]", "sources: at least one item is required"},
        {"\"kind\":\"vod\",\"sources\":[{\"start_time\":1}]", "sources[0].path: missing"},
        {"\"kind\":\"vod\",\"segment_prefix\":\"../x-\"", "segment_prefix: '../x-' is unsafe"},
        {"\"kind\":\"vod\",\"range_end\":null", "range_end: missing"},
        {"\"kind\":\"live\"", "kind: a live job was given where a vod job was expected"},
        {"\"kind\":\"dash\"", "unknown job kind 'dash'"},
        {"\"name\":\"no kind\"", "job without a \"kind\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], err[256] = "";
        struct jobspec_vod j;
        /* cJSON finds the first of two equal keys: the case's come first */
        snprintf(text, sizeof(text), "{%s,%s}", cases[i].kind_and_keys, base);
        cJSON *job = parse(text);
        int r = jobspec_vod_from_json(job, &j, err, sizeof(err));
        if (r != -EINVAL || !strstr(err, cases[i].needle))
            fail_msg("%s: got %d '%s', want -EINVAL '%s'", cases[i].kind_and_keys, r, err,
                     cases[i].needle);
        assert_null(j.sources); /* cleared on failure */
        cJSON_Delete(job);
    }
}

/* A writer's mistake is caught before the job leaves the daemon. */
static void test_to_json_checks(void **state)
{
    (void)state;
    struct jobspec_live j;
    cJSON *job = (cJSON *)0x1;
    char err[256] = "";
    jobspec_live_defaults(&j);
    j.out_dir = "/o";
    j.playlist = "p.m3u8";
    j.segment_prefix = "p-";
    j.input.url = "x";
    j.stall_timeout = 0.1;
    assert_int_equal(jobspec_live_to_json(&j, &job, err, sizeof(err)), -EINVAL);
    assert_null(job);
    assert_string_equal(err, "stall_timeout: 0.1 is below the minimum 0.5");
    j.stall_timeout = 1;
    j.hls.variant = "dash";
    assert_int_equal(jobspec_live_to_json(&j, &job, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "hls.variant: 'dash'"));
    j.hls.variant = "fmp4";
    j.input.url = NULL;
    assert_int_equal(jobspec_live_to_json(&j, &job, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "input: missing");
}

static void test_lookup(void **state)
{
    (void)state;
    const struct jobspec_opt *o = jobspec_lookup("live.hls.segment_seconds");
    assert_non_null(o);
    assert_true(o->min == 0.5 && o->max == 60 && o->def == 5);
    o = jobspec_lookup("vod.video.crf");
    assert_non_null(o);
    assert_true(o->min == 0 && o->max == 51);
    assert_non_null(jobspec_lookup("live.backoff"));
    assert_null(jobspec_lookup("live.hls.nope"));
    assert_null(jobspec_lookup("live.stall_timeout.x"));
    assert_null(jobspec_lookup("dash.hls"));
    assert_null(jobspec_lookup("live"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_round_trip),
        cmocka_unit_test(test_vod_round_trip),
        cmocka_unit_test(test_transcode_round_trip),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_to_json_checks),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
