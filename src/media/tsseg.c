/* MPEG-TS segment writer: see tsseg.h. */
#include "media/tsseg.h"

#include "core/log.h"
#include "core/util.h"
#include "media/avlog.h"
#include "media/segio.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

/* Released anyway when one stream is this far ahead of a silent other one
 * (a dead audio source must not hold the video back forever). */
#define MAX_QUEUE_SPAN 5.0

struct media_tsseg {
    char *dir, *prefix;
    void (*on_segment)(void *arg, const struct media_tsseg_info *info);
    void *arg;
    int64_t next_index;
    int64_t total_bytes;

    struct media_segio io; /* streams, interleaving queue, cuts */

    /* the open segment */
    AVFormatContext *oc;
    bool out_audio; /* the open segment has an audio stream */
    int64_t index;
    char path[PATH_MAX], tmp[PATH_MAX];
    int64_t first_pts, end_pts; /* video, in tb[0] */
    int64_t frames;
};

int media_tsseg_create(struct media_tsseg **out, const struct media_tsseg_cfg *cfg)
{
    struct media_tsseg *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->dir = strdup(cfg->dir);
    w->prefix = strdup(cfg->prefix ? cfg->prefix : "");
    if (!w->dir || !w->prefix) {
        media_tsseg_free(&w);
        return -ENOMEM;
    }
    w->on_segment = cfg->on_segment;
    w->arg = cfg->arg;
    w->next_index = cfg->first_index;
    w->io.max_span = MAX_QUEUE_SPAN;
    *out = w;
    return 0;
}

int media_tsseg_set_streams(struct media_tsseg *w, const AVCodecParameters *video,
                            AVRational video_tb, const AVCodecParameters *audio,
                            AVRational audio_tb)
{
    return media_segio_set_streams(&w->io, video, video_tb, audio, audio_tb);
}

int media_tsseg_cut_at(struct media_tsseg *w, int64_t pts)
{
    media_segio_cut_at(&w->io, pts);
    return 0;
}

static int open_segment(struct media_tsseg *w)
{
    AVDictionary *opts = NULL;
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int r;

    if (!w->io.par[0])
        return AVERROR(EINVAL);
    w->index = w->next_index++;
    if ((r = media_segio_paths(w->path, sizeof(w->path), w->tmp, sizeof(w->tmp), w->dir, w->prefix,
                               w->index, ".ts")) < 0)
        return r;
    if ((r = avformat_alloc_output_context2(&w->oc, NULL, "mpegts", w->tmp)) < 0)
        return r;
    w->out_audio = w->io.have_audio;
    if ((r = media_segio_add_streams(&w->io, w->oc, w->out_audio)) < 0)
        goto fail;
    if ((r = avio_open(&w->oc->pb, w->tmp, AVIO_FLAG_WRITE)) < 0) {
        LOG_ERROR(NULL, "cannot create %s: %s", w->tmp, av_make_error_string(eb, sizeof(eb), r));
        goto fail;
    }
    /* Timestamps exactly as given: continuous across segment files. */
    av_dict_set(&opts, "mpegts_copyts", "1", 0);
    av_dict_set(&opts, "avoid_negative_ts", "disabled", 0);
    /* Each file has its own muxer, so continuity counters restart: flag it,
     * or demuxers reading segments back to back report corrupt packets. */
    av_dict_set(&opts, "mpegts_flags", "+initial_discontinuity", 0);
    r = avformat_write_header(w->oc, &opts);
    av_dict_free(&opts);
    if (r < 0)
        goto fail;
    w->first_pts = AV_NOPTS_VALUE;
    w->end_pts = AV_NOPTS_VALUE;
    w->frames = 0;
    return 0;
fail:
    if (w->oc) {
        avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
        w->oc = NULL;
    }
    unlink(w->tmp);
    return r;
}

/* Closes the open segment; next_first_pts is the next segment's first video
 * pts (AV_NOPTS_VALUE at the end), which gives the exact duration. */
