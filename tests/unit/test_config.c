/* Configuration loader: embedded defaults, every key of a full file, merge
 * semantics of preview blocks and port lists, and one bad file per error class
 * (each must name the file and the offending line). */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char *cfg_path(const char *name)
{
    static char buf[4096];
    const char *root = getenv("HLSD_SOURCE_ROOT");
    snprintf(buf, sizeof(buf), "%s/tests/unit/configs/%s", root ? root : ".", name);
    return buf;
}

static struct hlsd_config *load_ok(const char *name)
{
    struct hlsd_config *cfg = NULL;
    char err[512] = "";
    int r = config_load(name ? cfg_path(name) : NULL, &cfg, err, sizeof(err));
    if (r != 0)
        fail_msg("loading %s failed (%d): %s", name ? name : "<embedded>", r, err);
    assert_non_null(cfg);
    return cfg;
}

static void assert_default_preview(const struct cfg_preview *p, double segment_seconds)
{
    static const double backoff[] = {1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 30};
    assert_string_equal(p->video.encoder, "libx264");
    assert_string_equal(p->video.preset, "ultrafast");
    assert_string_equal(p->video.tune, "zerolatency");
    assert_string_equal(p->video.bitrate, "5M");
    assert_int_equal(p->video.crf, 23);
    assert_int_equal(p->video.width, 1280);
    assert_int_equal(p->video.height, 720);
    assert_string_equal(p->audio_bitrate, "128k");
    assert_string_equal(p->hls.variant, "lowlatency");
    assert_float_equal(p->hls.segment_seconds, segment_seconds, 1e-9);
    assert_float_equal(p->hls.part_seconds, 0.333, 1e-9);
    assert_int_equal(p->hls.list_size, 3);
    assert_true(p->hls.delete_segments);
    assert_float_equal(p->stall_timeout, 5, 1e-9);
    assert_float_equal(p->io_timeout, 5, 1e-9);
    assert_int_equal(p->n_backoff, 11);
    for (size_t i = 0; i < 11; i++)
        assert_float_equal(p->backoff[i], backoff[i], 1e-9);
    assert_float_equal(p->idle_seconds, 30, 1e-9);
    assert_float_equal(p->start_timeout, 20, 1e-9);
}

