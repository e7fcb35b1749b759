/* One wait queue for suspended requests (the only user of http_suspend
 * besides test hooks). The owner of what is awaited (a port, a transcode
 * session) keeps a struct http_wait_queue, adds requests with a key and a
 * deadline, and wakes them by key (or by a predicate) when a worker event
 * says the file exists. A request leaves the queue exactly once: woken,
 * timed out (the queue's on_timeout answers it) or aborted by its client
 * (silently). Single-threaded (the loop's thread), no polling. */
#ifndef HLSD_HTTP_WAIT_H
#define HLSD_HTTP_WAIT_H

#include "http/http.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct http_wait_queue;

/* A waiting request. The queue allocates and frees it; callbacks get it
 * borrowed, for the duration of the call. */
struct http_waiter {
    struct http_request *req;
    long long key;           /* what it waits for (owner-defined: a segment, an MSN, -1) */
    long sub;                /* second part of the key (LL-HLS part index), -1 = none */
    int flags;               /* owner-defined */
    char name[NAME_MAX + 1]; /* owner-defined: a file name */
    double since;            /* util_now_mono() when it started waiting */
    /* private to http_wait.c */
    struct http_wait_queue *q;
    struct http_waiter *prev, *next;
};

/* Must answer w->req (any http_respond_*). The waiter is freed afterwards. */
typedef void (*http_wait_answer_cb)(void *arg, struct http_waiter *w);
/* Answers w->req and returns true when it can be answered now, else false
 * (w stays queued). */
typedef bool (*http_wait_try_cb)(void *arg, struct http_waiter *w);

struct http_wait_queue {
    struct http_waiter *head, *tail; /* arrival order */
    size_t count;
    http_wait_answer_cb on_timeout; /* answers a request whose deadline passed */
    void *arg;                      /* borrowed, passed to on_timeout */
};

/* An empty queue; on_timeout (required) answers expired requests. */
void http_wait_init(struct http_wait_queue *q, http_wait_answer_cb on_timeout, void *arg);

/* Suspends req (inside its handler) until woken or deadline_seconds pass.
 * key/sub/flags/name are copied from tmpl (NULL = key -1, sub -1). Returns 0,
 * or -errno with req untouched (the caller answers it). */
int http_wait_add(struct http_wait_queue *q, struct http_request *req, double deadline_seconds,
                  const struct http_waiter *tmpl);

/* Answers, in arrival order, every waiter queued now whose key equals key.
 * Returns how many. Waiters added by the callbacks wait for the next wake. */
size_t http_wait_wake_key(struct http_wait_queue *q, long long key, http_wait_answer_cb answer,
                          void *arg);
/* Offers every waiter queued now to try (arrival order); those it answered
 * leave the queue. try must not add to or wake q. Returns how many left. */
size_t http_wait_wake_if(struct http_wait_queue *q, http_wait_try_cb try, void *arg);
/* Answers every waiter queued now. Returns how many. */
size_t http_wait_wake_all(struct http_wait_queue *q, http_wait_answer_cb answer, void *arg);

/* Read-only walk in arrival order (no adding or waking meanwhile). */
static inline const struct http_waiter *http_wait_first(const struct http_wait_queue *q)
{
    return q->head;
}
static inline const struct http_waiter *http_wait_next(const struct http_waiter *w)
{
    return w->next;
}

static inline size_t http_wait_count(const struct http_wait_queue *q)
{
    return q->count;
}

#endif
