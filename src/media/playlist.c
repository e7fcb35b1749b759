#include "media/playlist.h"

#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest duration we accept anywhere (a day); keeps rendering bounded. */
#define MAX_DURATION 86400.0
/* 9999-12-31T23:59:59Z: the last instant 4-digit years can express. */
#define MAX_EPOCH 253402300799.0

void playlist_init(struct playlist *pl, enum playlist_type type, int target_duration)
{
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    pl->version = 3;
    pl->target_duration = target_duration > 0 ? target_duration : 0;
    pl->independent_segments = true;
}

static void free_parts(struct playlist_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i].uri);
    free(parts);
}

static void free_segment(struct playlist_segment *s)
{
    free(s->uri);
    free(s->map_uri);
    s->map_uri = NULL;
    free_parts(s->parts, s->n_parts);
    s->uri = NULL;
    s->parts = NULL;
    s->n_parts = 0;
}

void playlist_clear(struct playlist *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->n_segs; i++)
        free_segment(&pl->segs[i]);
    free(pl->segs);
    free(pl->map_uri);
    free_parts(pl->pending_parts, pl->n_pending_parts);
    free(pl->preload_hint_uri);
    playlist_init(pl, PLAYLIST_LIVE, 0);
}

void playlist_free_strv(char ***v)
{
    if (!v || !*v)
        return;
    for (char **p = *v; *p; p++)
        free(*p);
    free(*v);
    *v = NULL;
}

/* URIs end up on a line of their own or inside a quoted attribute: no
 * control characters, no quotes, bounded. */
static bool uri_ok(const char *uri)
{
    if (!uri || !uri[0])
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++, n++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"')
            return false;
        if (n >= PLAYLIST_MAX_URI)
            return false;
    }
    return uri[0] != '#';
}

static bool duration_ok(double d)
{
    return isfinite(d) && d >= 0 && d <= MAX_DURATION;
}

static bool pdt_ok(double t)
{
    return isnan(t) || (isfinite(t) && t >= 0 && t <= MAX_EPOCH);
}

