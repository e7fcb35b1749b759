#include "media/probe.h"

#include "core/util.h"
#include "media/avlog.h"
#include "media/codecs.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/parseutils.h>
#include <libavutil/pixdesc.h>

/* Keyframe lists are bounded: one per frame of a day at 120 fps is absurd. */
#define MAX_KEYFRAMES (1u << 22)

static void set_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, arg);
}

/* libav's own last message is often more precise than the code
 * ("moov atom not found" for "Invalid data found when processing input"). */
static void set_averr(char *err, size_t errlen, int ret)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    const char *detail = media_avlog_last_error();
    av_strerror(ret, buf, sizeof(buf));
    if (err && errlen && detail[0] && !strstr(buf, detail))
        snprintf(err, errlen, "%s (%s)", buf, detail);
    else
        set_err(err, errlen, "%s", buf);
}

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static double q2d_or0(AVRational q)
{
    return q.num > 0 && q.den > 0 ? av_q2d(q) : 0;
}

static double creation_time_of(const AVFormatContext *fmt)
{
    const AVDictionaryEntry *e = av_dict_get(fmt->metadata, "creation_time", NULL, 0);
    int64_t us;
    if (!e || av_parse_time(&us, e->value, 0) < 0 || us <= 0)
        return NAN;
    return (double)us / 1e6;
}

/* Opens and probes; *out owned by the caller (avformat_close_input). */
static int open_file(const char *path, AVFormatContext **out, char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL;
    media_avlog_init();
    media_avlog_clear();
    int ret = avformat_open_input(&fmt, path, NULL, NULL);
    if (ret < 0) {
        set_averr(err, errlen, ret);
        return ret;
    }
    ret = avformat_find_stream_info(fmt, NULL);
    if (ret < 0) {
        set_averr(err, errlen, ret);
        avformat_close_input(&fmt);
        return ret;
    }
    *out = fmt;
    return 0;
}

static int best_video(AVFormatContext *fmt)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) && st->codecpar->width > 0)
            return av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    }
    return -1;
}

/* open_file, then the main video stream's index in *vi; without one, the
 * file is closed again and the error says so. */
static int open_with_video(const char *path, AVFormatContext **out, int *vi, char *err,
                           size_t errlen)
{
    int ret = open_file(path, out, err, errlen);
    if (ret < 0)
        return ret;
    *vi = best_video(*out);
    if (*vi < 0) {
        set_err(err, errlen, "%s", "no video stream");
        avformat_close_input(out);
        return AVERROR_STREAM_NOT_FOUND;
    }
    return 0;
}

static double stream_duration(const AVFormatContext *fmt, const AVStream *st)
{
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        return (double)st->duration * av_q2d(st->time_base);
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        return (double)fmt->duration / AV_TIME_BASE;
    return 0;
}

static bool video_copyable(const AVStream *st, char *why, size_t whylen)
{
    const AVCodecParameters *par = st->codecpar;
    const char *name = avcodec_get_name(par->codec_id);
    if (par->codec_id != AV_CODEC_ID_H264) {
        snprintf(why, whylen, "video codec %s is not H.264", name);
        return false;
    }
    if (par->format != AV_PIX_FMT_YUV420P && par->format != AV_PIX_FMT_YUVJ420P) {
        const char *pf = av_get_pix_fmt_name(par->format);
        snprintf(why, whylen, "pixel format %s is not yuv420p", pf ? pf : "unknown");
        return false;
    }
    if (par->field_order != AV_FIELD_PROGRESSIVE && par->field_order != AV_FIELD_UNKNOWN) {
        snprintf(why, whylen, "interlaced video");
        return false;
    }
    int profile = par->profile & ~FF_PROFILE_H264_CONSTRAINED;
    if (par->profile != FF_PROFILE_UNKNOWN && profile != FF_PROFILE_H264_BASELINE &&
        profile != FF_PROFILE_H264_MAIN && profile != FF_PROFILE_H264_HIGH) {
        snprintf(why, whylen, "H.264 profile %d is not browser-safe", par->profile);
        return false;
    }
    if (par->level > 41) {
        snprintf(why, whylen, "H.264 level %d.%d is above 4.1", par->level / 10, par->level % 10);
        return false;
    }
    /* The level field can lie (crafted or sloppy encoders): check the frame
     * size against level 4.1 itself — at most 8192 macroblocks, no side over
     * sqrt(8 * 8192) = 256 macroblocks — as a decoder in a browser would. */
    long mbw = (par->width + 15) / 16, mbh = (par->height + 15) / 16;
    if (par->width <= 0 || par->height <= 0 || mbw * mbh > 8192 || mbw > 256 || mbh > 256) {
        snprintf(why, whylen, "video size %dx%d is outside H.264 level 4.1", par->width,
                 par->height);
        return false;
    }
    return true;
}

