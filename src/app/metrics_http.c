/* GET /metrics and the daemon's built-in metric families: HTTP requests,
 * ports (live previews), workers, the process itself. The registry and the
 * text format are in metrics.c. */
#include "core/log.h"
#include "core/util.h"
#include "live/preview.h"
#include "app/auth.h"
#include "app/metrics_http.h"
#include "worker/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKER_PIDS 256

struct metrics {
    const struct hlsd_config *cfg;
    struct http_server *http;
    struct auth *auth;
    struct live_manager *live;
};

/* ---- /proc ---- */

/* Reads a /proc file (size 0 in stat, so util_read_file does not fit) into
 * buf, NUL-terminated. 0 or -errno. */
static int read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    if (fd < 0)
        return -errno;
    while (got + 1 < size) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return got ? 0 : -EIO;
}

/* A "Field:  N kB" line of /proc/<pid>/status in bytes; -1 when unavailable. */
static double proc_status_bytes(const char *pid, const char *field)
{
    char path[64], text[8192];
    size_t fl = strlen(field);
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    if (read_proc(path, text, sizeof(text)) < 0)
        return -1;
    for (const char *line = text; line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            return strtod(line + fl + 1, NULL) * 1024;
    }
    return -1;
}

/* utime + stime of /proc/self/stat in seconds; -1 when unavailable. */
static double proc_self_cpu_seconds(void)
{
    char text[1024];
    unsigned long long ut, st;
    if (read_proc("/proc/self/stat", text, sizeof(text)) < 0)
        return -1;
    /* The command name may hold spaces and parentheses: count fields after the last ')'. */
    const char *p = strrchr(text, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

static int proc_self_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the one opendir holds */
}

/* ---- built-in providers ---- */

static void process_metrics(void *arg, struct metrics_out *o)
{
    (void)arg;
    double rss = proc_status_bytes("self", "VmRSS");
    double cpu = proc_self_cpu_seconds();
    int fds = proc_self_open_fds();

    metrics_out_family(o, "hlsd_build_info", "gauge", "hlsd version");
    metrics_out_sample(o, "hlsd_build_info", (const char *const[]){"version", HLSD_VERSION, NULL},
                       1);
    if (rss >= 0) {
        metrics_out_family(o, "process_resident_memory_bytes", "gauge",
                           "Resident memory of the daemon process (workers not included)");
        metrics_out_sample(o, "process_resident_memory_bytes", NULL, rss);
    }
    if (cpu >= 0) {
        metrics_out_family(o, "process_cpu_seconds_total", "counter",
                           "User and system CPU time of the daemon process");
        metrics_out_sample(o, "process_cpu_seconds_total", NULL, cpu);
    }
    if (fds >= 0) {
        metrics_out_family(o, "process_open_fds", "gauge", "Open file descriptors of the daemon");
        metrics_out_sample(o, "process_open_fds", NULL, fds);
    }
}

static void worker_metrics(void *arg, struct metrics_out *o)
{
    (void)arg;
    pid_t pids[MAX_WORKER_PIDS];
    int n = proc_table_pids(proc_table_current(), pids, MAX_WORKER_PIDS);
    double rss = 0;
    for (int i = 0; i < n && i < MAX_WORKER_PIDS; i++) {
        char pid[24];
        snprintf(pid, sizeof(pid), "%d", (int)pids[i]);
        double v = proc_status_bytes(pid, "VmRSS");
        if (v > 0) /* a zombie waiting for the reaper has none */
            rss += v;
    }
    metrics_out_family(o, "hlsd_workers", "gauge", "Worker processes running");
    metrics_out_sample(o, "hlsd_workers", NULL, n);
    metrics_out_family(o, "hlsd_worker_crashes_total", "counter",
                       "Worker processes that crashed (exit status >= 2 or a signal hlsd did "
                       "not send)");
    metrics_out_sample(o, "hlsd_worker_crashes_total", NULL,
                       (double)proc_table_crashes(proc_table_current()));
    metrics_out_family(o, "hlsd_workers_resident_memory_bytes", "gauge",
                       "Resident memory of all worker processes together");
    metrics_out_sample(o, "hlsd_workers_resident_memory_bytes", NULL, rss);
}

static void route_counts(void *arg, const char *method, const char *pattern,
                         const unsigned long by_class[6])
{
    static const char *const classes[6] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};
    struct metrics_out *o = arg;
    for (int c = 0; c < 6; c++) {
        if (by_class[c] == 0)
            continue;
        metrics_out_sample(
            o, "hlsd_http_requests_total",
            (const char *const[]){"method", method, "route", pattern, "code", classes[c], NULL},
            (double)by_class[c]);
    }
}