int playlist_add_segment(struct playlist *pl, const char *uri, double duration, bool discontinuity,
                         double pdt)
{
    if (!uri_ok(uri) || !duration_ok(duration) || !pdt_ok(pdt))
        return -EINVAL;
    if (pl->n_segs >= PLAYLIST_MAX_SEGMENTS)
        return -E2BIG;
    if (pl->n_segs == pl->cap_segs) {
        size_t cap = pl->cap_segs ? pl->cap_segs * 2 : 16;
        struct playlist_segment *s = realloc(pl->segs, cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        pl->segs = s;
        pl->cap_segs = cap;
    }
    char *copy = strdup(uri);
    if (!copy)
        return -ENOMEM;
    struct playlist_segment *s = &pl->segs[pl->n_segs++];
    memset(s, 0, sizeof(*s));
    s->uri = copy;
    s->duration = duration;
    s->discontinuity = discontinuity;
    s->pdt = pdt;
    /* The parts written so far belong to the segment that just completed. */
    s->parts = pl->pending_parts;
    s->n_parts = pl->n_pending_parts;
    pl->pending_parts = NULL;
    pl->n_pending_parts = 0;
    return 0;
}

int playlist_live_append(struct playlist *pl, const char *uri, double duration, bool discontinuity,
                         double pdt, size_t list_size, char ***removed)
{
    if (removed)
        *removed = NULL;
    int ret = playlist_add_segment(pl, uri, duration, discontinuity, pdt);
    if (ret < 0)
        return ret;
    if (list_size == 0 || pl->n_segs <= list_size)
        return 0;
    size_t drop = pl->n_segs - list_size;
    char **strv = NULL;
    if (removed) {
        strv = calloc(drop + 1, sizeof(*strv));
        if (!strv)
            return -ENOMEM; /* the window is one too long; the next call trims it */
    }
    for (size_t i = 0; i < drop; i++) {
        struct playlist_segment *s = &pl->segs[i];
        pl->media_sequence++;
        if (s->discontinuity)
            pl->discontinuity_sequence++;
        if (strv) {
            strv[i] = s->uri;
            s->uri = NULL;
        }
        free_segment(s);
    }
    memmove(pl->segs, pl->segs + drop, (pl->n_segs - drop) * sizeof(*pl->segs));
    pl->n_segs -= drop;
    if (removed)
        *removed = strv;
    return 0;
}

int playlist_add_pending_part(struct playlist *pl, const char *uri, double duration,
                              bool independent)
{
    if (!uri_ok(uri) || !duration_ok(duration))
        return -EINVAL;
    if (pl->n_pending_parts >= PLAYLIST_MAX_PARTS)
        return -E2BIG;
    struct playlist_part *p = realloc(pl->pending_parts, (pl->n_pending_parts + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    pl->pending_parts = p;
    char *copy = strdup(uri);
    if (!copy)
        return -ENOMEM;
    p[pl->n_pending_parts++] = (struct playlist_part){copy, duration, independent};
    return 0;
}

static int set_str(char **dst, const char *uri)
{
    char *copy = NULL;
    if (uri) {
        if (!uri_ok(uri))
            return -EINVAL;
        copy = strdup(uri);
        if (!copy)
            return -ENOMEM;
    }
    free(*dst);
    *dst = copy;
    return 0;
}

int playlist_set_segment_map(struct playlist *pl, const char *uri)
{
    if (pl->n_segs == 0 || !uri_ok(uri))
        return -EINVAL;
    return set_str(&pl->segs[pl->n_segs - 1].map_uri, uri);
}

int playlist_set_map(struct playlist *pl, const char *uri)
{
    return set_str(&pl->map_uri, uri);
}

int playlist_set_preload_hint(struct playlist *pl, const char *uri)
{
    return set_str(&pl->preload_hint_uri, uri);
}

double playlist_total_duration(const struct playlist *pl)
{
    double sum = 0;
    for (size_t i = 0; i < pl->n_segs; i++)
        sum += pl->segs[i].duration;
    return sum;
}

/* EXTINF is rendered with 3 decimals, so round what is rendered, not the
 * double itself (4.4996 renders as 4.500 and a client rounds that to 5). */
static long rounded_extinf(double d)
{
    double ms = round(d * 1000.0);
    return lround(ms / 1000.0);
}

int playlist_effective_target(const struct playlist *pl)
{
    long t = pl->target_duration > 0 ? pl->target_duration : 1;
    for (size_t i = 0; i < pl->n_segs; i++) {
        long r = rounded_extinf(pl->segs[i].duration);
        if (r > t)
            t = r;
    }
    return (int)t;
}

int playlist_format_pdt(double t, char *buf, size_t size)
{
    if (!isfinite(t) || t < 0 || t > MAX_EPOCH)
        return -EINVAL;
    double sec = floor(t);
    long long ms = llround((t - sec) * 1000.0);
    if (ms >= 1000) {
        sec += 1;
        ms -= 1000;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return -EINVAL;
    return util_fmt(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms) < 0
               ? -EINVAL
               : 0;
}

/* Reads exactly n digits. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

int playlist_parse_pdt(const char *s, double *out)
{
    int Y, M, D, h, m, sec;
    const char *p = s;
    if (!read_digits(&p, 4, &Y) || *p++ != '-' || !read_digits(&p, 2, &M) || *p++ != '-' ||
        !read_digits(&p, 2, &D) || (*p != 'T' && *p != 't'))
        return -EINVAL;
    p++;
    if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &m) || *p++ != ':' ||
        !read_digits(&p, 2, &sec))
        return -EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -EINVAL;
    double frac = 0, scale = 0.1;
    if (*p == '.' || *p == ',') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (int i = 0; *p >= '0' && *p <= '9'; p++, i++) {
            if (i >= 9) /* more than nanoseconds: garbage */
                return -EINVAL;
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!read_digits(&p, 2, &oh))
            return -EINVAL;
        if (*p == ':')
            p++;
        if (*p && !read_digits(&p, 2, &om))
            return -EINVAL;
        if (oh > 23 || om > 59)
            return -EINVAL;
        offset = sign * (oh * 3600L + om * 60L);
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm); /* -1 (error) is refused by the range check below */
    double v = (double)t - (double)offset + frac;
    if (!isfinite(v) || v < 0 || v > MAX_EPOCH)
        return -EINVAL;
    *out = v;
    return 0;
}

/* ---- writer ---- */

struct sbuf {
    char *buf;
    size_t len, cap;
    int err;
};

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    if (sb->err)
        return;
    for (;;) {
        size_t room = sb->cap - sb->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->err = -EINVAL;
            return;
        }
        if ((size_t)n < room) {
            sb->len += (size_t)n;
            return;
        }
        size_t cap = sb->cap ? sb->cap : 4096;
        while (cap - sb->len <= (size_t)n)
            cap *= 2;
        char *b = realloc(sb->buf, cap);
        if (!b) {
            sb->err = -ENOMEM;
            return;
        }
        sb->buf = b;
        sb->cap = cap;
    }
}

