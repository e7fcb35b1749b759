/* The metrics registry and its Prometheus text format (0.0.4): counters
 * with labels, escaping, histogram buckets, providers, refusals, and a
 * checker that every rendered line follows the exposition format. */
#include "http/metrics.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(&text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* True when `line` (without its '\n') is a whole line of text. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line((text), (line)))                                                             \
            fail_msg("missing line <%s> in:\n%s", (line), (text));                                 \
    } while (0)

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* A strict reader of the exposition format: comment lines are HELP/TYPE,
 * a TYPE comes once per family before its samples, every sample is
 * name{label="escaped value",...} value, with only \\ \" \n escapes. */
static void check_format(const char *text)
{
    char families[64][128];
    size_t n_fam = 0;
    const char *p = text;
    assert_true(*text == '\0' || text[strlen(text) - 1] == '\n');
    while (*p) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        if (strncmp(p, "# HELP ", 7) == 0) {
            for (const char *q = p + 7; q < eol; q++)
                if (*q == '\\') {
                    assert_true(q[1] == '\\' || q[1] == 'n');
                    q++;
                }
        } else if (strncmp(p, "# TYPE ", 7) == 0) {
            const char *q = p + 7, *sp = strchr(q, ' ');
            assert_true(sp && sp < eol);
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(sp - q), q);
            for (size_t i = 0; i < n_fam; i++)
                if (strcmp(families[i], name) == 0)
                    fail_msg("family %s declared twice", name);
            assert_true(n_fam < 64);
            snprintf(families[n_fam++], sizeof(families[0]), "%s", name);
            char type[32];
            snprintf(type, sizeof(type), "%.*s", (int)(eol - sp - 1), sp + 1);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0 || strcmp(type, "untyped") == 0);
        } else {
            assert_true(*p != '#');
            const char *q = p;
            assert_true(name_char(*q, true));
            while (name_char(*q, false))
                q++;
            /* The sample belongs to the last declared family (histograms add suffixes). */
            assert_true(n_fam > 0);
            assert_memory_equal(p, families[n_fam - 1], strlen(families[n_fam - 1]));
            if (*q == '{') {
                q++;
                for (;;) {
                    assert_true(name_char(*q, true) && *q != ':');
                    while (name_char(*q, false) && *q != ':')
                        q++;
                    assert_true(q[0] == '=' && q[1] == '"');
                    q += 2;
                    while (*q != '"') {
                        assert_true(q < eol);
                        if (*q == '\\') {
                            assert_true(q[1] == '\\' || q[1] == '"' || q[1] == 'n');
                            q++;
                        }
                        q++;
                    }
                    q++;
                    if (*q == ',') {
                        q++;
                        continue;
                    }
                    assert_int_equal(*q, '}');
                    q++;
                    break;
                }
            }
            assert_int_equal(*q, ' ');
            q++;
            char val[64];
            snprintf(val, sizeof(val), "%.*s", (int)(eol - q), q);
            if (strcmp(val, "+Inf") && strcmp(val, "-Inf") && strcmp(val, "NaN")) {
                char *end;
                strtod(val, &end);
                assert_true(val[0] && *end == '\0');
            }
        }
        p = eol + 1;
    }
}

static int reset(void **state)
{
    (void)state;
    metrics_registry_reset();
    return 0;
}

static void test_builtins_at_zero(void **state)
{
    (void)state;
    char *t = render();
    check_format(t);
    assert_line(t, "# TYPE hlsd_transcode_rejected_total counter");
    assert_line(t, "hlsd_transcode_rejected_total 0");
    assert_line(t, "# TYPE hlsd_segment_wait_seconds histogram");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"0.005\"} 0");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"30\"} 0");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"+Inf\"} 0");
    assert_line(t, "hlsd_segment_wait_seconds_sum 0");
    assert_line(t, "hlsd_segment_wait_seconds_count 0");
    free(t);
    metrics_counter_inc(METRICS_TRANSCODE_REJECTED, NULL);
    metrics_counter_inc(METRICS_TRANSCODE_REJECTED, NULL);
    t = render();
    assert_line(t, "hlsd_transcode_rejected_total 2");
    assert_false(has_line(t, "hlsd_transcode_rejected_total 0"));
    free(t);
}