static void test_embedded_defaults(void **state)
{
    (void)state;
    struct hlsd_config *cfg = load_ok(NULL);
    assert_string_equal(cfg->source, "<embedded>");
    assert_string_equal(cfg->listen_addr, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8080);
    assert_string_equal(cfg->state_dir, "./state");
    assert_string_equal(cfg->log_level, "info");
    assert_null(cfg->web_dir);
    assert_true(cfg->metrics_from_loopback);
    assert_default_preview(&cfg->preview, 1);

    assert_int_equal(cfg->n_ports, 1);
    const struct cfg_port *p = &cfg->ports[0];
    assert_int_equal(p->index, 0);
    assert_string_equal(p->name, "studio-a");
    assert_string_equal(p->input.format, "lavfi");
    assert_string_equal(p->input.url, "testsrc2=size=1280x720:rate=30");
    assert_int_equal(p->input.n_options, 0);
    assert_non_null(p->audio_input);
    assert_string_equal(p->audio_input->format, "lavfi");
    assert_string_equal(p->audio_input->url, "sine=frequency=440:sample_rate=48000");
    assert_false(p->on_demand);
    /* The default port has no preview overrides of its own. */
    assert_default_preview(&p->preview, 1);
    assert_ptr_equal(config_find_port(cfg, 0), p);
    assert_null(config_find_port(cfg, 1));

    assert_int_equal(cfg->vod.max_concurrent, 3);
    assert_float_equal(cfg->vod.ready_timeout, 30, 1e-9);
    assert_float_equal(cfg->vod.max_range, 86400, 1e-9);
    assert_float_equal(cfg->vod.ttl, 600, 1e-9);
    assert_int_equal(cfg->vod.lookahead, 10);
    assert_int_equal(cfg->vod.nice, 10);
    assert_float_equal(cfg->vod.segment_seconds, 6, 1e-9);
    assert_float_equal(cfg->vod.transcode_segment_seconds, 1, 1e-9);
    assert_int_equal(cfg->vod.n_fast_start, 3);
    assert_float_equal(cfg->vod.fast_start[0], 1, 1e-9);
    assert_float_equal(cfg->vod.fast_start[1], 2, 1e-9);
    assert_float_equal(cfg->vod.fast_start[2], 3, 1e-9);
    assert_int_equal(cfg->vod.max_height, 720);
    assert_int_equal(cfg->vod.crf, 26);
    assert_string_equal(cfg->vod.preset, "ultrafast");
    assert_string_equal(cfg->vod.encoder, "libx264");
    assert_string_equal(cfg->vod.audio_bitrate, "128k");
    assert_true(cfg->vod.passthrough);
    assert_int_equal(cfg->vod.n_watch_dirs, 0);
    assert_true(cfg->vod.sample_recording);

    assert_true(cfg->auth.enabled);
    assert_int_equal(cfg->auth.n_users, 0);
    assert_int_equal(cfg->auth.login_attempts_per_minute, 10);

    assert_int_equal(cfg->limits.max_connections, 1024);
    assert_int_equal(cfg->limits.connection_timeout, 30);
    assert_int_equal(cfg->limits.max_request_bytes, 65536);
    assert_int_equal(cfg->limits.connection_memory, 32768);
    assert_int_equal(cfg->limits.per_ip_connections, 32);
    assert_int_equal(cfg->limits.header_timeout, 10);
    assert_int_equal(cfg->server.n_hosts, 0);
    assert_int_equal(cfg->server.n_trusted_proxies, 0);
    assert_int_equal(cfg->workers.memory_mb, 2048);
    assert_int_equal(cfg->workers.cpu_seconds, 0);
    config_free(&cfg);
    assert_null(cfg);
    config_free(&cfg);
    config_free(NULL);
}