static bool audio_copyable(const AVCodecParameters *par)
{
    return par->codec_id == AV_CODEC_ID_AAC &&
           (par->profile == FF_PROFILE_AAC_LOW || par->profile == FF_PROFILE_UNKNOWN) &&
           (par->sample_rate == 44100 || par->sample_rate == 48000) &&
           par->ch_layout.nb_channels >= 1 && par->ch_layout.nb_channels <= 2;
}

int media_probe_file(const char *path, struct media_probe *out, char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL;
    memset(out, 0, sizeof(*out));
    out->creation_time = NAN;
    int vi;
    int ret = open_with_video(path, &fmt, &vi, err, errlen);
    if (ret < 0)
        return ret;
    const AVStream *vst = fmt->streams[vi];
    out->duration = stream_duration(fmt, vst);
    if (!(out->duration > 0) || !isfinite(out->duration)) {
        set_err(err, errlen, "%s", "zero or unknown duration");
        ret = AVERROR_INVALIDDATA;
        goto out;
    }
    out->creation_time = creation_time_of(fmt);
    copy_str(out->video_codec, sizeof(out->video_codec), avcodec_get_name(vst->codecpar->codec_id));
    copy_str(out->pix_fmt, sizeof(out->pix_fmt), av_get_pix_fmt_name(vst->codecpar->format));
    out->width = vst->codecpar->width;
    out->height = vst->codecpar->height;
    int ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    bool audio_ok = true;
    if (ai >= 0) {
        const AVCodecParameters *apar = fmt->streams[ai]->codecpar;
        copy_str(out->audio_codec, sizeof(out->audio_codec), avcodec_get_name(apar->codec_id));
        audio_ok = audio_copyable(apar);
    }
    char why[128];
    out->browser_playable = video_copyable(vst, why, sizeof(why)) && audio_ok;
    ret = 0;
out:
    avformat_close_input(&fmt);
    return ret;
}

static int push_kf(struct media_source_info *info, size_t *cap, double t)
{
    if (info->n_keyframes && t <= info->keyframes[info->n_keyframes - 1])
        return 0; /* duplicates and disorder (broken index) are skipped */
    if (info->n_keyframes >= MAX_KEYFRAMES)
        return AVERROR(E2BIG);
    if (info->n_keyframes == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        double *k = realloc(info->keyframes, c * sizeof(*k));
        if (!k)
            return AVERROR(ENOMEM);
        info->keyframes = k;
        *cap = c;
    }
    info->keyframes[info->n_keyframes++] = t;
    return 0;
}

/* MP4/MOV: the sample table is in memory after opening. Its timestamps are
 * decode times, so the keyframes' composition offset (constant for the
 * fixed GOP structures encoders use) is taken from the first keyframe read. */
static int keyframes_from_index(AVFormatContext *fmt, int vi, struct media_source_info *info,
                                size_t *cap)
{
    AVStream *st = fmt->streams[vi];
    int n = avformat_index_get_entries_count(st);
    if (n <= 0)
        return AVERROR(ENOENT);
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return AVERROR(ENOMEM);
    int64_t shift = 0;
    int ret;
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        bool found = pkt->stream_index == vi && (pkt->flags & AV_PKT_FLAG_KEY);
        if (found && pkt->pts != AV_NOPTS_VALUE && pkt->dts != AV_NOPTS_VALUE)
            shift = pkt->pts - pkt->dts;
        av_packet_unref(pkt);
        if (found)
            break;
    }
    av_packet_free(&pkt);
    double tb = av_q2d(st->time_base);
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    for (int i = 0; i < n; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (!e || !(e->flags & AVINDEX_KEYFRAME) || (e->flags & AVINDEX_DISCARD_FRAME))
            continue;
        ret = push_kf(info, cap, (double)(e->timestamp + shift - start) * tb);
        if (ret < 0)
            return ret;
    }
    return info->n_keyframes ? 0 : AVERROR(ENOENT);
}

static int keyframes_by_scan(AVFormatContext *fmt, int vi, struct media_source_info *info,
                             size_t *cap)
{
    AVStream *st = fmt->streams[vi];
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return AVERROR(ENOMEM);
    double tb = av_q2d(st->time_base);
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    int ret;
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == vi && (pkt->flags & AV_PKT_FLAG_KEY) && pkt->pts != AV_NOPTS_VALUE)
            ret = push_kf(info, cap, (double)(pkt->pts - start) * tb);
        av_packet_unref(pkt);
        if (ret < 0)
            break;
    }
    av_packet_free(&pkt);
    if (ret < 0 && ret != AVERROR_EOF)
        return ret;
    return info->n_keyframes ? 0 : AVERROR(ENOENT);
}