static void render_parts(struct sbuf *sb, const struct playlist_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_printf(sb, "#EXT-X-PART:DURATION=%.3f,URI=\"%s\"%s\n", parts[i].duration, parts[i].uri,
                  parts[i].independent ? ",INDEPENDENT=YES" : "");
}

int playlist_render(const struct playlist *pl, char **out, size_t *out_len)
{
    struct sbuf sb = {0};
    int version = pl->version > 3 ? pl->version : 3;
    bool maps = pl->map_uri != NULL;
    for (size_t i = 0; i < pl->n_segs && !maps; i++)
        maps = pl->segs[i].map_uri != NULL;
    if (maps && version < 6)
        version = 6; /* EXT-X-MAP without I-FRAMES-ONLY (RFC 8216 7) */

    sb_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n", version,
              playlist_effective_target(pl));
    if (pl->can_block_reload || pl->part_hold_back > 0 || pl->hold_back > 0) {
        const char *sep = "";
        sb_printf(&sb, "#EXT-X-SERVER-CONTROL:");
        if (pl->can_block_reload) {
            sb_printf(&sb, "CAN-BLOCK-RELOAD=YES");
            sep = ",";
        }
        if (pl->hold_back > 0) {
            sb_printf(&sb, "%sHOLD-BACK=%.3f", sep, pl->hold_back);
            sep = ",";
        }
        if (pl->part_hold_back > 0)
            sb_printf(&sb, "%sPART-HOLD-BACK=%.3f", sep, pl->part_hold_back);
        sb_printf(&sb, "\n");
    }
    if (pl->part_target > 0)
        sb_printf(&sb, "#EXT-X-PART-INF:PART-TARGET=%.3f\n", pl->part_target);
    sb_printf(&sb, "#EXT-X-MEDIA-SEQUENCE:%llu\n", (unsigned long long)pl->media_sequence);
    if (pl->discontinuity_sequence > 0)
        sb_printf(&sb, "#EXT-X-DISCONTINUITY-SEQUENCE:%llu\n",
                  (unsigned long long)pl->discontinuity_sequence);
    if (pl->type == PLAYLIST_VOD)
        sb_printf(&sb, "#EXT-X-PLAYLIST-TYPE:VOD\n");
    else if (pl->type == PLAYLIST_EVENT)
        sb_printf(&sb, "#EXT-X-PLAYLIST-TYPE:EVENT\n");
    if (pl->independent_segments)
        sb_printf(&sb, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (pl->map_uri)
        sb_printf(&sb, "#EXT-X-MAP:URI=\"%s\"\n", pl->map_uri);

    for (size_t i = 0; i < pl->n_segs; i++) {
        const struct playlist_segment *s = &pl->segs[i];
        if (s->discontinuity)
            sb_printf(&sb, "#EXT-X-DISCONTINUITY\n");
        if (s->map_uri)
            sb_printf(&sb, "#EXT-X-MAP:URI=\"%s\"\n", s->map_uri);
        if (!isnan(s->pdt)) {
            char when[40];
            if (playlist_format_pdt(s->pdt, when, sizeof(when)) == 0)
                sb_printf(&sb, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
        }
        render_parts(&sb, s->parts, s->n_parts);
        sb_printf(&sb, "#EXTINF:%.3f,\n%s\n", s->duration, s->uri);
    }
    render_parts(&sb, pl->pending_parts, pl->n_pending_parts);
    if (pl->preload_hint_uri)
        sb_printf(&sb, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%s\"\n", pl->preload_hint_uri);
    if (pl->ended || pl->type == PLAYLIST_VOD)
        sb_printf(&sb, "#EXT-X-ENDLIST\n");

    if (sb.err) {
        free(sb.buf);
        return sb.err;
    }
    *out = sb.buf;
    *out_len = sb.len;
    return 0;
}

int playlist_write(const struct playlist *pl, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int ret = playlist_render(pl, &text, &len);
    if (ret < 0)
        return ret;
    ret = util_write_file_atomic(path, text, len);
    free(text);
    return ret;
}

/* ---- reader ---- */

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A decimal-floating-point (RFC 8216 4.2): digits, optional fraction. */
static int parse_dur(const char *s, size_t n, double *out)
{
    char tmp[32];
    if (n == 0 || n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    bool dot = false, digit = false;
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] == '.' && !dot)
            dot = true;
        else if (tmp[i] >= '0' && tmp[i] <= '9')
            digit = true;
        else
            return -EINVAL;
    }
    if (!digit)
        return -EINVAL;
    /* The writer prints milliseconds: round here too, so parse → render →
     * parse is stable (0.00018 would otherwise be written as 0.000). */
    double v = round(strtod(tmp, NULL) * 1000.0) / 1000.0;
    if (!duration_ok(v))
        return -EINVAL;
    *out = v;
    return 0;
}

