/* The job contract: the generic code that walks the option tables of
 * jobspec_tables.c (see jobspec.h). Cross-key rules (range_end after range_start, part shorter than
 * segment) stay with the job that needs them. */
#include "core/jobspec_priv.h"

#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- generic walkers --------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static void join(char *out, size_t size, const char *path, const char *key)
{
    util_fmt(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

static void fill_defaults(const struct jobspec_opt *opts, void *base)
{
    for (const struct jobspec_opt *o = opts; o->name; o++) {
        char *p = (char *)base + o->off;
        switch (o->type) {
        case JOBSPEC_T_DOUBLE:
            *(double *)p = o->def;
            break;
        case JOBSPEC_T_INT:
            *(int *)p = (int)o->def;
            break;
        case JOBSPEC_T_BOOL:
            *(bool *)p = o->def != 0;
            break;
        case JOBSPEC_T_STRING:
            *(const char **)p = o->def_str;
            break;
        case JOBSPEC_T_BITRATE:
            *(int64_t *)p = (int64_t)o->def;
            break;
        case JOBSPEC_T_DOUBLES:
            if (o->n_def_list)
                memcpy(p, o->def_list, o->n_def_list * sizeof(double));
            *(size_t *)((char *)base + o->count_off) = o->n_def_list;
            break;
        case JOBSPEC_T_OBJECT:
            fill_defaults(o->sub, p);
            break;
        case JOBSPEC_T_ARRAY:
            *(void **)p = NULL;
            *(size_t *)((char *)base + o->count_off) = 0;
            break;
        case JOBSPEC_T_INPUT:
            *(struct jobspec_input *)p = (struct jobspec_input){0};
            break;
        }
    }
}

static void clear_opts(const struct jobspec_opt *opts, void *base)
{
    for (const struct jobspec_opt *o = opts; o->name; o++) {
        char *p = (char *)base + o->off;
        if (o->type == JOBSPEC_T_OBJECT) {
            clear_opts(o->sub, p);
        } else if (o->type == JOBSPEC_T_ARRAY) {
            free(*(void **)p);
            *(void **)p = NULL;
            *(size_t *)((char *)base + o->count_off) = 0;
        }
    }
}

static int check_number(const struct jobspec_opt *o, double v, const char *path, char *err,
                        size_t errlen)
{
    if (!isfinite(v))
        return fail(err, errlen, "%s: expected a finite number", path);
    if (v < o->min)
        return fail(err, errlen, "%s: %g is below the minimum %g", path, v, o->min);
    if (v > o->max)
        return fail(err, errlen, "%s: %g is above the maximum %g", path, v, o->max);
    if (o->type == JOBSPEC_T_INT && v != floor(v))
        return fail(err, errlen, "%s: %g is not a whole number", path, v);
    return 0;
}

static int check_string(const struct jobspec_opt *o, const char *s, const char *path, char *err,
                        size_t errlen)
{
    if (!s)
        return (o->flags & JOBSPEC_F_REQUIRED) ? fail(err, errlen, "%s: missing", path) : 0;
    if (!s[0])
        return (o->flags & (JOBSPEC_F_NONEMPTY | JOBSPEC_F_REQUIRED))
                   ? fail(err, errlen, "%s: must not be empty", path)
                   : 0;
    if ((o->flags & JOBSPEC_F_NAME) && !util_is_safe_name(s))
        return fail(err, errlen, "%s: '%s' is unsafe (not a plain name)", path, s);
    if (o->choices) {
        for (const char *const *c = o->choices; *c; c++)
            if (!strcmp(*c, s))
                return 0;
        return fail(err, errlen, "%s: '%s' is not one of the allowed values", path, s);
    }
    return 0;
}

static int check_input(const struct jobspec_opt *o, const struct jobspec_input *in,
                       const char *path, char *err, size_t errlen)
{
    if (!in->url)
        return (o->flags & JOBSPEC_F_REQUIRED) ? fail(err, errlen, "%s: missing", path) : 0;
    if (!in->url[0])
        return fail(err, errlen, "%s.url: must not be empty", path);
    if (in->options && !cJSON_IsObject(in->options))
        return fail(err, errlen, "%s.options: expected an object", path);
    return 0;
}

static int validate(const struct jobspec_opt *opts, const void *base, const char *path, char *err,
                    size_t errlen);

static int check_array(const struct jobspec_opt *o, const void *base, const char *path, char *err,
                       size_t errlen)
{
    const char *items = *(void *const *)((const char *)base + o->off);
    size_t n = *(const size_t *)((const char *)base + o->count_off);
    char sub[256];
    if (n > o->max_count)
        return fail(err, errlen, "%s: more than %zu items", path, o->max_count);
    if (n == 0 && (o->flags & JOBSPEC_F_REQUIRED))
        return fail(err, errlen, "%s: at least one item is required", path);
    for (size_t i = 0; i < n; i++) {
        util_fmt(sub, sizeof(sub), "%s[%zu]", path, i);
        int r = validate(o->sub, items + i * o->item_size, sub, err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Range and shape checks of a filled struct (what a parse would refuse). */
static int validate(const struct jobspec_opt *opts, const void *base, const char *path, char *err,
                    size_t errlen)
{
    char sub[256];
    int r = 0;
    for (const struct jobspec_opt *o = opts; o->name && r == 0; o++) {
        const char *p = (const char *)base + o->off;
        join(sub, sizeof(sub), path, o->name);
        switch (o->type) {
        case JOBSPEC_T_DOUBLE:
            r = check_number(o, *(const double *)p, sub, err, errlen);
            break;
        case JOBSPEC_T_INT:
            r = check_number(o, *(const int *)p, sub, err, errlen);
            break;
        case JOBSPEC_T_BITRATE:
            r = check_number(o, (double)*(const int64_t *)p, sub, err, errlen);
            break;
        case JOBSPEC_T_BOOL:
            break;
        case JOBSPEC_T_STRING:
            r = check_string(o, *(const char *const *)p, sub, err, errlen);
            break;
        case JOBSPEC_T_DOUBLES: {
            size_t n = *(const size_t *)((const char *)base + o->count_off);
            if (n > o->max_count)
                return fail(err, errlen, "%s: more than %zu values", sub, o->max_count);
            for (size_t i = 0; i < n && r == 0; i++) {
                char item[280];
                util_fmt(item, sizeof(item), "%s[%zu]", sub, i);
                r = check_number(o, ((const double *)p)[i], item, err, errlen);
            }
            break;
        }
        case JOBSPEC_T_OBJECT:
            r = validate(o->sub, p, sub, err, errlen);
            break;
        case JOBSPEC_T_ARRAY:
            r = check_array(o, base, sub, err, errlen);
            break;
        case JOBSPEC_T_INPUT:
            r = check_input(o, (const struct jobspec_input *)p, sub, err, errlen);
            break;
        }
    }
    return r;
}

static int parse_opts(const struct jobspec_opt *opts, const cJSON *obj, void *base,
                      const char *path, char *err, size_t errlen);

static int parse_bitrate(const struct jobspec_opt *o, const cJSON *v, int64_t *out,
                         const char *path, char *err, size_t errlen)
{
    if (cJSON_IsNumber(v)) {
        int r = check_number(o, v->valuedouble, path, err, errlen);
        if (r == 0)
            *out = (int64_t)v->valuedouble;
        return r;
    }
    int64_t bps;
    if (!cJSON_IsString(v) || util_parse_bitrate(v->valuestring, &bps) < 0)
        return fail(err, errlen, "%s: expected a bit rate such as 128000 or \"128k\"", path);
    int r = check_number(o, (double)bps, path, err, errlen);
    if (r == 0)
        *out = bps;
    return r;
}

static int parse_input(const struct jobspec_opt *o, const cJSON *v, struct jobspec_input *in,
                       const char *path, char *err, size_t errlen)
{
    *in = (struct jobspec_input){0};
    if (cJSON_IsString(v)) {
        in->url = v->valuestring;
    } else if (cJSON_IsObject(v)) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, "format");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(v, "url");
        const cJSON *opt = cJSON_GetObjectItemCaseSensitive(v, "options");
        if (f && !cJSON_IsNull(f) && !cJSON_IsString(f))
            return fail(err, errlen, "%s.format: expected a string or null", path);
        if (!cJSON_IsString(u))
            return fail(err, errlen, "%s.url: missing", path);
        if (opt && !cJSON_IsNull(opt) && !cJSON_IsObject(opt))
            return fail(err, errlen, "%s.options: expected an object", path);
        in->format = cJSON_IsString(f) ? f->valuestring : NULL;
        in->url = u->valuestring;
        in->options = cJSON_IsObject(opt) ? opt : NULL;
    } else {
        return fail(err, errlen, "%s: expected an input object {format, url, options}", path);
    }
    return check_input(o, in, path, err, errlen);
}

static int parse_doubles(const struct jobspec_opt *o, const cJSON *v, void *base, const char *path,
                         char *err, size_t errlen)
{
    double *arr = (double *)((char *)base + o->off);
    size_t *n = (size_t *)((char *)base + o->count_off);
    const cJSON *it;
    char sub[280];
    size_t k = 0;
    if (!cJSON_IsArray(v))
        return fail(err, errlen, "%s: expected a list of numbers", path);
    if ((size_t)cJSON_GetArraySize(v) > o->max_count)
        return fail(err, errlen, "%s: more than %zu values", path, o->max_count);
    if (cJSON_GetArraySize(v) == 0 && (o->flags & JOBSPEC_F_NONEMPTY))
        return 0; /* keep the default list */
    cJSON_ArrayForEach(it, v)
    {
        util_fmt(sub, sizeof(sub), "%s[%zu]", path, k);
        if (!cJSON_IsNumber(it))
            return fail(err, errlen, "%s: expected a number", sub);
        int r = check_number(o, it->valuedouble, sub, err, errlen);
        if (r < 0)
            return r;
        arr[k++] = it->valuedouble;
    }
    *n = k;
    return 0;
}

static int parse_array(const struct jobspec_opt *o, const cJSON *v, void *base, const char *path,
                       char *err, size_t errlen)
{
    const cJSON *it;
    char sub[280];
    size_t k = 0;
    if (!cJSON_IsArray(v))
        return fail(err, errlen, "%s: expected a list", path);
    int n = cJSON_GetArraySize(v);
    if ((size_t)n > o->max_count)
        return fail(err, errlen, "%s: more than %zu items", path, o->max_count);
    if (n == 0)
        return (o->flags & JOBSPEC_F_REQUIRED)
                   ? fail(err, errlen, "%s: at least one item is required", path)
                   : 0;
    char *items = calloc((size_t)n, o->item_size);
    if (!items) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *(void **)((char *)base + o->off) = items;
    cJSON_ArrayForEach(it, v)
    {
        util_fmt(sub, sizeof(sub), "%s[%zu]", path, k);
        void *item = items + k * o->item_size;
        fill_defaults(o->sub, item);
        if (!cJSON_IsObject(it))
            return fail(err, errlen, "%s: expected an object", sub);
        int r = parse_opts(o->sub, it, item, sub, err, errlen);
        if (r < 0)
            return r;
        *(size_t *)((char *)base + o->count_off) = ++k;
    }
    return 0;
}

static int parse_one(const struct jobspec_opt *o, const cJSON *v, void *base, const char *path,
                     char *err, size_t errlen)
{
    char *p = (char *)base + o->off;
    int r;
    if (!v || cJSON_IsNull(v)) {
        /* missing = the default; the required ones have none */
        if (!(o->flags & JOBSPEC_F_REQUIRED))
            return 0;
        if (o->type == JOBSPEC_T_STRING && o->def_str)
            return 0;
        return fail(err, errlen, "%s: missing", path);
    }
    switch (o->type) {
    case JOBSPEC_T_DOUBLE:
    case JOBSPEC_T_INT:
        if (!cJSON_IsNumber(v))
            return fail(err, errlen, "%s: expected a number", path);
        if ((r = check_number(o, v->valuedouble, path, err, errlen)) < 0)
            return r;
        if (o->type == JOBSPEC_T_INT)
            *(int *)p = (int)v->valuedouble;
        else
            *(double *)p = v->valuedouble;
        return 0;
    case JOBSPEC_T_BOOL:
        if (!cJSON_IsBool(v))
            return fail(err, errlen, "%s: expected true or false", path);
        *(bool *)p = cJSON_IsTrue(v);
        return 0;
    case JOBSPEC_T_STRING:
        if (!cJSON_IsString(v))
            return fail(err, errlen, "%s: expected a string", path);
        if ((r = check_string(o, v->valuestring, path, err, errlen)) < 0)
            return r;
        *(const char **)p = v->valuestring;
        return 0;
    case JOBSPEC_T_BITRATE:
        return parse_bitrate(o, v, (int64_t *)p, path, err, errlen);
    case JOBSPEC_T_DOUBLES:
        return parse_doubles(o, v, base, path, err, errlen);
    case JOBSPEC_T_OBJECT:
        if (!cJSON_IsObject(v))
            return fail(err, errlen, "%s: expected an object", path);
        return parse_opts(o->sub, v, p, path, err, errlen);
    case JOBSPEC_T_ARRAY:
        return parse_array(o, v, base, path, err, errlen);
    case JOBSPEC_T_INPUT:
        return parse_input(o, v, (struct jobspec_input *)p, path, err, errlen);
    }
    return -EINVAL;
}

static int parse_opts(const struct jobspec_opt *opts, const cJSON *obj, void *base,
                      const char *path, char *err, size_t errlen)
{
    char sub[256];
    for (const struct jobspec_opt *o = opts; o->name; o++) {
        join(sub, sizeof(sub), path, o->name);
        int r =
            parse_one(o, cJSON_GetObjectItemCaseSensitive(obj, o->name), base, sub, err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

static cJSON *input_to_json(const struct jobspec_input *in)
{
    if (!in->url)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!(in->format ? cJSON_AddStringToObject(o, "format", in->format)
                     : cJSON_AddNullToObject(o, "format")) ||
        !cJSON_AddStringToObject(o, "url", in->url) ||
        (in->options && !cJSON_AddItemToObject(o, "options", cJSON_Duplicate(in->options, 1)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *opts_to_json(const struct jobspec_opt *opts, const void *base, cJSON *obj);

static cJSON *value_to_json(const struct jobspec_opt *o, const void *base)
{
    const char *p = (const char *)base + o->off;
    switch (o->type) {
    case JOBSPEC_T_DOUBLE:
        return cJSON_CreateNumber(*(const double *)p);
    case JOBSPEC_T_INT:
        return cJSON_CreateNumber(*(const int *)p);
    case JOBSPEC_T_BOOL:
        return cJSON_CreateBool(*(const bool *)p);
    case JOBSPEC_T_STRING: {
        const char *s = *(const char *const *)p;
        return s ? cJSON_CreateString(s) : cJSON_CreateNull();
    }
    case JOBSPEC_T_BITRATE:
        return cJSON_CreateNumber((double)*(const int64_t *)p);
    case JOBSPEC_T_DOUBLES:
        return cJSON_CreateDoubleArray((const double *)p,
                                       (int)*(const size_t *)((const char *)base + o->count_off));
    case JOBSPEC_T_OBJECT:
        return opts_to_json(o->sub, p, cJSON_CreateObject());
    case JOBSPEC_T_ARRAY: {
        const char *items = *(void *const *)p;
        size_t n = *(const size_t *)((const char *)base + o->count_off);
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < n; i++) {
            cJSON *it = opts_to_json(o->sub, items + i * o->item_size, cJSON_CreateObject());
            if (!it || !cJSON_AddItemToArray(arr, it)) {
                cJSON_Delete(it);
                cJSON_Delete(arr);
                return NULL;
            }
        }
        return arr;
    }
    case JOBSPEC_T_INPUT:
        return input_to_json((const struct jobspec_input *)p);
    }
    return NULL;
}

/* Adds every option of the table to obj; NULL (obj released) when out of memory. */
static cJSON *opts_to_json(const struct jobspec_opt *opts, const void *base, cJSON *obj)
{
    for (const struct jobspec_opt *o = opts; obj && o->name; o++) {
        cJSON *v = value_to_json(o, base);
        if (!v || !cJSON_AddItemToObject(obj, o->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

static int to_json(enum jobspec_kind kind, const void *spec, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    int r = validate(jobspec_kinds[kind].opts, spec, "", err, errlen);
    if (r < 0)
        return r;
    cJSON *job = cJSON_CreateObject();
    if (!job || !cJSON_AddStringToObject(job, "kind", jobspec_kinds[kind].name) ||
        !(job = opts_to_json(jobspec_kinds[kind].opts, spec, job))) {
        cJSON_Delete(job);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *out = job;
    return 0;
}

static int from_json(enum jobspec_kind kind, const cJSON *job, void *spec, char *err, size_t errlen)
{
    enum jobspec_kind got;
    const struct jobspec_opt *opts = jobspec_kinds[kind].opts;
    fill_defaults(opts, spec);
    int r = jobspec_kind_of(job, &got, err, errlen);
    if (r == 0 && got != kind)
        r = fail(err, errlen, "kind: a %s job was given where a %s job was expected",
                 jobspec_kinds[got].name, jobspec_kinds[kind].name);
    if (r == 0)
        r = parse_opts(opts, job, spec, "", err, errlen);
    if (r < 0)
        clear_opts(opts, spec);
    return r;
}

/* ---- public ------------------------------------------------------------------------ */

int jobspec_kind_of(const cJSON *job, enum jobspec_kind *out, char *err, size_t errlen)
{
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "kind"));
    if (!kind)
        return fail(err, errlen, "job without a \"kind\"");
    for (size_t i = 0; i < JOBSPEC_N_KINDS; i++) {
        if (!strcmp(jobspec_kinds[i].name, kind)) {
            *out = (enum jobspec_kind)i;
            return 0;
        }
    }
    return fail(err, errlen, "unknown job kind '%s'", kind);
}

const struct jobspec_opt *jobspec_lookup(const char *path)
{
    const struct jobspec_opt *opts = NULL, *o = NULL;
    const char *dot = strchr(path, '.');
    if (!dot)
        return NULL;
    for (size_t i = 0; i < JOBSPEC_N_KINDS; i++)
        if (strlen(jobspec_kinds[i].name) == (size_t)(dot - path) &&
            !strncmp(jobspec_kinds[i].name, path, (size_t)(dot - path)))
            opts = jobspec_kinds[i].opts;
    for (const char *s = dot + 1; opts; s = dot + 1) {
        dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        for (o = opts; o->name && (strlen(o->name) != len || strncmp(o->name, s, len)); o++)
            ;
        if (!o->name)
            return NULL;
        if (!dot)
            return o;
        opts = o->sub;
    }
    return NULL;
}

#define JOBSPEC_KIND_API(k, T, KIND)                                                               \
    void jobspec_##k##_defaults(T *j)                                                              \
    {                                                                                              \
        fill_defaults(jobspec_kinds[KIND].opts, j);                                                \
    }                                                                                              \
    int jobspec_##k##_to_json(const T *j, cJSON **out, char *err, size_t errlen)                   \
    {                                                                                              \
        return to_json(KIND, j, out, err, errlen);                                                 \
    }                                                                                              \
    int jobspec_##k##_from_json(const cJSON *job, T *j, char *err, size_t errlen)                  \
    {                                                                                              \
        return from_json(KIND, job, j, err, errlen);                                               \
    }                                                                                              \
    void jobspec_##k##_clear(T *j)                                                                 \
    {                                                                                              \
        if (j)                                                                                     \
            clear_opts(jobspec_kinds[KIND].opts, j);                                               \
    }

JOBSPEC_KIND_API(live, struct jobspec_live, JOBSPEC_LIVE)
JOBSPEC_KIND_API(vod, struct jobspec_vod, JOBSPEC_VOD)
JOBSPEC_KIND_API(transcode, struct jobspec_transcode, JOBSPEC_TRANSCODE)
JOBSPEC_KIND_API(thumbs, struct jobspec_thumbs, JOBSPEC_THUMBS)
JOBSPEC_KIND_API(export, struct jobspec_export, JOBSPEC_EXPORT)
