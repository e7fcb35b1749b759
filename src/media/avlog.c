/* libav log routing: see avlog.h. */
#include "media/avlog.h"

#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

static _Thread_local char last_error[256];
static _Thread_local char partial[512];
static _Atomic unsigned decoder_errors; /* any thread: decoders log from their own */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void callback(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_VERBOSE)
        return;
    if (level <= AV_LOG_ERROR && avcl) {
        const AVClass *c = *(const AVClass **)avcl;
        AVClassCategory cat = !c                ? AV_CLASS_CATEGORY_NA
                              : c->get_category ? c->get_category(avcl)
                                                : c->category;
        /* Video decoders only: audio damage says nothing about the picture. */
        if (cat == AV_CLASS_CATEGORY_DECODER && strcmp(c->class_name, "AVCodecContext") == 0 &&
            ((const AVCodecContext *)avcl)->codec_type == AVMEDIA_TYPE_VIDEO)
            decoder_errors++;
    }
    enum log_level ours;
    if (level <= AV_LOG_ERROR)
        ours = LOG_LEVEL_INFO;
    else if (level <= AV_LOG_WARNING)
        ours = LOG_LEVEL_DEBUG;
    else if (log_get_level() >= LOG_LEVEL_DEBUG && level <= AV_LOG_INFO)
        ours = LOG_LEVEL_DEBUG;
    else
        return;
    if (level > AV_LOG_ERROR && ours > log_get_level())
        return;

    /* libav may build one line from several calls: collect until '\n'. */
    char line[512];
    int print_prefix = partial[0] == '\0';
    av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    size_t have = strlen(partial);
    snprintf(partial + have, sizeof(partial) - have, "%s", line);
    have = strlen(partial);
    if (have == 0 || (partial[have - 1] != '\n' && have < sizeof(partial) - 1))
        return;
    while (have > 0 && (partial[have - 1] == '\n' || partial[have - 1] == '\r'))
        partial[--have] = '\0';
    if (level <= AV_LOG_ERROR) {
        /* Without the "[mov,mp4,... @ 0x...] " context prefix. */
        const char *msg = partial;
        if (msg[0] == '[') {
            const char *end = strstr(msg, "] ");
            if (end)
                msg = end + 2;
        }
        snprintf(last_error, sizeof(last_error), "%s", msg);
    }
    if (ours <= log_get_level())
        log_msg(ours, NULL, "libav: %s", partial);
    partial[0] = '\0';
}

static void install(void)
{
    av_log_set_callback(callback);
}

void media_avlog_init(void)
{
    pthread_once(&once, install);
}

void media_avlog_clear(void)
{
    last_error[0] = '\0';
}

unsigned media_avlog_decoder_errors(void)
{
    return decoder_errors;
}

const char *media_avlog_last_error(void)
{
    return last_error;
}
