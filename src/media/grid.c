#include "media/grid.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Floating-point noise allowed when comparing times (well below a frame). */
#define EPS 1e-6
/* Pieces shorter than this are slivers of overlap or rounding: skipped. */
#define MIN_PIECE 0.05

int64_t grid_frame_slot(double t, double fps)
{
    return (int64_t)llround(t * fps);
}

int64_t grid_frame_ceil(double t, double fps)
{
    return (int64_t)ceil(t * fps - 1e-3);
}

struct builder {
    struct grid_plan *plan;
    size_t cap;
    /* boundaries of the current piece (positions: seconds or frames) */
    double *pos;
    size_t n_pos, cap_pos;
};

static int push_pos(struct builder *b, double v)
{
    if (b->n_pos >= GRID_MAX_SEGMENTS + 1)
        return -E2BIG;
    if (b->n_pos == b->cap_pos) {
        size_t cap = b->cap_pos ? b->cap_pos * 2 : 64;
        double *p = realloc(b->pos, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        b->pos = p;
        b->cap_pos = cap;
    }
    b->pos[b->n_pos++] = v;
    return 0;
}

static int push_seg(struct builder *b, const struct grid_segment *s)
{
    struct grid_plan *plan = b->plan;
    if (plan->n >= GRID_MAX_SEGMENTS)
        return -E2BIG;
    if (plan->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct grid_segment *p = realloc(plan->segs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        plan->segs = p;
        b->cap = cap;
    }
    plan->segs[plan->n++] = *s;
    plan->duration += s->duration;
    return 0;
}

static double planned_len(const struct grid_params *p, bool first_piece, size_t j)
{
    if (first_piece && p->fast_start && j < p->n_fast_start)
        return p->fast_start[j];
    return p->segment_seconds;
}

/* Fills b->pos with the boundaries of a piece of `total` units (seconds, or
 * frames when unit_per_sec is the frame rate) from the planned lengths, then
 * the end. A final segment shorter than min_units merges into the previous. */
static int plan_uniform(struct builder *b, const struct grid_params *p, bool first_piece,
                        double total, double unit_per_sec, bool frames, double min_units)
{
    b->n_pos = 0;
    int ret = push_pos(b, 0);
    double t = 0; /* planned time in seconds since the piece start */
    for (size_t j = 0; ret == 0; j++) {
        t += planned_len(p, first_piece, j);
        double at = frames ? (double)grid_frame_ceil(t, unit_per_sec) : t;
        if (at <= b->pos[b->n_pos - 1]) /* a fast-start length under one frame */
            at = b->pos[b->n_pos - 1] + 1;
        if (at >= total - (frames ? 0 : EPS))
            break;
        ret = push_pos(b, at);
    }
    if (ret < 0)
        return ret;
    if (b->n_pos > 1 && total - b->pos[b->n_pos - 1] < min_units)
        b->n_pos--;
    return push_pos(b, total);
}

/* Passthrough: boundaries are keyframes (seconds after the source start). */
static int plan_keyframes(struct builder *b, const struct grid_params *p, bool first_piece,
                          const double *kf, size_t n_kf, double start, double end)
{
    b->n_pos = 0;
    int ret = push_pos(b, start);
    size_t i = 0;
    for (size_t j = 0; ret == 0; j++) {
        double pos = b->pos[b->n_pos - 1];
        double target = pos + planned_len(p, first_piece, j);
        while (i < n_kf && kf[i] <= pos + EPS)
            i++;
        /* Candidates: the last keyframe before the target, the first one at
         * or after it, and the end of the piece; the closest wins. */
        size_t hi = i;
        while (hi < n_kf && kf[hi] < target - EPS)
            hi++;
        double best = end;
        bool finish = true;
        if (hi > i && kf[hi - 1] < end - EPS && fabs(kf[hi - 1] - target) < fabs(best - target)) {
            best = kf[hi - 1];
            finish = false;
        }
        if (hi < n_kf && kf[hi] < end - EPS && fabs(kf[hi] - target) <= fabs(best - target)) {
            best = kf[hi];
            finish = false;
        }
        if (finish)
            break;
        ret = push_pos(b, best);
        i = hi;
    }
    if (ret < 0)
        return ret;
    if (b->n_pos > 1 && end - b->pos[b->n_pos - 1] < p->min_segment)
        b->n_pos--;
    return push_pos(b, end);
}

/* Splits every span between the boundaries in b->pos into parts of about
 * `split` seconds, each new boundary on the frame grid when fps > 0; the
 * existing boundaries are kept. */
static int split_positions(struct builder *b, double split, double fps)
{
    size_t n = b->n_pos;
    double *old = malloc(n * sizeof(*old));
    int ret = 0;
    if (!old)
        return -ENOMEM;
    memcpy(old, b->pos, n * sizeof(*old));
    b->n_pos = 0;
    for (size_t j = 0; j < n && ret == 0; j++) {
        ret = push_pos(b, old[j]);
        if (j + 1 == n)
            break;
        double len = old[j + 1] - old[j];
        long parts = lround(len / split);
        for (long k = 1; k < parts && ret == 0; k++) {
            double t = old[j] + len * (double)k / (double)parts;
            if (fps > 0)
                t = (double)grid_frame_slot(t, fps) / fps;
            if (t > b->pos[b->n_pos - 1] + EPS && t < old[j + 1] - EPS)
                ret = push_pos(b, t);
        }
    }
    free(old);
    return ret;
}

static bool finite_pos(double v)
{
    return isfinite(v) && v > 0;
}

static int check_params(const struct grid_source *src, size_t n, const struct grid_params *p)
{
    if (!finite_pos(p->segment_seconds) || !isfinite(p->range_start) || !isfinite(p->range_end) ||
        p->range_end <= p->range_start || !isfinite(p->gap_tolerance) || p->gap_tolerance < 0 ||
        !isfinite(p->min_segment) || p->min_segment < 0 || (p->n_fast_start && !p->fast_start) ||
        !isfinite(p->split_seconds) || p->split_seconds < 0)
        return -EINVAL;
    for (size_t j = 0; j < p->n_fast_start; j++)
        if (!finite_pos(p->fast_start[j]))
            return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const struct grid_source *s = &src[i];
        if (!isfinite(s->wall_start) || !isfinite(s->wall_end) || !isfinite(s->fps) || s->fps < 0 ||
            (s->n_keyframes && !s->keyframes) || (s->keyframes && !s->n_keyframes))
            return -EINVAL;
        if (i > 0 && s->wall_start < src[i - 1].wall_start)
            return -EINVAL;
        for (size_t k = 0; k < s->n_keyframes; k++)
            if (!isfinite(s->keyframes[k]) || (k > 0 && s->keyframes[k] <= s->keyframes[k - 1]))
                return -EINVAL;
    }
    return 0;
}

int grid_plan(const struct grid_source *sources, size_t n_sources,
              const struct grid_params *params_in, struct grid_plan *out)
{
    memset(out, 0, sizeof(*out));
    struct grid_params p = *params_in;
    int ret = check_params(sources, n_sources, &p);
    if (ret < 0)
        return ret;
    if (p.gap_tolerance <= 0)
        p.gap_tolerance = 0.5;
    if (p.min_segment <= 0)
        p.min_segment = 0.5;

    struct builder b = {.plan = out};
    double prev_end = -INFINITY; /* wall clock where the last piece ended */
    bool first_piece = true;
    for (size_t i = 0; i < n_sources; i++) {
        const struct grid_source *s = &sources[i];
        double lo = fmax(fmax(p.range_start, s->wall_start), prev_end);
        double hi = fmin(p.range_end, s->wall_end);
        if (hi - lo < MIN_PIECE)
            continue;
        double a = lo - s->wall_start, e = hi - s->wall_start; /* source-relative */
        bool passthrough = s->keyframes != NULL;
        bool frames = !passthrough && s->fps > 0;
        double start; /* source time of the piece's first frame */
        int64_t k0 = -1;

        if (passthrough) {
            size_t k = 0;
            while (k + 1 < s->n_keyframes && s->keyframes[k + 1] <= a + EPS)
                k++;
            start = s->keyframes[k];
            if (start >= e - MIN_PIECE)
                continue;
            /* The end extends to the next keyframe too: frames before it may
             * reference frames after the range end (B-frames). */
            double src_len = s->wall_end - s->wall_start;
            while (k < s->n_keyframes && s->keyframes[k] < e - EPS)
                k++;
            if (k < s->n_keyframes && s->keyframes[k] < src_len - EPS)
                e = s->keyframes[k];
            else if ((e = src_len) > 0 && s->fps > 0) /* the last frame ends on the frame grid */
                e = start + (double)grid_frame_ceil(e - start, s->fps) / s->fps;
            ret = plan_keyframes(&b, &p, first_piece, s->keyframes, s->n_keyframes, start, e);
            if (ret == 0 && p.split_seconds > 0)
                ret = split_positions(&b, p.split_seconds, s->fps);
        } else if (frames) {
            k0 = grid_frame_ceil(a, s->fps);
            int64_t kend = grid_frame_ceil(e, s->fps);
            if ((double)(kend - k0) / s->fps < MIN_PIECE)
                continue;
            start = (double)k0 / s->fps;
            ret = plan_uniform(&b, &p, first_piece, (double)(kend - k0), s->fps, true,
                               p.min_segment * s->fps);
        } else {
            start = a;
            ret = plan_uniform(&b, &p, first_piece, e - a, 1, false, p.min_segment);
        }
        if (ret < 0)
            goto fail;

        bool disc = !first_piece && (p.discontinuity_every_source ||
                                     s->wall_start + start - prev_end > p.gap_tolerance);
        double piece_start = out->duration;
        for (size_t j = 0; j + 1 < b.n_pos; j++) {
            struct grid_segment seg = {.source = i,
                                       .discontinuity = disc && j == 0,
                                       .frame_start = -1,
                                       .frame_end = -1,
                                       .piece_frame0 = k0,
                                       .piece_start = piece_start,
                                       .start = out->duration};
            if (frames) {
                seg.frame_start = k0 + (int64_t)b.pos[j];
                seg.frame_end = k0 + (int64_t)b.pos[j + 1];
                seg.src_start = (double)seg.frame_start / s->fps;
                seg.src_end = (double)seg.frame_end / s->fps;
                seg.duration = (b.pos[j + 1] - b.pos[j]) / s->fps;
            } else if (passthrough) {
                seg.src_start = b.pos[j];
                seg.src_end = b.pos[j + 1];
                seg.duration = seg.src_end - seg.src_start;
            } else {
                seg.src_start = start + b.pos[j];
                seg.src_end = start + b.pos[j + 1];
                seg.duration = b.pos[j + 1] - b.pos[j];
            }
            seg.pdt = s->wall_start + seg.src_start;
            ret = push_seg(&b, &seg);
            if (ret < 0)
                goto fail;
        }
        prev_end = s->wall_start + out->segs[out->n - 1].src_end;
        first_piece = false;
    }
    free(b.pos);
    if (out->n == 0)
        return -ENOENT;
    return 0;
fail:
    free(b.pos);
    grid_plan_free(out);
    return ret;
}

void grid_plan_free(struct grid_plan *plan)
{
    if (!plan)
        return;
    free(plan->segs);
    memset(plan, 0, sizeof(*plan));
}

long grid_find(const struct grid_plan *plan, double t)
{
    if (plan->n == 0)
        return -1;
    size_t lo = 0, hi = plan->n; /* invariant: segs[lo].start <= t (or lo == 0) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (plan->segs[mid].start <= t + EPS)
            lo = mid;
        else
            hi = mid;
    }
    return (long)lo;
}

long grid_find_wall(const struct grid_plan *plan, double wall)
{
    if (plan->n == 0 || wall < plan->segs[0].pdt - EPS)
        return -1;
    const struct grid_segment *last = &plan->segs[plan->n - 1];
    if (wall >= last->pdt + last->duration - EPS)
        return -1;
    size_t lo = 0, hi = plan->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (plan->segs[mid].pdt <= wall + EPS)
            lo = mid;
        else
            hi = mid;
    }
    const struct grid_segment *s = &plan->segs[lo];
    if (wall >= s->pdt + s->duration - EPS) /* in the gap after it */
        return (long)lo + 1;
    return (long)lo;
}
