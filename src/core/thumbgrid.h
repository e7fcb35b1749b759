/* Scrub thumbnails: the pure part, shared by the daemon (which writes the
 * WebVTT track and the I-frame playlist before anything is decoded) and the
 * thumbs worker (which makes the sheets those files name). Both derive the
 * same thumbnail list from the same recordings, so nothing but the job has
 * to travel between them. No libav, no I/O. */
#ifndef HLSD_CORE_THUMBGRID_H
#define HLSD_CORE_THUMBGRID_H

#include <stdbool.h>
#include <stddef.h>

#define THUMBGRID_MAX_CUES 2000    /* thumbnails in one set */
#define THUMBGRID_TARGET_CUES 300  /* what the default interval aims at */
#define THUMBGRID_MIN_INTERVAL 1.0 /* seconds */
#define THUMBGRID_MAX_INTERVAL 3600.0
#define THUMBGRID_MAX_TIME 1e12 /* |epoch seconds| of a range: beyond, refused */

/* A recording's coverage, epoch seconds (start < end). */
struct thumbgrid_span {
    double start, end;
};

/* Sheets of columns x rows tiles of tile_width x tile_height pixels. */
struct thumbgrid_layout {
    int tile_width, tile_height, columns, rows;
};

/* One thumbnail. */
struct thumbgrid_cue {
    double t;         /* epoch seconds of the picture (range start + k * interval) */
    size_t source;    /* index (in the caller's array) of the span covering t */
    double out_start; /* seconds on the session timeline (gaps removed) */
    double out_end;   /* the next cue's out_start, or the end of the coverage */
};

/* The default interval for a range of `duration` seconds: a round step
 * (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600 s) giving at most
 * THUMBGRID_TARGET_CUES thumbnails. */
double thumbgrid_default_interval(double duration);

/* Thumbnails at t = start + k * interval (t < end) where a span covers t
 * (start <= t < end); times in gaps get none. spans need not be sorted and
 * may overlap. *out is a heap array (free()) of *count cues, NULL when none.
 * 0, -EINVAL (bad interval or range, a time beyond THUMBGRID_MAX_TIME), -E2BIG (more than max
 * cues), -ENOMEM. */
int thumbgrid_plan(const struct thumbgrid_span *spans, size_t n, double start, double end,
                   double interval, size_t max, struct thumbgrid_cue **out, size_t *count);

/* Tiles per sheet, and sheets for count thumbnails. */
size_t thumbgrid_per_sheet(const struct thumbgrid_layout *l);
size_t thumbgrid_sheets(const struct thumbgrid_layout *l, size_t count);

/* Where thumbnail k goes: its sheet and the tile's top-left pixel. */
void thumbgrid_tile(const struct thumbgrid_layout *l, size_t k, size_t *sheet, int *x, int *y);

/* Pixel size of sheet `sheet` of a set of count thumbnails: full width,
 * only as many rows as it has tiles. */
void thumbgrid_sheet_size(const struct thumbgrid_layout *l, size_t count, size_t sheet, int *w,
                          int *h);

/* The WebVTT thumbnails track (video.js/Plyr/Jellyfin convention): one cue
 * per thumbnail on the session timeline, payload
 * "<sheet_prefix><K>.jpg#xywh=x,y,w,h". *out is a NUL-terminated heap
 * string (free()), *len its length. 0 or -ENOMEM/-EINVAL. */
int thumbgrid_write_vtt(const struct thumbgrid_cue *cues, size_t n,
                        const struct thumbgrid_layout *l, const char *sheet_prefix, char **out,
                        size_t *len);

/* The I-frame playlist (RFC 8216 EXT-X-I-FRAMES-ONLY, version 4): entry k is
 * "<iframe_prefix><k>.ts", EXTINF its cue's span, EXT-X-PROGRAM-DATE-TIME its
 * cue's t. Ownership as above. */
int thumbgrid_write_iframes(const struct thumbgrid_cue *cues, size_t n, const char *iframe_prefix,
                            char **out, size_t *len);

#endif