static void test_counter_labels_and_escaping(void **state)
{
    (void)state;
    assert_int_equal(metrics_declare_counter("t_requests_total", "Requests\nby \\route\\"), 0);
    assert_int_equal(
        metrics_counter_inc("t_requests_total", (const char *const[]){"route", "/a", NULL}), 0);
    assert_int_equal(
        metrics_counter_add("t_requests_total", (const char *const[]){"route", "/a", NULL}, 2.5),
        0);
    assert_int_equal(
        metrics_counter_inc("t_requests_total",
                            (const char *const[]){"route", "q\"uo\\te\nnl", "code", "2xx", NULL}),
        0);
    assert_int_equal(metrics_counter_inc("t_requests_total",
                                         (const char *const[]){"route", "caf\xc3\xa9 {x}", NULL}),
                     0);
    char *t = render();
    check_format(t);
    assert_line(t, "# HELP t_requests_total Requests\\nby \\\\route\\\\");
    assert_line(t, "# TYPE t_requests_total counter");
    assert_line(t, "t_requests_total{route=\"/a\"} 3.5");
    assert_line(t, "t_requests_total{route=\"q\\\"uo\\\\te\\nnl\",code=\"2xx\"} 1");
    assert_line(t, "t_requests_total{route=\"caf\xc3\xa9 {x}\"} 1");
    /* Series print in the order they first appeared. */
    assert_true(strstr(t, "route=\"/a\"") < strstr(t, "route=\"q"));
    free(t);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    static const double b[] = {0.125, 0.5, 1};
    assert_int_equal(metrics_declare_histogram("x_wait_seconds", "Wait", b, 3), 0);
    /* Declaring again is harmless (the first bounds stay). */
    assert_int_equal(metrics_declare_histogram("x_wait_seconds", NULL, NULL, 0), 0);
    /* Binary fractions: the sum is exact. */
    const double obs[] = {0.0625, 0.125 /* on the bound: le is inclusive */, 0.25, 0.75, 1, 4};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        assert_int_equal(metrics_histogram_observe("x_wait_seconds", obs[i]), 0);
    assert_int_equal(metrics_histogram_observe("x_wait_seconds", NAN), -EINVAL);
    char *t = render();
    check_format(t);
    assert_line(t, "# TYPE x_wait_seconds histogram");
    assert_line(t, "x_wait_seconds_bucket{le=\"0.125\"} 2");
    assert_line(t, "x_wait_seconds_bucket{le=\"0.5\"} 3");
    assert_line(t, "x_wait_seconds_bucket{le=\"1\"} 5");
    assert_line(t, "x_wait_seconds_bucket{le=\"+Inf\"} 6");
    assert_line(t, "x_wait_seconds_sum 6.1875");
    assert_line(t, "x_wait_seconds_count 6");
    /* Buckets in increasing order, +Inf last. */
    assert_true(strstr(t, "x_wait_seconds_bucket{le=\"0.125\"}") <
                strstr(t, "x_wait_seconds_bucket{le=\"1\"}"));
    assert_true(strstr(t, "x_wait_seconds_bucket{le=\"1\"}") <
                strstr(t, "x_wait_seconds_bucket{le=\"+Inf\"}"));
    free(t);

    /* The built-in histogram with its default buckets. */
    metrics_histogram_observe(METRICS_SEGMENT_WAIT, 0.25); /* on a bound */
    metrics_histogram_observe(METRICS_SEGMENT_WAIT, 45);
    t = render();
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"0.1\"} 0");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"0.25\"} 1");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"30\"} 1");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"60\"} 2");
    assert_line(t, "hlsd_segment_wait_seconds_bucket{le=\"+Inf\"} 2");
    assert_line(t, "hlsd_segment_wait_seconds_sum 45.25");
    assert_line(t, "hlsd_segment_wait_seconds_count 2");
    free(t);
}

static void test_refusals(void **state)
{
    (void)state;
    static const double unsorted[] = {1, 0.5};
    static const double inf[] = {1, INFINITY};
    assert_int_equal(metrics_declare_histogram("t_bad", NULL, unsorted, 2), -EINVAL);
    assert_int_equal(metrics_declare_histogram("t_bad", NULL, inf, 2), -EINVAL);
    assert_int_equal(metrics_counter_inc("1abc", NULL), -EINVAL);
    assert_int_equal(metrics_counter_inc("", NULL), -EINVAL);
    assert_int_equal(metrics_counter_inc("a-b", NULL), -EINVAL);
    assert_int_equal(metrics_counter_inc("t_ok", (const char *const[]){"bad-label", "x", NULL}),
                     -EINVAL);
    assert_int_equal(metrics_counter_inc("t_ok", (const char *const[]){"__reserved", "x", NULL}),
                     -EINVAL);
    assert_int_equal(metrics_counter_inc("t_ok", (const char *const[]){"le", NULL}), -EINVAL);
    assert_int_equal(metrics_counter_add("t_ok", NULL, -1), -EINVAL);
    assert_int_equal(metrics_counter_add("t_ok", NULL, NAN), -EINVAL);
    /* A name keeps its type. */
    assert_int_equal(metrics_counter_inc(METRICS_SEGMENT_WAIT, NULL), -EINVAL);
    assert_int_equal(metrics_histogram_observe(METRICS_TRANSCODE_REJECTED, 1), -EINVAL);
    char *t = render();
    check_format(t);
    assert_null(strstr(t, "t_bad"));
    assert_null(strstr(t, "1abc"));
    assert_null(strstr(t, "bad-label"));
    /* A refused call leaves nothing behind. */
    assert_null(strstr(t, "t_ok"));
    free(t);
}

