#include "app/library.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One root for the life of the daemon; the server serves one state folder. */
static char g_root[PATH_MAX];

static int h_library(void *arg, struct http_request *req)
{
    (void)arg;
    /* A library folder belongs to no camera: users limited to some cameras
     * see it only when their list names "library". */
    if (!http_req_may_see(req, "library"))
        return http_respond_error(req, 403, "not allowed to see the library");
    const char *rest = http_req_param(req, "rest");
    if (!rest || !*rest)
        return http_respond_error(req, 404, "not found");
    return http_respond_file(req, g_root, rest);
}

int library_register(const struct hlsd_config *cfg, struct http_server *http)
{
    int r = util_fmt(g_root, sizeof(g_root), "%s/library", cfg->state_dir);
    if (r < 0) {
        LOG_ERROR(NULL, "library: state folder path too long: %s", cfg->state_dir);
        return r;
    }
    r = util_mkdir_p(g_root, 0755);
    if (r < 0) {
        LOG_ERROR(NULL, "cannot create %s: %s", g_root, strerror(-r));
        return r;
    }
    r = http_route(http, "GET", "/library/{*rest}", 0, h_library, NULL);
    if (r < 0)
        LOG_ERROR(NULL, "library: cannot add the route: %s", strerror(-r));
    return r;
}
