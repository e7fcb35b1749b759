/* fMP4 segment and part writer: see fmp4seg.h. */
#include "media/fmp4seg.h"

#include "core/log.h"
#include "core/util.h"
#include "media/segio.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>

/* A stream that went silent holds the other back at most this long: short,
 * because every part waits for it (latency), and a late packet only lands in
 * the next fragment (each track keeps its own timeline in fMP4). */
#define MAX_QUEUE_SPAN 1.0
#define IO_BUF 16384
#define TB90K 90000.0

#if LIBAVFORMAT_VERSION_MAJOR < 61
typedef uint8_t *avio_wbuf;
#else
typedef const uint8_t *avio_wbuf;
#endif

struct media_fmp4seg {
    char *dir, *prefix, *init_name;
    double part_seconds;
    void (*on_init)(void *arg, const char *file);
    void (*on_output)(void *arg, const struct media_fmp4_part *part,
                      const struct media_fmp4_segment *seg, const char *next_part);
    void *arg;
    int64_t next_index;
    int64_t total_bytes;

    struct media_segio io; /* streams, interleaving queue, cuts */

    /* the run's muxer, writing into mem */
    AVFormatContext *oc;
    bool out_audio;
    uint8_t *mem;
    size_t mem_len, mem_cap;
    bool init_done;
    uint8_t *init; /* content of init_name (reused while identical) */
    size_t init_len;
    int init_gen;
    AVPacket *held;   /* latest video packet: its duration is the distance to the next */
    int64_t min_step; /* smallest video dts step seen (90 kHz), INT64_MAX before two */
    int64_t last_video_dts;
    double part_target;

    /* the open segment */
    bool seg_open;
    int64_t index;
    char seg_path[PATH_MAX], seg_tmp[PATH_MAX + 8];
    FILE *seg_f;
    int64_t seg_start_pts, seg_start_dts; /* first video frame, 90 kHz */
    int64_t seg_bytes, seg_frames;
    /* the open part */
    int part;
    int64_t part_start_dts; /* AV_NOPTS_VALUE before its first video frame */
    bool part_key;
    int64_t end_dts; /* end of the latest video frame written */
};

int media_fmp4seg_create(struct media_fmp4seg **out, const struct media_fmp4seg_cfg *cfg)
{
    struct media_fmp4seg *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->dir = strdup(cfg->dir);
    w->prefix = strdup(cfg->prefix ? cfg->prefix : "");
    w->init_name = cfg->init_name ? strdup(cfg->init_name) : NULL;
    if (!w->dir || !w->prefix || (cfg->init_name && !w->init_name)) {
        media_fmp4seg_free(&w);
        return -ENOMEM;
    }
    w->part_seconds = cfg->part_seconds > 0 ? cfg->part_seconds : 0;
    w->on_init = cfg->on_init;
    w->on_output = cfg->on_output;
    w->arg = cfg->arg;
    w->next_index = cfg->first_index;
    w->io.max_span = MAX_QUEUE_SPAN;
    w->min_step = INT64_MAX;
    w->last_video_dts = AV_NOPTS_VALUE;
    *out = w;
    return 0;
}

int media_fmp4seg_set_streams(struct media_fmp4seg *w, const AVCodecParameters *video,
                              AVRational video_tb, const AVCodecParameters *audio,
                              AVRational audio_tb)
{
    return media_segio_set_streams(&w->io, video, video_tb, audio, audio_tb);
}

static int open_muxer(struct media_fmp4seg *w);

int media_fmp4seg_write_init(struct media_fmp4seg *w)
{
    if (!w->init_name)
        return AVERROR(EINVAL);
    return w->oc ? 0 : open_muxer(w);
}

int media_fmp4seg_cut_at(struct media_fmp4seg *w, int64_t pts)
{
    media_segio_cut_at(&w->io, pts);
    return 0;
}

/* ---- the muxer ---- */

static int mem_write(void *opaque, avio_wbuf buf, int size)
{
    struct media_fmp4seg *w = opaque;
    if (size <= 0)
        return 0;
    if (w->mem_len + (size_t)size > w->mem_cap) {
        size_t cap = w->mem_cap ? w->mem_cap : 65536;
        while (cap < w->mem_len + (size_t)size)
            cap *= 2;
        uint8_t *m = realloc(w->mem, cap);
        if (!m)
            return AVERROR(ENOMEM);
        w->mem = m;
        w->mem_cap = cap;
    }
    memcpy(w->mem + w->mem_len, buf, (size_t)size);
    w->mem_len += (size_t)size;
    return size;
}