struct prov_state {
    int calls;
    const char *tag;
};

static void provider(void *arg, struct metrics_out *o)
{
    struct prov_state *ps = arg;
    ps->calls++;
    metrics_out_family(o, ps->tag, "gauge", "A gauge \\ with\nnewline");
    metrics_out_sample(o, ps->tag, (const char *const[]){"state", "encoding", NULL}, 2);
    metrics_out_sample(o, ps->tag, (const char *const[]){"state", "done", NULL}, 0.1);
    metrics_out_sample(o, ps->tag, NULL, INFINITY);
    metrics_out_sample(o, ps->tag, NULL, -INFINITY);
    metrics_out_sample(o, ps->tag, NULL, NAN);
    metrics_out_sample(o, ps->tag, NULL, 1e21);
    metrics_out_sample(o, ps->tag, NULL, 123456789012.0);
    assert_int_equal(metrics_out_sample(o, "bad name", NULL, 1), -EINVAL);
    assert_int_equal(metrics_out_sample(o, ps->tag, (const char *const[]){"a b", "x", NULL}, 1),
                     -EINVAL);
}

static void test_providers(void **state)
{
    (void)state;
    struct prov_state a = {0, "t_a_sessions"}, b = {0, "t_b_sessions"};
    assert_int_equal(metrics_register_provider(provider, &a), 0);
    assert_int_equal(metrics_register_provider(provider, &b), 0);
    char *t = render();
    check_format(t);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_line(t, "# HELP t_a_sessions A gauge \\\\ with\\nnewline");
    assert_line(t, "t_a_sessions{state=\"encoding\"} 2");
    assert_line(t, "t_a_sessions{state=\"done\"} 0.1");
    assert_line(t, "t_a_sessions +Inf");
    assert_line(t, "t_a_sessions -Inf");
    assert_line(t, "t_a_sessions NaN");
    assert_line(t, "t_a_sessions 1e+21");
    assert_line(t, "t_a_sessions 123456789012");
    assert_null(strstr(t, "bad name"));
    assert_null(strstr(t, "a b"));
    /* Registry families first, then providers in registration order. */
    assert_true(strstr(t, "hlsd_transcode_rejected_total") < strstr(t, "t_a_sessions"));
    assert_true(strstr(t, "t_a_sessions") < strstr(t, "t_b_sessions"));
    free(t);

    metrics_unregister_provider(provider, &a);
    metrics_unregister_provider(provider, &a); /* absent: nothing */
    t = render();
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 2);
    assert_null(strstr(t, "t_a_sessions"));
    assert_non_null(strstr(t, "t_b_sessions"));
    free(t);
}

static void test_reset(void **state)
{
    (void)state;
    struct prov_state a = {0, "t_gone"};
    metrics_counter_inc("t_reset_total", NULL);
    metrics_register_provider(provider, &a);
    metrics_registry_reset();
    char *t = render();
    assert_null(strstr(t, "t_reset_total"));
    assert_null(strstr(t, "t_gone"));
    assert_int_equal(a.calls, 0);
    /* The built-ins come back at zero. */
    assert_line(t, "hlsd_transcode_rejected_total 0");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_builtins_at_zero, reset, reset),
        cmocka_unit_test_setup_teardown(test_counter_labels_and_escaping, reset, reset),
        cmocka_unit_test_setup_teardown(test_histogram_buckets, reset, reset),
        cmocka_unit_test_setup_teardown(test_refusals, reset, reset),
        cmocka_unit_test_setup_teardown(test_providers, reset, reset),
        cmocka_unit_test_setup_teardown(test_reset, reset, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
