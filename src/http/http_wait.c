/* The wait queue over http_suspend. Entries are unlinked before any
 * callback runs, so a callback may add to, wake or empty the same queue. */
#include "http/http_wait.h"

#include "http/http_internal.h"

#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void http_wait_init(struct http_wait_queue *q, http_wait_answer_cb on_timeout, void *arg)
{
    memset(q, 0, sizeof(*q));
    q->on_timeout = on_timeout;
    q->arg = arg;
}

static void unlink_waiter(struct http_waiter *w)
{
    struct http_wait_queue *q = w->q;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    q->count--;
}

/* After a callback that was to answer w->req: if it could not (out of
 * memory), the request must not keep pointing at w, which is about to be
 * freed. It is answered here, or left to the server's own deadline (504). */
static void settle(struct http_waiter *w)
{
    struct http_request *r = w->req;
    if (!r->suspended || r->responded)
        return;
    if (http_respond_error(r, 503, "out of memory") < 0) {
        r->on_timeout = NULL;
        r->on_abort = NULL;
        r->susp_arg = NULL;
    }
}

static void on_timeout(void *arg, struct http_request *req)
{
    struct http_waiter *w = arg;
    struct http_wait_queue *q = w->q;
    (void)req;
    unlink_waiter(w);
    q->on_timeout(q->arg, w);
    settle(w);
    free(w);
}

static void on_abort(void *arg, struct http_request *req)
{
    struct http_waiter *w = arg;
    (void)req;
    unlink_waiter(w);
    free(w);
}

int http_wait_add(struct http_wait_queue *q, struct http_request *req, double deadline_seconds,
                  const struct http_waiter *tmpl)
{
    struct http_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    if (tmpl) {
        w->key = tmpl->key;
        w->sub = tmpl->sub;
        w->flags = tmpl->flags;
        memcpy(w->name, tmpl->name, sizeof(w->name));
        w->name[sizeof(w->name) - 1] = '\0';
    } else {
        w->key = w->sub = -1;
    }
    w->req = req;
    w->q = q;
    w->since = util_now_mono();
    int r = http_suspend(req, deadline_seconds, on_timeout, on_abort, w);
    if (r < 0) {
        free(w);
        return r;
    }
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->count++;
    return 0;
}

/* Takes the waiters to answer out of the queue first, then answers them:
 * an answer callback may then add to, or wake, the same queue safely. */
static size_t wake(struct http_wait_queue *q, bool all, long long key, http_wait_answer_cb answer,
                   void *arg)
{
    struct http_waiter *taken = NULL, **tail = &taken;
    size_t n = 0;
    for (struct http_waiter *w = q->head, *next; w; w = next) {
        next = w->next;
        if (!all && w->key != key)
            continue;
        unlink_waiter(w);
        *tail = w;
        tail = &w->next;
        n++;
    }
    while (taken) {
        struct http_waiter *w = taken;
        taken = w->next;
        w->next = NULL;
        answer(arg, w);
        settle(w);
        free(w);
    }
    return n;
}

size_t http_wait_wake_key(struct http_wait_queue *q, long long key, http_wait_answer_cb answer,
                          void *arg)
{
    return wake(q, false, key, answer, arg);
}

size_t http_wait_wake_if(struct http_wait_queue *q, http_wait_try_cb try, void *arg)
{
    /* try answers before we know its verdict, so waiters are walked in
     * place; try must not add to or wake this queue (documented). */
    struct http_waiter *last = q->tail;
    size_t n = 0;
    for (struct http_waiter *w = q->head, *next; w; w = next) {
        next = w == last ? NULL : w->next;
        if (try(arg, w)) {
            unlink_waiter(w);
            settle(w);
            free(w);
            n++;
        }
    }
    return n;
}

size_t http_wait_wake_all(struct http_wait_queue *q, http_wait_answer_cb answer, void *arg)
{
    return wake(q, true, 0, answer, arg);
}
