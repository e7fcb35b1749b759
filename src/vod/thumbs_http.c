/* HTTP side of scrub thumbnails: /api/thumbnails/{camera}/start/…/end/…
 * (the set's description) and /stream/thumbs/{id}/{file} (its files, a sheet
 * not made yet waited for). See docs/API.md. */
#include "vod/thumbs_priv.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- HTTP --------------------------------------------------------------- */

static int respond_set(struct thumbs_set *s, struct http_request *req)
{
    char url[128];
    cJSON *o = cJSON_CreateObject(), *times;
    if (!o)
        return http_respond_error(req, 500, "out of memory");
    cJSON_AddBoolToObject(o, "success", true);
    cJSON_AddStringToObject(o, "id", s->id);
    snprintf(url, sizeof(url), "/stream/thumbs/%s/%s", s->id, THUMBS_VTT);
    cJSON_AddStringToObject(o, "vtt", url);
    snprintf(url, sizeof(url), "/stream/thumbs/%s/%s", s->id, THUMBS_IFRAMES);
    cJSON_AddStringToObject(o, "iframes", url);
    cJSON_AddStringToObject(o, "camera", s->camera);
    cJSON_AddNumberToObject(o, "start", s->start);
    cJSON_AddNumberToObject(o, "end", s->end);
    cJSON_AddNumberToObject(o, "interval", s->interval);
    cJSON_AddNumberToObject(o, "count", (double)s->count);
    cJSON_AddNumberToObject(o, "sheets", (double)s->sheets);
    cJSON_AddNumberToObject(o, "width", vod_thumbs_layout.tile_width);
    cJSON_AddNumberToObject(o, "height", vod_thumbs_layout.tile_height);
    cJSON_AddNumberToObject(o, "columns", vod_thumbs_layout.columns);
    cJSON_AddNumberToObject(o, "rows", vod_thumbs_layout.rows);
    /* Epoch time of each cue, in VTT order: the timeline maps wall-clock
     * times to cues without knowing the gaps. */
    times = cJSON_AddArrayToObject(o, "times");
    for (size_t k = 0; times && k < s->count; k++)
        cJSON_AddItemToArray(times, cJSON_CreateNumber(s->times[k]));
    int r = http_respond_json(req, 200, o);
    cJSON_Delete(o);
    return r;
}

static int h_api(void *arg, struct http_request *req)
{
    struct vod_thumbs *th = arg;
    struct vod_manager *m = th->m;
    const char *iv = http_req_query(req, "interval");
    struct vod_req_range rg;
    struct thumbs_set *s = NULL;
    double start, end, interval;
    int r;

    if (vod_req_range(req, NULL, m->cfg->vod.max_range, "vod.max_range", &rg) < 0)
        return 0;
    const char *camera = rg.camera;
    start = rg.start;
    end = rg.end;
    if (iv) {
        if (vod_req_number(req, "interval", iv, THUMBGRID_MIN_INTERVAL, THUMBGRID_MAX_INTERVAL,
                           &interval) < 0)
            return 0;
        /* The id hashes the interval to the millisecond: the plan uses that
         * same value, or one id could name two different grids. */
        interval = round(interval * 1000) / 1000;
    } else {
        interval = thumbgrid_default_interval(end - start);
    }
    /* Whole intervals of the epoch: a timeline panned or zoomed a little
     * asks for the same set again instead of a new one (the grid stays on
     * multiples of the interval). */
    start = floor(start / interval) * interval;
    end = ceil(end / interval) * interval;
    if (vod_req_camera_known(m, req, camera) < 0)
        return 0;
    r = vod_thumbs_get(th, camera, start, end, interval, &s);
    if (r == -ENOENT)
        return http_respond_error(req, 404, "no recording of camera %s in this range", camera);
    if (r == -E2BIG)
        return http_respond_error(req, 400,
                                  "more than %d thumbnails or %d recordings: choose a longer "
                                  "interval or a shorter range",
                                  THUMBGRID_MAX_CUES, VOD_MAX_SOURCES);
    if (r == -EBUSY)
        return http_respond_error(req, 503, "every cached thumbnail set is in use; try again");
    if (r < 0) {
        LOG_ERROR(NULL, "thumbnails of %s %.3f..%.3f: %s", camera, start, end, strerror(-r));
        return http_respond_error(req, 500, "cannot make the thumbnails: %s", strerror(-r));
    }
    s->last_access = util_now_mono();
    /* No worker yet: a page that only asks for the description (or asks
     * again after a pan) costs nothing; the first sheet or I-frame file
     * requested starts it. */
    return respond_set(s, req);
}

