/* Internal to the configuration loader (config.c, config_parse.c,
 * config_schema.c): the schema walker that applies one parsed YAML document
 * over a configuration. */
#ifndef HLSD_CONFIG_PRIV_H
#define HLSD_CONFIG_PRIV_H

#include "core/config.h"

#include <libfyaml.h>
#include <stdbool.h>
#include <stddef.h>

/* State of applying one document. `ports` is deferred: ports are built after
 * every document's global `preview:` has been applied, so each port starts
 * from the final global preview. */
struct cfg_ctx {
    const char *name; /* file name used in messages */
    char *err;
    size_t errlen;
    int line;              /* 1-based line of the key being parsed (fallback) */
    struct fy_node *ports; /* the document's `ports:` value, borrowed */
    int ports_line;
    int seen_ports;
};

enum cfg_ftype {
    F_STR,         /* non-empty string */
    F_STR_OPT,     /* string or null */
    F_NAME,        /* util_is_safe_name() */
    F_CHOICE,      /* one of f->choices */
    F_BITRATE,     /* "5M", "128k", "800000" (kept as text) */
    F_BITRATE_OPT, /* same, or null */
    F_INT,
    F_LONG,
    F_SIZE,
    F_DOUBLE,
    F_BOOL,
    F_SECTION, /* nested mapping: f->sub at base + off, then f->fn as a check */
    F_CUSTOM,  /* f->fn(ctx, value, base, path) */
};

#define FL_EVEN 0x1

typedef int (*cfg_field_fn)(struct cfg_ctx *c, struct fy_node *v, void *base, const char *path);

struct cfg_field {
    const char *key;
    enum cfg_ftype type;
    size_t off;
    double min, max;
    const struct cfg_field *sub; /* F_SECTION, terminated by a NULL key */
    const char *const *choices;  /* F_CHOICE, NULL-terminated */
    cfg_field_fn fn;
    unsigned flags;
    /* The job option this key becomes ("live.hls.segment_seconds"): its
     * min/max (and choices) replace the ones above, so config and worker
     * agree. */
    const char *job;
};

/* Fills ctx->err with "NAME:LINE: message" (LINE from node, else ctx->line)
 * and returns -EINVAL. */
int cfg_fail(struct cfg_ctx *c, struct fy_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Walker helpers (config_parse.c). Values of type "null" (nothing, ~, null)
 * are accepted only where a key allows them. */
const char *cfg_kind(struct fy_node *n); /* "mapping", "list" or "value" */
bool cfg_is_null(struct fy_node *n);
int cfg_get_scalar(struct cfg_ctx *c, struct fy_node *n, const char *path, const char **out);
void cfg_set_str(char **dst, const char *s);
void cfg_join_path(char *out, size_t size, const char *path, const char *key);
/* Applies mapping n over base following fields (NULL key ends the table). */
int cfg_apply_mapping(struct cfg_ctx *c, struct fy_node *n, const struct cfg_field *fields,
                      void *base, const char *path);
int cfg_check_list(struct cfg_ctx *c, struct fy_node *v, const char *path);
/* Checks that v is a list (null = empty) and allocates *mem for its items,
 * zeroed, each of `size` bytes (the caller frees it). Returns the item count
 * (0 for an empty list: *mem is NULL) or a negative errno; need_one refuses
 * an empty list. */
int cfg_list_alloc(struct cfg_ctx *c, struct fy_node *v, const char *path, bool need_one,
                   size_t size, void **mem);
/* Replace *arr with the list v (null = empty); need_one refuses an empty list. */
int cfg_set_double_list(struct cfg_ctx *c, struct fy_node *v, const char *path, double min,
                        double max, bool need_one, double **arr, size_t *n);
/* names: every item must pass util_is_safe_name(). */
int cfg_set_str_list(struct cfg_ctx *c, struct fy_node *v, const char *path, bool names,
                     char ***arr, size_t *n);

/* Applies every top-level key of root except `ports` (stored in c->ports). */
int cfg_apply_document(struct cfg_ctx *c, struct fy_node *root, struct hlsd_config *cfg);

/* Replaces cfg->ports by the list in c->ports (each merged over cfg->preview). */
int cfg_apply_ports(struct cfg_ctx *c, struct hlsd_config *cfg);

/* Deep copy / release of a preview block (the struct itself is not freed). */
void cfg_preview_clear(struct cfg_preview *p);
void cfg_preview_copy(struct cfg_preview *dst, const struct cfg_preview *src);
/* Releases what an input owns (the struct itself is not freed). */
void cfg_input_clear(struct cfg_input *in);
/* Releases only the demuxer options of an input. */
void cfg_options_free(struct cfg_input *in);
/* Clears and frees a heap input; *in becomes NULL. Accepts NULL. */
void cfg_input_free(struct cfg_input **in);
/* Free an array with everything its items own; *v / *n become NULL / 0. */
void cfg_strv_free(char ***v, size_t *n);
void cfg_ports_free(struct cfg_port **ports, size_t *n);
void cfg_users_free(struct cfg_user **users, size_t *n);

#endif