static void test_embedded_string_and_empty_file(void **state)
{
    (void)state;
    struct hlsd_config *cfg = NULL;
    char err[256];
    /* The embedded text is itself a valid file. */
    assert_int_equal(config_load_string(config_embedded_yaml, "embedded", &cfg, err, sizeof(err)),
                     0);
    assert_int_equal(cfg->n_ports, 1);
    assert_string_equal(cfg->source, "embedded");
    config_free(&cfg);

    cfg = load_ok("empty.yaml");
    assert_string_equal(cfg->source, cfg_path("empty.yaml"));
    assert_int_equal(cfg->n_ports, 1);
    assert_string_equal(cfg->listen_addr, "127.0.0.1");
    config_free(&cfg);

    assert_int_equal(config_load_string("", "empty", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->listen_port, 8080);
    config_free(&cfg);
}

static void test_full_file(void **state)
{
    (void)state;
    struct hlsd_config *cfg = load_ok("full.yaml");
    assert_string_equal(cfg->listen_addr, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 9090);
    assert_string_equal(cfg->state_dir, "/var/lib/hlsd");
    assert_string_equal(cfg->log_level, "debug");
    assert_string_equal(cfg->web_dir, "/usr/share/hlsd/web");
    assert_false(cfg->metrics_from_loopback);

    const struct cfg_preview *g = &cfg->preview;
    assert_string_equal(g->video.encoder, "h264_vaapi");
    assert_string_equal(g->video.preset, "veryfast");
    assert_string_equal(g->video.tune, "film");
    assert_string_equal(g->video.bitrate, "2500k");
    assert_int_equal(g->video.crf, 20);
    assert_int_equal(g->video.width, 960);
    assert_int_equal(g->video.height, 540);
    assert_string_equal(g->audio_bitrate, "96k");
    assert_string_equal(g->hls.variant, "lowlatency");
    assert_float_equal(g->hls.segment_seconds, 1.5, 1e-9);
    assert_float_equal(g->hls.part_seconds, 0.25, 1e-9);
    assert_int_equal(g->hls.list_size, 6);
    assert_false(g->hls.delete_segments);
    assert_float_equal(g->stall_timeout, 3, 1e-9);
    assert_float_equal(g->io_timeout, 4, 1e-9);
    assert_int_equal(g->n_backoff, 3);
    assert_float_equal(g->backoff[0], 0.5, 1e-9);
    assert_float_equal(g->backoff[2], 10, 1e-9);
    assert_float_equal(g->idle_seconds, 45, 1e-9);
    assert_float_equal(g->start_timeout, 15, 1e-9);

    /* The file's ports replace the default port. */
    assert_int_equal(cfg->n_ports, 2);
    assert_null(config_find_port(cfg, 0));
    const struct cfg_port *p2 = config_find_port(cfg, 2), *p7 = config_find_port(cfg, 7);
    assert_non_null(p2);
    assert_non_null(p7);
    assert_string_equal(p2->name, "cam-2");
    assert_string_equal(p2->input.format, "rtsp");
    assert_string_equal(p2->input.url, "rtsp://10.0.0.2/stream1");
    assert_int_equal(p2->input.n_options, 2);
    assert_string_equal(p2->input.options[0].key, "rtsp_transport");
    assert_string_equal(p2->input.options[0].value, "tcp");
    assert_string_equal(p2->input.options[1].key, "timeout");
    assert_string_equal(p2->input.options[1].value, "5000000");
    assert_null(p2->audio_input);
    assert_true(p2->on_demand);
    /* No preview block: the global one, complete. */
    assert_string_equal(p2->preview.video.encoder, "h264_vaapi");
    assert_string_equal(p2->preview.hls.variant, "lowlatency");
    assert_int_equal(p2->preview.n_backoff, 3);

    assert_string_equal(p7->name, "sdi.7");
    assert_string_equal(p7->input.format, "v4l2");
    assert_string_equal(p7->audio_input->format, "alsa");
    assert_string_equal(p7->audio_input->url, "hw:1,0");
    assert_int_equal(p7->audio_input->n_options, 1);
    assert_string_equal(p7->audio_input->options[0].value, "2");
    assert_false(p7->on_demand);
    assert_int_equal(p7->preview.video.width, 640);
    assert_int_equal(p7->preview.video.height, 360);
    assert_null(p7->preview.video.bitrate); /* null = crf */
    assert_null(p7->preview.video.tune);
    assert_int_equal(p7->preview.video.crf, 20);
    assert_string_equal(p7->preview.video.preset, "veryfast");
    assert_string_equal(p7->preview.hls.variant, "mpegts");
    assert_float_equal(p7->preview.hls.segment_seconds, 4, 1e-9);
    assert_int_equal(p7->preview.hls.list_size, 6);
    assert_int_equal(p7->preview.n_backoff, 1);
    assert_float_equal(p7->preview.stall_timeout, 3, 1e-9);
    /* The port's override did not leak into the global block. */
    assert_int_equal(cfg->preview.video.width, 960);
    assert_string_equal(cfg->preview.video.bitrate, "2500k");

    assert_int_equal(cfg->vod.max_concurrent, 5);
    assert_float_equal(cfg->vod.ready_timeout, 12.5, 1e-9);
    assert_float_equal(cfg->vod.max_range, 3600, 1e-9);
    assert_float_equal(cfg->vod.ttl, 120, 1e-9);
    assert_int_equal(cfg->vod.lookahead, 4);
    assert_int_equal(cfg->vod.nice, 5);
    assert_float_equal(cfg->vod.segment_seconds, 4, 1e-9);
    assert_float_equal(cfg->vod.transcode_segment_seconds, 2, 1e-9);
    assert_int_equal(cfg->vod.n_fast_start, 2);
    assert_float_equal(cfg->vod.fast_start[0], 0.5, 1e-9);
    assert_int_equal(cfg->vod.max_height, 480);
    assert_int_equal(cfg->vod.crf, 28);
    assert_string_equal(cfg->vod.preset, "superfast");
    assert_string_equal(cfg->vod.encoder, "libx264");
    assert_string_equal(cfg->vod.audio_bitrate, "64k");
    assert_false(cfg->vod.passthrough);
    assert_int_equal(cfg->vod.n_watch_dirs, 2);
    assert_string_equal(cfg->vod.watch_dirs[1], "/srv/nvr2");
    assert_false(cfg->vod.sample_recording);

    assert_true(cfg->auth.enabled);
    assert_int_equal(cfg->auth.login_attempts_per_minute, 3);
    assert_int_equal(cfg->auth.n_users, 2);
    assert_string_equal(cfg->auth.users[0].name, "alice");
    assert_int_equal(cfg->auth.users[0].role, CFG_ROLE_ADMIN);
    assert_int_equal(cfg->auth.users[0].n_cameras, 0);
    /* Upper-case hex is accepted and stored lower-case. */
    assert_string_equal(cfg->auth.users[0].token_sha256,
                        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_string_equal(cfg->auth.users[1].name, "bob");
    assert_int_equal(cfg->auth.users[1].role, CFG_ROLE_VIEWER);
    assert_int_equal(cfg->auth.users[1].n_cameras, 2);
    assert_string_equal(cfg->auth.users[1].cameras[1], "front-door");

    assert_int_equal(cfg->limits.max_connections, 700);
    assert_int_equal(cfg->limits.connection_timeout, 10);
    assert_int_equal(cfg->limits.max_request_bytes, 8192);
    assert_int_equal(cfg->limits.connection_memory, 16384);
    assert_int_equal(cfg->limits.per_ip_connections, 50);
    assert_int_equal(cfg->workers.memory_mb, 512);
    assert_int_equal(cfg->workers.cpu_seconds, 3600);
    config_free(&cfg);
}

static void test_merge_global_preview_keeps_default_port(void **state)
{
    (void)state;
    struct hlsd_config *cfg = load_ok("merge_preview.yaml");
    /* Keys given change; the keys around them keep their defaults. */
    assert_string_equal(cfg->preview.video.bitrate, "1M");
    assert_string_equal(cfg->preview.video.encoder, "libx264");
    assert_int_equal(cfg->preview.video.width, 1280);
    assert_int_equal(cfg->preview.hls.list_size, 5);
    assert_float_equal(cfg->preview.hls.segment_seconds, 1, 1e-9);
    assert_int_equal(cfg->vod.crf, 30);
    assert_int_equal(cfg->vod.max_concurrent, 3);
    /* The default port is kept, built over the file's global preview. */
    assert_int_equal(cfg->n_ports, 1);
    assert_string_equal(cfg->ports[0].name, "studio-a");
    assert_string_equal(cfg->ports[0].preview.video.bitrate, "1M");
    assert_int_equal(cfg->ports[0].preview.hls.list_size, 5);
    assert_float_equal(cfg->ports[0].preview.hls.segment_seconds, 1, 1e-9);
    config_free(&cfg);
}

static void test_merge_port_preview(void **state)
{
    (void)state;
    struct hlsd_config *cfg = load_ok("merge_ports.yaml");
    assert_int_equal(cfg->n_ports, 2);
    const struct cfg_port *one = config_find_port(cfg, 1), *zero = config_find_port(cfg, 0);
    assert_ptr_equal(one, &cfg->ports[0]); /* file order is kept */
    assert_string_equal(one->name, "one");
    assert_null(one->audio_input); /* the default port's audio input is not inherited */
    assert_int_equal(one->preview.video.width, 854);
    assert_int_equal(one->preview.video.height, 480);
    assert_float_equal(one->preview.hls.segment_seconds, 6, 1e-9);
    assert_int_equal(one->preview.hls.list_size, 3);
    assert_string_equal(zero->name, "zero");
    assert_int_equal(zero->preview.video.width, 854);  /* from the global block */
    assert_int_equal(zero->preview.video.height, 360); /* its own */
    assert_float_equal(zero->preview.hls.segment_seconds, 6, 1e-9);
    assert_int_equal(zero->preview.hls.list_size, 10);
    assert_string_equal(zero->preview.video.bitrate, "5M"); /* embedded default */
    config_free(&cfg);
}

static void test_empty_port_list_and_nulls(void **state)
{
    (void)state;
    struct hlsd_config *cfg = NULL;
    char err[256];
    assert_int_equal(config_load_string("ports: []\nweb_dir: ~\nvod: {watch_dirs: [/a]}\n", "s",
                                        &cfg, err, sizeof(err)),
                     0);
    assert_int_equal(cfg->n_ports, 0);
    assert_null(cfg->web_dir);
    assert_int_equal(cfg->vod.n_watch_dirs, 1);
    config_free(&cfg);
    assert_int_equal(config_load_string("listen: \"[::1]:8443\"\n", "s", &cfg, err, sizeof(err)),
                     0);
    assert_string_equal(cfg->listen_addr, "::1");
    assert_int_equal(cfg->listen_port, 8443);
    config_free(&cfg);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct hlsd_config *cfg = (struct hlsd_config *)0x1;
    char err[512];
    const char *path = cfg_path("does-not-exist.yaml");
    int r = config_load(path, &cfg, err, sizeof(err));
    assert_int_equal(r, -ENOENT);
    assert_null(cfg);
    char want[4200];
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(err, want);
}

struct bad_case {
    const char *file;
    int line;
    const char *needle;
};

static const struct bad_case bad_cases[] = {
    {"bad_syntax.yaml", 5, "did not find expected '-' indicator"},
    {"bad_tab.yaml", 2, "tab"},
    {"bad_unknown_top.yaml", 3, "unknown key 'listenn'"},
    {"bad_unknown_nested.yaml", 3, "unknown key 'widht' in preview.video"},
    {"bad_unknown_port_key.yaml", 5, "unknown key 'ondemand' in ports[0]"},
    {"bad_not_list.yaml", 2, "ports: expected a list, got a mapping"},
    {"bad_not_mapping.yaml", 2, "preview: expected a mapping"},
    {"bad_not_scalar.yaml", 1, "state_dir: expected a single value, got a list"},
    {"bad_int_type.yaml", 3, "preview.hls.list_size: expected a whole number (got 'three')"},
    {"bad_bool_type.yaml", 5, "ports[0].on_demand: expected true or false (got 'maybe')"},
    {"bad_segment_range.yaml", 3, "preview.hls.segment_seconds: must be between 0.5 and 60"},
    {"bad_segment_range_high.yaml", 3, "segment_seconds: must be between 0.5 and 60 (got 61)"},
    /* A port's preview is held to the live worker's bounds (core/jobspec.c):
     * refused at load, not when the worker starts. */
    {"bad_port_segment.yaml", 7,
     "ports[0].preview.hls.segment_seconds: must be between 0.5 and 60 (got 0.3)"},
    {"bad_port_stall.yaml", 6, "ports[0].preview.stall_timeout: must be between 0.5 and 3600"},
    {"bad_backoff_long.yaml", 2, "preview.backoff: at most 32 values (got 33)"},
    {"bad_audio_bitrate.yaml", 2, "vod.audio_bitrate: must be between 16000 and 512000"},
    {"bad_list_size.yaml", 3, "preview.hls.list_size: must be between 1 and 100 (got 101)"},
    {"bad_width_odd.yaml", 3, "preview.video.width: must be even (got 641)"},
    {"bad_height_range.yaml", 3, "preview.video.height: must be between 16 and 8192"},
    {"bad_crf.yaml", 2, "vod.crf: must be between 0 and 51 (got 52)"},
    {"bad_index_range.yaml", 2, "ports[0].index: must be between 0 and 255 (got 256)"},
    {"bad_index_dup.yaml", 5, "ports[1]: index 1 is already used by ports[0]"},
    {"bad_name_dup.yaml", 5, "ports[1]: name 'a' is already used by ports[0]"},
    {"bad_name_unsafe.yaml", 3, "ports[0].name: '../etc' is not a valid name"},
    {"bad_no_url.yaml", 4, "ports[0].input: url is required"},
    {"bad_no_index.yaml", 2, "ports[0]: index is required"},
    {"bad_token.yaml", 4, "auth.users[0].token_sha256: expected the token's SHA-256"},
    {"bad_token_hex.yaml", 4, "token_sha256: expected the token's SHA-256 as 64 hex"},
    {"bad_role.yaml", 4, "auth.users[0].role: must be admin or viewer (got 'root')"},
    {"bad_camera_name.yaml", 4, "auth.users[0].cameras[1]: 'bad/name' is not a valid name"},
    {"bad_variant.yaml", 3, "must be one of mpegts, fmp4, lowlatency (got 'dash')"},
    {"bad_listen.yaml", 1, "listen: expected ADDRESS:PORT"},
    {"bad_bitrate.yaml", 3, "preview.audio.bitrate: expected a bit rate"},
    {"bad_root_list.yaml", 1, "must be a mapping"},
    {"bad_log_level.yaml", 1, "log_level: must be one of error, warn, info, debug"},
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        struct hlsd_config *cfg = NULL;
        char err[512] = "", prefix[4200];
        const char *path = cfg_path(bc->file);
        snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bc->line);
        int r = config_load(path, &cfg, err, sizeof(err));
        if (r != -EINVAL || cfg || strncmp(err, prefix, strlen(prefix)) != 0 ||
            !strstr(err, bc->needle))
            fail_msg("%s: got r=%d err='%s'; want '%s...%s'", bc->file, r, err, prefix, bc->needle);
    }
}

