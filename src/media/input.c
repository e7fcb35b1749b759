/* Input opening and reading: see input.h. */
#include "media/input.h"

#include "core/log.h"
#include "core/util.h"
#include "media/avlog.h"
#include "media/geometry.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavdevice/avdevice.h>
#include <libavutil/display.h>
#include <libavutil/parseutils.h>

static pthread_once_t devices_once = PTHREAD_ONCE_INIT;

static void register_devices(void)
{
    avdevice_register_all();
}

const char *media_strerror(int err, char *buf, size_t len)
{
    if (av_strerror(err, buf, len) < 0)
        snprintf(buf, len, "error %d", err);
    return buf;
}

static int interrupt_cb(void *opaque)
{
    struct media_input *in = opaque;
    if (in->cfg.should_stop && in->cfg.should_stop(in->cfg.stop_arg))
        return 1;
    return in->deadline > 0 && util_now_mono() > in->deadline;
}

static bool stopped(const struct media_input *in)
{
    return in->cfg.should_stop && in->cfg.should_stop(in->cfg.stop_arg);
}

static bool is_network_url(const char *url)
{
    static const char *const schemes[] = {"rtsp:", "rtsps:", "rtmp:",  "udp:", "rtp:", "srt:",
                                          "tcp:",  "http:",  "https:", "hls:", "mmsh:"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(schemes); i++)
        if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
            return true;
    return false;
}

static int options_from_json(const cJSON *opts, AVDictionary **dict, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, opts)
    {
        char num[64];
        const char *v;
        if (cJSON_IsString(it)) {
            v = it->valuestring;
        } else if (cJSON_IsNumber(it)) {
            double d = it->valuedouble;
            if (d == (double)(long long)d)
                snprintf(num, sizeof(num), "%lld", (long long)d);
            else
                snprintf(num, sizeof(num), "%.17g", d);
            v = num;
        } else if (cJSON_IsBool(it)) {
            v = cJSON_IsTrue(it) ? "1" : "0";
        } else {
            snprintf(err, errlen, "input option '%s' must be a string or a number",
                     it->string ? it->string : "?");
            return -EINVAL;
        }
        int r = av_dict_set(dict, it->string, v, 0);
        if (r < 0)
            return r;
    }
    return 0;
}

static double parse_creation_time(AVDictionary *md)
{
    const AVDictionaryEntry *e = av_dict_get(md, "creation_time", NULL, 0);
    int64_t us;
    if (!e || av_parse_time(&us, e->value, 0) < 0)
        return NAN;
    return us / 1e6;
}

int media_input_rotation(const AVStream *st)
{
    const uint8_t *sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    return media_geometry_rotation((const int32_t *)sd);
}

static int pick_video(AVFormatContext *fmt)
{
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return best;
    /* Cover art is not a video: look for a real one. */
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return (int)i;
    }
    return -1;
}

