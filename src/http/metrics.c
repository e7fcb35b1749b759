/* The metrics registry and the Prometheus text format (0.0.4): counters and
 * histograms updated by the modules, providers printing their own gauges.
 * The route and the daemon's built-in families are in metrics_http.c. */
#include "http/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum family_type { FAM_COUNTER, FAM_HISTOGRAM };

struct series {
    char *labels; /* rendered "{a=\"b\"}", or "" without labels: also the lookup key */
    double value;
    struct series *next;
};

struct family {
    char *name;
    char *help; /* NULL: no HELP line */
    enum family_type type;
    struct series *series; /* counters */
    /* histograms (unlabelled): counts per bucket, not cumulative; the last one is +Inf */
    double *bounds;
    size_t n_bounds;
    unsigned long *buckets;
    double sum;
    unsigned long count;
    struct family *next;
};

struct provider {
    metrics_provider_cb cb;
    void *arg;
    struct provider *next;
};

struct metrics_out {
    FILE *f;
    int err;
};

static struct {
    bool builtins; /* the built-in families are declared */
    struct family *families;
    struct family **families_tail;
    struct provider *providers;
} g;

/* Seconds a client may wait for a VOD segment: up to vod.ready_timeout (30 s by default). */
static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   20,  30,   60};

/* ---- names, numbers, escaping ---- */

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Shortest text that reads back as the same double; Prometheus' spellings of
 * the special values. */
static void fmt_value(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(buf, len, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, len, "%.17g", v);
    }
}

/* Label values escape backslash, double quote and line feed; HELP text
 * escapes backslash and line feed only. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (quote && *s == '"')
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

/* The node label every sample carries in a cluster (metrics_set_node). */
static char g_node[128];

void metrics_set_node(const char *node)
{
    snprintf(g_node, sizeof(g_node), "%s", node ? node : "");
}

/* Writes {a="b",...} (nothing without labels) to f. -EINVAL on a bad label name. */
static int put_labels(FILE *f, const char *const *labels, const char *extra_name,
                      const char *extra_value)
{
    bool any = false;
    if (g_node[0]) {
        fputs("{node=\"", f);
        put_escaped(f, g_node, true);
        fputc('"', f);
        any = true;
    }
    for (size_t i = 0; labels && labels[i]; i += 2) {
        if (!valid_name(labels[i], false) || !labels[i + 1] || strncmp(labels[i], "__", 2) == 0)
            return -EINVAL;
        fprintf(f, "%s%s=\"", any ? "," : "{", labels[i]);
        put_escaped(f, labels[i + 1], true);
        fputc('"', f);
        any = true;
    }
    if (extra_name) {
        fprintf(f, "%s%s=\"", any ? "," : "{", extra_name);
        put_escaped(f, extra_value, true);
        fputc('"', f);
        any = true;
    }
    if (any)
        fputc('}', f);
    return 0;
}

/* The rendered label set as a heap string ("" without labels). */
static int render_labels(const char *const *labels, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    int r = put_labels(f, labels, NULL, NULL);
    if (fclose(f) != 0 && r == 0)
        r = -ENOMEM;
    if (r < 0) {
        free(buf);
        return r;
    }
    *out = buf;
    return 0;
}

/* ---- registry ---- */

static void family_free(struct family *fam)
{
    while (fam->series) {
        struct series *s = fam->series;
        fam->series = s->next;
        free(s->labels);
        free(s);
    }
    free(fam->name);
    free(fam->help);
    free(fam->bounds);
    free(fam->buckets);
    free(fam);
}

