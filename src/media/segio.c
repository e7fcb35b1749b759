/* Shared parts of the segment writers: see segio.h. */
#include "media/segio.h"

#include "core/util.h"
#include "media/tsseg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int media_segio_set_streams(struct media_segio *s, const AVCodecParameters *video,
                            AVRational video_tb, const AVCodecParameters *audio,
                            AVRational audio_tb)
{
    for (int i = 0; i < 2; i++)
        avcodec_parameters_free(&s->par[i]);
    s->par[0] = avcodec_parameters_alloc();
    if (!s->par[0] || avcodec_parameters_copy(s->par[0], video) < 0)
        return AVERROR(ENOMEM);
    s->tb[0] = video_tb;
    s->have_audio = audio != NULL;
    if (audio) {
        s->par[1] = avcodec_parameters_alloc();
        if (!s->par[1] || avcodec_parameters_copy(s->par[1], audio) < 0)
            return AVERROR(ENOMEM);
        s->tb[1] = audio_tb;
    }
    return 0;
}

void media_segio_cut_at(struct media_segio *s, int64_t pts)
{
    if (s->ncuts && pts <= s->cuts[s->ncuts - 1])
        return;
    if (s->ncuts == MEDIA_SEGIO_MAX_CUTS) {
        /* An encoder that ignores forced keyframes: cuts then happen at its
         * own keyframes; forget the oldest request. */
        memmove(s->cuts, s->cuts + 1, (MEDIA_SEGIO_MAX_CUTS - 1) * sizeof(s->cuts[0]));
        s->ncuts--;
    }
    s->cuts[s->ncuts++] = pts;
}

bool media_segio_take_cut(struct media_segio *s, const AVPacket *pkt)
{
    if (!(pkt->flags & AV_PKT_FLAG_KEY) || !s->ncuts || pkt->pts < s->cuts[0])
        return false;
    size_t k = 0;
    while (k < s->ncuts && s->cuts[k] <= pkt->pts)
        k++;
    memmove(s->cuts, s->cuts + k, (s->ncuts - k) * sizeof(s->cuts[0]));
    s->ncuts -= k;
    return true;
}

static int64_t qdts(const struct media_segio *s, const struct media_segio_pkt *q)
{
    int64_t ts = q->pkt->dts != AV_NOPTS_VALUE ? q->pkt->dts : q->pkt->pts;
    return av_rescale_q(ts, s->tb[q->stream], (AVRational){1, 90000});
}

/* Writes queued packets in dts order while every stream has one queued (so
 * nothing earlier can still arrive), or everything when flushing. */
static int drain_queue(struct media_segio *s, bool flush, media_segio_write_fn write_fn, void *arg)
{
    while (s->qlen) {
        if (!flush) {
            bool have[2] = {false, false};
            for (size_t i = 0; i < s->qlen; i++)
                have[s->q[i].stream] = true;
            bool ready = have[0] && (!s->have_audio || have[1]);
            double span = (qdts(s, &s->q[s->qlen - 1]) - qdts(s, &s->q[0])) / 90000.0;
            if (!ready && span < s->max_span)
                break;
        }
        struct media_segio_pkt q = s->q[0];
        memmove(s->q, s->q + 1, (s->qlen - 1) * sizeof(*s->q));
        s->qlen--;
        int r = write_fn(arg, q.stream, q.pkt);
        av_packet_free(&q.pkt);
        if (r < 0)
            return r;
    }
    return 0;
}

int media_segio_write(struct media_segio *s, int stream, AVPacket *pkt,
                      media_segio_write_fn write_fn, void *arg)
{
    if (stream != MEDIA_TSSEG_VIDEO && stream != MEDIA_TSSEG_AUDIO)
        return AVERROR(EINVAL);
    if ((stream == MEDIA_TSSEG_AUDIO && !s->have_audio) ||
        (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE)) {
        av_packet_unref(pkt);
        return 0;
    }
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 64;
        struct media_segio_pkt *q = realloc(s->q, cap * sizeof(*q));
        if (!q)
            return AVERROR(ENOMEM);
        s->q = q;
        s->qcap = cap;
    }
    AVPacket *copy = av_packet_alloc();
    if (!copy)
        return AVERROR(ENOMEM);
    av_packet_move_ref(copy, pkt);
    struct media_segio_pkt item = {copy, stream};
    int64_t d = qdts(s, &item);
    size_t pos = s->qlen;
    while (pos > 0 && qdts(s, &s->q[pos - 1]) > d)
        pos--;
    memmove(s->q + pos + 1, s->q + pos, (s->qlen - pos) * sizeof(*s->q));
    s->q[pos] = item;
    s->qlen++;
    return drain_queue(s, false, write_fn, arg);
}

int media_segio_flush(struct media_segio *s, media_segio_write_fn write_fn, void *arg)
{
    int r = drain_queue(s, true, write_fn, arg);
    s->ncuts = 0;
    return r;
}

void media_segio_discard(struct media_segio *s)
{
    for (size_t i = 0; i < s->qlen; i++)
        av_packet_free(&s->q[i].pkt);
    s->qlen = 0;
    s->ncuts = 0;
}

void media_segio_release(struct media_segio *s)
{
    media_segio_discard(s);
    free(s->q);
    s->q = NULL;
    s->qcap = 0;
    for (int i = 0; i < 2; i++)
        avcodec_parameters_free(&s->par[i]);
}

int media_segio_add_streams(const struct media_segio *s, AVFormatContext *oc, bool with_audio)
{
    for (int i = 0; i < (with_audio ? 2 : 1); i++) {
        AVStream *st = avformat_new_stream(oc, NULL);
        if (!st)
            return AVERROR(ENOMEM);
        int r = avcodec_parameters_copy(st->codecpar, s->par[i]);
        if (r < 0)
            return r;
        st->codecpar->codec_tag = 0;
        st->time_base = s->tb[i];
    }
    return 0;
}

int media_segio_paths(char *path, size_t path_size, char *tmp, size_t tmp_size, const char *dir,
                      const char *prefix, int64_t index, const char *ext)
{
    if (util_fmt(path, path_size, "%s/%s%lld%s", dir, prefix, (long long)index, ext) < 0 ||
        util_fmt(tmp, tmp_size, "%s.tmp", path) < 0)
        return AVERROR(ENAMETOOLONG);
    return 0;
}

int media_segio_commit(const char *tmp, const char *path)
{
    if (rename(tmp, path) < 0) {
        int r = -errno;
        unlink(tmp);
        return r;
    }
    return 0;
}
