/* Decoders for one input stream (owner: media engineer). */
#ifndef HLSD_MEDIA_DECODE_H
#define HLSD_MEDIA_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

struct media_decoder {
    AVCodecContext *ctx;
    AVRational time_base; /* of the packets sent and the frames returned (the stream's) */
    enum AVMediaType type;
    unsigned errors;  /* packets the decoder rejected (corrupt data), for reporting */
    unsigned frames;  /* frames returned so far */
    unsigned damaged; /* of those, frames the decoder flagged (concealed errors, cut short) */
};

/* Opens a decoder for st. Refuses with a precise reason in err: "unsupported
 * video codec X" (no decoder in this build), "invalid video dimensions WxH".
 * threads: 0 = automatic. Returns 0 or negative AVERROR/errno. */
int media_decoder_open(struct media_decoder **out, const AVStream *st, int threads, char *err,
                       size_t errlen);

/* Sends one packet (NULL = drain). A packet the decoder rejects as corrupt is
 * counted in errors and 0 is returned: damaged input keeps going. */
int media_decoder_send(struct media_decoder *d, const AVPacket *pkt);

/* 0 with a frame (frame->pts = best-effort timestamp, in time_base),
 * AVERROR(EAGAIN) when it needs more input, AVERROR_EOF when drained. */
int media_decoder_receive(struct media_decoder *d, AVFrame *frame);

void media_decoder_free(struct media_decoder **d);

#endif
