/* The typed job contract between the daemon and its workers (the first line
 * of docs/WORKER-PROTOCOL.md). One struct per job kind, one option table per
 * struct ({name, offset, type, default, min, max}, in the spirit of FFmpeg's
 * AVOption); generic code fills defaults, serializes and parses with range
 * checks. The configuration loader reads the same tables' bounds, so a value
 * the worker would refuse is refused when the config loads.
 *
 * Free of libav on purpose: the daemon links this as well as the worker.
 *
 * Ownership: every `const char *` and the input `options` object are
 * borrowed. After jobspec_*_from_json they point into the cJSON job, which
 * must outlive the spec; a writer points them at its own data. The only heap
 * memory is the sources of jobspec_vod, jobspec_thumbs and jobspec_export: owned
 * by the spec, released by jobspec_*_clear (a writer that fills it allocates it
 * with malloc). */
#ifndef HLSD_CORE_JOBSPEC_H
#define HLSD_CORE_JOBSPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBSPEC_MAX_BACKOFF 32
#define JOBSPEC_MAX_FAST_START 16
#define JOBSPEC_MAX_SOURCES 100000
/* A vod worker's lookahead in segments of its plan, after scaling for short
 * transcode segments (reported in its plan message). */
#define JOBSPEC_VOD_MAX_PLAN_LOOKAHEAD 1000000

enum jobspec_kind { JOBSPEC_LIVE, JOBSPEC_VOD, JOBSPEC_TRANSCODE, JOBSPEC_THUMBS, JOBSPEC_EXPORT };

/* A libavformat input. url NULL = no input (serialized as null). */
struct jobspec_input {
    const char *format;   /* demuxer/device; NULL = probe */
    const char *url;      /* required when the input is present */
    const cJSON *options; /* object of demuxer options; NULL = none */
};

struct jobspec_video {
    const char *encoder; /* "libx264" */
    const char *preset;  /* NULL = the encoder's default */
    const char *tune;    /* NULL = none */
    int64_t bitrate;     /* bits/s; 0 = constant quality (crf) */
    int crf;
    int max_width, max_height; /* fit-inside box; 0 = no limit */
};

struct jobspec_audio {
    int64_t bitrate; /* bits/s */
};

struct jobspec_hls {
    const char *variant; /* "mpegts" | "fmp4" | "lowlatency" */
    double segment_seconds;
    double part_seconds; /* lowlatency only */
    int list_size;
    bool delete_segments;
};

/* Keys shared by every kind come first so a reader can look at them alike. */
struct jobspec_live {
    const char *name, *out_dir, *playlist, *segment_prefix;
    struct jobspec_video video;
    struct jobspec_audio audio;
    struct jobspec_input input;
    struct jobspec_input audio_input; /* url NULL = audio from `input` */
    bool realtime;
    struct jobspec_hls hls;
    double stall_timeout, io_timeout;
    double backoff[JOBSPEC_MAX_BACKOFF]; /* reconnect delays; the last repeats */
    size_t n_backoff;
    bool cont; /* "continue": append to the crashed worker's playlist */
};

struct jobspec_source {
    const char *path;
    double start_time, end_time; /* epoch seconds; end_time 0 = unknown */
};

struct jobspec_vod {
    const char *name, *out_dir, *playlist, *segment_prefix;
    struct jobspec_video video;
    struct jobspec_audio audio;
    struct jobspec_source *sources; /* owned: see the top of this file */
    size_t n_sources;
    double range_start, range_end; /* epoch seconds */
    double segment_seconds;        /* copies: passthrough and the hevc variant */
    /* Transcoded tracks ("auto" that transcodes, "h264"): short segments so
     * a seek waits for little encoding; longer for long ranges (see vod.c). */
    double transcode_segment_seconds;
    double fast_start[JOBSPEC_MAX_FAST_START]; /* lengths of the first segments */
    size_t n_fast_start;
    int lookahead;
    bool passthrough;
    /* "auto": H.264 recordings remuxed (with passthrough), others transcoded
     * on a frame grid. "h264": transcoded on the source keyframes' grid (the
     * H.264 variant of a two-variant session). "hevc": the HEVC video copied
     * into fMP4 (hvc1) on the same grid. Both variants wait for a first
     * `want` before they make anything. */
    const char *variant;
};

struct jobspec_transcode {
    const char *name, *out_dir, *playlist, *segment_prefix;
    struct jobspec_video video;
    struct jobspec_audio audio;
    struct jobspec_input input;
    double segment_seconds;
};

/* Scrub thumbnails (src/media/thumbs.c): tiles every `interval` seconds
 * where a source covers the time, laid out in sheets of columns x rows tiles
 * of tile_width x tile_height, "<segment_prefix><K>.jpg"; with `iframes`,
 * also one single-IDR H.264 TS file per tile, "iframe-<k>.ts". The times
 * come from core/thumbgrid.h, as the daemon's VTT does. `playlist` is the
 * VTT the daemon wrote (not touched by the worker); video/audio are unused. */
struct jobspec_thumbs {
    const char *name, *out_dir, *playlist, *segment_prefix;
    struct jobspec_video video;
    struct jobspec_audio audio;
    struct jobspec_source *sources; /* owned: see the top of this file */
    size_t n_sources;
    double range_start, range_end; /* epoch seconds */
    double interval;               /* seconds between thumbnails */
    int tile_width, tile_height, columns, rows;
    bool iframes;
};

