/* The job contract's option tables: one per job kind (see jobspec.h). The
 * generic code that walks them is in jobspec.c. */
#include "core/jobspec_priv.h"

#include <stddef.h>

/* ---- tables ------------------------------------------------------------------------ */

#define VID(m) offsetof(struct jobspec_video, m)
/* Live and vod leave the preset to the encoder; the one-shot transcode CLI
 * documents its own defaults, which are this kind's. */
#define VIDEO_OPTS(preset_, crf_, max_height_)                                                     \
    {.name = "encoder",                                                                            \
     .off = VID(encoder),                                                                          \
     .type = JOBSPEC_T_STRING,                                                                     \
     .def_str = "libx264",                                                                         \
     .flags = JOBSPEC_F_NONEMPTY},                                                                 \
        {.name = "preset", .off = VID(preset), .type = JOBSPEC_T_STRING, .def_str = preset_},      \
        {.name = "tune", .off = VID(tune), .type = JOBSPEC_T_STRING},                              \
        {.name = "bitrate",                                                                        \
         .off = VID(bitrate),                                                                      \
         .type = JOBSPEC_T_BITRATE,                                                                \
         .min = 0,                                                                                 \
         .max = 1e10},                                                                             \
        {.name = "crf", .off = VID(crf), .type = JOBSPEC_T_INT, .def = crf_, .min = 0, .max = 51}, \
        {.name = "max_width", .off = VID(max_width), .type = JOBSPEC_T_INT, .max = 16384},         \
    {                                                                                              \
        .name = "max_height", .off = VID(max_height), .type = JOBSPEC_T_INT, .def = max_height_,   \
        .max = 16384                                                                               \
    }

static const struct jobspec_opt video_opts[] = {VIDEO_OPTS(NULL, 23, 0), {0}};
static const struct jobspec_opt transcode_video_opts[] = {VIDEO_OPTS("ultrafast", 26, 720), {0}};

static const struct jobspec_opt audio_opts[] = {
    {.name = "bitrate",
     .off = offsetof(struct jobspec_audio, bitrate),
     .type = JOBSPEC_T_BITRATE,
     .def = 128000,
     .min = 16000,
     .max = 512000},
    {0},
};

static const char *const hls_variants[] = {"mpegts", "fmp4", "lowlatency", NULL};
#define HLS(m) offsetof(struct jobspec_hls, m)
static const struct jobspec_opt hls_opts[] = {
    {.name = "variant",
     .off = HLS(variant),
     .type = JOBSPEC_T_STRING,
     .def_str = "mpegts",
     .choices = hls_variants},
    {.name = "segment_seconds",
     .off = HLS(segment_seconds),
     .type = JOBSPEC_T_DOUBLE,
     .def = 5,
     .min = 0.5,
     .max = 60},
    {.name = "part_seconds",
     .off = HLS(part_seconds),
     .type = JOBSPEC_T_DOUBLE,
     .def = 0.333,
     .min = 0.05,
     .max = 10},
    {.name = "list_size",
     .off = HLS(list_size),
     .type = JOBSPEC_T_INT,
     .def = 3,
     .min = 1,
     .max = 100},
    {.name = "delete_segments", .off = HLS(delete_segments), .type = JOBSPEC_T_BOOL, .def = 1},
    {0},
};

/* name, out_dir, playlist, segment_prefix, video, audio: every kind. */
#define COMMON_OPTS(T, name_, playlist_, prefix_, prefix_flags_, vopts_)                           \
    {.name = "name", .off = offsetof(T, name), .type = JOBSPEC_T_STRING, .def_str = name_},        \
        {.name = "out_dir",                                                                        \
         .off = offsetof(T, out_dir),                                                              \
         .type = JOBSPEC_T_STRING,                                                                 \
         .flags = JOBSPEC_F_REQUIRED | JOBSPEC_F_NONEMPTY},                                        \
        {.name = "playlist",                                                                       \
         .off = offsetof(T, playlist),                                                             \
         .type = JOBSPEC_T_STRING,                                                                 \
         .def_str = playlist_,                                                                     \
         .flags = JOBSPEC_F_REQUIRED | JOBSPEC_F_NAME},                                            \
        {.name = "segment_prefix",                                                                 \
         .off = offsetof(T, segment_prefix),                                                       \
         .type = JOBSPEC_T_STRING,                                                                 \
         .def_str = prefix_,                                                                       \
         .flags = (prefix_flags_) | JOBSPEC_F_NAME},                                               \
        {.name = "video", .off = offsetof(T, video), .type = JOBSPEC_T_OBJECT, .sub = vopts_},     \
    {                                                                                              \
        .name = "audio", .off = offsetof(T, audio), .type = JOBSPEC_T_OBJECT, .sub = audio_opts    \
    }

