/* /api/cameras and /api/recordings/{camera}: what the recordings index holds,
 * filtered by what the caller may see. */
#include "vod/session_priv.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTED 10000  /* recordings in one /api/recordings answer */
#define GAP_TOLERANCE 0.5 /* seconds between files that are not a gap */

static int h_cameras(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    struct vod_camera_summary *cams = NULL;
    size_t n = 0;
    cJSON *o = NULL, *arr;
    int r = vod_index_cameras(m->ix, &cams, &n);
    if (r < 0) {
        LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
        return http_respond_error(req, 503, "recordings index unavailable");
    }
    o = cJSON_CreateObject();
    if (!o) {
        free(cams);
        return -ENOMEM;
    }
    cJSON_AddBoolToObject(o, "success", true);
    arr = cJSON_AddArrayToObject(o, "cameras");
    for (size_t i = 0; arr && i < n; i++) {
        if (!http_req_may_see(req, cams[i].name))
            continue;
        cJSON *c = cJSON_CreateObject();
        if (!c)
            break;
        cJSON_AddStringToObject(c, "name", cams[i].name);
        cJSON_AddNumberToObject(c, "recordings", (double)cams[i].recordings);
        cJSON_AddNumberToObject(c, "first", cams[i].first);
        cJSON_AddNumberToObject(c, "last", cams[i].last);
        cJSON_AddNumberToObject(c, "duration", cams[i].total_duration);
        cJSON_AddItemToArray(arr, c);
    }
    free(cams);
    r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

/* Optional ?name=epoch; absent -> def. -EINVAL after answering 400. */
static int query_time(struct http_request *req, const char *name, double def, double *out)
{
    const char *s = http_req_query(req, name);
    double v;
    if (!s) {
        *out = def;
        return 0;
    }
    if (util_parse_double(s, &v) < 0 || v < 0) {
        http_respond_error(req, 400, "%s must be a non-negative number of epoch seconds", name);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int h_recordings(void *arg, struct http_request *req)
{
    struct vod_manager *m = arg;
    const char *camera = http_req_param(req, "camera");
    struct vod_recording *recs = NULL;
    double after, before, (*gaps)[2] = NULL;
    size_t n = 0, n_gaps;
    bool truncated = false;
    long count = 0;
    cJSON *o = NULL, *arr;
    int r;

    if (!util_is_safe_name(camera))
        return http_respond_error(req, 400, "invalid camera name");
    if (!http_req_may_see(req, camera))
        return http_respond_error(req, 403, "not allowed to see camera %s", camera);
    if (query_time(req, "after", -INFINITY, &after) < 0 ||
        query_time(req, "before", INFINITY, &before) < 0)
        return 0;
    if (before <= after)
        return http_respond_error(req, 400, "before must be after after");
    if (vod_index_count(m->ix, camera, &count) < 0 ||
        vod_index_range(m->ix, camera, after, before, MAX_LISTED, &recs, &n, &truncated) < 0) {
        LOG_ERROR(NULL, "recordings index: %s", vod_index_errmsg(m->ix));
        return http_respond_error(req, 503, "recordings index unavailable");
    }
    if (count == 0) {
        r = http_respond_error(req, 404, "unknown camera %s", camera);
        goto out;
    }
    r = -ENOMEM;
    if (n > 1 && !(gaps = calloc(n - 1, sizeof(*gaps))))
        goto out;
    n_gaps = vod_find_gaps(recs, n, GAP_TOLERANCE, gaps, n > 1 ? n - 1 : 0);
    if (!(o = cJSON_CreateObject()))
        goto out;
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "camera", camera);
    if (isfinite(after))
        cJSON_AddNumberToObject(o, "after", after);
    else
        cJSON_AddNullToObject(o, "after");
    if (isfinite(before))
        cJSON_AddNumberToObject(o, "before", before);
    else
        cJSON_AddNullToObject(o, "before");
    cJSON_AddBoolToObject(o, "truncated", truncated);
    arr = cJSON_AddArrayToObject(o, "recordings");
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(arr, c))
            break;
        cJSON_AddNumberToObject(c, "id", (double)recs[i].id);
        cJSON_AddNumberToObject(c, "start", recs[i].start_time);
        cJSON_AddNumberToObject(c, "end", recs[i].end_time);
        cJSON_AddNumberToObject(c, "duration", recs[i].duration);
        cJSON_AddStringToObject(c, "video_codec", recs[i].video_codec);
        cJSON_AddNumberToObject(c, "width", recs[i].width);
        cJSON_AddNumberToObject(c, "height", recs[i].height);
        cJSON_AddStringToObject(c, "pix_fmt", recs[i].pix_fmt);
        cJSON_AddStringToObject(c, "audio_codec", recs[i].audio_codec);
        cJSON_AddNumberToObject(c, "size", (double)recs[i].size);
        cJSON_AddBoolToObject(c, "browser_playable", recs[i].browser_playable);
    }
    arr = cJSON_AddArrayToObject(o, "gaps");
    for (size_t i = 0; arr && i < n_gaps; i++) {
        cJSON *g = cJSON_CreateObject();
        if (!g || !cJSON_AddItemToArray(arr, g))
            break;
        cJSON_AddNumberToObject(g, "start", gaps[i][0]);
        cJSON_AddNumberToObject(g, "end", gaps[i][1]);
    }
    r = http_respond_json(req, 200, o);
out:
    cJSON_Delete(o);
    free(gaps);
    vod_recordings_free(&recs, n);
    return r;
}

int vod_register_catalog_routes(struct vod_manager *m)
{
    int r = http_route(m->http, "GET", "/api/cameras", 0, h_cameras, m);
    if (r == 0)
        r = http_route(m->http, "GET", "/api/recordings/{camera}", 0, h_recordings, m);
    return r;
}