/* A clip export: the range's recordings into one fast-start MP4
 * <out_dir>/<file> (written through a temp name + rename). passthrough:
 * browser-playable H.264 is remuxed from the keyframe at or before the range
 * start; anything else is transcoded, cut at the range. Sources are owned
 * like jobspec_vod's (released by jobspec_export_clear). */
struct jobspec_export {
    const char *name, *out_dir, *file;
    struct jobspec_video video;
    struct jobspec_audio audio;
    struct jobspec_source *sources; /* owned */
    size_t n_sources;
    double range_start, range_end; /* epoch seconds */
    bool passthrough;
    /* false: admitted as a remux (no transcode slot taken); a worker that
     * finds it must transcode says needs_transcode and makes nothing. */
    bool allow_transcode;
};

enum jobspec_type {
    JOBSPEC_T_DOUBLE,  /* double */
    JOBSPEC_T_INT,     /* int */
    JOBSPEC_T_BOOL,    /* bool */
    JOBSPEC_T_STRING,  /* const char *; null allowed unless JOBSPEC_F_REQUIRED */
    JOBSPEC_T_BITRATE, /* int64_t bits/s; a number or "128k"/"5M" on the wire */
    JOBSPEC_T_DOUBLES, /* double[max_count] with a size_t count at count_off */
    JOBSPEC_T_OBJECT,  /* nested struct described by sub */
    JOBSPEC_T_ARRAY,   /* heap array of item_size structs (sub), count at count_off */
    JOBSPEC_T_INPUT,   /* struct jobspec_input; a plain string is a url */
};

#define JOBSPEC_F_REQUIRED 0x1 /* missing or null is refused */
#define JOBSPEC_F_NAME 0x2     /* a plain file name (util_is_safe_name) */
#define JOBSPEC_F_NONEMPTY 0x4 /* "" is refused */

struct jobspec_opt {
    const char *name; /* NULL ends a table */
    size_t off;
    enum jobspec_type type;
    double def;      /* numbers, bool (0/1), bitrate */
    double min, max; /* numbers, bitrates, the items of DOUBLES */
    const char *def_str;
    const char *const *choices; /* STRING: NULL-terminated allowed values */
    const struct jobspec_opt *sub;
    const double *def_list; /* DOUBLES */
    size_t n_def_list;
    size_t count_off, max_count, item_size;
    unsigned flags;
};

/* The option of a dotted path such as "live.hls.segment_seconds" (the first
 * component is the kind), or NULL. Tables are static: never freed. */
const struct jobspec_opt *jobspec_lookup(const char *path);

/* The kind named by job's "kind". 0, or -EINVAL with the reason in err
 * (missing, or not live/vod/transcode/export). */
int jobspec_kind_of(const cJSON *job, enum jobspec_kind *out, char *err, size_t errlen);

/* _defaults: every field from its table (no heap memory, strings static).
 * _to_json: *out is a new job object (with "kind") owned by the caller
 *   (cJSON_Delete); values out of their range are refused like a parse would.
 * _from_json: defaults, then the job's keys; unknown keys are ignored, a key
 *   of the wrong type or out of range is refused with -EINVAL and a one-line
 *   reason naming the key ("hls.segment_seconds: 0.3 is below the minimum
 *   0.5"); a job of another kind is refused. On failure the spec is cleared.
 * _clear: releases what the spec owns (vod: sources); accepts NULL. */
void jobspec_live_defaults(struct jobspec_live *j);
int jobspec_live_to_json(const struct jobspec_live *j, cJSON **out, char *err, size_t errlen);
int jobspec_live_from_json(const cJSON *job, struct jobspec_live *j, char *err, size_t errlen);
void jobspec_live_clear(struct jobspec_live *j);

void jobspec_vod_defaults(struct jobspec_vod *j);
int jobspec_vod_to_json(const struct jobspec_vod *j, cJSON **out, char *err, size_t errlen);
int jobspec_vod_from_json(const cJSON *job, struct jobspec_vod *j, char *err, size_t errlen);
void jobspec_vod_clear(struct jobspec_vod *j);

void jobspec_transcode_defaults(struct jobspec_transcode *j);
int jobspec_transcode_to_json(const struct jobspec_transcode *j, cJSON **out, char *err,
                              size_t errlen);
int jobspec_transcode_from_json(const cJSON *job, struct jobspec_transcode *j, char *err,
                                size_t errlen);
void jobspec_transcode_clear(struct jobspec_transcode *j);

void jobspec_thumbs_defaults(struct jobspec_thumbs *j);
int jobspec_thumbs_to_json(const struct jobspec_thumbs *j, cJSON **out, char *err, size_t errlen);
int jobspec_thumbs_from_json(const cJSON *job, struct jobspec_thumbs *j, char *err, size_t errlen);
void jobspec_thumbs_clear(struct jobspec_thumbs *j);
void jobspec_export_defaults(struct jobspec_export *j);
int jobspec_export_to_json(const struct jobspec_export *j, cJSON **out, char *err, size_t errlen);
int jobspec_export_from_json(const cJSON *job, struct jobspec_export *j, char *err, size_t errlen);
void jobspec_export_clear(struct jobspec_export *j);

#endif