static const double default_backoff[] = {1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 30};

#define LIV(m) offsetof(struct jobspec_live, m)
static const struct jobspec_opt live_opts[] = {
    COMMON_OPTS(struct jobspec_live, "live", NULL, NULL, JOBSPEC_F_REQUIRED, video_opts),
    {.name = "input", .off = LIV(input), .type = JOBSPEC_T_INPUT, .flags = JOBSPEC_F_REQUIRED},
    {.name = "audio_input", .off = LIV(audio_input), .type = JOBSPEC_T_INPUT},
    {.name = "realtime", .off = LIV(realtime), .type = JOBSPEC_T_BOOL, .def = 1},
    {.name = "hls", .off = LIV(hls), .type = JOBSPEC_T_OBJECT, .sub = hls_opts},
    {.name = "stall_timeout",
     .off = LIV(stall_timeout),
     .type = JOBSPEC_T_DOUBLE,
     .def = 5,
     .min = 0.5,
     .max = 3600},
    {.name = "io_timeout",
     .off = LIV(io_timeout),
     .type = JOBSPEC_T_DOUBLE,
     .def = 5,
     .min = 0.5,
     .max = 3600},
    {.name = "backoff",
     .off = LIV(backoff),
     .type = JOBSPEC_T_DOUBLES,
     .min = 0,
     .max = 3600,
     .def_list = default_backoff,
     .n_def_list = sizeof(default_backoff) / sizeof(default_backoff[0]),
     .count_off = LIV(n_backoff),
     .max_count = JOBSPEC_MAX_BACKOFF,
     .flags = JOBSPEC_F_NONEMPTY},
    {.name = "continue", .off = LIV(cont), .type = JOBSPEC_T_BOOL},
    {0},
};

#define SRC(m) offsetof(struct jobspec_source, m)
static const struct jobspec_opt source_opts[] = {
    {.name = "path",
     .off = SRC(path),
     .type = JOBSPEC_T_STRING,
     .flags = JOBSPEC_F_REQUIRED | JOBSPEC_F_NONEMPTY},
    {.name = "start_time",
     .off = SRC(start_time),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "end_time", .off = SRC(end_time), .type = JOBSPEC_T_DOUBLE, .max = 1e11},
    {0},
};

#define VOD(m) offsetof(struct jobspec_vod, m)
static const char *const vod_variants[] = {"auto", "h264", "hevc", NULL};
static const struct jobspec_opt vod_opts[] = {
    COMMON_OPTS(struct jobspec_vod, "vod", NULL, NULL, JOBSPEC_F_REQUIRED, video_opts),
    {.name = "sources",
     .off = VOD(sources),
     .type = JOBSPEC_T_ARRAY,
     .sub = source_opts,
     .count_off = VOD(n_sources),
     .max_count = JOBSPEC_MAX_SOURCES,
     .item_size = sizeof(struct jobspec_source),
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "range_start",
     .off = VOD(range_start),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "range_end",
     .off = VOD(range_end),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "segment_seconds",
     .off = VOD(segment_seconds),
     .type = JOBSPEC_T_DOUBLE,
     .def = 6,
     .min = 0.5,
     .max = 60},
    {.name = "transcode_segment_seconds",
     .off = VOD(transcode_segment_seconds),
     .type = JOBSPEC_T_DOUBLE,
     .def = 1,
     .min = 0.5,
     .max = 60},
    {.name = "fast_start",
     .off = VOD(fast_start),
     .type = JOBSPEC_T_DOUBLES,
     .min = 0.1,
     .max = 60,
     .count_off = VOD(n_fast_start),
     .max_count = JOBSPEC_MAX_FAST_START},
    {.name = "lookahead",
     .off = VOD(lookahead),
     .type = JOBSPEC_T_INT,
     .def = 10,
     .min = 1,
     .max = 10000},
    {.name = "passthrough", .off = VOD(passthrough), .type = JOBSPEC_T_BOOL},
    {.name = "variant",
     .off = VOD(variant),
     .type = JOBSPEC_T_STRING,
     .def_str = "auto",
     .choices = vod_variants},
    {0},
};

