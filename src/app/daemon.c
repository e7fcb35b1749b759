/* `hlsd serve`: composes the daemon — config, event loop, process table,
 * HTTP server, live previews, recordings/transcode sessions — and runs it
 * until SIGINT/SIGTERM, then stops every worker with the stop ladder. */
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "live/preview.h"
#include "app/auth.h"
#include "http/http.h"
#include "app/library.h"
#include "app/metrics_http.h"
#include "app/webpage.h"
#include "vod/session.h"
#include "worker/proc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int daemon_main(int argc, char **argv);

struct daemon {
    struct loop *loop;
    bool stopping;
};

static void on_stop_signal(void *arg, int signo)
{
    struct daemon *d = arg;
    if (d->stopping) {
        LOG_WARN(NULL, "signal %d again: still stopping workers", signo);
        return;
    }
    LOG_INFO(NULL, "signal %d: shutting down", signo);
    d->stopping = true;
    loop_stop(d->loop);
}

static int split_listen(const char *s, struct hlsd_config *cfg, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    long port;
    if (!colon || colon == s || util_parse_int(colon + 1, 1, 65535, &port) < 0) {
        snprintf(err, errlen, "--listen: expected ADDR:PORT, got '%s'", s);
        return -EINVAL;
    }
    /* "[::1]:8080": the brackets only delimit the IPv6 literal. */
    size_t len = (size_t)(colon - s);
    if (s[0] == '[' && len >= 2 && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    free(cfg->listen_addr);
    cfg->listen_addr = strndup(s, len);
    cfg->listen_port = (int)port;
    return cfg->listen_addr ? 0 : -ENOMEM;
}

int daemon_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"state-dir", required_argument, NULL, 's'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *listen = NULL, *state_dir = NULL, *log_level = NULL;
    struct hlsd_config *cfg = NULL;
    struct http_server *http = NULL;
    struct auth *auth = NULL;
    struct live_manager *live = NULL;
    struct metrics *metrics = NULL;
    struct webpage *page = NULL;
    struct vod_manager *vod = NULL;
    struct proc_table *procs = NULL;
    struct daemon d = {0};
    char err[512] = "";
    char self[PATH_MAX];
    int ret = 1, r, c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:l:s:L:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 's':
            state_dir = optarg;
            break;
        case 'L':
            log_level = optarg;
            break;
        case 'h':
            printf("usage: hlsd [serve] [--config FILE] [--listen ADDR:PORT] [--state-dir DIR] "
                   "[--log-level LEVEL]\n");
            return 0;
        default:
            fprintf(stderr, "hlsd: bad arguments (see hlsd --help)\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hlsd: unexpected argument '%s' (see hlsd --help)\n", argv[optind]);
        return 2;
    }

    r = config_load(config_path, &cfg, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "hlsd: %s\n", err[0] ? err : strerror(-r));
        return 2;
    }
    if (listen && split_listen(listen, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "hlsd: %s\n", err);
        goto out;
    }
    if (state_dir) {
        free(cfg->state_dir);
        cfg->state_dir = util_xstrdup(state_dir);
    }
    if (log_level) {
        free(cfg->log_level);
        cfg->log_level = util_xstrdup(log_level);
    }
    enum log_level lvl;
    if (log_parse_level(cfg->log_level, &lvl) < 0) {
        fprintf(stderr, "hlsd: unknown log level '%s' (error, warn, info, debug)\n",
                cfg->log_level);
        goto out;
    }
    log_set_level(lvl);

    r = util_mkdir_p(cfg->state_dir, 0755);
    if (r < 0) {
        LOG_ERROR(NULL, "cannot create state folder %s: %s", cfg->state_dir, strerror(-r));
        goto out;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        LOG_ERROR(NULL, "cannot resolve /proc/self/exe: %s", strerror(errno));
        goto out;
    }
    self[n] = '\0';
    /* Workers write to pipes the daemon may have closed; EPIPE is handled. */
    signal(SIGPIPE, SIG_IGN);

    r = loop_new(&d.loop);
    if (r < 0) {
        LOG_ERROR(NULL, "event loop: %s", strerror(-r));
        goto out;
    }
    if ((r = loop_add_signal(d.loop, SIGINT, on_stop_signal, &d)) < 0 ||
        (r = loop_add_signal(d.loop, SIGTERM, on_stop_signal, &d)) < 0) {
        LOG_ERROR(NULL, "signals: %s", strerror(-r));
        goto out;
    }
    r = proc_table_new(d.loop, self, cfg->log_level, &procs); /* logs its own errors */
    if (r < 0)
        goto out;
    metrics_set_node(cfg->server.node); /* before anything is counted */
    r = http_server_new(d.loop, cfg, &http);
    if (r < 0) {
        LOG_ERROR(NULL, "HTTP server: %s", strerror(-r));
        goto out;
    }
    r = auth_new(cfg, http, &auth); /* logs its own errors */
    if (r < 0)
        goto out;
    r = library_register(cfg, http); /* logs its own errors */
    if (r < 0)
        goto out;
    r = webpage_new(cfg, http, &page);
    if (r < 0) {
        LOG_ERROR(NULL, "web page: %s", strerror(-r));
        goto out;
    }
    r = live_manager_new(d.loop, cfg, http, &live);
    if (r < 0) {
        LOG_ERROR(NULL, "live previews: %s", strerror(-r));
        goto out;
    }
    r = metrics_http_new(cfg, http, auth, live, &metrics); /* logs its own errors */
    if (r < 0)
        goto out;
    r = vod_manager_new(d.loop, cfg, http, &vod); /* logs its own errors */
    if (r < 0)
        goto out;
    r = http_server_start(http);
    if (r < 0) {
        LOG_ERROR(NULL, "cannot listen on %s:%d: %s", cfg->listen_addr, cfg->listen_port,
                  strerror(-r));
        goto out;
    }
    LOG_INFO(NULL, "hlsd %s listening on http://%s:%d/ (config %s, state %s)", HLSD_VERSION,
             cfg->listen_addr, cfg->listen_port, cfg->source, cfg->state_dir);

    r = loop_run(d.loop);
    if (r < 0) {
        LOG_ERROR(NULL, "event loop failed: %s", strerror(-r));
        goto out;
    }
    ret = 0;
out:
    if (d.loop) {
        live_manager_shutdown(live);
        vod_manager_shutdown(vod);
        /* Keeps serving the loop (workers' last messages, reaping) during the ladder. */
        proc_table_shutdown(procs);
    }
    vod_manager_free(&vod);
    live_manager_free(&live);
    proc_table_free(&procs); /* after the modules holding process handles */
    http_server_free(&http);
    auth_free(&auth);            /* after the server: its hook and routes point here */
    metrics_http_free(&metrics); /* after the modules that count into the registry */
    webpage_free(&page);
    loop_free(&d.loop);
    config_free(&cfg);
    if (ret == 0)
        LOG_INFO(NULL, "stopped");
    return ret;
}