static void close_muxer(struct media_fmp4seg *w)
{
    if (!w->oc)
        return;
    if (w->oc->pb) {
        av_freep(&w->oc->pb->buffer);
        avio_context_free(&w->oc->pb);
    }
    avformat_free_context(w->oc);
    w->oc = NULL;
    av_packet_free(&w->held);
    w->mem_len = 0;
}

static int handle_init(struct media_fmp4seg *w, const uint8_t *data, size_t len);

static int open_muxer(struct media_fmp4seg *w)
{
    AVDictionary *opts = NULL;
    uint8_t *buf = NULL;
    int r;

    if (!w->io.par[0])
        return AVERROR(EINVAL);
    if ((r = avformat_alloc_output_context2(&w->oc, NULL, "mp4", NULL)) < 0)
        return r;
    w->out_audio = w->io.have_audio;
    if ((r = media_segio_add_streams(&w->io, w->oc, w->out_audio)) < 0)
        goto fail;
    if (w->oc->streams[0]->codecpar->codec_id == AV_CODEC_ID_HEVC)
        w->oc->streams[0]->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    buf = av_malloc(IO_BUF);
    if (!buf || !(w->oc->pb = avio_alloc_context(buf, IO_BUF, 1, w, NULL, mem_write, NULL))) {
        av_free(buf);
        r = AVERROR(ENOMEM);
        goto fail;
    }
    w->oc->pb->seekable = 0;
    w->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    /* frag_custom: a fragment exactly where we flush. delay_moov: the moov is
     * written with the first fragment, once the H.264 parameter sets are
     * known (the encoder puts them in-band, not in extradata). frag_discont:
     * the first fragment's decode time is the packets' own timestamp (the
     * capture timeline), not zero. */
    av_dict_set(&opts, "movflags",
                w->init_name ? "+frag_custom+empty_moov+default_base_moof+frag_discont"
                             : "+frag_custom+empty_moov+delay_moov+default_base_moof+frag_discont",
                0);
    r = avformat_write_header(w->oc, &opts);
    av_dict_free(&opts);
    if (r < 0)
        goto fail;
    w->init_done = false;
    if (!w->init_name)
        w->mem_len = 0;
    w->min_step = INT64_MAX;
    w->last_video_dts = AV_NOPTS_VALUE;
    if (w->init_name) {
        avio_flush(w->oc->pb);
        if (w->mem_len == 0) {
            r = AVERROR_BUG; /* empty_moov without delay_moov writes ftyp+moov here */
            goto fail;
        }
        r = handle_init(w, w->mem, w->mem_len);
        w->mem_len = 0;
        if (r < 0)
            goto fail;
    }
    return 0;
fail:
    close_muxer(w);
    return r;
}