#define TRC(m) offsetof(struct jobspec_transcode, m)
static const struct jobspec_opt transcode_opts[] = {
    COMMON_OPTS(struct jobspec_transcode, "transcode", "index.m3u8", "segment-", 0,
                transcode_video_opts),
    {.name = "input", .off = TRC(input), .type = JOBSPEC_T_INPUT, .flags = JOBSPEC_F_REQUIRED},
    {.name = "segment_seconds",
     .off = TRC(segment_seconds),
     .type = JOBSPEC_T_DOUBLE,
     .def = 6,
     .min = 0.5,
     .max = 60},
    {0},
};

#define THB(m) offsetof(struct jobspec_thumbs, m)
static const struct jobspec_opt thumbs_opts[] = {
    COMMON_OPTS(struct jobspec_thumbs, "thumbs", "thumbs.vtt", "sheet-", 0, video_opts),
    {.name = "sources",
     .off = THB(sources),
     .type = JOBSPEC_T_ARRAY,
     .sub = source_opts,
     .count_off = THB(n_sources),
     .max_count = JOBSPEC_MAX_SOURCES,
     .item_size = sizeof(struct jobspec_source),
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "range_start",
     .off = THB(range_start),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "range_end",
     .off = THB(range_end),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "interval",
     .off = THB(interval),
     .type = JOBSPEC_T_DOUBLE,
     .def = 10,
     .min = 1,
     .max = 3600},
    {.name = "tile_width",
     .off = THB(tile_width),
     .type = JOBSPEC_T_INT,
     .def = 160,
     .min = 16,
     .max = 640},
    {.name = "tile_height",
     .off = THB(tile_height),
     .type = JOBSPEC_T_INT,
     .def = 90,
     .min = 16,
     .max = 640},
    {.name = "columns", .off = THB(columns), .type = JOBSPEC_T_INT, .def = 10, .min = 1, .max = 32},
    {.name = "rows", .off = THB(rows), .type = JOBSPEC_T_INT, .def = 10, .min = 1, .max = 32},
    {.name = "iframes", .off = THB(iframes), .type = JOBSPEC_T_BOOL, .def = 1},
    {0},
};

#define EXP(m) offsetof(struct jobspec_export, m)
static const struct jobspec_opt export_opts[] = {
    {.name = "name", .off = EXP(name), .type = JOBSPEC_T_STRING, .def_str = "export"},
    {.name = "out_dir",
     .off = EXP(out_dir),
     .type = JOBSPEC_T_STRING,
     .flags = JOBSPEC_F_REQUIRED | JOBSPEC_F_NONEMPTY},
    {.name = "file",
     .off = EXP(file),
     .type = JOBSPEC_T_STRING,
     .flags = JOBSPEC_F_REQUIRED | JOBSPEC_F_NAME},
    {.name = "video", .off = EXP(video), .type = JOBSPEC_T_OBJECT, .sub = video_opts},
    {.name = "audio", .off = EXP(audio), .type = JOBSPEC_T_OBJECT, .sub = audio_opts},
    {.name = "sources",
     .off = EXP(sources),
     .type = JOBSPEC_T_ARRAY,
     .sub = source_opts,
     .count_off = EXP(n_sources),
     .max_count = JOBSPEC_MAX_SOURCES,
     .item_size = sizeof(struct jobspec_source),
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "range_start",
     .off = EXP(range_start),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "range_end",
     .off = EXP(range_end),
     .type = JOBSPEC_T_DOUBLE,
     .max = 1e11,
     .flags = JOBSPEC_F_REQUIRED},
    {.name = "passthrough", .off = EXP(passthrough), .type = JOBSPEC_T_BOOL, .def = 1},
    {.name = "allow_transcode", .off = EXP(allow_transcode), .type = JOBSPEC_T_BOOL, .def = 1},
    {0},
};

const struct jobspec_kind_desc jobspec_kinds[JOBSPEC_N_KINDS] = {
    [JOBSPEC_LIVE] = {"live", live_opts},
    [JOBSPEC_VOD] = {"vod", vod_opts},
    [JOBSPEC_TRANSCODE] = {"transcode", transcode_opts},
    [JOBSPEC_THUMBS] = {"thumbs", thumbs_opts},
    [JOBSPEC_EXPORT] = {"export", export_opts},
};
