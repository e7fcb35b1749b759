/* The schema walker: applies one YAML mapping over a C struct following a
 * table of keys (struct cfg_field) with their types and ranges. A key that is
 * present replaces the value it names; lists replace whole lists; blocks
 * (mappings) merge key by key. Every error names the file, the line and the
 * dotted path of the key. The tables themselves are in config_schema.c. */
#include "core/config_priv.h"
#include "core/jobspec.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int node_line(struct fy_node *n)
{
    void *it = NULL;
    if (!n)
        return -1;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR: {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        return m ? m->line + 1 : -1;
    }
    case FYNT_MAPPING: {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_line(fy_node_pair_key(p)) : -1;
    }
    case FYNT_SEQUENCE:
        return node_line(fy_node_sequence_iterate(n, &it));
    }
    return -1;
}

int cfg_fail(struct cfg_ctx *c, struct fy_node *n, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = node_line(n);
    if (line < 0)
        line = c->line;
    if (c->err && c->errlen) {
        if (line > 0)
            snprintf(c->err, c->errlen, "%s:%d: %s", c->name, line, msg);
        else
            snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
    }
    return -EINVAL;
}

const char *cfg_kind(struct fy_node *n)
{
    if (n && fy_node_is_mapping(n))
        return "mapping";
    if (n && fy_node_is_sequence(n))
        return "list";
    return "value";
}

bool cfg_is_null(struct fy_node *n)
{
    if (!n)
        return true;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s || len == 0)
        return true;
    return (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* The text of a scalar; lists and mappings are type errors. */
int cfg_get_scalar(struct cfg_ctx *c, struct fy_node *n, const char *path, const char **out)
{
    if (!n || !fy_node_is_scalar(n))
        return cfg_fail(c, n, "%s: expected a single value, got a %s", path, cfg_kind(n));
    size_t len = 0;
    const char *s = fy_node_get_scalar0(n);
    (void)fy_node_get_scalar(n, &len);
    if (!s)
        return -ENOMEM;
    if (strlen(s) != len)
        return cfg_fail(c, n, "%s: must not contain a NUL character", path);
    *out = s;
    return 0;
}

void cfg_set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = util_xstrdup(s);
}

void cfg_join_path(char *out, size_t size, const char *path, const char *key)
{
    snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

static int set_bool(struct cfg_ctx *c, struct fy_node *v, const char *path, bool *out)
{
    const char *s;
    int r = cfg_get_scalar(c, v, path, &s);
    if (r < 0)
        return r;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = false;
    else
        return cfg_fail(c, v, "%s: expected true or false (got '%s')", path, s);
    return 0;
}

static int cfg_parse_number(struct cfg_ctx *c, const struct cfg_field *f, struct fy_node *v,
                            const char *path, const char *s, double *out)
{
    if (f->type == F_DOUBLE) {
        if (util_parse_double(s, out) < 0)
            return cfg_fail(c, v, "%s: expected a number (got '%s')", path, s);
        if (*out < f->min || *out > f->max)
            return cfg_fail(c, v, "%s: must be between %g and %g (got %s)", path, f->min, f->max,
                            s);
        return 0;
    }
    long l;
    int r = util_parse_int(s, LONG_MIN, LONG_MAX, &l);
    if (r == -EINVAL)
        return cfg_fail(c, v, "%s: expected a whole number (got '%s')", path, s);
    if (r < 0 || (double)l < f->min || (double)l > f->max)
        return cfg_fail(c, v, "%s: must be between %.0f and %.0f (got %s)", path, f->min, f->max,
                        s);
    if ((f->flags & FL_EVEN) && (l % 2) != 0)
        return cfg_fail(c, v, "%s: must be even (got %ld)", path, l);
    *out = (double)l;
    return 0;
}

static int set_field(struct cfg_ctx *c, const struct cfg_field *f, struct fy_node *v, void *base,
                     const char *path)
{
    char *p = (char *)base + f->off;
    const char *s = NULL;
    double num;
    int64_t bps;
    int r;
    struct cfg_field bound;

    if (f->job) {
        /* the worker's own bounds: what it would refuse is refused here */
        const struct jobspec_opt *o = jobspec_lookup(f->job);
        if (!o)
            return cfg_fail(c, v, "%s: the schema names an unknown job option %s", path, f->job);
        bound = *f;
        bound.min = o->min;
        bound.max = o->max;
        if (o->choices)
            bound.choices = o->choices;
        f = &bound;
    }
    if (f->type == F_SECTION) {
        r = cfg_apply_mapping(c, v, f->sub, p, path);
        return r < 0 || !f->fn ? r : f->fn(c, v, p, path);
    }
    if (f->type == F_CUSTOM)
        return f->fn(c, v, base, path);
    if (cfg_is_null(v)) {
        if (f->type == F_STR_OPT || f->type == F_BITRATE_OPT) {
            free(*(char **)p);
            *(char **)p = NULL;
            return 0;
        }
        return cfg_fail(c, v, "%s: a value is required", path);
    }
    if ((r = cfg_get_scalar(c, v, path, &s)) < 0)
        return r;
    switch (f->type) {
    case F_STR:
    case F_STR_OPT:
        if (!*s)
            return cfg_fail(c, v, "%s: must not be empty", path);
        cfg_set_str((char **)p, s);
        return 0;
    case F_NAME:
        if (!util_is_safe_name(s))
            return cfg_fail(c, v,
                            "%s: '%s' is not a valid name (1-64 characters of A-Z a-z 0-9 . _ -)",
                            path, s);
        cfg_set_str((char **)p, s);
        return 0;
    case F_CHOICE: {
        char list[200] = "";
        for (const char *const *ch = f->choices; *ch; ch++) {
            if (!strcmp(*ch, s)) {
                cfg_set_str((char **)p, s);
                return 0;
            }
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                     ch == f->choices ? "" : ", ", *ch);
        }
        return cfg_fail(c, v, "%s: must be one of %s (got '%s')", path, list, s);
    }
    case F_BITRATE:
    case F_BITRATE_OPT:
        if (util_parse_bitrate(s, &bps) < 0)
            return cfg_fail(c, v, "%s: expected a bit rate such as 5M, 800k or 2000000 (got '%s')",
                            path, s);
        if (f->max > 0 && ((double)bps < f->min || (double)bps > f->max))
            return cfg_fail(c, v, "%s: must be between %.0f and %.0f bits/s (got %s)", path, f->min,
                            f->max, s);
        cfg_set_str((char **)p, s);
        return 0;
    case F_INT:
    case F_LONG:
    case F_SIZE:
    case F_DOUBLE:
        if ((r = cfg_parse_number(c, f, v, path, s, &num)) < 0)
            return r;
        if (f->type == F_INT)
            *(int *)p = (int)num;
        else if (f->type == F_LONG)
            *(long *)p = (long)num;
        else if (f->type == F_SIZE)
            *(size_t *)p = (size_t)num;
        else
            *(double *)p = num;
        return 0;
    case F_BOOL:
        return set_bool(c, v, path, (bool *)p);
    case F_SECTION:
    case F_CUSTOM:
        break;
    }
    return -EINVAL;
}

