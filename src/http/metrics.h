/* Prometheus metrics: GET /metrics in the text exposition format 0.0.4.
 *
 * Two halves:
 * - a process-wide registry (no handle to pass around) of counters and
 *   histograms that any module updates where the event happens, and
 *   "providers": callbacks that print a module's own gauges when /metrics is
 *   scraped (state it already keeps, e.g. sessions by state);
 * - the GET /metrics route and the daemon's built-in families live in
 *   src/app (app/metrics_http.h): this transport layer knows no module.
 *
 * Everything runs on the daemon's loop thread (no locking).
 *
 * Calling a module's metrics from its code, e.g. in src/vod:
 *     metrics_counter_inc("hlsd_transcode_rejected_total", NULL);      // a 429
 *     metrics_histogram_observe("hlsd_segment_wait_seconds", waited); // a segment answered
 *     metrics_register_provider(vod_metrics, m);   // in vod_manager_new
 *     metrics_unregister_provider(vod_metrics, m); // in vod_manager_free
 * with
 *     static void vod_metrics(void *arg, struct metrics_out *o) {
 *         metrics_out_family(o, "hlsd_transcode_sessions", "gauge", "Transcode sessions by state");
 *         metrics_out_sample(o, "hlsd_transcode_sessions",
 *                            (const char *const[]){"state", "encoding", NULL}, n_encoding);
 *         ...
 *     }
 */
#ifndef HLSD_METRICS_H
#define HLSD_METRICS_H

#include "core/config.h"
#include "http/http.h"

#include <stddef.h>

/* ---- registry ---- */

/* Labels are given as a NULL-terminated array of name/value pairs,
 * {"route", "/api/x", "code", "2xx", NULL}, or NULL for none. Names follow
 * Prometheus' rules ([a-zA-Z_][a-zA-Z0-9_]*); values are any UTF-8 text
 * (escaped on output). Strings are copied. */

/* Built-in families, declared (HELP, TYPE, buckets) by the registry itself so
 * they are printed, at zero, before their first event. */
#define METRICS_TRANSCODE_REJECTED "hlsd_transcode_rejected_total" /* counter, no labels */
#define METRICS_SEGMENT_WAIT "hlsd_segment_wait_seconds"           /* histogram */

/* Declares a family with its help text (optional, NULL), so that it is printed
 * before the first event and with HELP. Idempotent for the same type.
 * Histograms need their upper bounds (sorted, finite; +Inf is implicit); NULL
 * bounds take the default ones (5 ms .. 60 s). Returns 0, -EINVAL (bad name,
 * unsorted bounds, already declared with another type) or -ENOMEM. */
int metrics_declare_counter(const char *name, const char *help);
int metrics_declare_histogram(const char *name, const char *help, const double *bounds,
                              size_t n_bounds);

/* Adds v (>= 0) to a counter series, creating the family (as a counter) and
 * the series on first use. Returns 0, -EINVAL (bad name/labels, negative v,
 * name declared as a histogram) or -ENOMEM. Callers may ignore the result:
 * a metric must never fail the operation it counts. */
int metrics_counter_add(const char *name, const char *const *labels, double v);
static inline int metrics_counter_inc(const char *name, const char *const *labels)
{
    return metrics_counter_add(name, labels, 1);
}

/* Observes one value (e.g. seconds) in an unlabelled histogram, declaring it
 * with the default buckets on first use. Returns 0, -EINVAL, -ENOMEM. */
int metrics_histogram_observe(const char *name, double value);

/* Text being built for one scrape. */
struct metrics_out;

/* A provider prints its families with metrics_out_family/sample when
 * /metrics is scraped. */
typedef void (*metrics_provider_cb)(void *arg, struct metrics_out *out);
/* Registers cb(arg); arg is borrowed and must stay valid until
 * metrics_unregister_provider(cb, arg) (or metrics_registry_reset). Providers
 * are called in registration order, after the registry's own families.
 * Returns 0 or -ENOMEM. */
int metrics_register_provider(metrics_provider_cb cb, void *arg);
/* Removes the registration of (cb, arg); nothing when absent. */
void metrics_unregister_provider(metrics_provider_cb cb, void *arg);

/* Writes "# HELP name help" (when help is non-NULL) and "# TYPE name type"
 * (type: "counter", "gauge", "histogram", "untyped"). Each family once per
 * scrape, followed by all its samples. */
void metrics_out_family(struct metrics_out *o, const char *name, const char *type,
                        const char *help);
/* Writes one sample line "name{labels} value". A bad name or label name
 * drops the line (returns -EINVAL); otherwise 0. */
int metrics_out_sample(struct metrics_out *o, const char *name, const char *const *labels,
                       double value);

/* Every sample gets the label node="<node>" (a cluster's nodes scraped
 * through one name); NULL or "" = none. Call before the first metric is
 * counted: series keys include it. */
void metrics_set_node(const char *node);

/* Renders the registry and every provider into a NUL-terminated heap string
 * (*text, caller frees; *len without the NUL). Returns 0 or -ENOMEM. */
int metrics_render(char **text, size_t *len);

/* Frees every family, series and provider registration (the daemon at exit,
 * tests between cases). */
void metrics_registry_reset(void);

#endif
