/* fMP4 (CMAF) segment writer for live HLS, with optional LL-HLS parts
 * (owner: llhls engineer). The counterpart of tsseg.h for the `fmp4` and
 * `lowlatency` preview variants: same cutting rules (a segment starts at the
 * first video keyframe at or after a requested cut), same timeline
 * convention (pts = (t + MEDIA_TS_OFFSET) * 90000), same interleaving.
 *
 * One mp4 muxer per run (set_streams … finish): its init segment (ftyp+moov)
 * goes to <prefix>init<N>.mp4, written once and reused by later runs whose
 * init is byte-identical (or to a fixed name, VOD). HEVC is tagged hvc1
 * (parameter sets in the sample entry), as Apple's HLS rules require. Media goes out as moof+mdat
 * fragments:
 * - with parts (part_seconds > 0), one fragment per part, each written to
 *   <prefix><msn>.<k>.m4s, cut at the first video frame at or after every
 *   part_seconds from the segment's start;
 * - without parts, one fragment per segment.
 * The segment file <prefix><msn>.m4s is the concatenation of its fragments.
 * Every file is written through a temp name + rename, so a file that exists
 * is complete. Video sample durations are the exact distances between frames
 * (the last frame of a fragment waits for the next one), so the fragments'
 * decode times stay on the capture timeline. */
#ifndef HLSD_MEDIA_FMP4SEG_H
#define HLSD_MEDIA_FMP4SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "media/tsseg.h" /* MEDIA_TSSEG_VIDEO/AUDIO, MEDIA_TS_OFFSET */

/* A finished part (LL-HLS partial segment). Strings valid during the callback. */
struct media_fmp4_part {
    int64_t msn; /* media sequence number of its segment */
    int index;   /* part index within the segment, from 0 */
    const char *file;
    double start;     /* output-timeline seconds of its first video frame */
    double duration;  /* to the next part's first frame (or its last frame's end) */
    bool independent; /* starts with a keyframe */
};

/* A finished segment. */
struct media_fmp4_segment {
    int64_t index; /* media sequence number (file <prefix><index>.m4s) */
    const char *file;
    double start;    /* output-timeline seconds of its first video frame */
    double duration; /* sum of its parts' durations (milliseconds, exactly) */
    int parts;       /* part files written for it (0 without parts) */
    int64_t bytes;
    int64_t video_frames;
};

struct media_fmp4seg_cfg {
    const char *dir;    /* folder (exists) */
    const char *prefix; /* file name prefix */
    int64_t first_index;
    double part_seconds; /* > 0: LL-HLS parts of about this length; 0: none */
    /* VOD: the init segment's fixed file name (the playlist names it before
     * anything is made). The init is then written when the muxer opens, from
     * the streams' parameter sets (a copied stream has them in its header),
     * instead of with the first fragment. NULL: <prefix>init<N>.mp4. */
    const char *init_name;
    /* A new init segment file is in place (before the first output that
     * needs it). May be NULL. */
    void (*on_init)(void *arg, const char *file);
    /* After each fragment is in place: part (NULL without parts) and, when
     * the fragment ended a segment, seg (else NULL). next_part is the name of
     * the part now being written (the preload hint; NULL without parts). */
    void (*on_output)(void *arg, const struct media_fmp4_part *part,
                      const struct media_fmp4_segment *seg, const char *next_part);
    void *arg;
};

struct media_fmp4seg;

/* Copies cfg (strings included). 0 or -ENOMEM. */
int media_fmp4seg_create(struct media_fmp4seg **out, const struct media_fmp4seg_cfg *cfg);

/* Same contract as media_tsseg_set_streams; the next segment opened starts
 * a new muxer (and maybe a new init segment). */
int media_fmp4seg_set_streams(struct media_fmp4seg *w, const AVCodecParameters *video,
                              AVRational video_tb, const AVCodecParameters *audio,
                              AVRational audio_tb);

/* With cfg.init_name: opens the muxer now and writes the init segment (the
 * streams must be set). 0 or negative AVERROR/errno. */
int media_fmp4seg_write_init(struct media_fmp4seg *w);

/* Same contract as media_tsseg_cut_at. */
int media_fmp4seg_cut_at(struct media_fmp4seg *w, int64_t pts);

/* Same contract as media_tsseg_write. */
int media_fmp4seg_write(struct media_fmp4seg *w, int stream, AVPacket *pkt);

/* Writes everything queued, closes the current part and segment however
 * short, and ends the run's muxer. 0 or negative AVERROR/errno. */
int media_fmp4seg_finish(struct media_fmp4seg *w);

/* PART-TARGET for the playlist: part_seconds rounded up to whole frames of
 * the video (and to the millisecond), known once the first part is written
 * (0 before, or without parts). Parts never exceed it at a steady frame rate. */
double media_fmp4seg_part_target(const struct media_fmp4seg *w);

/* Total bytes of finished segments. */
int64_t media_fmp4seg_bytes(const struct media_fmp4seg *w);

/* Index the next segment opened will get. */
int64_t media_fmp4seg_next_index(const struct media_fmp4seg *w);

/* Frees; an unfinished segment is discarded (temp files removed). Accepts NULL. */
void media_fmp4seg_free(struct media_fmp4seg **w);

#endif
