/* The configuration schema: one table per block, with each key's type and
 * range, plus the keys that need code (lists, ports, users, listen). Applied
 * by the walker in config_parse.c. */
#include "core/config_priv.h"
#include "core/jobspec.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- preview ------------------------------------------------------------------------- */

/* A list of numbers that becomes the job option `job`: its item range and
 * its longest length. */
static int set_job_list(struct cfg_ctx *c, struct fy_node *v, const char *path, const char *job,
                        bool need_one, double **arr, size_t *n)
{
    const struct jobspec_opt *o = jobspec_lookup(job);
    if (!o)
        return cfg_fail(c, v, "%s: the schema names an unknown job option %s", path, job);
    int r = cfg_set_double_list(c, v, path, o->min, o->max, need_one, arr, n);
    if (r == 0 && *n > o->max_count)
        return cfg_fail(c, v, "%s: at most %zu values (got %zu)", path, o->max_count, *n);
    return r;
}

static int set_backoff(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_preview *p = base;
    return set_job_list(c, v, path, "live.backoff", true, &p->backoff, &p->n_backoff);
}

static int check_preview(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_preview *p = base;
    if (p->hls.variant && !strcmp(p->hls.variant, "lowlatency") &&
        p->hls.part_seconds >= p->hls.segment_seconds)
        return cfg_fail(c, v, "%s.hls: part_seconds (%g) must be shorter than segment_seconds (%g)",
                        path, p->hls.part_seconds, p->hls.segment_seconds);
    return 0;
}

#define VID(m) offsetof(struct cfg_video, m)
static const struct cfg_field video_fields[] = {
    {.key = "encoder", .type = F_STR, .off = VID(encoder)},
    {.key = "preset", .type = F_STR, .off = VID(preset)},
    {.key = "tune", .type = F_STR_OPT, .off = VID(tune)},
    {.key = "bitrate", .type = F_BITRATE_OPT, .off = VID(bitrate), .job = "live.video.bitrate"},
    {.key = "crf", .type = F_INT, .off = VID(crf), .job = "live.video.crf"},
    {.key = "width", .type = F_INT, .off = VID(width), .min = 16, .max = 8192, .flags = FL_EVEN},
    {.key = "height", .type = F_INT, .off = VID(height), .min = 16, .max = 8192, .flags = FL_EVEN},
    {0},
};

static const struct cfg_field audio_fields[] = {
    {.key = "bitrate",
     .type = F_BITRATE,
     .off = offsetof(struct cfg_preview, audio_bitrate),
     .job = "live.audio.bitrate"},
    {0},
};

#define HLS(m) offsetof(struct cfg_hls, m)
static const struct cfg_field hls_fields[] = {
    {.key = "variant", .type = F_CHOICE, .off = HLS(variant), .job = "live.hls.variant"},
    {.key = "segment_seconds",
     .type = F_DOUBLE,
     .off = HLS(segment_seconds),
     .job = "live.hls.segment_seconds"},
    {.key = "part_seconds",
     .type = F_DOUBLE,
     .off = HLS(part_seconds),
     .job = "live.hls.part_seconds"},
    {.key = "list_size", .type = F_INT, .off = HLS(list_size), .job = "live.hls.list_size"},
    {.key = "delete_segments", .type = F_BOOL, .off = HLS(delete_segments)},
    {0},
};

#define PRV(m) offsetof(struct cfg_preview, m)
static const struct cfg_field preview_fields[] = {
    {.key = "video", .type = F_SECTION, .off = PRV(video), .sub = video_fields},
    {.key = "audio", .type = F_SECTION, .off = 0, .sub = audio_fields},
    {.key = "hls", .type = F_SECTION, .off = PRV(hls), .sub = hls_fields},
    {.key = "stall_timeout",
     .type = F_DOUBLE,
     .off = PRV(stall_timeout),
     .job = "live.stall_timeout"},
    {.key = "io_timeout", .type = F_DOUBLE, .off = PRV(io_timeout), .job = "live.io_timeout"},
    {.key = "backoff", .type = F_CUSTOM, .fn = set_backoff},
    {.key = "idle_seconds", .type = F_DOUBLE, .off = PRV(idle_seconds), .min = 1, .max = 86400},
    {.key = "start_timeout", .type = F_DOUBLE, .off = PRV(start_timeout), .min = 0.1, .max = 600},
    {0},
};

/* ---- ports --------------------------------------------------------------------------- */

