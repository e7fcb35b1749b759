/* Internals of the vod job shared by vod.c (job, plan, control loop) and
 * vod_run.c (reading one source into segments). */
#ifndef HLSD_MEDIA_VOD_PRIV_H
#define HLSD_MEDIA_VOD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jobspec.h"
#include "media/encode.h"
#include "media/grid.h"
#include "media/job.h"
#include "media/probe.h"

struct vod_source {
    const char *path; /* borrowed from the job */
    double wall_start, wall_end;
    bool used; /* overlaps the range (probed) */
    struct media_source_info info;
};

struct vod_run;

/* The job's sources as vod_source (paths borrowed from the job), sorted by
 * their start; an end_time of 0 becomes INFINITY (the probe decides). *out
 * is freed by the caller. 0 or AVERROR(ENOMEM). Also used by export.c. */
int media_vod_sources(const struct jobspec_source *js, size_t n, struct vod_source **out);

#define VOD_VARIANT_H264 1
#define VOD_VARIANT_HEVC 2

struct vod {
    const struct media_ctl *ctl;
    struct jobspec_vod job;              /* borrows from the JSON job */
    const char *name, *out_dir, *prefix; /* borrowed from the job */

    struct vod_source *src;
    size_t n_src;
    struct grid_plan plan;
    double max_len;   /* longest planned segment length (encoder keyint) */
    bool passthrough; /* video copied */
    /* The job's variant: 0 auto (one variant), VOD_VARIANT_H264 (transcode on
     * the keyframe grid), VOD_VARIANT_HEVC (copy into fMP4). */
    int variant;
    bool keyframe_grid; /* segments cut on source keyframes */
    bool fmp4;          /* fMP4 segments (.m4s) with an init segment per source */
    bool audio_copy;    /* passthrough with AAC copied (else re-encoded) */
    struct media_video_settings video;
    struct media_audio_settings audio;
    int lookahead; /* in segments of the plan (scaled for short transcode segments) */

    bool *have; /* segment file exists */
    size_t n_have;
    bool *wanted;     /* asked for by a client (served when the encoder is idle) */
    size_t n_pending; /* wanted and not yet written */
    long next;        /* segment the encoder produces next */
    long wanted_max;
    long last_written; /* the encoder's position for progress (-1 = none) */

    struct vod_run *run; /* NULL: not positioned */
    bool started_sent;

    /* progress */
    double t_start, t_last_progress;
    int64_t frames;    /* video frames encoded or copied */
    double media_done; /* seconds of segments written by this worker */
    double media_done_at_last;
    int64_t bytes;
    char err[256]; /* fatal error raised inside a callback */
};

/* Opens source of plan segment `seg` positioned to produce seg..(end of its
 * piece). 0 or negative AVERROR with err set. */
int media_vod_run_open(struct vod *v, long seg, struct vod_run **out, char *err, size_t errlen);

/* Reads and processes one packet. Returns 0 (more to do), 1 (the piece is
 * complete: every segment of the run was written), or a negative AVERROR
 * with err set. AVERROR_EXIT when a stop interrupted the read. */
int media_vod_run_step(struct vod_run *r, char *err, size_t errlen);

/* Video frames sent to the encoder or copied by this run. */
int64_t media_vod_run_frames(const struct vod_run *r);

/* Discards what is unfinished (temp file removed) and frees. Accepts NULL. */
void media_vod_run_close(struct vod_run **r);

/* The init segment of source i (fMP4): "<prefix>init<i>.mp4". 0 or -ENAMETOOLONG. */
int media_vod_init_name(const struct vod *v, size_t source, char *buf, size_t size);

/* fMP4: writes the init segment of source i (opening it as a run would). 0
 * or negative AVERROR with err set. */
int media_vod_run_write_init(struct vod *v, size_t source, char *err, size_t errlen);

/* Called by the run when a segment file is in place. */
void media_vod_segment_written(struct vod *v, long index, const char *file, double start,
                               double duration, int64_t bytes);

/* Emits "started" once (width/height of the output). */
void media_vod_started(struct vod *v, int width, int height, double fps, bool audio,
                       const char *encoder);

#endif