/* Finds KEY=value in an attribute list (RFC 8216 4.2); copies the value
 * (without quotes) into buf. 0, -ENOENT, or -EINVAL for a malformed list. */
static int get_attr(const char *attrs, const char *key, char *buf, size_t size)
{
    const char *p = attrs;
    size_t klen = strlen(key);
    while (*p) {
        const char *name = p;
        while (*p && *p != '=' && *p != ',')
            p++;
        if (*p != '=')
            return -EINVAL;
        size_t nlen = (size_t)(p - name);
        p++;
        const char *val;
        size_t vlen;
        if (*p == '"') {
            val = ++p;
            while (*p && *p != '"')
                p++;
            if (*p != '"')
                return -EINVAL;
            vlen = (size_t)(p - val);
            p++;
        } else {
            val = p;
            while (*p && *p != ',')
                p++;
            vlen = (size_t)(p - val);
        }
        if (*p == ',')
            p++;
        else if (*p)
            return -EINVAL;
        if (nlen == klen && memcmp(name, key, klen) == 0) {
            if (vlen >= size)
                return -EINVAL;
            memcpy(buf, val, vlen);
            buf[vlen] = '\0';
            return 0;
        }
    }
    return -ENOENT;
}

static int attr_double(const char *attrs, const char *key, double *out)
{
    char v[32];
    int ret = get_attr(attrs, key, v, sizeof(v));
    if (ret < 0)
        return ret;
    return parse_dur(v, strlen(v), out);
}

static int parse_part(struct playlist *pl, const char *attrs)
{
    char uri[PLAYLIST_MAX_URI + 1], indep[8] = "";
    double dur;
    int ret = get_attr(attrs, "URI", uri, sizeof(uri));
    if (ret < 0 || attr_double(attrs, "DURATION", &dur) < 0)
        return -EINVAL;
    ret = get_attr(attrs, "INDEPENDENT", indep, sizeof(indep));
    if (ret == -EINVAL)
        return ret;
    ret = playlist_add_pending_part(pl, uri, dur, strcmp(indep, "YES") == 0);
    return ret == -ENOMEM ? ret : ret < 0 ? -EINVAL : 0;
}