static struct family *find_family(const char *name)
{
    for (struct family *f = g.families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static int declare_builtins(void);

static int add_family(const char *name, const char *help, enum family_type type,
                      const double *bounds, size_t n_bounds, struct family **out)
{
    struct family *f = find_family(name);
    if (f) {
        if (f->type != type)
            return -EINVAL;
        if (help && !f->help && !(f->help = strdup(help)))
            return -ENOMEM;
        *out = f;
        return 0;
    }
    if (!valid_name(name, true))
        return -EINVAL;
    if (type == FAM_HISTOGRAM) {
        if (!bounds) {
            bounds = default_bounds;
            n_bounds = sizeof(default_bounds) / sizeof(default_bounds[0]);
        }
        for (size_t i = 0; i < n_bounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                return -EINVAL;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->type = type;
    f->name = strdup(name);
    f->help = help ? strdup(help) : NULL;
    if (type == FAM_HISTOGRAM) {
        f->n_bounds = n_bounds;
        f->bounds = calloc(n_bounds ? n_bounds : 1, sizeof(double));
        f->buckets = calloc(n_bounds + 1, sizeof(unsigned long));
        if (f->bounds)
            memcpy(f->bounds, bounds, n_bounds * sizeof(double));
    }
    if (!f->name || (help && !f->help) || (type == FAM_HISTOGRAM && (!f->bounds || !f->buckets))) {
        family_free(f);
        return -ENOMEM;
    }
    if (!g.families_tail)
        g.families_tail = &g.families;
    *g.families_tail = f;
    g.families_tail = &f->next;
    *out = f;
    return 0;
}

int metrics_declare_counter(const char *name, const char *help)
{
    struct family *f;
    int r = declare_builtins();
    return r < 0 ? r : add_family(name, help, FAM_COUNTER, NULL, 0, &f);
}

int metrics_declare_histogram(const char *name, const char *help, const double *bounds,
                              size_t n_bounds)
{
    struct family *f;
    int r = declare_builtins();
    return r < 0 ? r : add_family(name, help, FAM_HISTOGRAM, bounds, n_bounds, &f);
}

static int counter_add(const char *name, const char *const *labels, double v)
{
    struct family *f;
    char *key = NULL;
    int r;

    if (!(v >= 0) || isinf(v))
        return -EINVAL;
    /* Labels first: a refused call must not leave an empty family behind. */
    if ((r = render_labels(labels, &key)) < 0)
        return r;
    if ((r = add_family(name, NULL, FAM_COUNTER, NULL, 0, &f)) < 0) {
        free(key);
        return r;
    }
    for (struct series *s = f->series; s; s = s->next) {
        if (strcmp(s->labels, key) == 0) {
            s->value += v;
            free(key);
            return 0;
        }
    }
    struct series *s = calloc(1, sizeof(*s));
    if (!s) {
        free(key);
        return -ENOMEM;
    }
    s->labels = key;
    s->value = v;
    /* Appended: series print in the order they first appeared. */
    struct series **pp = &f->series;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    return 0;
}

int metrics_counter_add(const char *name, const char *const *labels, double v)
{
    int r = declare_builtins();
    return r < 0 ? r : counter_add(name, labels, v);
}

int metrics_histogram_observe(const char *name, double value)
{
    struct family *f;
    int r = declare_builtins();
    if (r < 0)
        return r;
    if (isnan(value))
        return -EINVAL;
    if ((r = add_family(name, NULL, FAM_HISTOGRAM, NULL, 0, &f)) < 0)
        return r;
    size_t i = 0;
    while (i < f->n_bounds && value > f->bounds[i])
        i++;
    f->buckets[i]++;
    f->sum += value;
    f->count++;
    return 0;
}

static int declare_builtins(void)
{
    struct family *f;
    int r;
    if (g.builtins)
        return 0;
    g.builtins = true; /* before the calls below, which come back here */
    if ((r = add_family(METRICS_TRANSCODE_REJECTED,
                        "Transcode session requests refused with 429 (max_concurrent reached)",
                        FAM_COUNTER, NULL, 0, &f)) < 0 ||
        (r = counter_add(METRICS_TRANSCODE_REJECTED, NULL, 0)) < 0 ||
        (r = add_family(METRICS_SEGMENT_WAIT,
                        "Seconds a transcode segment request waited for its segment (0 when "
                        "it was ready; answered with an error after waiting counts too)",
                        FAM_HISTOGRAM, NULL, 0, &f)) < 0) {
        g.builtins = false;
        return r;
    }
    return 0;
}

int metrics_register_provider(metrics_provider_cb cb, void *arg)
{
    struct provider *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->cb = cb;
    p->arg = arg;
    struct provider **pp = &g.providers;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    return 0;
}

void metrics_unregister_provider(metrics_provider_cb cb, void *arg)
{
    for (struct provider **pp = &g.providers; *pp; pp = &(*pp)->next) {
        struct provider *p = *pp;
        if (p->cb == cb && p->arg == arg) {
            *pp = p->next;
            free(p);
            return;
        }
    }
}

void metrics_registry_reset(void)
{
    while (g.families) {
        struct family *f = g.families;
        g.families = f->next;
        family_free(f);
    }
    while (g.providers) {
        struct provider *p = g.providers;
        g.providers = p->next;
        free(p);
    }
    g.families_tail = &g.families;
    g.builtins = false;
}

/* ---- output ---- */

void metrics_out_family(struct metrics_out *o, const char *name, const char *type, const char *help)
{
    if (help) {
        fprintf(o->f, "# HELP %s ", name);
        put_escaped(o->f, help, false);
        fputc('\n', o->f);
    }
    fprintf(o->f, "# TYPE %s %s\n", name, type);
}

static void put_sample_raw(FILE *f, const char *name, const char *suffix, const char *labels,
                           double v)
{
    char num[64];
    fmt_value(v, num, sizeof(num));
    fprintf(f, "%s%s%s %s\n", name, suffix, labels, num);
}

int metrics_out_sample(struct metrics_out *o, const char *name, const char *const *labels,
                       double value)
{
    char *key = NULL;
    if (!valid_name(name, true) || render_labels(labels, &key) < 0) {
        free(key);
        return -EINVAL;
    }
    put_sample_raw(o->f, name, "", key, value);
    free(key);
    return 0;
}

static void render_family(struct metrics_out *o, const struct family *f)
{
    char le[64];
    metrics_out_family(o, f->name, f->type == FAM_COUNTER ? "counter" : "histogram", f->help);
    if (f->type == FAM_COUNTER) {
        for (const struct series *s = f->series; s; s = s->next)
            put_sample_raw(o->f, f->name, "", s->labels, s->value);
        return;
    }
    unsigned long cum = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cum += f->buckets[i];
        if (i < f->n_bounds)
            fmt_value(f->bounds[i], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        fprintf(o->f, "%s_bucket", f->name);
        put_labels(o->f, NULL, "le", le);
        fprintf(o->f, " %lu\n", cum);
    }
    put_sample_raw(o->f, f->name, "_sum", "", f->sum);
    fprintf(o->f, "%s_count %lu\n", f->name, f->count);
}

int metrics_render(char **text, size_t *len)
{
    struct metrics_out o = {0};
    char *buf = NULL;
    size_t n = 0;
    int r = declare_builtins();

    *text = NULL;
    *len = 0;
    if (r < 0)
        return r;
    o.f = open_memstream(&buf, &n);
    if (!o.f)
        return -ENOMEM;
    for (const struct family *f = g.families; f; f = f->next)
        render_family(&o, f);
    for (const struct provider *p = g.providers; p; p = p->next)
        p->cb(p->arg, &o);
    if (ferror(o.f))
        o.err = -ENOMEM;
    if (fclose(o.f) != 0 && o.err == 0)
        o.err = -ENOMEM;
    if (o.err < 0) {
        free(buf);
        return o.err;
    }
    *text = buf;
    *len = n;
    return 0;
}
