/* Scrub thumbnails: times, layout, the VTT and the I-frame playlist (see
 * thumbgrid.h). */
#include "core/thumbgrid.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double thumbgrid_default_interval(double duration)
{
    static const double steps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (duration / steps[i] <= THUMBGRID_TARGET_CUES)
            return steps[i];
    return THUMBGRID_MAX_INTERVAL;
}

static int cmp_span(const void *a, const void *b)
{
    const struct thumbgrid_span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Coverage clipped to [start, end) and merged: what the session plays, in
 * order, each with its offset on the session timeline. */
struct covered {
    double start, end, offset;
};

static int merge(const struct thumbgrid_span *spans, size_t n, double start, double end,
                 struct covered **out, size_t *count)
{
    struct thumbgrid_span *s = n ? malloc(n * sizeof(*s)) : NULL;
    struct covered *c = n ? malloc(n * sizeof(*c)) : NULL;
    size_t m = 0;
    double offset = 0;
    if (n && (!s || !c)) {
        free(s);
        free(c);
        return -ENOMEM;
    }
    if (n)
        memcpy(s, spans, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_span);
    for (size_t i = 0; i < n; i++) {
        double a = fmax(s[i].start, start), b = fmin(s[i].end, end);
        if (!(b > a))
            continue;
        if (m && a <= c[m - 1].end) {
            if (b > c[m - 1].end) {
                offset += b - c[m - 1].end;
                c[m - 1].end = b;
            }
            continue;
        }
        c[m++] = (struct covered){a, b, offset};
        offset += b - a;
    }
    free(s);
    *out = c;
    *count = m;
    return 0;
}

/* The span covering t that starts first (what the session plays at t). */
static size_t source_of(const struct thumbgrid_span *spans, size_t n, double t)
{
    size_t best = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (spans[i].start <= t && t < spans[i].end &&
            (!found || spans[i].start < spans[best].start)) {
            best = i;
            found = true;
        }
    return best;
}

int thumbgrid_plan(const struct thumbgrid_span *spans, size_t n, double start, double end,
                   double interval, size_t max, struct thumbgrid_cue **out, size_t *count)
{
    struct covered *c = NULL;
    struct thumbgrid_cue *cues = NULL;
    size_t m = 0, k = 0, j = 0;
    int r;

    *out = NULL;
    *count = 0;
    if (!(interval >= THUMBGRID_MIN_INTERVAL && interval <= THUMBGRID_MAX_INTERVAL) ||
        !isfinite(start) || !isfinite(end) || !(end > start) || fabs(start) > THUMBGRID_MAX_TIME ||
        fabs(end) > THUMBGRID_MAX_TIME)
        return -EINVAL; /* far times: start + k * interval would stop moving */
    if ((r = merge(spans, n, start, end, &c, &m)) < 0)
        return r;
    /* An integer step counter that only moves forward: recomputing the step
     * from a float quotient could land on the same step again (a gap's
     * ceil() rounding down) and loop forever. */
    for (long long step = 0;; step++) {
        double t = start + (double)step * interval;
        if (t >= end)
            break;
        while (j < m && c[j].end <= t)
            j++;
        if (j == m)
            break;
        if (t < c[j].start) {
            /* in a gap: jump to the first step inside the next coverage */
            double first = ceil((c[j].start - start) / interval);
            if (first > (double)step + 1 && first < 1e15)
                step = (long long)first - 1;
            /* rounding may leave the jump just short of the coverage:
             * the loop's next passes step on until t reaches it */
            continue;
        }
        if (k == max) {
            r = -E2BIG;
            goto fail;
        }
        if (!cues && !(cues = malloc((max ? max : 1) * sizeof(*cues)))) {
            r = -ENOMEM;
            goto fail;
        }
        cues[k].t = t;
        cues[k].source = source_of(spans, n, t);
        cues[k].out_start = c[j].offset + (t - c[j].start);
        cues[k].out_end = c[j].offset + (fmin(t + interval, c[j].end) - c[j].start);
        if (k > 0)
            cues[k - 1].out_end = cues[k].out_start;
        k++;
    }
    free(c);
    *out = cues;
    *count = k;
    return 0;
fail:
    free(c);
    free(cues);
    return r;
}

size_t thumbgrid_per_sheet(const struct thumbgrid_layout *l)
{
    return (size_t)l->columns * (size_t)l->rows;
}

size_t thumbgrid_sheets(const struct thumbgrid_layout *l, size_t count)
{
    size_t per = thumbgrid_per_sheet(l);
    return per ? (count + per - 1) / per : 0;
}

void thumbgrid_tile(const struct thumbgrid_layout *l, size_t k, size_t *sheet, int *x, int *y)
{
    size_t per = thumbgrid_per_sheet(l), in = k % per;
    *sheet = k / per;
    *x = (int)(in % (size_t)l->columns) * l->tile_width;
    *y = (int)(in / (size_t)l->columns) * l->tile_height;
}

void thumbgrid_sheet_size(const struct thumbgrid_layout *l, size_t count, size_t sheet, int *w,
                          int *h)
{
    size_t per = thumbgrid_per_sheet(l), first = sheet * per;
    size_t tiles = first >= count ? 0 : count - first < per ? count - first : per;
    size_t rows = (tiles + (size_t)l->columns - 1) / (size_t)l->columns;
    *w = l->columns * l->tile_width;
    *h = (int)rows * l->tile_height;
}

/* "HH:MM:SS.mmm" (hours may exceed 99: a VTT timestamp allows it). */
static int vtt_time(char *buf, size_t size, double t)
{
    long long ms = llround(t * 1000.0);
    if (ms < 0)
        ms = 0;
    return snprintf(buf, size, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
                    ms / 1000 % 60, ms % 1000);
}

int thumbgrid_write_vtt(const struct thumbgrid_cue *cues, size_t n,
                        const struct thumbgrid_layout *l, const char *sheet_prefix, char **out,
                        size_t *len)
{
    size_t cap = 16 + n * (96 + strlen(sheet_prefix)), used = 0;
    char *buf = malloc(cap), a[32], b[32];
    if (!buf)
        return -ENOMEM;
    used = (size_t)snprintf(buf, cap, "WEBVTT\n");
    for (size_t k = 0; k < n; k++) {
        size_t sheet;
        int x, y;
        thumbgrid_tile(l, k, &sheet, &x, &y);
        vtt_time(a, sizeof(a), cues[k].out_start);
        vtt_time(b, sizeof(b), cues[k].out_end);
        int w = snprintf(buf + used, cap - used, "\n%s --> %s\n%s%zu.jpg#xywh=%d,%d,%d,%d\n", a, b,
                         sheet_prefix, sheet, x, y, l->tile_width, l->tile_height);
        if (w < 0 || (size_t)w >= cap - used) {
            free(buf);
            return -EINVAL;
        }
        used += (size_t)w;
    }
    *out = buf;
    *len = used;
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (RFC 8216 EXT-X-PROGRAM-DATE-TIME). */
static int pdt_time(char *buf, size_t size, double t)
{
    long long ms = llround(t * 1000.0);
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&sec, &tm))
        return snprintf(buf, size, "1970-01-01T00:00:00.000Z");
    return snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

int thumbgrid_write_iframes(const struct thumbgrid_cue *cues, size_t n, const char *iframe_prefix,
                            char **out, size_t *len)
{
    size_t cap = 256 + n * (96 + strlen(iframe_prefix)), used = 0;
    char *buf = malloc(cap);
    double target = 1;
    if (!buf)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++)
        target = fmax(target, ceil(cues[k].out_end - cues[k].out_start));
    used = (size_t)snprintf(buf, cap,
                            "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:%.0f\n"
                            "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                            "#EXT-X-I-FRAMES-ONLY\n",
                            target);
    for (size_t k = 0; k < n; k++) {
        char pdt[48];
        /* Each entry's wall clock (the picture's time), as the media
         * playlists have: players that sync by PDT agree with the PTS. */
        pdt_time(pdt, sizeof(pdt), cues[k].t);
        int w = snprintf(buf + used, cap - used,
                         "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\n%s%zu.ts\n", pdt,
                         cues[k].out_end - cues[k].out_start, iframe_prefix, k);
        if (w < 0 || (size_t)w >= cap - used) {
            free(buf);
            return -EINVAL;
        }
        used += (size_t)w;
    }
    int w = snprintf(buf + used, cap - used, "#EXT-X-ENDLIST\n");
    if (w < 0 || (size_t)w >= cap - used) {
        free(buf);
        return -EINVAL;
    }
    *out = buf;
    *len = used + (size_t)w;
    return 0;
}