static int set_options(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_input *in = base;
    void *it = NULL;
    struct fy_node_pair *pair;
    cfg_options_free(in);
    if (cfg_is_null(v))
        return 0;
    if (!fy_node_is_mapping(v))
        return cfg_fail(c, v, "%s: expected a mapping of demuxer options, got a %s", path,
                        cfg_kind(v));
    int count = fy_node_mapping_item_count(v);
    if (count <= 0)
        return 0;
    in->options = calloc((size_t)count, sizeof(*in->options));
    if (!in->options)
        return -ENOMEM;
    while ((pair = fy_node_mapping_iterate(v, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *val = fy_node_pair_value(pair);
        const char *ks, *vs;
        char sub[256];
        int r;
        if ((r = cfg_get_scalar(c, k, path, &ks)) < 0)
            return r;
        cfg_join_path(sub, sizeof(sub), path, ks);
        if (!*ks)
            return cfg_fail(c, k, "%s: option names must not be empty", path);
        if (cfg_is_null(val))
            vs = "";
        else if ((r = cfg_get_scalar(c, val, sub, &vs)) < 0)
            return r;
        in->options[in->n_options].key = util_xstrdup(ks);
        in->options[in->n_options].value = util_xstrdup(vs);
        in->n_options++;
    }
    return 0;
}

#define INP(m) offsetof(struct cfg_input, m)
static const struct cfg_field input_fields[] = {
    {.key = "format", .type = F_STR_OPT, .off = INP(format)},
    {.key = "url", .type = F_STR, .off = INP(url)},
    {.key = "options", .type = F_CUSTOM, .fn = set_options},
    {0},
};

static int parse_input(struct cfg_ctx *c, struct fy_node *v, struct cfg_input *in, const char *path)
{
    if (cfg_is_null(v))
        return cfg_fail(c, v, "%s: expected a mapping with format, url and options", path);
    int r = cfg_apply_mapping(c, v, input_fields, in, path);
    if (r < 0)
        return r;
    if (!in->url)
        return cfg_fail(c, v, "%s: url is required", path);
    return 0;
}

static int set_input(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_port *port = base;
    return parse_input(c, v, &port->input, path);
}

static int set_audio_input(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_port *port = base;
    cfg_input_free(&port->audio_input);
    if (cfg_is_null(v))
        return 0;
    port->audio_input = calloc(1, sizeof(*port->audio_input));
    if (!port->audio_input)
        return -ENOMEM;
    return parse_input(c, v, port->audio_input, path);
}

static int set_port_preview(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_port *port = base;
    int r = cfg_apply_mapping(c, v, preview_fields, &port->preview, path);
    return r < 0 ? r : check_preview(c, v, &port->preview, path);
}

#define PRT(m) offsetof(struct cfg_port, m)
static const struct cfg_field port_fields[] = {
    {.key = "index", .type = F_INT, .off = PRT(index), .min = 0, .max = 255},
    {.key = "name", .type = F_NAME, .off = PRT(name)},
    {.key = "input", .type = F_CUSTOM, .fn = set_input},
    {.key = "audio_input", .type = F_CUSTOM, .fn = set_audio_input},
    {.key = "on_demand", .type = F_BOOL, .off = PRT(on_demand)},
    {.key = "preview", .type = F_CUSTOM, .fn = set_port_preview},
    {0},
};

static int set_ports(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    (void)base;
    (void)path;
    c->ports = v;
    c->ports_line = c->line;
    c->seen_ports = 1;
    return 0;
}

int cfg_apply_ports(struct cfg_ctx *c, struct hlsd_config *cfg)
{
    struct fy_node *v = c->ports, *item;
    void *it = NULL, *mem;
    int r;
    cfg_ports_free(&cfg->ports, &cfg->n_ports);
    c->line = c->ports_line;
    if ((r = cfg_list_alloc(c, v, "ports", false, sizeof(*cfg->ports), &mem)) <= 0)
        return r;
    cfg->ports = mem;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        size_t i = cfg->n_ports++;
        struct cfg_port *p = &cfg->ports[i];
        char path[64];
        snprintf(path, sizeof(path), "ports[%zu]", i);
        p->index = -1;
        cfg_preview_copy(&p->preview, &cfg->preview);
        if (!fy_node_is_mapping(item))
            return cfg_fail(c, item, "%s: expected a mapping with index, name and input, got a %s",
                            path, cfg_kind(item));
        if ((r = cfg_apply_mapping(c, item, port_fields, p, path)) < 0)
            return r;
        if (p->index < 0)
            return cfg_fail(c, item, "%s: index is required", path);
        if (!p->name)
            return cfg_fail(c, item, "%s: name is required", path);
        if (!p->input.url)
            return cfg_fail(c, item, "%s: input is required", path);
        for (size_t j = 0; j < i; j++) {
            if (cfg->ports[j].index == p->index)
                return cfg_fail(c, item, "%s: index %d is already used by ports[%zu]", path,
                                p->index, j);
            if (!strcmp(cfg->ports[j].name, p->name))
                return cfg_fail(c, item, "%s: name '%s' is already used by ports[%zu]", path,
                                p->name, j);
        }
    }
    return 0;
}

/* ---- top level ----------------------------------------------------------------------- */

static int set_listen(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct hlsd_config *cfg = base;
    const char *s, *colon;
    char addr[256];
    long port;
    int r = cfg_is_null(v) ? cfg_fail(c, v, "%s: a value is required", path)
                           : cfg_get_scalar(c, v, path, &s);
    if (r < 0)
        return r;
    size_t alen;
    if (s[0] == '[') { /* [::1]:8080 */
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            goto bad;
        alen = (size_t)(close - s - 1);
        if (alen == 0 || alen >= sizeof(addr))
            goto bad;
        memcpy(addr, s + 1, alen);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            goto bad;
        alen = (size_t)(colon - s);
        /* an IPv6 address needs brackets */
        if (alen == 0 || alen >= sizeof(addr) || memchr(s, ':', alen))
            goto bad;
        memcpy(addr, s, alen);
    }
    addr[alen] = '\0';
    if (util_parse_int(colon + 1, 1, 65535, &port) < 0)
        goto bad;
    cfg_set_str(&cfg->listen_addr, addr);
    cfg->listen_port = (int)port;
    return 0;
bad:
    return cfg_fail(
        c, v, "%s: expected ADDRESS:PORT such as 127.0.0.1:8080 or [::1]:8080 (got '%s')", path, s);
}

static int set_fast_start(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_vod *vod = base;
    return set_job_list(c, v, path, "vod.fast_start", false, &vod->fast_start, &vod->n_fast_start);
}

static int set_watch_dirs(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_vod *vod = base;
    return cfg_set_str_list(c, v, path, false, &vod->watch_dirs, &vod->n_watch_dirs);
}

#define VOD(m) offsetof(struct cfg_vod, m)
#define VOD_CFG_MAX_SESSIONS_PER_USER 64
static const struct cfg_field vod_fields[] = {
    {.key = "max_concurrent", .type = F_INT, .off = VOD(max_concurrent), .min = 1, .max = 64},
    {.key = "ready_timeout", .type = F_DOUBLE, .off = VOD(ready_timeout), .min = 0.1, .max = 3600},
    {.key = "max_range", .type = F_DOUBLE, .off = VOD(max_range), .min = 1, .max = 2678400},
    {.key = "ttl", .type = F_DOUBLE, .off = VOD(ttl), .min = 1, .max = 604800},
    {.key = "pause_release_seconds",
     .type = F_DOUBLE,
     .off = VOD(pause_release_seconds),
     .min = 1,
     .max = 86400},
    {.key = "shared_dir", .type = F_STR_OPT, .off = VOD(shared_dir)},
    {.key = "max_sessions_per_user",
     .type = F_INT,
     .off = VOD(max_sessions_per_user),
     .min = 0,
     .max = VOD_CFG_MAX_SESSIONS_PER_USER},
    {.key = "lookahead", .type = F_INT, .off = VOD(lookahead), .job = "vod.lookahead"},
    {.key = "nice", .type = F_INT, .off = VOD(nice), .min = -20, .max = 19},
    {.key = "segment_seconds",
     .type = F_DOUBLE,
     .off = VOD(segment_seconds),
     .job = "vod.segment_seconds"},
    {.key = "transcode_segment_seconds",
     .type = F_DOUBLE,
     .off = VOD(transcode_segment_seconds),
     .job = "vod.transcode_segment_seconds"},
    {.key = "fast_start", .type = F_CUSTOM, .fn = set_fast_start},
    {.key = "max_height",
     .type = F_INT,
     .off = VOD(max_height),
     .min = 16,
     .max = 8192,
     .flags = FL_EVEN},
    {.key = "crf", .type = F_INT, .off = VOD(crf), .job = "vod.video.crf"},
    {.key = "preset", .type = F_STR, .off = VOD(preset)},
    {.key = "encoder", .type = F_STR, .off = VOD(encoder)},
    {.key = "audio_bitrate",
     .type = F_BITRATE,
     .off = VOD(audio_bitrate),
     .job = "vod.audio.bitrate"},
    {.key = "passthrough", .type = F_BOOL, .off = VOD(passthrough)},
    {.key = "hevc_variant", .type = F_BOOL, .off = VOD(hevc_variant)},
    {.key = "watch_dirs", .type = F_CUSTOM, .fn = set_watch_dirs},
    {.key = "sample_recording", .type = F_BOOL, .off = VOD(sample_recording)},
    {.key = "export_max_seconds",
     .type = F_DOUBLE,
     .off = VOD(export_max_seconds),
     .min = 1,
     .max = 86400},
    {.key = "export_ttl", .type = F_DOUBLE, .off = VOD(export_ttl), .min = 1, .max = 604800},
    {.key = "export_timeout", .type = F_DOUBLE, .off = VOD(export_timeout), .min = 1, .max = 86400},
    {.key = "export_max_concurrent",
     .type = F_INT,
     .off = VOD(export_max_concurrent),
     .min = 1,
     .max = 64},
    {.key = "export_max_per_user",
     .type = F_INT,
     .off = VOD(export_max_per_user),
     .min = 0,
     .max = 64},
    {.key = "export_max_mb", .type = F_LONG, .off = VOD(export_max_mb), .min = 1, .max = 1e9},
    {.key = "export_min_free_mb",
     .type = F_LONG,
     .off = VOD(export_min_free_mb),
     .min = 0,
     .max = 1e9},
    {0},
};

static int set_role(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_user *u = base;
    const char *s;
    int r = cfg_get_scalar(c, v, path, &s);
    if (r < 0)
        return r;
    if (!strcmp(s, "admin"))
        u->role = CFG_ROLE_ADMIN;
    else if (!strcmp(s, "viewer"))
        u->role = CFG_ROLE_VIEWER;
    else
        return cfg_fail(c, v, "%s: must be admin or viewer (got '%s')", path, s);
    return 0;
}

static int set_cameras(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_user *u = base;
    return cfg_set_str_list(c, v, path, true, &u->cameras, &u->n_cameras);
}

static int set_token_hash(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_user *u = base;
    const char *s;
    int r = cfg_get_scalar(c, v, path, &s);
    if (r < 0)
        return r;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            n = 0;
    if (n != 64)
        return cfg_fail(c, v,
                        "%s: expected the token's SHA-256 as 64 hex characters "
                        "(e.g. from `printf %%s TOKEN | sha256sum`)",
                        path);
    cfg_set_str(&u->token_sha256, s);
    for (char *p = u->token_sha256; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

#define USR(m) offsetof(struct cfg_user, m)
static const struct cfg_field user_fields[] = {
    {.key = "name", .type = F_NAME, .off = USR(name)},
    {.key = "role", .type = F_CUSTOM, .fn = set_role},
    {.key = "cameras", .type = F_CUSTOM, .fn = set_cameras},
    {.key = "token_sha256", .type = F_CUSTOM, .fn = set_token_hash},
    {0},
};

static int set_users(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_auth *a = base;
    struct fy_node *item;
    void *it = NULL, *mem;
    int r;
    cfg_users_free(&a->users, &a->n_users);
    if ((r = cfg_list_alloc(c, v, path, false, sizeof(*a->users), &mem)) <= 0)
        return r;
    a->users = mem;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        size_t i = a->n_users++;
        struct cfg_user *u = &a->users[i];
        char sub[256];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        u->role = CFG_ROLE_VIEWER;
        if (!fy_node_is_mapping(item))
            return cfg_fail(c, item, "%s: expected a mapping with name, role and token_sha256",
                            sub);
        if ((r = cfg_apply_mapping(c, item, user_fields, u, sub)) < 0)
            return r;
        if (!u->name)
            return cfg_fail(c, item, "%s: name is required", sub);
        if (!u->token_sha256)
            return cfg_fail(c, item, "%s: token_sha256 is required", sub);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(a->users[j].name, u->name))
                return cfg_fail(c, item, "%s: name '%s' is already used by %s[%zu]", sub, u->name,
                                path, j);
            if (!strcmp(a->users[j].token_sha256, u->token_sha256))
                return cfg_fail(c, item, "%s: same token as user '%s'", sub, a->users[j].name);
        }
    }
    return 0;
}

