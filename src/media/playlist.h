/* HLS media playlists (RFC 8216, with the LL-HLS tags of RFC 8216bis):
 * an in-memory model, a text writer (atomic file write), a live window
 * helper and a bounded reader for our own playlists (also a fuzz target).
 * No libav here: the daemon side may use it too. */
#ifndef HLSD_PLAYLIST_H
#define HLSD_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum playlist_type {
    PLAYLIST_LIVE = 0, /* sliding window, no EXT-X-PLAYLIST-TYPE */
    PLAYLIST_EVENT,    /* #EXT-X-PLAYLIST-TYPE:EVENT (append only) */
    PLAYLIST_VOD,      /* #EXT-X-PLAYLIST-TYPE:VOD (complete; the writer adds ENDLIST) */
};

/* Reader limits (hostile input is refused with -EINVAL, never truncated). */
#define PLAYLIST_MAX_TEXT (16u * 1024 * 1024)
#define PLAYLIST_MAX_LINE 4096
#define PLAYLIST_MAX_URI 1024
#define PLAYLIST_MAX_SEGMENTS 200000
#define PLAYLIST_MAX_PARTS 64 /* per segment */

/* LL-HLS partial segment (#EXT-X-PART). */
struct playlist_part {
    char *uri; /* owned */
    double duration;
    bool independent; /* INDEPENDENT=YES: starts with a keyframe */
};

struct playlist_segment {
    char *uri;                   /* owned */
    double duration;             /* seconds; rendered with 3 decimals */
    bool discontinuity;          /* #EXT-X-DISCONTINUITY before this segment */
    double pdt;                  /* #EXT-X-PROGRAM-DATE-TIME, epoch seconds; NAN = none */
    struct playlist_part *parts; /* owned; LL-HLS parts of this segment */
    size_t n_parts;
    char *map_uri; /* owned; #EXT-X-MAP before this segment (fMP4 VOD: an init
                      segment per source), NULL = the one in force */
};

struct playlist {
    enum playlist_type type;
    int version;         /* minimum; the writer raises it to what the tags need (>= 3) */
    int target_duration; /* seconds; 0 = computed from the segments. When set (live),
                          * it is written as is unless a segment would exceed it. */
    uint64_t media_sequence;
    uint64_t discontinuity_sequence;
    bool independent_segments;
    bool ended; /* #EXT-X-ENDLIST (always written for PLAYLIST_VOD) */

    struct playlist_segment *segs; /* owned */
    size_t n_segs, cap_segs;

    /* LL-HLS, all optional (NULL / 0 = tag not written). */
    char *map_uri;                       /* #EXT-X-MAP:URI="..." (fMP4 init segment), owned */
    double part_target;                  /* #EXT-X-PART-INF:PART-TARGET= */
    double part_hold_back;               /* #EXT-X-SERVER-CONTROL:...PART-HOLD-BACK= */
    double hold_back;                    /* #EXT-X-SERVER-CONTROL:...HOLD-BACK= (0 = none) */
    bool can_block_reload;               /* #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES */
    struct playlist_part *pending_parts; /* parts of the segment being written, owned */
    size_t n_pending_parts;
    char *preload_hint_uri; /* #EXT-X-PRELOAD-HINT:TYPE=PART,URI="..." owned */
};

/* Sets *pl to an empty playlist of that type (version 3, independent
 * segments on, pdt none). Nothing is allocated until segments are added. */
void playlist_init(struct playlist *pl, enum playlist_type type, int target_duration);

/* Frees everything *pl owns and re-initialises it as an empty live playlist.
 * Accepts NULL. */
void playlist_clear(struct playlist *pl);

/* Appends a segment; uri is copied. pdt may be NAN. 0, -EINVAL (empty or
 * over-long uri, negative/non-finite duration, uri with a newline or control
 * character), -ENOMEM, -E2BIG (PLAYLIST_MAX_SEGMENTS). */
int playlist_add_segment(struct playlist *pl, const char *uri, double duration, bool discontinuity,
                         double pdt);

/* Live window: appends a segment, then drops the oldest segments until at
 * most list_size remain (list_size 0 = keep all). Each dropped segment bumps
 * media_sequence, and a dropped segment that carried a DISCONTINUITY tag
 * bumps discontinuity_sequence (RFC 8216 6.2.2). The URIs of the dropped
 * segments are returned in *removed (a NULL-terminated heap array of heap
 * strings the caller frees with playlist_free_strv; *removed is NULL when
 * nothing left the window) so the caller can delete the files after a
 * grace period. removed may be NULL when the caller does not care. */
int playlist_live_append(struct playlist *pl, const char *uri, double duration, bool discontinuity,
                         double pdt, size_t list_size, char ***removed);

/* Adds an LL-HLS part to the segment being written (pending parts); they move
 * into the segment at the next playlist_add_segment/playlist_live_append. */
int playlist_add_pending_part(struct playlist *pl, const char *uri, double duration,
                              bool independent);

/* Sets (copies) or clears (NULL) map_uri / preload_hint_uri. 0 or -ENOMEM/-EINVAL. */
int playlist_set_map(struct playlist *pl, const char *uri);
/* EXT-X-MAP written before the last segment added (uri copied). 0, -EINVAL
 * (no segment, bad uri), -ENOMEM. */
int playlist_set_segment_map(struct playlist *pl, const char *uri);
int playlist_set_preload_hint(struct playlist *pl, const char *uri);

/* Frees a NULL-terminated string array; sets *v to NULL. Accepts NULL. */
void playlist_free_strv(char ***v);

/* Sum of all segment durations. */
double playlist_total_duration(const struct playlist *pl);

/* The target duration the writer will use: max(pl->target_duration,
 * every EXTINF rounded to the nearest integer, 1). */
int playlist_effective_target(const struct playlist *pl);

/* Renders the playlist text into a heap buffer the caller frees.
 * 0 or -ENOMEM/-EINVAL. */
int playlist_render(const struct playlist *pl, char **out, size_t *out_len);

/* Renders and writes to path atomically (temp file + rename). 0 or -errno. */
int playlist_write(const struct playlist *pl, const char *path);

/* Parses playlist text (not necessarily NUL-terminated) into *out, which
 * must not hold data (it is initialised here). Unknown tags are ignored.
 * Returns 0, -EINVAL for anything malformed or over the limits (then *out
 * is left empty), -ENOMEM. */
int playlist_parse(const char *text, size_t len, struct playlist *out);

/* Reads and parses a file (at most PLAYLIST_MAX_TEXT bytes). 0 or -errno. */
int playlist_read(const char *path, struct playlist *out);

/* Formats epoch seconds as "2026-11-22T10:00:00.123Z" (UTC, milliseconds
 * rounded). buf needs 32 bytes. 0 or -EINVAL (non-finite or out of range). */
int playlist_format_pdt(double t, char *buf, size_t size);

/* Parses an ISO 8601 date-time with optional fraction and Z or +hh:mm/-hh:mm
 * offset into epoch seconds. 0 or -EINVAL. */
int playlist_parse_pdt(const char *s, double *out);

#endif