int media_input_open(struct media_input **out, const struct media_input_cfg *cfg, char *err,
                     size_t errlen)
{
    struct media_input *in = NULL;
    AVDictionary *opts = NULL;
    int r;
    char eb[AV_ERROR_MAX_STRING_SIZE];

    *out = NULL;
    pthread_once(&devices_once, register_devices);
    media_avlog_init();
    if (!cfg->url || !cfg->url[0]) {
        snprintf(err, errlen, "no input URL");
        return -EINVAL;
    }

    in = calloc(1, sizeof(*in));
    if (!in)
        return -ENOMEM;
    in->cfg = *cfg;
    in->cfg.options = NULL; /* not kept */
    in->name = util_xstrdup(cfg->name ? cfg->name : "input");
    in->video_index = in->audio_index = -1;
    in->creation_time = NAN;

    const AVInputFormat *ifmt = NULL;
    if (cfg->format && cfg->format[0]) {
        ifmt = av_find_input_format(cfg->format);
        if (!ifmt) {
            snprintf(err, errlen, "unknown input format '%s'", cfg->format);
            r = AVERROR_DEMUXER_NOT_FOUND;
            goto fail;
        }
    }
    if (cfg->options && (r = options_from_json(cfg->options, &opts, err, errlen)) < 0)
        goto fail;
    if (cfg->io_timeout > 0) {
        char us[32];
        snprintf(us, sizeof(us), "%lld", (long long)(cfg->io_timeout * 1e6));
        bool rtsp =
            (ifmt && strcmp(ifmt->name, "rtsp") == 0) || strncasecmp(cfg->url, "rtsp", 4) == 0;
        /* rtsp has its own `timeout` (stimeout/rw_timeout are refused in
         * 5.1); other network protocols use the generic rw_timeout. */
        if (rtsp)
            av_dict_set(&opts, "timeout", us, AV_DICT_DONT_OVERWRITE);
        else if (is_network_url(cfg->url))
            av_dict_set(&opts, "rw_timeout", us, AV_DICT_DONT_OVERWRITE);
    }

    in->fmt = avformat_alloc_context();
    if (!in->fmt) {
        r = AVERROR(ENOMEM);
        goto fail;
    }
    /* Devices (v4l2, alsa...) would block in the kernel, out of reach of
     * the interrupt callback: read them non-blocking (EAGAIN is retried). */
    if (ifmt && ifmt->priv_class && AV_IS_INPUT_DEVICE(ifmt->priv_class->category))
        in->fmt->flags |= AVFMT_FLAG_NONBLOCK;
    in->fmt->interrupt_callback.callback = interrupt_cb;
    in->fmt->interrupt_callback.opaque = in;
    double open_limit = fmax(fmax(cfg->stall_timeout, cfg->io_timeout) * 2, 3.0);
    in->deadline =
        (cfg->stall_timeout > 0 || cfg->io_timeout > 0) ? util_now_mono() + open_limit : 0;

    media_avlog_clear();
    r = avformat_open_input(&in->fmt, cfg->url, ifmt, &opts);
    if (r < 0) {
        in->fmt = NULL; /* freed by avformat_open_input on failure */
        goto fail_av;
    }
    const AVDictionaryEntry *left = NULL;
    while ((left = av_dict_get(opts, "", left, AV_DICT_IGNORE_SUFFIX)))
        LOG_WARN(NULL, "input option '%s' was not used by the %s demuxer", left->key,
                 in->fmt->iformat->name);

    r = avformat_find_stream_info(in->fmt, NULL);
    if (r < 0)
        goto fail_av;
    in->deadline = 0;

    in->video_index = pick_video(in->fmt);
    in->audio_index =
        av_find_best_stream(in->fmt, AVMEDIA_TYPE_AUDIO, -1, in->video_index, NULL, 0);
    if (in->audio_index < 0)
        in->audio_index = -1;

    const AVInputFormat *f = in->fmt->iformat;
    bool seekable = in->fmt->pb && (in->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL);
    if (strcmp(f->name, "lavfi") == 0)
        in->live = false;
    else if (seekable && !is_network_url(cfg->url))
        in->live = false;
    else if (seekable && (strncasecmp(cfg->url, "http", 4) == 0))
        in->live = false; /* a static file over HTTP */
    else
        in->live = true;
    in->paced = cfg->realtime && !in->live;
    if (in->fmt->duration != AV_NOPTS_VALUE && in->fmt->duration > 0)
        in->duration = in->fmt->duration / (double)AV_TIME_BASE;
    if (in->fmt->start_time != AV_NOPTS_VALUE)
        in->start_time = in->fmt->start_time / (double)AV_TIME_BASE;
    in->creation_time = parse_creation_time(in->fmt->metadata);
    if (isnan(in->creation_time) && in->video_index >= 0)
        in->creation_time = parse_creation_time(in->fmt->streams[in->video_index]->metadata);

    av_dict_free(&opts);
    *out = in;
    return 0;

fail_av:
    if (stopped(in)) {
        snprintf(err, errlen, "stopped");
        r = AVERROR_EXIT;
    } else if (r == AVERROR_EXIT && in->deadline > 0) {
        snprintf(err, errlen, "timed out opening the input");
        r = -ETIMEDOUT;
    } else if (r == AVERROR_EOF) {
        snprintf(err, errlen,
                 "no readable stream before the end of the data (invalid or "
                 "truncated input)");
        r = AVERROR_INVALIDDATA;
    } else {
        const char *detail = media_avlog_last_error();
        media_strerror(r, eb, sizeof(eb));
        if (detail[0] && strcmp(detail, eb) != 0 && !strstr(detail, eb))
            snprintf(err, errlen, "%s (%s)", eb, detail);
        else
            snprintf(err, errlen, "%s", eb);
    }
fail:
    av_dict_free(&opts);
    media_input_close(&in);
    return r;
}

