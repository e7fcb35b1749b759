/* Reader threads for live inputs: see reader.h. */
#include "media/reader.h"

#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SOURCES 4

struct reader {
    struct media_readq *q;
    int source;
    struct media_input *in;
    pthread_t thread;
    bool running;
};

struct media_readq {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on push, pop and stop */
    struct media_readq_item *items;
    size_t head, len, cap;
    double t0;
    atomic_bool stop;
    struct reader readers[MAX_SOURCES];
    size_t n_readers;
};

int media_readq_create(struct media_readq **out, double t0_mono, size_t max_packets)
{
    struct media_readq *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->cap = max_packets < 16 ? 16 : max_packets;
    q->items = calloc(q->cap, sizeof(*q->items));
    if (!q->items) {
        free(q);
        return -ENOMEM;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->t0 = t0_mono;
    *out = q;
    return 0;
}

static struct timespec abs_after_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Pushes an item, waiting while the queue is full (a consumer slower than
 * the source: the source's own buffers fill and drop, as a capture would).
 * False when stopping (the item is not queued). */
static bool push(struct media_readq *q, struct media_readq_item *it)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == q->cap && !atomic_load(&q->stop)) {
        struct timespec ts = abs_after_ms(100);
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
    bool ok = !atomic_load(&q->stop);
    if (ok) {
        q->items[(q->head + q->len) % q->cap] = *it;
        q->len++;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct media_readq *q = rd->q;
    bool anchored = false;
    int64_t offset_us = 0;
    for (;;) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt) {
            struct media_readq_item it = {.source = rd->source, .error = AVERROR(ENOMEM)};
            push(q, &it);
            break;
        }
        int r = media_input_read(rd->in, pkt);
        if (r < 0) {
            av_packet_free(&pkt);
            struct media_readq_item it = {.source = rd->source, .error = r};
            push(q, &it);
            break;
        }
        double t = media_input_pkt_time(rd->in, pkt);
        if (!anchored) {
            if (isnan(t)) {
                av_packet_free(&pkt);
                continue;
            }
            /* This input's clock meets the timeline at its first packet's
             * arrival (paced inputs arrive on time by construction). */
            anchored = true;
            offset_us = llround((util_now_mono() - q->t0 - t) * 1e6);
        }
        struct media_readq_item it = {.source = rd->source, .pkt = pkt, .offset_us = offset_us};
        if (!push(q, &it)) {
            av_packet_free(&pkt);
            break;
        }
    }
    return NULL;
}

int media_readq_add(struct media_readq *q, int source, struct media_input *in)
{
    if (q->n_readers == MAX_SOURCES)
        return -ENOSPC;
    struct reader *rd = &q->readers[q->n_readers];
    *rd = (struct reader){.q = q, .source = source, .in = in};
    int r = pthread_create(&rd->thread, NULL, reader_main, rd);
    if (r != 0)
        return -r;
    rd->running = true;
    q->n_readers++;
    return 0;
}

int media_readq_pop(struct media_readq *q, int timeout_ms, struct media_readq_item *item)
{
    pthread_mutex_lock(&q->lock);
    if (q->len == 0 && timeout_ms > 0) {
        struct timespec ts = abs_after_ms(timeout_ms);
        while (q->len == 0 && !atomic_load(&q->stop)) {
            if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
                break;
        }
    }
    int got = 0;
    if (q->len) {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        got = 1;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

bool media_readq_stopping(const struct media_readq *q)
{
    return atomic_load(&q->stop);
}

void media_readq_stop(struct media_readq *q)
{
    pthread_mutex_lock(&q->lock);
    atomic_store(&q->stop, true);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < q->n_readers; i++) {
        if (q->readers[i].running) {
            pthread_join(q->readers[i].thread, NULL);
            q->readers[i].running = false;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->len) {
        av_packet_free(&q->items[q->head].pkt);
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    pthread_mutex_unlock(&q->lock);
}

void media_readq_free(struct media_readq **pq)
{
    struct media_readq *q = *pq;
    if (!q)
        return;
    media_readq_stop(q);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q->items);
    free(q);
    *pq = NULL;
}