/* "<prefix><N><ext>" -> N, or -1 (no sign, no leading zero). */
static long file_number(const char *file, const char *prefix, const char *ext)
{
    size_t pl = strlen(prefix);
    long n = 0;
    const char *p = file + pl;
    if (strncmp(file, prefix, pl) != 0 || *p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((n = n * 10 + (*p - '0')) > THUMBS_MAX_FILE_INDEX)
            return -1;
    return strcmp(p, ext) == 0 ? n : -1;
}

static int h_stream(void *arg, struct http_request *req)
{
    struct vod_thumbs *th = arg;
    const char *id = http_req_param(req, "id");
    const char *file = http_req_param(req, "file");
    struct thumbs_set *s;
    long n, sheet;

    /* The id is checked before it is part of any path. */
    if (!vod_valid_id(id))
        return http_respond_error(req, 400, "malformed thumbnails id");
    s = vod_thumbs_find(th, id);
    if (!s) {
        int r = vod_thumbs_load(th, id, &s);
        if (r == -EBUSY)
            return http_respond_error(req, 503, "every cached thumbnail set is in use; try again");
        if (r == -ENOENT)
            return http_respond_error(req, 404, "unknown thumbnails");
        if (r < 0) {
            LOG_ERROR(NULL, "thumbnails %s: cannot load: %s", id, strerror(-r));
            return http_respond_error(req, 500, "cannot load the thumbnails");
        }
    }
    if (!http_req_may_see(req, s->camera))
        return http_respond_error(req, 403, "not allowed to watch camera %s", s->camera);
    s->last_access = util_now_mono();
    if (strcmp(file, THUMBS_VTT) == 0 || strcmp(file, THUMBS_IFRAMES) == 0)
        return http_respond_file(req, s->dir, file);
    if ((n = file_number(file, THUMBS_SHEET_PREFIX, ".jpg")) >= 0 && (size_t)n < s->sheets)
        sheet = n;
    else if ((n = file_number(file, THUMBS_IFRAME_PREFIX, ".ts")) >= 0 && (size_t)n < s->count)
        sheet = (long)((size_t)n / thumbgrid_per_sheet(&vod_thumbs_layout));
    else
        return http_respond_error(req, 404, "no such file in thumbnails %s", s->id);
    if (s->have[sheet] || (s->have[sheet] = vod_thumbs_sheet_on_disk(s, (size_t)sheet)))
        return vod_thumbs_file_on_disk(s, file)
                   ? http_respond_file(req, s->dir, file)
                   : http_respond_error(req, 404, "%s was not made", file);
    int r = vod_thumbs_ensure_worker(s);
    if (r < 0 && r != -EBUSY)
        return http_respond_error(req, 502, "thumbnails %s: %s", s->id, strerror(-r));
    /* Only the first request for a sheet moves the worker. */
    bool asked = false;
    for (const struct http_waiter *w = http_wait_first(&s->waiters); w; w = http_wait_next(w))
        asked = asked || w->key == sheet;
    if (!asked)
        vod_thumbs_want(s, sheet);
    struct http_waiter tmpl = {.key = sheet, .sub = -1};
    snprintf(tmpl.name, sizeof(tmpl.name), "%s", file);
    if ((r = http_wait_add(&s->waiters, req, th->m->cfg->vod.ready_timeout, &tmpl)) < 0)
        return http_respond_error(req, 503, "cannot wait for %s: %s", file, strerror(-r));
    return 0;
}

int vod_thumbs_register_routes(struct vod_thumbs *th)
{
    int r = http_route(th->m->http, "GET", "/api/thumbnails/{camera}/start/{start_ts}/end/{end_ts}",
                       0, h_api, th);
    if (r == 0)
        r = http_route(th->m->http, "GET", "/stream/thumbs/{id}/{file}", 0, h_stream, th);
    return r;
}