/* libfyaml must not print its own diagnostics: the message goes into err only. */
static void test_syntax_error_is_silent(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/hlsd-test-config-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    struct hlsd_config *cfg = NULL;
    char err[512] = "";
    int r = config_load_string("a: [1, 2\nb: {\n", "inline", &cfg, err, sizeof(err));
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    unlink(tmpl);
    assert_int_equal(r, -EINVAL);
    assert_null(cfg);
    assert_true(strncmp(err, "inline:", 7) == 0);
    assert_int_equal(st.st_size, 0);
}

/* Truncated err buffers and a NULL err are handled. */
static void test_small_err_buffer(void **state)
{
    (void)state;
    struct hlsd_config *cfg = NULL;
    char err[8];
    assert_int_equal(config_load_string("nope: 1\n", "x", &cfg, err, sizeof(err)), -EINVAL);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(config_load_string("nope: 1\n", "x", &cfg, NULL, 0), -EINVAL);
    assert_null(cfg);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* The last ```yaml block of docs/CONFIG.md shows the embedded defaults and the
 * one before it full.yaml: keep the documentation true. */
static void test_docs_match(void **state)
{
    (void)state;
    char path[4096];
    const char *root = getenv("HLSD_SOURCE_ROOT");
    snprintf(path, sizeof(path), "%s/docs/CONFIG.md", root ? root : ".");
    char *doc = read_text(path);
    char *blocks[8];
    size_t nb = 0;
    for (char *p = doc; nb < 8 && (p = strstr(p, "```yaml\n"));) {
        p += 8;
        char *end = strstr(p, "```");
        assert_non_null(end);
        *end = '\0';
        blocks[nb++] = p;
        p = end + 3;
    }
    assert_true(nb >= 2);
    /* Both sources start with a comment line the docs leave out. */
    const char *embedded = strchr(config_embedded_yaml, '\n') + 1;
    assert_string_equal(blocks[nb - 1], embedded);
    char *full = read_text(cfg_path("full.yaml"));
    assert_string_equal(blocks[nb - 2], strchr(full, '\n') + 1);
    free(full);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_defaults),
        cmocka_unit_test(test_embedded_string_and_empty_file),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_merge_global_preview_keeps_default_port),
        cmocka_unit_test(test_merge_port_preview),
        cmocka_unit_test(test_empty_port_list_and_nulls),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_syntax_error_is_silent),
        cmocka_unit_test(test_small_err_buffer),
        cmocka_unit_test(test_docs_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
