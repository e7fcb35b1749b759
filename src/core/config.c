/* Configuration loading: the embedded defaults (every key, so the defaults
 * live in one place) are applied first, then the user's file over them. The
 * schema is in config_schema.c, the walker that applies it in config_parse.c. */
#include "core/config.h"
#include "core/config_priv.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keep in sync with docs/CONFIG.md, which shows this text. */
const char config_embedded_yaml[] =
    "# hlsd embedded defaults: a file given with --config is applied over these.\n"
    "listen: \"127.0.0.1:8080\"\n"
    "state_dir: ./state\n"
    "log_level: info\n"
    "web_dir: null            # null = the built-in location of the web page\n"
    "metrics:\n"
    "  loopback: true         # /metrics answers loopback clients without a token\n"
    "preview:                 # defaults of every port's live preview\n"
    "  video:\n"
    "    encoder: libx264\n"
    "    preset: ultrafast\n"
    "    tune: zerolatency\n"
    "    bitrate: 5M          # null = constant quality (crf)\n"
    "    crf: 23\n"
    "    width: 1280          # a box: fit inside, never upscale\n"
    "    height: 720\n"
    "  audio:\n"
    "    bitrate: 128k\n"
    "  hls:\n"
    "    variant: lowlatency  # lowlatency (LL-HLS) | fmp4 | mpegts\n"
    "    segment_seconds: 1\n"
    "    part_seconds: 0.333  # lowlatency only\n"
    "    list_size: 3\n"
    "    delete_segments: true\n"
    "  stall_timeout: 5\n"
    "  io_timeout: 5\n"
    "  backoff: [1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 30]\n"
    "  idle_seconds: 30\n"
    "  start_timeout: 20\n"
    "ports:\n"
    "  - index: 0\n"
    "    name: studio-a\n"
    "    input: { format: lavfi, url: \"testsrc2=size=1280x720:rate=30\", options: {} }\n"
    "    audio_input: { format: lavfi, url: \"sine=frequency=440:sample_rate=48000\" }\n"
    "    on_demand: false\n"
    "vod:\n"
    "  max_concurrent: 3\n"
    "  ready_timeout: 30\n"
    "  max_range: 86400\n"
    "  ttl: 600\n"
    "  pause_release_seconds: 20  # a paused worker nobody asks anything of exits\n"
    "  max_sessions_per_user: 2   # a user's new session replaces their own oldest idle one\n"
    "  shared_dir: null           # cluster: folder shared by the nodes (session key, registry)\n"
    "  lookahead: 10\n"
    "  nice: 10\n"
    "  segment_seconds: 6             # copies: passthrough, the HEVC rendition\n"
    "  transcode_segment_seconds: 1   # transcodes: a seek waits for one short segment\n"
    "  fast_start: [1, 2, 3]\n"
    "  max_height: 720\n"
    "  crf: 26\n"
    "  preset: ultrafast\n"
    "  encoder: libx264\n"
    "  audio_bitrate: 128k\n"
    "  passthrough: true\n"
    "  hevc_variant: true\n"
    "  watch_dirs: []\n"
    "  sample_recording: true\n"
    "  export_max_seconds: 3600   # longest clip export (/api/export)\n"
    "  export_ttl: 600            # a finished export file is kept this long\n"
    "  export_timeout: 900        # a download waits this long for its export (then 504)\n"
    "  export_max_concurrent: 2   # export workers at once, remuxes included (then 429)\n"
    "  export_max_per_user: 2     # a user's export workers at once; 0 = unlimited\n"
    "  export_max_mb: 10240       # files kept in exports/; the oldest finished go first\n"
    "  export_min_free_mb: 1024   # free space an export must leave on its disk (else 507)\n"
    "auth:\n"
    "  enabled: true          # no users: an admin token is generated at first start\n"
    "  users: []\n"
    "  login_attempts_per_minute: 10\n"
    "limits:\n"
    "  max_connections: 1024\n"
    "  connection_timeout: 30\n"
    "  max_request_bytes: 65536\n"
    "  connection_memory: 32768\n"
    "  per_ip_connections: 32   # trusted proxies are exempt\n"
    "  header_timeout: 10       # seconds to send a whole request\n"
    "server:\n"
    "  hosts: []              # accepted Host names; [] = localhost names on loopback, any "
    "otherwise\n"
    "  trusted_proxies: []    # peers whose X-Forwarded-For names the client\n"
    "  node: null             # cluster: this node's name (label of /metrics)\n"
    "workers:\n"
    "  memory_mb: 2048\n"
    "  cpu_seconds: 0\n";

#define CONFIG_MAX_BYTES (1 << 20)
#define EMBEDDED_NAME "<embedded>"