int media_source_probe(const char *path, bool want_keyframes, struct media_source_info *out,
                       char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL;
    memset(out, 0, sizeof(*out));
    int vi;
    int ret = open_with_video(path, &fmt, &vi, err, errlen);
    if (ret < 0)
        return ret;
    AVStream *vst = fmt->streams[vi];
    const AVCodecParameters *par = vst->codecpar;
    out->duration = stream_duration(fmt, vst);
    out->video_start =
        vst->start_time != AV_NOPTS_VALUE ? (double)vst->start_time * av_q2d(vst->time_base) : 0;
    /* The average rate is measured (a short last frame skews it); the real
     * base rate is exact (30000/1001) but absurd for some VFR streams. */
    double avg = q2d_or0(vst->avg_frame_rate), base = q2d_or0(vst->r_frame_rate);
    out->fps = avg;
    if (base >= 1 && base <= 240 && (!(avg >= 1 && avg <= 240) || fabs(avg - base) < 0.03 * base))
        out->fps = base;
    if (!(out->fps >= 1 && out->fps <= 240))
        out->fps = 0;
    out->width = par->width;
    out->height = par->height;
    copy_str(out->video_codec, sizeof(out->video_codec), avcodec_get_name(par->codec_id));
    copy_str(out->pix_fmt, sizeof(out->pix_fmt), av_get_pix_fmt_name(par->format));
    out->interlaced =
        par->field_order != AV_FIELD_PROGRESSIVE && par->field_order != AV_FIELD_UNKNOWN;
    out->video_copyable = video_copyable(vst, out->why_not, sizeof(out->why_not));
    out->hevc_copyable = media_hevc_copyable(par, out->hevc_why_not, sizeof(out->hevc_why_not));
    if (out->hevc_copyable)
        media_hevc_codec_string(par, out->codec_string, sizeof(out->codec_string));
    out->bit_rate = fmt->bit_rate > 0 ? fmt->bit_rate : 0;
    out->audio_copyable = true;
    int ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (ai >= 0) {
        const AVCodecParameters *apar = fmt->streams[ai]->codecpar;
        out->has_audio = true;
        copy_str(out->audio_codec, sizeof(out->audio_codec), avcodec_get_name(apar->codec_id));
        out->sample_rate = apar->sample_rate;
        out->channels = apar->ch_layout.nb_channels;
        out->audio_copyable = audio_copyable(apar);
    }
    if (!(out->duration > 0)) {
        set_err(err, errlen, "%s", "zero or unknown duration");
        ret = AVERROR_INVALIDDATA;
        goto out;
    }
    ret = 0;
    if (want_keyframes) {
        size_t cap = 0;
        const char *name = fmt->iformat->name;
        ret = AVERROR(ENOENT);
        if (strstr(name, "mp4") || strstr(name, "mov"))
            ret = keyframes_from_index(fmt, vi, out, &cap);
        if (ret == AVERROR(ENOENT) && (strstr(name, "mp4") || strstr(name, "mov"))) {
            /* no usable index: packets were consumed, start over */
            avformat_close_input(&fmt);
            ret = open_file(path, &fmt, err, errlen);
            if (ret < 0)
                goto out;
            vi = best_video(fmt);
            ret = vi < 0 ? AVERROR_STREAM_NOT_FOUND : AVERROR(ENOENT);
        }
        if (ret == AVERROR(ENOENT)) {
            free(out->keyframes);
            out->keyframes = NULL;
            out->n_keyframes = 0;
            cap = 0;
            ret = keyframes_by_scan(fmt, vi, out, &cap);
        }
        if (ret < 0) {
            set_err(err, errlen, "%s",
                    ret == AVERROR(ENOENT) ? "no video keyframe" : "cannot list keyframes");
            goto out;
        }
    }
out:
    if (ret < 0)
        media_source_info_clear(out);
    avformat_close_input(&fmt);
    return ret;
}

bool media_source_fits(const struct media_source_info *info, int max_width, int max_height)
{
    return (max_width <= 0 || info->width <= max_width) &&
           (max_height <= 0 || info->height <= max_height);
}

void media_source_info_clear(struct media_source_info *info)
{
    if (!info)
        return;
    free(info->keyframes);
    info->keyframes = NULL;
    info->n_keyframes = 0;
}
