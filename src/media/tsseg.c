/* MPEG-TS segment writer: see tsseg.h. */
#include "media/tsseg.h"

#include "core/log.h"
#include "core/util.h"
#include "media/avlog.h"

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
#define MAX_CUTS 64

struct qpkt {
    AVPacket *pkt;
    int stream;
};

struct media_tsseg {
    char *dir, *prefix;
    void (*on_segment)(void *arg, const struct media_tsseg_info *info);
    void *arg;
    int64_t next_index;
    int64_t total_bytes;

    AVCodecParameters *par[2];
    AVRational tb[2];
    bool have_audio;

    /* interleaving queue, sorted by dts */
    struct qpkt *q;
    size_t qlen, qcap;

    int64_t cuts[MAX_CUTS];
    size_t ncuts;

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
    *out = w;
    return 0;
}

int media_tsseg_set_streams(struct media_tsseg *w, const AVCodecParameters *video,
                            AVRational video_tb, const AVCodecParameters *audio,
                            AVRational audio_tb)
{
    for (int i = 0; i < 2; i++)
        avcodec_parameters_free(&w->par[i]);
    w->par[0] = avcodec_parameters_alloc();
    if (!w->par[0] || avcodec_parameters_copy(w->par[0], video) < 0)
        return AVERROR(ENOMEM);
    w->tb[0] = video_tb;
    w->have_audio = audio != NULL;
    if (audio) {
        w->par[1] = avcodec_parameters_alloc();
        if (!w->par[1] || avcodec_parameters_copy(w->par[1], audio) < 0)
            return AVERROR(ENOMEM);
        w->tb[1] = audio_tb;
    }
    return 0;
}

int media_tsseg_cut_at(struct media_tsseg *w, int64_t pts)
{
    if (w->ncuts && pts <= w->cuts[w->ncuts - 1])
        return 0;
    if (w->ncuts == MAX_CUTS) {
        /* An encoder that ignores forced keyframes: cuts then happen at its
         * own keyframes; forget the oldest request. */
        memmove(w->cuts, w->cuts + 1, (MAX_CUTS - 1) * sizeof(w->cuts[0]));
        w->ncuts--;
    }
    w->cuts[w->ncuts++] = pts;
    return 0;
}