#define AUT(m) offsetof(struct cfg_auth, m)
static const struct cfg_field auth_fields[] = {
    {.key = "enabled", .type = F_BOOL, .off = AUT(enabled)},
    {.key = "users", .type = F_CUSTOM, .fn = set_users},
    {.key = "login_attempts_per_minute",
     .type = F_INT,
     .off = AUT(login_attempts_per_minute),
     .min = 0,
     .max = 100000},
    {0},
};

#define LIM(m) offsetof(struct cfg_limits, m)
static const struct cfg_field limits_fields[] = {
    {.key = "max_connections",
     .type = F_INT,
     .off = LIM(max_connections),
     .min = 1,
     .max = 1000000},
    {.key = "connection_timeout",
     .type = F_INT,
     .off = LIM(connection_timeout),
     .min = 1,
     .max = 86400},
    {.key = "max_request_bytes",
     .type = F_SIZE,
     .off = LIM(max_request_bytes),
     .min = 1024,
     .max = 1 << 30},
    {.key = "connection_memory",
     .type = F_SIZE,
     .off = LIM(connection_memory),
     .min = 4096,
     .max = 1 << 24},
    {.key = "per_ip_connections",
     .type = F_INT,
     .off = LIM(per_ip_connections),
     .min = 0,
     .max = 1000000},
    {.key = "header_timeout", .type = F_INT, .off = LIM(header_timeout), .min = 1, .max = 3600},
    {0},
};

