/* LL-HLS delivery for `lowlatency` previews (RFC 8216bis 6.2.5.2, 6.2.6):
 * blocking playlist reloads (_HLS_msn / _HLS_part) and requests for the
 * preload-hinted part are suspended (no thread, no polling) and answered
 * when the worker's `part` / `segment` event says the playlist has what
 * they wait for. The worker writes the playlist before it emits the event,
 * so the file served then is always recent enough. */
#include "live/preview_priv.h"

#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool live_ll_enabled(const struct live_port *p)
{
    const char *v = p->cfg->preview.hls.variant;
    return v && strcmp(v, "lowlatency") == 0;
}

void live_ll_reset(struct live_port *p)
{
    struct live_ll *ll = &p->ll;
    ll->known = false;
    ll->open_msn = 0;
    ll->open_parts = ll->last_parts = 0;
    ll->hint[0] = '\0';
}

/* RFC 8216bis 6.2.5.2: a server SHOULD NOT hold a request longer than three
 * target durations. */
static double hold_seconds(const struct live_port *p)
{
    return 3.0 * fmax(1.0, ceil(p->cfg->preview.hls.segment_seconds - 1e-9));
}

/* Does the playlist have part `part` (or anything after it) of segment msn,
 * or with part < 0 the whole segment msn? A part index past a segment's last
 * part means part 0 of the next segment (6.2.5.2). */
static bool satisfied(const struct live_ll *ll, long long msn, long part)
{
    if (!ll->known)
        return false;
    if (part < 0)
        return msn < ll->open_msn;
    if (msn <= ll->open_msn - 2)
        return true; /* that segment and the one after it are complete */
    if (msn == ll->open_msn - 1)
        return part < ll->last_parts || ll->open_parts > 0;
    if (msn == ll->open_msn)
        return part < ll->open_parts;
    return false;
}

static void answer(struct live_port *p, const struct http_waiter *w)
{
    if (w->flags & LIVE_LL_PART_FILE)
        http_respond_file(w->req, p->m->hls_dir, w->name);
    else
        http_respond_file(w->req, p->m->hls_dir, p->playlist);
}

static void waiter_timeout(void *arg, struct http_waiter *w)
{
    /* The spec suggests 503 here, but a player then counts an error for
     * every reload while an input reconnects (hls.js gives up after a
     * few); the playlist as it is makes it simply ask again. A hinted
     * part that never came (the segment was cut short) does not exist. */
    if (w->flags & LIVE_LL_PART_FILE)
        http_respond_error(w->req, 404, "part %s was not written", w->name);
    else
        answer(arg, w);
}

void live_ll_init(struct live_port *p)
{
    http_wait_init(&p->ll.waiters, waiter_timeout, p);
}

static int hold(struct live_port *p, struct http_request *req, const struct http_waiter *w)
{
    return http_wait_add(&p->ll.waiters, req, hold_seconds(p), w);
}

struct wake_ctx {
    struct live_port *p;
    const char *new_part;
};

static bool try_answer(void *arg, struct http_waiter *w)
{
    const struct wake_ctx *c = arg;
    bool ok = (w->flags & LIVE_LL_PART_FILE) ? (c->new_part && strcmp(w->name, c->new_part) == 0)
                                             : satisfied(&c->p->ll, w->key, w->sub);
    if (ok)
        answer(c->p, w);
    return ok;
}

/* Answers the held requests the latest event satisfies. */
static void wake(struct live_port *p, const char *new_part)
{
    struct wake_ctx c = {p, new_part};
    http_wait_wake_if(&p->ll.waiters, try_answer, &c);
}

/* A whole number of msg within [0, max], else -1: worker numbers are
 * checked before they become integers (a cast of 1e300 is undefined). */
static long long whole(const cJSON *msg, const char *key, double max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= max) ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    return (long long)v->valuedouble;
}

static double num(const cJSON *msg, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : dflt;
}

void live_ll_on_event(struct live_port *p, const char *type, const cJSON *msg)
{
    struct live_ll *ll = &p->ll;
    const char *file = NULL;
    if (!live_ll_enabled(p))
        return;
    if (strcmp(type, "part") == 0) {
        long long msn = whole(msg, "index", LIVE_LL_MAX_MSN);
        long part = (long)whole(msg, "part", LIVE_LL_MAX_PART);
        if (msn < 0 || part < 0)
            return;
        if (!ll->known || msn != ll->open_msn) {
            ll->last_parts = ll->known && msn == ll->open_msn + 1 ? ll->open_parts : 0;
            ll->open_msn = msn;
        }
        ll->open_parts = part + 1;
        ll->known = true;
        const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "next"));
        snprintf(ll->hint, sizeof(ll->hint), "%s", next && util_is_safe_name(next) ? next : "");
        file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "file"));
        LOG_DEBUG(p->log_name, "part %lld.%ld ready %.3f s after its last frame", msn, part,
                  num(msg, "delay", NAN));
    } else if (strcmp(type, "segment") == 0) {
        long long msn = whole(msg, "index", LIVE_LL_MAX_MSN);
        if (msn < 0)
            return;
        if (!ll->known || msn >= ll->open_msn) {
            ll->last_parts = ll->known && msn == ll->open_msn ? ll->open_parts : 0;
            ll->open_msn = msn + 1;
            ll->open_parts = 0;
        }
        ll->known = true;
    } else {
        return;
    }
    wake(p, file);
}

