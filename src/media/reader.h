/* Reader threads for live inputs (owner: media engineer): each input is read
 * on its own thread (a capture device or network source blocks in
 * av_read_frame, and a second audio input must not wait for the video one),
 * and packets meet in one bounded queue with the offset that maps them onto
 * the job's monotonic timeline. */
#ifndef HLSD_MEDIA_READER_H
#define HLSD_MEDIA_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "media/input.h"

struct media_readq;

struct media_readq_item {
    int source;        /* index given to media_readq_add */
    AVPacket *pkt;     /* owned by the item; NULL for an error/end report */
    int64_t offset_us; /* add to the packet's time to get output-timeline microseconds */
    int error;         /* with pkt NULL: why the reader ended (AVERROR_EOF, -ETIMEDOUT...) */
};

/* t0_mono: monotonic seconds of output-timeline zero. 0 or -ENOMEM. */
int media_readq_create(struct media_readq **out, double t0_mono, size_t max_packets);

/* Starts a thread reading `in` (borrowed; it must outlive the queue's
 * stop). Returns 0 or -errno. */
int media_readq_add(struct media_readq *q, int source, struct media_input *in);

/* Waits up to timeout_ms for the next item. 1 with *item filled (the caller
 * frees item->pkt with av_packet_free), 0 on timeout. */
int media_readq_pop(struct media_readq *q, int timeout_ms, struct media_readq_item *item);

/* The stop flag the inputs' should_stop must also honour. */
bool media_readq_stopping(const struct media_readq *q);

/* Asks the threads to end, joins them, drops queued packets. */
void media_readq_stop(struct media_readq *q);

/* Stops (if needed) and frees. */
void media_readq_free(struct media_readq **q);

#endif