void cfg_strv_free(char ***v, size_t *n)
{
    for (size_t i = 0; *v && i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

void cfg_options_free(struct cfg_input *in)
{
    for (size_t i = 0; i < in->n_options; i++) {
        free(in->options[i].key);
        free(in->options[i].value);
    }
    free(in->options);
    in->options = NULL;
    in->n_options = 0;
}

void cfg_input_clear(struct cfg_input *in)
{
    free(in->format);
    free(in->url);
    cfg_options_free(in);
    memset(in, 0, sizeof(*in));
}

void cfg_input_free(struct cfg_input **in)
{
    if (!in || !*in)
        return;
    cfg_input_clear(*in);
    free(*in);
    *in = NULL;
}

void cfg_preview_clear(struct cfg_preview *p)
{
    free(p->video.encoder);
    free(p->video.preset);
    free(p->video.tune);
    free(p->video.bitrate);
    free(p->audio_bitrate);
    free(p->hls.variant);
    free(p->backoff);
    memset(p, 0, sizeof(*p));
}

void cfg_preview_copy(struct cfg_preview *dst, const struct cfg_preview *src)
{
    *dst = *src;
    dst->video.encoder = util_xstrdup(src->video.encoder);
    dst->video.preset = util_xstrdup(src->video.preset);
    dst->video.tune = util_xstrdup(src->video.tune);
    dst->video.bitrate = util_xstrdup(src->video.bitrate);
    dst->audio_bitrate = util_xstrdup(src->audio_bitrate);
    dst->hls.variant = util_xstrdup(src->hls.variant);
    dst->backoff = NULL;
    if (src->n_backoff) {
        dst->backoff = malloc(src->n_backoff * sizeof(*dst->backoff));
        if (!dst->backoff)
            abort(); /* configuration-sized, like util_xstrdup */
        memcpy(dst->backoff, src->backoff, src->n_backoff * sizeof(*dst->backoff));
    }
}

void cfg_ports_free(struct cfg_port **ports, size_t *n)
{
    for (size_t i = 0; *ports && i < *n; i++) {
        struct cfg_port *p = &(*ports)[i];
        free(p->name);
        cfg_input_clear(&p->input);
        cfg_input_free(&p->audio_input);
        cfg_preview_clear(&p->preview);
    }
    free(*ports);
    *ports = NULL;
    *n = 0;
}

void cfg_users_free(struct cfg_user **users, size_t *n)
{
    for (size_t i = 0; *users && i < *n; i++) {
        struct cfg_user *u = &(*users)[i];
        free(u->name);
        cfg_strv_free(&u->cameras, &u->n_cameras);
        free(u->token_sha256);
    }
    free(*users);
    *users = NULL;
    *n = 0;
}

void config_free(struct hlsd_config **cfgp)
{
    struct hlsd_config *cfg = cfgp ? *cfgp : NULL;
    if (!cfg)
        return;
    free(cfg->source);
    free(cfg->listen_addr);
    free(cfg->state_dir);
    free(cfg->log_level);
    free(cfg->web_dir);
    cfg_preview_clear(&cfg->preview);
    cfg_ports_free(&cfg->ports, &cfg->n_ports);
    free(cfg->vod.fast_start);
    free(cfg->vod.preset);
    free(cfg->vod.encoder);
    free(cfg->vod.audio_bitrate);
    cfg_strv_free(&cfg->vod.watch_dirs, &cfg->vod.n_watch_dirs);
    cfg_users_free(&cfg->auth.users, &cfg->auth.n_users);
    cfg_strv_free(&cfg->server.hosts, &cfg->server.n_hosts);
    free(cfg->server.node);
    free(cfg->vod.shared_dir);
    cfg_strv_free(&cfg->server.trusted_proxies, &cfg->server.n_trusted_proxies);
    free(cfg);
    *cfgp = NULL;
}

const struct cfg_port *config_find_port(const struct hlsd_config *cfg, int index)
{
    for (size_t i = 0; cfg && i < cfg->n_ports; i++)
        if (cfg->ports[i].index == index)
            return &cfg->ports[i];
    return NULL;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629:
 * no overlong forms, surrogates or code points above U+10FFFF), or of a NUL
 * byte; len when there is none. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return i;
        if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* Parses text into *doc (NULL for an empty document). libfyaml's own
 * diagnostics are collected instead of printed, and the first becomes err. */
static int parse_yaml(const char *text, size_t len, const char *name, struct fy_document **doc,
                      char *err, size_t errlen)
{
    struct fy_diag_cfg dcfg;
    struct fy_diag *diag = NULL;
    struct fy_diag_error *e;
    void *it = NULL;
    int ret = 0;

    *doc = NULL;
    /* YAML is Unicode text; libfyaml 0.7.12 also loops forever on some
     * invalid UTF-8 (e.g. after a '%' directive), so refuse it first. */
    size_t bad = utf8_invalid_at((const unsigned char *)text, len);
    if (bad < len) {
        int line = 1, col = 1;
        for (size_t i = 0; i < bad; i++, col++)
            if (text[i] == '\n')
                line++, col = 0;
        snprintf(err, errlen, "%s:%d: not valid UTF-8 text (byte 0x%02x, column %d)", name, line,
                 (unsigned char)text[bad], col);
        return -EINVAL;
    }
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_discard;
    dcfg.colorize = false;
    diag = fy_diag_create(&dcfg);
    if (!diag)
        return -ENOMEM;
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg = {
        .flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT | FYPCF_JSON_NONE,
        .diag = diag,
    };
    *doc = fy_document_build_from_string(&pcfg, text, len);
    if (!*doc && (e = fy_diag_errors_iterate(diag, &it))) {
        if (e->line > 0)
            snprintf(err, errlen, "%s:%d: %s (column %d)", name, e->line, e->msg, e->column);
        else
            snprintf(err, errlen, "%s: %s", name, e->msg);
        ret = -EINVAL;
    } else if (*doc && fy_document_root(*doc) && fy_node_is_scalar(fy_document_root(*doc)) &&
               fy_node_get_scalar0(fy_document_root(*doc)) &&
               !*fy_node_get_scalar0(fy_document_root(*doc))) {
        /* A file of comments only: nothing to apply. */
        fy_document_destroy(*doc);
        *doc = NULL;
    }
    /* Collected errors hold token references that only this releases. */
    fy_diag_set_collect_errors(diag, false);
    fy_diag_unref(diag);
    return ret;
}

static int apply_text(const char *text, size_t len, const char *name, struct cfg_ctx *c,
                      struct fy_document **doc, struct hlsd_config *cfg)
{
    int r = parse_yaml(text, len, name, doc, c->err, c->errlen);
    if (r < 0 || !*doc)
        return r;
    struct fy_node *root = fy_document_root(*doc);
    if (root && !fy_node_is_mapping(root))
        return cfg_fail(c, root,
                        "the configuration must be a mapping of keys (listen: ..., "
                        "ports: ..., ...)");
    return cfg_apply_document(c, root, cfg);
}

/* Embedded defaults, then text (NULL = none) named name. */
static int load_overlay(const char *text, size_t len, const char *name, struct hlsd_config **out,
                        char *err, size_t errlen)
{
    struct hlsd_config *cfg = NULL;
    struct fy_document *edoc = NULL, *udoc = NULL;
    struct cfg_ctx ec = {.name = EMBEDDED_NAME, .err = err, .errlen = errlen};
    struct cfg_ctx uc = {.name = name, .err = err, .errlen = errlen};
    int r;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    else
        ec.err = uc.err = NULL, ec.errlen = uc.errlen = 0;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return -ENOMEM;
    r = apply_text(config_embedded_yaml, strlen(config_embedded_yaml), EMBEDDED_NAME, &ec, &edoc,
                   cfg);
    if (r < 0)
        goto fail;
    if (text) {
        r = apply_text(text, len, name, &uc, &udoc, cfg);
        if (r < 0)
            goto fail;
    }
    /* Ports last, so each starts from the final global preview block. */
    r = cfg_apply_ports(uc.seen_ports ? &uc : &ec, cfg);
    if (r < 0)
        goto fail;
    cfg->source = util_xstrdup(text ? name : EMBEDDED_NAME);
    fy_document_destroy(udoc);
    fy_document_destroy(edoc);
    *out = cfg;
    return 0;
fail:
    if (r != -EINVAL && err && errlen && !err[0])
        snprintf(err, errlen, "%s: %s", text ? name : EMBEDDED_NAME, strerror(-r));
    fy_document_destroy(udoc);
    fy_document_destroy(edoc);
    config_free(&cfg);
    return r;
}

int config_load(const char *path, struct hlsd_config **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r;

    if (!path)
        return load_overlay(NULL, 0, NULL, out, err, errlen);
    *out = NULL;
    r = util_read_file(path, CONFIG_MAX_BYTES, &text, &len);
    if (r < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path,
                     r == -EFBIG ? "larger than 1 MiB, not a configuration file" : strerror(-r));
        return r;
    }
    r = load_overlay(text, len, path, out, err, errlen);
    free(text);
    return r;
}

int config_load_string(const char *yaml, const char *name, struct hlsd_config **out, char *err,
                       size_t errlen)
{
    if (!yaml) {
        *out = NULL;
        return -EINVAL;
    }
    return load_overlay(yaml, strlen(yaml), name ? name : "<string>", out, err, errlen);
}