/* A decimal-integer directive value: digits only. */
static int parse_directive(const char *s, long long max, long long *out)
{
    long long v = 0;
    if (!s || !*s || strlen(s) > 18)
        return -EINVAL;
    for (const char *c = s; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return -EINVAL;
        v = v * 10 + (*c - '0');
    }
    if (v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int live_ll_playlist_request(struct live_port *p, struct http_request *req)
{
    const char *smsn = http_req_query(req, "_HLS_msn");
    const char *spart = http_req_query(req, "_HLS_part");
    struct live_ll *ll = &p->ll;
    long long msn, part = -1;

    if (!smsn && !spart)
        return LIVE_LL_SERVE;
    /* Directives are ignored where blocking is not offered, and once the
     * playlist has ENDLIST (6.2.5.2): only a running preview blocks. */
    if (!live_ll_enabled(p) || !live_port_previewing(p) || !ll->known)
        return LIVE_LL_SERVE;
    if (!smsn) {
        http_respond_error(req, 400, "_HLS_part without _HLS_msn");
        return LIVE_LL_TAKEN;
    }
    if (parse_directive(smsn, LIVE_LL_MAX_MSN, &msn) < 0 ||
        (spart && parse_directive(spart, LIVE_LL_MAX_PART, &part) < 0)) {
        http_respond_error(req, 400, "malformed _HLS_msn or _HLS_part");
        return LIVE_LL_TAKEN;
    }
    /* 6.2.5.2: more than two segments past the last one, or a part further
     * ahead than the Advance Part Limit, is refused at once. */
    double part_target = p->cfg->preview.hls.part_seconds;
    double limit = part_target < 1 ? 3.0 / part_target : 3;
    long long last = ll->open_msn - 1;
    /* Only computed once msn is at most two past the last segment: every
     * term is then bounded (no overflow with a distant msn). */
    bool too_far = msn > last + 2;
    if (!too_far && part >= 0 && msn >= ll->open_msn) {
        long long ahead_parts = (msn - ll->open_msn) * (ll->last_parts > 0 ? ll->last_parts : 1) +
                                part - (ll->open_parts - 1);
        too_far = ahead_parts > limit;
    }
    if (too_far) {
        http_respond_error(req, 400,
                           "_HLS_msn=%lld%s%s is too far ahead of the playlist (last "
                           "segment %lld)",
                           msn, spart ? " _HLS_part=" : "", spart ? spart : "", last);
        return LIVE_LL_TAKEN;
    }
    if (satisfied(ll, msn, (long)part))
        return LIVE_LL_SERVE;
    struct http_waiter w = {.key = msn, .sub = (long)part};
    int r = hold(p, req, &w);
    if (r < 0) {
        LOG_WARN(p->log_name, "cannot hold a playlist request: %s", strerror(-r));
        return LIVE_LL_SERVE;
    }
    return LIVE_LL_TAKEN;
}

int live_ll_part_request(struct live_port *p, struct http_request *req, const char *name)
{
    struct live_ll *ll = &p->ll;
    char path[PATH_MAX];

    if (!live_ll_enabled(p) || !live_port_previewing(p) || !ll->hint[0] ||
        strcmp(name, ll->hint) != 0)
        return LIVE_LL_SERVE;
    if (util_fmt(path, sizeof(path), "%s/%s", p->m->hls_dir, name) < 0 || access(path, F_OK) == 0)
        return LIVE_LL_SERVE;
    struct http_waiter w = {.key = -1, .sub = -1, .flags = LIVE_LL_PART_FILE};
    snprintf(w.name, sizeof(w.name), "%s", name);
    int r = hold(p, req, &w);
    if (r < 0) {
        LOG_WARN(p->log_name, "cannot hold a part request: %s", strerror(-r));
        return LIVE_LL_SERVE;
    }
    return LIVE_LL_TAKEN;
}

struct answer_ctx {
    struct live_port *p;
    unsigned status;
    const char *msg;
};

static void answer_final(void *arg, struct http_waiter *w)
{
    const struct answer_ctx *c = arg;
    if (c->status)
        http_respond_error(w->req, c->status, "port %d: %s", c->p->cfg->index, c->msg);
    else if (w->flags & LIVE_LL_PART_FILE)
        http_respond_error(w->req, 404, "part %s was not written", w->name);
    else
        answer(c->p, w);
}

void live_ll_answer_all(struct live_port *p, unsigned status, const char *msg)
{
    struct answer_ctx c = {p, status, msg};
    p->ll.hint[0] = '\0';
    http_wait_wake_all(&p->ll.waiters, answer_final, &c);
}