/* Offset of the first top-level "moof" box in mem, or mem_len. */
static size_t find_moof(const struct media_fmp4seg *w)
{
    size_t off = 0;
    while (off + 8 <= w->mem_len) {
        const uint8_t *b = w->mem + off;
        uint64_t size = (uint64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
        if (memcmp(b + 4, "moof", 4) == 0)
            return off;
        if (size == 1 && off + 16 <= w->mem_len) {
            size = 0;
            for (int i = 8; i < 16; i++)
                size = size << 8 | b[i];
        }
        if (size < 8 || size > w->mem_len - off)
            break;
        off += size;
    }
    return w->mem_len;
}

/* The run's init segment: reuse the current file when identical, else a new one. */
static int handle_init(struct media_fmp4seg *w, const uint8_t *data, size_t len)
{
    char name[NAME_MAX + 1], path[PATH_MAX];
    int r;

    w->init_done = true;
    if (w->init && w->init_len == len && memcmp(w->init, data, len) == 0)
        return 0;
    if (w->init_name)
        r = util_fmt(name, sizeof(name), "%s", w->init_name);
    else
        r = util_fmt(name, sizeof(name), "%sinit%d.mp4", w->prefix, w->init_gen + 1);
    if (r < 0 || (r = util_fmt(path, sizeof(path), "%s/%s", w->dir, name)) < 0)
        return AVERROR(ENAMETOOLONG);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return AVERROR(ENOMEM);
    memcpy(copy, data, len);
    if ((r = util_write_file_atomic(path, data, len)) < 0) {
        free(copy);
        return r;
    }
    free(w->init);
    w->init = copy;
    w->init_len = len;
    w->init_gen++;
    if (w->on_init)
        w->on_init(w->arg, name);
    return 0;
}

/* ---- segments and parts ---- */

static double ms(int64_t ts90k)
{
    return round(ts90k / 90.0) / 1000.0;
}

static void discard_segment(struct media_fmp4seg *w)
{
    if (w->seg_f) {
        fclose(w->seg_f);
        w->seg_f = NULL;
        unlink(w->seg_tmp);
    }
    w->seg_open = false;
}

static int open_segment(struct media_fmp4seg *w, const AVPacket *pkt)
{
    int r;
    if (!w->oc && (r = open_muxer(w)) < 0)
        return r;
    w->index = w->next_index++;
    if ((r = media_segio_paths(w->seg_path, sizeof(w->seg_path), w->seg_tmp, sizeof(w->seg_tmp),
                               w->dir, w->prefix, w->index, ".m4s")) < 0)
        return r;
    w->seg_f = fopen(w->seg_tmp, "wbe");
    if (!w->seg_f) {
        r = AVERROR(errno);
        LOG_ERROR(NULL, "cannot create %s: %s", w->seg_tmp, strerror(errno));
        return r;
    }
    w->seg_open = true;
    w->seg_start_pts = pkt->pts;
    w->seg_start_dts = pkt->dts;
    w->seg_bytes = 0;
    w->seg_frames = 0;
    w->part = 0;
    w->part_start_dts = AV_NOPTS_VALUE;
    return 0;
}

static void compute_part_target(struct media_fmp4seg *w)
{
    double step = w->min_step != INT64_MAX ? (double)w->min_step : TB90K / 25;
    double frames = ceil(w->part_seconds * TB90K / step - 1e-3);
    w->part_target = ceil(fmax(frames, 1) * step / 90.0 - 1e-6) / 1000.0;
}

/* Writes the held video frame; its duration reaches to next_dts when known. */
static int release_held(struct media_fmp4seg *w, int64_t next_dts)
{
    AVPacket *h = w->held;
    if (!h)
        return 0;
    if (next_dts != AV_NOPTS_VALUE && next_dts > h->dts)
        h->duration = next_dts - h->dts;
    else if (h->duration <= 0)
        h->duration = w->min_step != INT64_MAX ? w->min_step : (int64_t)(TB90K / 25);
    w->end_dts = h->dts + h->duration;
    av_packet_rescale_ts(h, w->io.tb[0], w->oc->streams[0]->time_base);
    h->stream_index = 0;
    int r = av_write_frame(w->oc, h);
    av_packet_free(&w->held);
    return r;
}

/* Ends the open fragment at end_dts (90 kHz): flushes the muxer, writes the
 * part file, appends to the segment, and with seg_ends closes the segment. */
static int close_fragment(struct media_fmp4seg *w, int64_t end_dts, bool seg_ends)
{
    char part_name[NAME_MAX + 1] = "", next[NAME_MAX + 1] = "", path[PATH_MAX];
    int r;

    if ((r = av_write_frame(w->oc, NULL)) < 0)
        return r;
    size_t off = find_moof(w);
    if (!w->init_done && off == w->mem_len) {
        /* delay_moov: the first flush wrote only the moov. */
        if ((r = av_write_frame(w->oc, NULL)) < 0)
            return r;
        off = find_moof(w);
    }
    if (!w->init_done) {
        if (off == 0 || off == w->mem_len)
            return AVERROR_BUG; /* the muxer did not write ftyp+moov+moof */
        if ((r = handle_init(w, w->mem, off)) < 0)
            return r;
    } else {
        off = 0;
    }
    const uint8_t *frag = w->mem + off;
    size_t frag_len = w->mem_len - off;
    w->mem_len = 0;

    if (frag_len && fwrite(frag, 1, frag_len, w->seg_f) != frag_len)
        return AVERROR(errno ? errno : EIO);
    w->seg_bytes += (int64_t)frag_len;

    struct media_fmp4_part part = {0};
    bool parts = w->part_seconds > 0;
    int64_t pstart = w->part_start_dts != AV_NOPTS_VALUE ? w->part_start_dts : w->seg_start_dts;
    if (parts) {
        if (w->part_target == 0)
            compute_part_target(w);
        if (util_fmt(part_name, sizeof(part_name), "%s%lld.%d.m4s", w->prefix, (long long)w->index,
                     w->part) < 0 ||
            util_fmt(path, sizeof(path), "%s/%s", w->dir, part_name) < 0)
            return AVERROR(ENAMETOOLONG);
        if ((r = util_write_file_atomic(path, frag, frag_len)) < 0)
            return r;
        part = (struct media_fmp4_part){
            .msn = w->index,
            .index = w->part,
            .file = part_name,
            .start = pstart / TB90K - MEDIA_TS_OFFSET,
            .duration = ms(end_dts) - ms(pstart),
            .independent = w->part_key,
        };
    }
    struct media_fmp4_segment seg = {0};
    if (seg_ends) {
        int fr = fclose(w->seg_f);
        w->seg_f = NULL;
        w->seg_open = false;
        if (fr != 0) {
            r = AVERROR(errno ? errno : EIO);
            unlink(w->seg_tmp);
            return r;
        }
        if ((r = media_segio_commit(w->seg_tmp, w->seg_path)) < 0)
            return r;
        w->total_bytes += w->seg_bytes;
        seg = (struct media_fmp4_segment){
            .index = w->index,
            .file = strrchr(w->seg_path, '/') + 1,
            .start = w->seg_start_pts / TB90K - MEDIA_TS_OFFSET,
            .duration = ms(end_dts) - ms(w->seg_start_dts),
            .parts = parts ? w->part + 1 : 0,
            .bytes = w->seg_bytes,
            .video_frames = w->seg_frames,
        };
    }
    if (parts &&
        util_fmt(next, sizeof(next), "%s%lld.%d.m4s", w->prefix,
                 (long long)(seg_ends ? w->next_index : w->index), seg_ends ? 0 : w->part + 1) < 0)
        return AVERROR(ENAMETOOLONG);
    if (w->on_output)
        w->on_output(w->arg, parts ? &part : NULL, seg_ends ? &seg : NULL, parts ? next : NULL);
    return 0;
}

static int write_video(struct media_fmp4seg *w, AVPacket *pkt)
{
    bool key = pkt->flags & AV_PKT_FLAG_KEY;
    int r;

    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    bool cut = media_segio_take_cut(&w->io, pkt);
    if (w->seg_open && (r = release_held(w, pkt->dts)) < 0)
        return r;
    if (w->seg_open && cut) {
        if ((r = close_fragment(w, pkt->dts, true)) < 0)
            return r;
    } else if (w->seg_open && w->part_seconds > 0 && w->part_start_dts != AV_NOPTS_VALUE) {
        double boundary = w->seg_start_dts + (w->part + 1) * w->part_seconds * TB90K;
        /* The tolerance only absorbs timestamp rounding. */
        if (pkt->dts >= boundary - 45) {
            if ((r = close_fragment(w, pkt->dts, false)) < 0)
                return r;
            w->part++;
            w->part_start_dts = AV_NOPTS_VALUE;
        }
    }
    if (!w->seg_open) {
        if (!key)
            return 0; /* a segment starts with a keyframe */
        if ((r = open_segment(w, pkt)) < 0)
            return r;
    }
    if (w->part_start_dts == AV_NOPTS_VALUE) {
        w->part_start_dts = pkt->dts;
        w->part_key = key;
    }
    if (w->last_video_dts != AV_NOPTS_VALUE && pkt->dts > w->last_video_dts &&
        pkt->dts - w->last_video_dts < w->min_step)
        w->min_step = pkt->dts - w->last_video_dts;
    w->last_video_dts = pkt->dts;
    w->seg_frames++;
    if (!(w->held = av_packet_alloc()))
        return AVERROR(ENOMEM);
    av_packet_move_ref(w->held, pkt);
    return 0;
}

/* media_segio_write_fn: one packet in interleaved order. */
static int write_one(void *arg, int stream, AVPacket *pkt)
{
    struct media_fmp4seg *w = arg;
    if (stream == MEDIA_TSSEG_VIDEO)
        return write_video(w, pkt);
    if (!w->seg_open || !w->out_audio)
        return 0; /* audio before the first video frame of a run */
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    av_packet_rescale_ts(pkt, w->io.tb[1], w->oc->streams[1]->time_base);
    pkt->stream_index = 1;
    return av_write_frame(w->oc, pkt);
}

int media_fmp4seg_write(struct media_fmp4seg *w, int stream, AVPacket *pkt)
{
    return media_segio_write(&w->io, stream, pkt, write_one, w);
}

int media_fmp4seg_finish(struct media_fmp4seg *w)
{
    int r = media_segio_flush(&w->io, write_one, w);
    if (r >= 0 && w->seg_open) {
        r = release_held(w, AV_NOPTS_VALUE);
        if (r >= 0)
            r = close_fragment(w, w->end_dts, true);
    }
    if (w->seg_open)
        discard_segment(w);
    close_muxer(w);
    return r;
}

double media_fmp4seg_part_target(const struct media_fmp4seg *w)
{
    return w->part_target;
}

int64_t media_fmp4seg_bytes(const struct media_fmp4seg *w)
{
    return w->total_bytes;
}

int64_t media_fmp4seg_next_index(const struct media_fmp4seg *w)
{
    return w->next_index;
}

void media_fmp4seg_free(struct media_fmp4seg **pw)
{
    struct media_fmp4seg *w = *pw;
    if (!w)
        return;
    media_segio_release(&w->io);
    discard_segment(w);
    close_muxer(w);
    free(w->mem);
    free(w->init);
    free(w->dir);
    free(w->prefix);
    free(w->init_name);
    free(w);
    *pw = NULL;
}