static int open_segment(struct media_tsseg *w)
{
    AVDictionary *opts = NULL;
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int r;

    if (!w->par[0])
        return AVERROR(EINVAL);
    w->index = w->next_index++;
    if (snprintf(w->path, sizeof(w->path), "%s/%s%lld.ts", w->dir, w->prefix,
                 (long long)w->index) >= (int)sizeof(w->path) ||
        snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", w->path) >= (int)sizeof(w->tmp))
        return AVERROR(ENAMETOOLONG);
    if ((r = avformat_alloc_output_context2(&w->oc, NULL, "mpegts", w->tmp)) < 0)
        return r;
    w->out_audio = w->have_audio;
    for (int i = 0; i < (w->out_audio ? 2 : 1); i++) {
        AVStream *st = avformat_new_stream(w->oc, NULL);
        if (!st || (r = avcodec_parameters_copy(st->codecpar, w->par[i])) < 0) {
            r = st ? r : AVERROR(ENOMEM);
            goto fail;
        }
        st->codecpar->codec_tag = 0;
        st->time_base = w->tb[i];
    }
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
    if (rename(w->tmp, w->path) < 0) {
        r = -errno;
        unlink(w->tmp);
        return r;
    }
    struct stat sb;
    int64_t bytes = stat(w->path, &sb) == 0 ? sb.st_size : 0;
    w->total_bytes += bytes;
    int64_t end = next_first_pts != AV_NOPTS_VALUE ? next_first_pts : w->end_pts;
    double tb = av_q2d(w->tb[0]);
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

static int write_one(struct media_tsseg *w, int stream, AVPacket *pkt)
{
    int r;
    if (stream == MEDIA_TSSEG_VIDEO) {
        bool key = pkt->flags & AV_PKT_FLAG_KEY;
        bool cut = false;
        if (key && w->ncuts && pkt->pts >= w->cuts[0]) {
            cut = true;
            size_t k = 0;
            while (k < w->ncuts && w->cuts[k] <= pkt->pts)
                k++;
            memmove(w->cuts, w->cuts + k, (w->ncuts - k) * sizeof(w->cuts[0]));
            w->ncuts -= k;
        }
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
    av_packet_rescale_ts(pkt, w->tb[stream], st->time_base);
    pkt->stream_index = stream;
    r = av_write_frame(w->oc, pkt);
    return r;
}

static int64_t qdts(const struct media_tsseg *w, const struct qpkt *q)
{
    int64_t ts = q->pkt->dts != AV_NOPTS_VALUE ? q->pkt->dts : q->pkt->pts;
    return av_rescale_q(ts, w->tb[q->stream], (AVRational){1, 90000});
}

/* Writes queued packets in dts order while every stream has one queued (so
 * nothing earlier can still arrive), or everything when flushing. */
static int drain_queue(struct media_tsseg *w, bool flush)
{
    while (w->qlen) {
        if (!flush) {
            bool have[2] = {false, false};
            for (size_t i = 0; i < w->qlen; i++)
                have[w->q[i].stream] = true;
            bool ready = have[0] && (!w->have_audio || have[1]);
            double span = (qdts(w, &w->q[w->qlen - 1]) - qdts(w, &w->q[0])) / 90000.0;
            if (!ready && span < MAX_QUEUE_SPAN)
                break;
        }
        struct qpkt q = w->q[0];
        memmove(w->q, w->q + 1, (w->qlen - 1) * sizeof(*w->q));
        w->qlen--;
        int r = write_one(w, q.stream, q.pkt);
        av_packet_free(&q.pkt);
        if (r < 0)
            return r;
    }
    return 0;
}

int media_tsseg_write(struct media_tsseg *w, int stream, AVPacket *pkt)
{
    if (stream != MEDIA_TSSEG_VIDEO && stream != MEDIA_TSSEG_AUDIO)
        return AVERROR(EINVAL);
    if (stream == MEDIA_TSSEG_AUDIO && !w->have_audio) {
        av_packet_unref(pkt);
        return 0;
    }
    if (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE) {
        av_packet_unref(pkt);
        return 0;
    }
    if (w->qlen == w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 64;
        struct qpkt *q = realloc(w->q, cap * sizeof(*q));
        if (!q)
            return AVERROR(ENOMEM);
        w->q = q;
        w->qcap = cap;
    }
    AVPacket *copy = av_packet_alloc();
    if (!copy)
        return AVERROR(ENOMEM);
    av_packet_move_ref(copy, pkt);
    struct qpkt item = {copy, stream};
    int64_t d = qdts(w, &item);
    size_t pos = w->qlen;
    while (pos > 0 && qdts(w, &w->q[pos - 1]) > d)
        pos--;
    memmove(w->q + pos + 1, w->q + pos, (w->qlen - pos) * sizeof(*w->q));
    w->q[pos] = item;
    w->qlen++;
    return drain_queue(w, false);
}

int media_tsseg_finish(struct media_tsseg *w)
{
    int r = drain_queue(w, true);
    w->ncuts = 0;
    if (w->oc) {
        int r2 = close_segment(w, AV_NOPTS_VALUE);
        if (r >= 0)
            r = r2;
    }
    return r;
}

static void discard(struct media_tsseg *w)
{
    for (size_t i = 0; i < w->qlen; i++)
        av_packet_free(&w->q[i].pkt);
    w->qlen = 0;
    w->ncuts = 0;
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
    free(w->q);
    for (int i = 0; i < 2; i++)
        avcodec_parameters_free(&w->par[i]);
    free(w->dir);
    free(w->prefix);
    free(w);
    *pw = NULL;
}