static void http_metrics(void *arg, struct metrics_out *o)
{
    struct metrics *m = arg;
    struct http_stats st;
    http_server_stats(m->http, &st);
    /* Counted when answered: the scrape that prints this is not in it yet. */
    metrics_out_family(o, "hlsd_http_requests_total", "counter",
                       "HTTP requests answered, by route pattern and status class (route "
                       "\"(unmatched)\": no route took the request)");
    http_server_foreach_route(m->http, route_counts, o);
    metrics_out_family(o, "hlsd_http_suspended_requests", "gauge",
                       "HTTP requests waiting (suspended) for a playlist or segment");
    metrics_out_sample(o, "hlsd_http_suspended_requests", NULL, (double)st.suspended_now);
    metrics_out_family(o, "hlsd_http_refused_connections_total", "counter",
                       "Connections closed at accept: the client address had "
                       "limits.per_ip_connections open");
    metrics_out_sample(o, "hlsd_http_refused_connections_total", NULL,
                       (double)st.refused_connections);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void port_family(struct metrics_out *o, const cJSON *ports, const char *name,
                        const char *type, const char *help, const char *key)
{
    const cJSON *p;
    metrics_out_family(o, name, type, help);
    cJSON_ArrayForEach(p, ports)
    {
        char index[24];
        const cJSON *pn = cJSON_GetObjectItemCaseSensitive(p, "name");
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(p, "state");
        snprintf(index, sizeof(index), "%.0f", num(p, "index"));
        double v;
        if (key)
            v = num(p, key);
        else /* up: a worker is encoding (not starting, reconnecting, stopped, failed) */
            v = cJSON_IsString(state) && strcmp(state->valuestring, "running") == 0;
        metrics_out_sample(o, name,
                           (const char *const[]){"index", index, "name",
                                                 cJSON_IsString(pn) ? pn->valuestring : "", NULL},
                           v);
    }
}

static void port_metrics(void *arg, struct metrics_out *o)
{
    struct metrics *m = arg;
    cJSON *ports = live_manager_status_json(m->live);
    if (!ports)
        return;
    port_family(o, ports, "hlsd_port_up", "gauge",
                "1 while the port's preview runs (state running), else 0", NULL);
    port_family(o, ports, "hlsd_port_fps", "gauge", "Frames per second encoded (last second)",
                "fps");
    port_family(o, ports, "hlsd_port_bitrate_bps", "gauge",
                "Bits per second of the preview's segments", "bitrate");
    port_family(o, ports, "hlsd_port_restarts_total", "counter",
                "Restarts (input reconnects, worker respawns) since the preview was started",
                "restarts");
    port_family(o, ports, "hlsd_port_segments_total", "counter",
                "Segments written since the preview was started", "segments");
    cJSON_Delete(ports);
}

/* ---- the route ---- */

static int handle_metrics(void *arg, struct http_request *req)
{
    struct metrics *m = arg;
    const struct http_principal *who = http_req_principal(req);
    char *text = NULL;
    size_t len = 0;
    int r;

    /* Public route (the hook would answer 401 itself): admins, which every
     * client is with auth disabled, and loopback clients when allowed. */
    if (!who->admin && !(m->cfg->metrics_from_loopback && http_req_is_loopback(req))) {
        int st = m->auth ? auth_check_admin(m->auth, req) : -EPERM;
        if (st == -EACCES) {
            http_add_header(req, "WWW-Authenticate", "Bearer realm=\"hlsd\"");
            return http_respond_error(req, 401,
                                      "authentication required: /metrics needs an "
                                      "admin token");
        }
        if (st == -EAGAIN)
            return http_respond_error(req, 429, "too many failed logins from %s; try again later",
                                      http_req_client_addr(req));
        if (st != 0)
            return http_respond_error(req, 403, "admin role required for /metrics");
    }
    r = metrics_render(&text, &len);
    if (r < 0)
        return r;
    http_add_header(req, "Cache-Control", "no-store");
    r = http_respond_data(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return r;
}

int metrics_http_new(const struct hlsd_config *cfg, struct http_server *http, struct auth *auth,
                     struct live_manager *live, struct metrics **out)
{
    struct metrics *m = calloc(1, sizeof(*m));
    int r;

    *out = NULL;
    if (!m)
        return -ENOMEM;
    m->cfg = cfg;
    m->http = http;
    m->auth = auth;
    m->live = live;
    if ((r = metrics_register_provider(process_metrics, m)) < 0 ||
        (r = metrics_register_provider(worker_metrics, m)) < 0 ||
        (r = metrics_register_provider(http_metrics, m)) < 0 ||
        (live && (r = metrics_register_provider(port_metrics, m)) < 0)) {
        LOG_ERROR("metrics", "cannot register: %s", strerror(-r));
        goto fail;
    }
    r = http_route(http, "GET", "/metrics", HTTP_ROUTE_PUBLIC, handle_metrics, m);
    if (r < 0) {
        LOG_ERROR("metrics", "cannot add the /metrics route: %s", strerror(-r));
        goto fail;
    }
    *out = m;
    return 0;
fail:
    metrics_http_free(&m);
    return r;
}

void metrics_http_free(struct metrics **mp)
{
    struct metrics *m = mp ? *mp : NULL;
    if (!m)
        return;
    metrics_unregister_provider(port_metrics, m);
    metrics_unregister_provider(http_metrics, m);
    metrics_unregister_provider(worker_metrics, m);
    metrics_unregister_provider(process_metrics, m);
    metrics_registry_reset();
    free(m);
    *mp = NULL;
}