/* Sleeps until the monotonic time `until`, waking every 50 ms to notice a
 * stop request. Returns AVERROR_EXIT when stopped. */
static int sleep_until(struct media_input *in, double until)
{
    for (;;) {
        if (stopped(in))
            return AVERROR_EXIT;
        double left = until - util_now_mono();
        if (left <= 0)
            return 0;
        if (left > 0.05)
            left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

double media_input_pkt_time(const struct media_input *in, const AVPacket *pkt)
{
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts == AV_NOPTS_VALUE)
        return NAN;
    return ts * av_q2d(in->fmt->streams[pkt->stream_index]->time_base);
}

int media_input_read(struct media_input *in, AVPacket *pkt)
{
    int r;
    for (;;) {
        if (stopped(in))
            return AVERROR_EXIT;
        in->deadline = in->cfg.stall_timeout > 0 ? util_now_mono() + in->cfg.stall_timeout : 0;
        r = av_read_frame(in->fmt, pkt);
        double deadline = in->deadline;
        in->deadline = 0;
        if (r == AVERROR(EAGAIN)) {
            /* A non-blocking device without a frame yet: wait a little (as
             * the ffmpeg CLI does), not a busy loop. */
            if ((r = sleep_until(in, util_now_mono() + 0.01)) < 0)
                return r;
            if (deadline > 0 && util_now_mono() > deadline)
                return -ETIMEDOUT;
            continue;
        }
        if (r < 0) {
            if (stopped(in))
                return AVERROR_EXIT;
            if (r == AVERROR_EXIT && deadline > 0)
                return -ETIMEDOUT;
            return r;
        }
        break;
    }
    if (in->paced) {
        int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        if (ts != AV_NOPTS_VALUE) {
            double t = ts * av_q2d(in->fmt->streams[pkt->stream_index]->time_base);
            double now = util_now_mono();
            /* (Re)start the clock at the first packet and whenever the
             * timestamps jump (loops, seeks, broken files). */
            if (!in->pace_started || t < in->pace_ts0 - 1.0 ||
                t - in->pace_ts0 > now - in->pace_wall0 + 10.0) {
                in->pace_started = true;
                in->pace_ts0 = t;
                in->pace_wall0 = now;
            }
            r = sleep_until(in, in->pace_wall0 + (t - in->pace_ts0));
            if (r < 0) {
                av_packet_unref(pkt);
                return r;
            }
        }
    }
    return 0;
}

int media_input_seek(struct media_input *in, double t)
{
    int64_t ts = (int64_t)llround(t * AV_TIME_BASE);
    in->pace_started = false;
    return avformat_seek_file(in->fmt, -1, INT64_MIN, ts, ts, 0);
}

int media_input_seek_keyframe(struct media_input *in, AVPacket *pkt, double at, double file_start)
{
    double back = 0;
    for (int attempt = 0;; attempt++) {
        double to = at - back;
        int ret = media_input_seek(in, to);
        if (ret < 0 || to <= file_start || attempt >= 8)
            return ret;
        double key = NAN;
        while (isnan(key) && (ret = media_input_read(in, pkt)) >= 0) {
            if (pkt->stream_index == in->video_index && (pkt->flags & AV_PKT_FLAG_KEY))
                key = media_input_pkt_time(in, pkt);
            av_packet_unref(pkt);
        }
        if (ret == AVERROR_EXIT)
            return ret;
        if (!isnan(key) && key <= at)
            return media_input_seek(in, to); /* the same place again */
        back = back > 0 ? back * 2 : 1;
    }
}

void media_input_close(struct media_input **pin)
{
    struct media_input *in = *pin;
    if (!in)
        return;
    if (in->fmt)
        avformat_close_input(&in->fmt);
    free(in->name);
    free(in);
    *pin = NULL;
}