#define WRK(m) offsetof(struct cfg_workers, m)
static const struct cfg_field workers_fields[] = {
    {.key = "memory_mb", .type = F_LONG, .off = WRK(memory_mb), .min = 0, .max = 16777216},
    {.key = "cpu_seconds", .type = F_LONG, .off = WRK(cpu_seconds), .min = 0, .max = 1e9},
    {0},
};

static const struct cfg_field metrics_fields[] = {
    {.key = "loopback", .type = F_BOOL, .off = offsetof(struct hlsd_config, metrics_from_loopback)},
    {0},
};

static int set_hosts(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_server *sv = base;
    int r = cfg_set_str_list(c, v, path, false, &sv->hosts, &sv->n_hosts);
    for (size_t i = 0; r == 0 && i < sv->n_hosts; i++)
        if (strpbrk(sv->hosts[i], "/ \t@") || strlen(sv->hosts[i]) > 253)
            r = cfg_fail(c, v, "%s: '%s' is not a host name", path, sv->hosts[i]);
    return r;
}

static int set_proxies(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path)
{
    struct cfg_server *sv = base;
    struct util_cidr cidr;
    int r = cfg_set_str_list(c, v, path, false, &sv->trusted_proxies, &sv->n_trusted_proxies);
    for (size_t i = 0; r == 0 && i < sv->n_trusted_proxies; i++)
        if (util_parse_cidr(sv->trusted_proxies[i], &cidr) < 0)
            r = cfg_fail(c, v, "%s: '%s' is not an address or address/prefix", path,
                         sv->trusted_proxies[i]);
    return r;
}