int cfg_apply_mapping(struct cfg_ctx *c, struct fy_node *n, const struct cfg_field *fields,
                      void *base, const char *path)
{
    void *it = NULL;
    struct fy_node_pair *pair;
    if (cfg_is_null(n))
        return 0;
    if (!fy_node_is_mapping(n))
        return cfg_fail(c, n, "%s: expected a mapping (key: value), got a %s",
                        path[0] ? path : "the configuration", cfg_kind(n));
    while ((pair = fy_node_mapping_iterate(n, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        int kl = node_line(k);
        if (kl > 0)
            c->line = kl;
        const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        if (!key)
            return cfg_fail(c, k, "%s: keys must be plain names", path[0] ? path : "top level");
        const struct cfg_field *f = fields;
        while (f->key && strcmp(f->key, key) != 0)
            f++;
        if (!f->key) {
            if (path[0])
                return cfg_fail(c, k, "unknown key '%s' in %s", key, path);
            return cfg_fail(c, k, "unknown key '%s'", key);
        }
        char sub[256];
        cfg_join_path(sub, sizeof(sub), path, key);
        int r = set_field(c, f, v, base, sub);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- lists ---------------------------------------------------------------------------- */

int cfg_check_list(struct cfg_ctx *c, struct fy_node *v, const char *path)
{
    if (!fy_node_is_sequence(v))
        return cfg_fail(c, v, "%s: expected a list, got a %s", path, cfg_kind(v));
    return 0;
}

int cfg_list_alloc(struct cfg_ctx *c, struct fy_node *v, const char *path, bool need_one,
                   size_t size, void **mem)
{
    int r, count = 0;
    *mem = NULL;
    if (!cfg_is_null(v)) {
        if ((r = cfg_check_list(c, v, path)) < 0)
            return r;
        count = fy_node_sequence_item_count(v);
    }
    if (count <= 0)
        return need_one ? cfg_fail(c, v, "%s: needs at least one value", path) : 0;
    *mem = calloc((size_t)count, size);
    return *mem ? count : -ENOMEM;
}

int cfg_set_double_list(struct cfg_ctx *c, struct fy_node *v, const char *path, double min,
                        double max, bool need_one, double **arr, size_t *n)
{
    const struct cfg_field f = {.type = F_DOUBLE, .min = min, .max = max};
    void *it = NULL, *mem;
    struct fy_node *item;
    int r;
    free(*arr);
    *arr = NULL;
    *n = 0;
    if ((r = cfg_list_alloc(c, v, path, need_one, sizeof(**arr), &mem)) <= 0)
        return r;
    *arr = mem;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        char sub[256];
        const char *s;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, *n);
        if ((r = cfg_get_scalar(c, item, sub, &s)) < 0 ||
            (r = cfg_parse_number(c, &f, item, sub, s, &(*arr)[*n])) < 0)
            return r;
        (*n)++;
    }
    return 0;
}

/* Strings; names=true requires util_is_safe_name(). */
int cfg_set_str_list(struct cfg_ctx *c, struct fy_node *v, const char *path, bool names,
                     char ***arr, size_t *n)
{
    void *it = NULL, *mem;
    struct fy_node *item;
    int r;
    cfg_strv_free(arr, n);
    if ((r = cfg_list_alloc(c, v, path, false, sizeof(**arr), &mem)) <= 0)
        return r;
    *arr = mem;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        char sub[256];
        const char *s;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, *n);
        if ((r = cfg_get_scalar(c, item, sub, &s)) < 0)
            return r;
        if (!*s)
            return cfg_fail(c, item, "%s: must not be empty", sub);
        if (names && !util_is_safe_name(s))
            return cfg_fail(c, item,
                            "%s: '%s' is not a valid name (1-64 characters of A-Z a-z 0-9 . _ -)",
                            sub, s);
        (*arr)[(*n)++] = util_xstrdup(s);
    }
    return 0;
}
