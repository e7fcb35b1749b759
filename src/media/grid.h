/* Segment plans for VOD playlists: pure math, no I/O, no libav.
 *
 * Timeline. A plan covers recordings ("sources", time ordered) trimmed to a
 * wall-clock range. Each source contributes one "piece" (its part inside the
 * range); a segment never spans two pieces, so boundaries restart at every
 * source and a gap between sources (more than gap_tolerance) sets the
 * DISCONTINUITY flag of the next segment. Playlist time is the sum of the
 * EXTINF before a segment: gaps take no playlist time, and output timestamps
 * are offset + playlist time, so a segment encoded by any run lands on the
 * same timeline.
 *
 * Frame accuracy (encode mode, fps > 0). Source frames are taken to sit at
 * k / fps seconds after the source's first frame. A piece starts at the first
 * frame at or after the range start; a planned boundary at t seconds into the
 * piece falls on the first frame whose time is >= t (frame ceil(t * fps)), and
 * the segment's EXTINF is its whole number of frames / fps. The encoder puts
 * each frame on slot round(t * fps) (dropping duplicates) and forces an IDR on
 * the first frame of every segment, so ffprobe measures EXTINF within a frame.
 * Without a frame rate the planned times are used unrounded.
 *
 * Passthrough (keyframes given). Nothing is cut inside a GOP: a piece starts
 * at the last keyframe at or before the range start and ends at the first
 * keyframe at or after the range end (or at the end of the source), so it may
 * extend slightly beyond the range. Boundaries are the keyframes closest to
 * the planned lengths, and EXTINF are the real keyframe distances. */
#ifndef HLSD_GRID_H
#define HLSD_GRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct grid_source {
    double wall_start; /* epoch seconds of the source's first frame */
    double wall_end;   /* epoch seconds of its end (start + duration) */
    double fps;        /* > 0: snap to this frame rate; 0: no snapping */
    /* Passthrough: keyframe times in seconds after wall_start, ascending
     * (borrowed, only read during grid_plan). NULL: encode mode. */
    const double *keyframes;
    size_t n_keyframes;
};

struct grid_params {
    double range_start, range_end; /* epoch seconds */
    double segment_seconds;        /* > 0 */
    const double *fast_start;      /* lengths of the first segments (may be NULL) */
    size_t n_fast_start;
    double gap_tolerance; /* a gap up to this is no discontinuity (default 0.5 s when 0) */
    double min_segment;   /* a final piece shorter merges into the previous segment
                             (default 0.5 s when 0) */
    bool discontinuity_every_source; /* passthrough: codec parameters may change per file */
    /* Keyframe grid only, > 0: each keyframe-to-keyframe segment is split
     * further into parts of about this length on the source's frame grid
     * (the H.264 rendition of a two-rendition session: short segments make a
     * seek cheap to encode, and every boundary of the copy stays one of its
     * boundaries). 0: no split. */
    double split_seconds;
};

struct grid_segment {
    size_t source;    /* index into the sources array */
    double src_start; /* seconds after the source's wall_start where it begins */
    double src_end;   /* ... and ends (exclusive) */
    double start;     /* playlist time */
    double duration;  /* EXTINF */
    double pdt;       /* wall clock of its first frame */
    bool discontinuity;
    /* Encode mode with fps: frame slots after the source's first frame,
     * [frame_start, frame_end). -1 otherwise. */
    int64_t frame_start, frame_end;
    /* Slot of the piece's first frame (frame_start of its first segment): the
     * output time of slot k is piece_start + (k - piece_frame0) / fps. */
    int64_t piece_frame0;
    double piece_start; /* playlist time where this segment's piece begins */
};

struct grid_plan {
    struct grid_segment *segs; /* owned */
    size_t n;
    double duration; /* sum of durations */
};

/* Plans every segment. sources must be sorted by wall_start; overlapping
 * sources are trimmed to start where the previous one ended. Returns 0,
 * -EINVAL (bad parameters: non-finite or non-positive lengths, end <= start,
 * unsorted sources), -ENOENT (nothing of the sources lies in the range),
 * -E2BIG (more than GRID_MAX_SEGMENTS), -ENOMEM. *out is valid (empty) on error. */
#define GRID_MAX_SEGMENTS 200000
int grid_plan(const struct grid_source *sources, size_t n_sources, const struct grid_params *params,
              struct grid_plan *out);

void grid_plan_free(struct grid_plan *plan);

/* Index of the segment containing playlist time t (the last one for
 * t >= duration, 0 for t < 0), or -1 for an empty plan. */
long grid_find(const struct grid_plan *plan, double t);

/* Index of the segment whose wall-clock span contains wall (epoch seconds),
 * the next one when wall falls in a gap, -1 when outside the plan. */
long grid_find_wall(const struct grid_plan *plan, double wall);

/* Frame slot of source time t (seconds after the source's first frame):
 * round(t * fps). The encoder's slot assignment, shared so plan and encode
 * agree. */
int64_t grid_frame_slot(double t, double fps);

/* First slot at or after time t: ceil(t * fps) with a tolerance of 1/1000 of
 * a frame for floating-point noise. */
int64_t grid_frame_ceil(double t, double fps);

#endif
