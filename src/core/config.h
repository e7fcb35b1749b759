/* hlsd configuration: YAML (libfyaml) merged over the embedded defaults.
 * Every string is owned by the config and freed by config_free(). Per-port
 * `preview:` blocks are already merged over the global `preview:` block, so a
 * port's `preview` is complete. */
#ifndef HLSD_CONFIG_H
#define HLSD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct cfg_kv {
    char *key;
    char *value;
};

/* A libavformat input: format name (NULL = probe), URL, demuxer options. */
struct cfg_input {
    char *format;
    char *url;
    struct cfg_kv *options;
    size_t n_options;
};

struct cfg_video {
    char *encoder; /* "libx264" */
    char *preset;  /* "ultrafast" */
    char *tune;    /* "zerolatency", may be NULL */
    char *bitrate; /* "5M"; NULL = use crf */
    int crf;       /* used when bitrate is NULL; default 23 */
    int width;     /* fit-inside box, never upscale */
    int height;
};

struct cfg_hls {
    char *variant;          /* "mpegts" | "fmp4" | "lowlatency" */
    double segment_seconds; /* 5 */
    double part_seconds;    /* 0.333 (lowlatency only) */
    int list_size;          /* 3 */
    bool delete_segments;   /* true */
};

struct cfg_preview {
    struct cfg_video video;
    char *audio_bitrate; /* "128k" */
    struct cfg_hls hls;
    double stall_timeout; /* seconds without a packet before reconnecting: 5 */
    double io_timeout;    /* network read timeout: 5 */
    double *backoff;      /* reconnect delays; last one repeats: 1x5,5x5,30 */
    size_t n_backoff;
    double idle_seconds;  /* on-demand ports stop after this: 30 */
    double start_timeout; /* on-demand playlist request waits this long: 20 */
};

struct cfg_port {
    int index;
    char *name; /* safe name ([A-Za-z0-9._-]) */
    struct cfg_input input;
    struct cfg_input *audio_input; /* NULL when absent */
    bool on_demand;
    struct cfg_preview preview; /* global preview merged with the port's own */
};

struct cfg_vod {
    int max_concurrent;           /* 3 */
    double ready_timeout;         /* 30 */
    double max_range;             /* 86400 */
    double ttl;                   /* 600 */
    double pause_release_seconds; /* 20: a paused worker with no request this long exits */
    int max_sessions_per_user;    /* 2; 0 = unlimited */
    char
        *shared_dir; /* NULL; a folder shared by the nodes of a cluster: session key and registry */
    int lookahead;   /* 10 segments */
    int nice;        /* 10 */
    double segment_seconds;           /* 6: copies (passthrough, HEVC rendition) */
    double transcode_segment_seconds; /* 1: transcoded renditions (instant seek) */
    double *fast_start;               /* first segment lengths: 1, 2, 3 */
    size_t n_fast_start;
    int max_height;      /* 720 */
    int crf;             /* 26 */
    char *preset;        /* "ultrafast" */
    char *encoder;       /* "libx264" */
    char *audio_bitrate; /* "128k" */
    bool passthrough;    /* true: remux browser-playable recordings */
    bool hevc_variant;   /* true: HEVC recordings also offered as they are (fMP4) */
    char **watch_dirs;   /* recording folders indexed automatically */
    size_t n_watch_dirs;
    bool sample_recording;     /* generate + index a sample recording at first start */
    double export_max_seconds; /* 3600: longest clip export */
    double export_ttl;         /* 600: a finished export file is kept this long */
    double export_timeout;     /* 900: a download waits this long for its export */
    int export_max_concurrent; /* 2: export workers running at once (remuxes too) */
    int export_max_per_user;   /* 2: a user's export workers at once; 0 = unlimited */
    long export_max_mb;        /* 10240: total size of the files kept in exports/ */
    long export_min_free_mb;   /* 1024: free space left on the exports' disk after one */
};

enum cfg_role { CFG_ROLE_VIEWER = 0, CFG_ROLE_ADMIN = 1 };

struct cfg_user {
    char *name;
    enum cfg_role role;
    char **cameras; /* camera/port names a viewer may see; none = all */
    size_t n_cameras;
    char *token_sha256; /* 64 lowercase hex characters */
};

struct cfg_auth {
    bool enabled; /* true */
    struct cfg_user *users;
    size_t n_users;
    int login_attempts_per_minute; /* 10 per client address */
};

struct cfg_limits {
    int max_connections;      /* 1024 */
    int connection_timeout;   /* seconds idle before closing (slowloris): 30 */
    size_t max_request_bytes; /* body: 65536 */
    size_t connection_memory; /* per-connection header/read buffer: 32768 */
    int per_ip_connections;   /* per client address (trusted proxies exempt): 32; 0 = unlimited */
    int header_timeout;       /* seconds to receive a whole request: 10 */
};

/* Who may address the server (DNS rebinding, proxies). */
struct cfg_server {
    char **hosts; /* Host names (and addresses) accepted; none = the listen
                     address and localhost names when listening on loopback,
                     any Host otherwise */
    size_t n_hosts;
    char **trusted_proxies; /* addresses/CIDRs whose X-Forwarded-For is believed */
    size_t n_trusted_proxies;
    char *node; /* this node's name in /metrics (label node); NULL = none */
};

struct cfg_workers {
    long memory_mb;   /* RLIMIT_DATA per worker: 2048; 0 = unlimited */
    long cpu_seconds; /* RLIMIT_CPU per worker: 0 = unlimited */
};

struct hlsd_config {
    char *source;               /* file name, or "<embedded>" */
    char *listen_addr;          /* "127.0.0.1" */
    int listen_port;            /* 8080 */
    char *state_dir;            /* "./state" */
    char *log_level;            /* "info" */
    char *web_dir;              /* folder of the web page; NULL = built-in location */
    bool metrics_from_loopback; /* /metrics open to loopback clients: true */
    struct cfg_preview preview; /* global preview defaults */
    struct cfg_port *ports;
    size_t n_ports;
    struct cfg_vod vod;
    struct cfg_auth auth;
    struct cfg_limits limits;
    struct cfg_workers workers;
    struct cfg_server server;
};

/* The embedded default configuration (YAML text). */
extern const char config_embedded_yaml[];

/* Loads path (NULL = embedded defaults only). On failure returns -EINVAL (or
 * -errno) and fills err with "FILE:LINE: what is wrong". *out is owned by the
 * caller and freed with config_free(). */
int config_load(const char *path, struct hlsd_config **out, char *err, size_t errlen);

/* Same, from a YAML string; `name` is used in messages. */
int config_load_string(const char *yaml, const char *name, struct hlsd_config **out, char *err,
                       size_t errlen);

void config_free(struct hlsd_config **cfg);

/* Looks a port up by index; NULL when unknown. */
const struct cfg_port *config_find_port(const struct hlsd_config *cfg, int index);

#endif