static int close_segment(struct media_tsseg *w, int64_t next_first_pts)
{
    int r = av_write_trailer(w->oc);
    int r2 = avio_closep(&w->oc->pb);
    avformat_free_context(w->oc);
    w->oc = NULL;
    if (r >= 0)
        r = r2;
    if (r < 0) {
        unlink(w->tmp);
        return r;
    }
    if ((r = media_segio_commit(w->tmp, w->path)) < 0)
        return r;
    struct stat sb;
    int64_t bytes = stat(w->path, &sb) == 0 ? sb.st_size : 0;
    w->total_bytes += bytes;
    int64_t end = next_first_pts != AV_NOPTS_VALUE ? next_first_pts : w->end_pts;
    double tb = av_q2d(w->io.tb[0]);
    struct media_tsseg_info info = {
        .index = w->index,
        .file = strrchr(w->path, '/') + 1,
        .start = w->first_pts * tb - MEDIA_TS_OFFSET,
        .duration = end != AV_NOPTS_VALUE ? (end - w->first_pts) * tb : 0,
        .bytes = bytes,
        .video_frames = w->frames,
    };
    if (w->on_segment)
        w->on_segment(w->arg, &info);
    return 0;
}

/* media_segio_write_fn: one packet in interleaved order. */
static int write_one(void *arg, int stream, AVPacket *pkt)
{
    struct media_tsseg *w = arg;
    int r;
    if (stream == MEDIA_TSSEG_VIDEO) {
        bool key = pkt->flags & AV_PKT_FLAG_KEY;
        bool cut = media_segio_take_cut(&w->io, pkt);
        if (w->oc && cut) {
            if ((r = close_segment(w, pkt->pts)) < 0)
                return r;
        }
        if (!w->oc) {
            if (!key)
                return 0; /* a segment must start with a keyframe */
            if ((r = open_segment(w)) < 0)
                return r;
        }
        if (w->first_pts == AV_NOPTS_VALUE || pkt->pts < w->first_pts)
            w->first_pts = pkt->pts;
        int64_t end = pkt->pts + (pkt->duration > 0 ? pkt->duration : 0);
        if (w->end_pts == AV_NOPTS_VALUE || end > w->end_pts)
            w->end_pts = end;
        w->frames++;
    } else if (!w->oc || !w->out_audio) {
        return 0; /* audio before the first video frame of a segment run */
    }
    AVStream *st = w->oc->streams[stream];
    av_packet_rescale_ts(pkt, w->io.tb[stream], st->time_base);
    pkt->stream_index = stream;
    r = av_write_frame(w->oc, pkt);
    return r;
}

int media_tsseg_write(struct media_tsseg *w, int stream, AVPacket *pkt)
{
    return media_segio_write(&w->io, stream, pkt, write_one, w);
}

int media_tsseg_finish(struct media_tsseg *w)
{
    int r = media_segio_flush(&w->io, write_one, w);
    if (w->oc) {
        int r2 = close_segment(w, AV_NOPTS_VALUE);
        if (r >= 0)
            r = r2;
    }
    return r;
}

static void discard(struct media_tsseg *w)
{
    media_segio_discard(&w->io);
    if (w->oc) {
        avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
        w->oc = NULL;
        unlink(w->tmp);
    }
}

void media_tsseg_abort(struct media_tsseg *w, int64_t next_index)
{
    discard(w);
    w->next_index = next_index;
}

int64_t media_tsseg_next_index(const struct media_tsseg *w)
{
    return w->next_index;
}

int64_t media_tsseg_bytes(const struct media_tsseg *w)
{
    return w->total_bytes;
}

void media_tsseg_free(struct media_tsseg **pw)
{
    struct media_tsseg *w = *pw;
    if (!w)
        return;
    discard(w);
    media_segio_release(&w->io);
    free(w->dir);
    free(w->prefix);
    free(w);
    *pw = NULL;
}
