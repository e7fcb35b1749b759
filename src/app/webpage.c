/* The web page's routes and where its files come from (see webpage.h). */
#include "app/webpage.h"

#include "core/log.h"
#include "core/util.h"
#include "app/hlsd_paths.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct webpage {
    char page[PATH_MAX];
    char hlsjs[PATH_MAX];
};

static bool inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return n > 0 && strncmp(path, dir, n) == 0 && path[n] == '/';
}

int webpage_locate(const char *exe, const char *build_dir, const char *source_dir,
                   const char *data_dir, const char *web_dir, char *page, char *hlsjs, size_t size)
{
    int r;
    if (exe && inside(exe, build_dir)) {
        if ((r = util_fmt(page, size, "%s/web", source_dir)) < 0 ||
            (r = util_fmt(hlsjs, size, "%s/node_modules/hls.js/dist", source_dir)) < 0)
            return r;
    } else {
        if ((r = util_fmt(page, size, "%s/web", data_dir)) < 0 ||
            (r = util_fmt(hlsjs, size, "%s/hls.js", data_dir)) < 0)
            return r;
    }
    if (web_dir) {
        char vendored[PATH_MAX];
        if ((r = util_fmt(page, size, "%s", web_dir)) < 0)
            return r;
        if (util_fmt(vendored, sizeof(vendored), "%s/vendor/hls.min.js", web_dir) == 0 &&
            access(vendored, R_OK) == 0 && (r = util_fmt(hlsjs, size, "%s/vendor", web_dir)) < 0)
            return r;
    }
    return 0;
}

static int h_index(void *arg, struct http_request *r)
{
    struct webpage *w = arg;
    return http_respond_file(r, w->page, "index.html");
}

static int h_web(void *arg, struct http_request *r)
{
    struct webpage *w = arg;
    return http_respond_file(r, w->page, http_req_param(r, "rest"));
}

static int h_hlsjs(void *arg, struct http_request *r)
{
    struct webpage *w = arg;
    return http_respond_file(r, w->hlsjs, "hls.min.js");
}

static void check_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (util_fmt(path, sizeof(path), "%s/%s", dir, name) == 0 && access(path, R_OK) < 0)
        LOG_WARN("http", "web page: %s is missing (%s): requests for it get 404", path,
                 strerror(errno));
}

int webpage_new(const struct hlsd_config *cfg, struct http_server *http, struct webpage **out)
{
    struct webpage *w = calloc(1, sizeof(*w));
    char exe[PATH_MAX], build[PATH_MAX];
    int r;

    *out = NULL;
    if (!w)
        return -ENOMEM;
    /* realpath: the build folder may be reached through a symlink */
    char *self = realpath("/proc/self/exe", exe) ? exe : NULL;
    const char *build_dir = realpath(HLSD_BUILD_DIR, build) ? build : HLSD_BUILD_DIR;
    r = webpage_locate(self, build_dir, HLSD_SOURCE_DIR, HLSD_DATA_DIR, cfg->web_dir, w->page,
                       w->hlsjs, sizeof(w->page));
    if (r < 0)
        goto fail;
    check_file(w->page, "index.html");
    check_file(w->hlsjs, "hls.min.js");
    LOG_DEBUG("http", "web page from %s, hls.js from %s", w->page, w->hlsjs);
    if ((r = http_route(http, "GET", "/", HTTP_ROUTE_PUBLIC, h_index, w)) < 0 ||
        (r = http_route(http, "GET", "/web/vendor/hls.min.js", HTTP_ROUTE_PUBLIC, h_hlsjs, w)) <
            0 ||
        (r = http_route(http, "GET", "/web/{*rest}", HTTP_ROUTE_PUBLIC, h_web, w)) < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    free(w);
    return r;
}

void webpage_free(struct webpage **w)
{
    if (!w)
        return;
    free(*w);
    *w = NULL;
}

const char *webpage_dir(const struct webpage *w)
{
    return w->page;
}

const char *webpage_hlsjs_dir(const struct webpage *w)
{
    return w->hlsjs;
}