static const struct cfg_field server_fields[] = {
    {.key = "hosts", .type = F_CUSTOM, .fn = set_hosts},
    {.key = "trusted_proxies", .type = F_CUSTOM, .fn = set_proxies},
    {.key = "node", .type = F_STR_OPT, .off = offsetof(struct cfg_server, node)},
    {0},
};

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
#define TOP(m) offsetof(struct hlsd_config, m)
static const struct cfg_field top_fields[] = {
    {.key = "listen", .type = F_CUSTOM, .fn = set_listen},
    {.key = "state_dir", .type = F_STR, .off = TOP(state_dir)},
    {.key = "log_level", .type = F_CHOICE, .off = TOP(log_level), .choices = log_levels},
    {.key = "web_dir", .type = F_STR_OPT, .off = TOP(web_dir)},
    {.key = "metrics", .type = F_SECTION, .off = 0, .sub = metrics_fields},
    {.key = "preview",
     .type = F_SECTION,
     .off = TOP(preview),
     .sub = preview_fields,
     .fn = check_preview},
    {.key = "ports", .type = F_CUSTOM, .fn = set_ports},
    {.key = "vod", .type = F_SECTION, .off = TOP(vod), .sub = vod_fields},
    {.key = "auth", .type = F_SECTION, .off = TOP(auth), .sub = auth_fields},
    {.key = "limits", .type = F_SECTION, .off = TOP(limits), .sub = limits_fields},
    {.key = "workers", .type = F_SECTION, .off = TOP(workers), .sub = workers_fields},
    {.key = "server", .type = F_SECTION, .off = TOP(server), .sub = server_fields},
    {0},
};

int cfg_apply_document(struct cfg_ctx *c, struct fy_node *root, struct hlsd_config *cfg)
{
    return cfg_apply_mapping(c, root, top_fields, cfg, "");
}