static int parse_tag(struct playlist *pl, const char *line, bool *have_inf, double *inf, bool *disc,
                     double *pdt)
{
#define TAG(name)                                                                                  \
    (strncmp(line, name, sizeof(name) - 1) == 0 ? (v = line + sizeof(name) - 1) : NULL)
    const char *v = NULL;
    uint64_t n;
    char buf[PLAYLIST_MAX_URI + 1];
    if (TAG("#EXTINF:")) {
        if (*have_inf)
            return -EINVAL;
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        if (parse_dur(v, len, inf) < 0)
            return -EINVAL;
        *have_inf = true;
    } else if (TAG("#EXT-X-VERSION:")) {
        if (parse_u64(v, 12, &n) < 0 || n < 1)
            return -EINVAL;
        pl->version = (int)n;
    } else if (TAG("#EXT-X-TARGETDURATION:")) {
        if (parse_u64(v, (uint64_t)MAX_DURATION, &n) < 0)
            return -EINVAL;
        pl->target_duration = (int)n;
    } else if (TAG("#EXT-X-MEDIA-SEQUENCE:")) {
        if (parse_u64(v, UINT64_MAX / 2, &pl->media_sequence) < 0)
            return -EINVAL;
    } else if (TAG("#EXT-X-DISCONTINUITY-SEQUENCE:")) {
        if (parse_u64(v, UINT64_MAX / 2, &pl->discontinuity_sequence) < 0)
            return -EINVAL;
    } else if (TAG("#EXT-X-DISCONTINUITY-SEQUENCE")) {
        return -EINVAL; /* no value */
    } else if (strcmp(line, "#EXT-X-DISCONTINUITY") == 0) {
        *disc = true;
    } else if (strcmp(line, "#EXT-X-INDEPENDENT-SEGMENTS") == 0) {
        pl->independent_segments = true;
    } else if (strcmp(line, "#EXT-X-ENDLIST") == 0) {
        pl->ended = true;
    } else if (TAG("#EXT-X-PLAYLIST-TYPE:")) {
        if (strcmp(v, "VOD") == 0)
            pl->type = PLAYLIST_VOD;
        else if (strcmp(v, "EVENT") == 0)
            pl->type = PLAYLIST_EVENT;
        else
            return -EINVAL;
    } else if (TAG("#EXT-X-PROGRAM-DATE-TIME:")) {
        if (playlist_parse_pdt(v, pdt) < 0)
            return -EINVAL;
    } else if (TAG("#EXT-X-MAP:")) {
        if (get_attr(v, "URI", buf, sizeof(buf)) < 0)
            return -EINVAL;
        int ret = playlist_set_map(pl, buf);
        return ret == -ENOMEM ? ret : ret < 0 ? -EINVAL : 0;
    } else if (TAG("#EXT-X-PART-INF:")) {
        if (attr_double(v, "PART-TARGET", &pl->part_target) < 0)
            return -EINVAL;
    } else if (TAG("#EXT-X-SERVER-CONTROL:")) {
        char yes[8];
        int ret = get_attr(v, "CAN-BLOCK-RELOAD", yes, sizeof(yes));
        if (ret == -EINVAL)
            return ret;
        pl->can_block_reload = ret == 0 && strcmp(yes, "YES") == 0;
        ret = attr_double(v, "PART-HOLD-BACK", &pl->part_hold_back);
        if (ret < 0 && ret != -ENOENT)
            return -EINVAL;
        ret = attr_double(v, "HOLD-BACK", &pl->hold_back);
        if (ret < 0 && ret != -ENOENT)
            return -EINVAL;
    } else if (TAG("#EXT-X-PART:")) {
        return parse_part(pl, v);
    } else if (TAG("#EXT-X-PRELOAD-HINT:")) {
        if (get_attr(v, "URI", buf, sizeof(buf)) < 0)
            return -EINVAL;
        int ret = playlist_set_preload_hint(pl, buf);
        return ret == -ENOMEM ? ret : ret < 0 ? -EINVAL : 0;
    }
    /* Other tags and comments are ignored (RFC 8216 4.1). */
    return 0;
#undef TAG
}

int playlist_parse(const char *text, size_t len, struct playlist *out)
{
    playlist_init(out, PLAYLIST_LIVE, 0);
    out->independent_segments = false;
    if (!text || len > PLAYLIST_MAX_TEXT)
        return -EINVAL;
    char line[PLAYLIST_MAX_LINE + 1];
    size_t pos = 0, lineno = 0;
    bool have_inf = false, disc = false;
    double inf = 0, pdt = NAN;
    int ret = 0;
    while (pos < len) {
        size_t start = pos;
        while (pos < len && text[pos] != '\n')
            pos++;
        size_t n = pos - start;
        if (pos < len)
            pos++; /* the '\n' */
        if (n > 0 && text[start + n - 1] == '\r')
            n--;
        if (n > PLAYLIST_MAX_LINE) {
            ret = -EINVAL;
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)text[start + i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                ret = -EINVAL;
                goto fail;
            }
        }
        memcpy(line, text + start, n);
        line[n] = '\0';
        if (lineno++ == 0) {
            if (strcmp(line, "#EXTM3U") != 0) {
                ret = -EINVAL;
                goto fail;
            }
            continue;
        }
        if (n == 0)
            continue;
        if (line[0] == '#') {
            ret = parse_tag(out, line, &have_inf, &inf, &disc, &pdt);
            if (ret < 0)
                goto fail;
            continue;
        }
        if (!have_inf) {
            ret = -EINVAL;
            goto fail;
        }
        ret = playlist_add_segment(out, line, inf, disc, pdt);
        if (ret < 0) {
            ret = ret == -ENOMEM ? ret : -EINVAL;
            goto fail;
        }
        have_inf = disc = false;
        pdt = NAN;
    }
    if (lineno == 0 || have_inf) {
        ret = -EINVAL;
        goto fail;
    }
    return 0;
fail:
    playlist_clear(out);
    return ret;
}

int playlist_read(const char *path, struct playlist *out)
{
    char *text = NULL;
    size_t len = 0;
    playlist_init(out, PLAYLIST_LIVE, 0);
    int ret = util_read_file(path, PLAYLIST_MAX_TEXT, &text, &len);
    if (ret < 0)
        return ret;
    ret = playlist_parse(text, len, out);
    free(text);
    return ret;
}
