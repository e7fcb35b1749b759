/* The cluster's session registry, <vod.shared_dir>/sessions/<id>.json:
 * what a session id stands for (camera and range), so that a node asked for
 * a session another node made (that node died, nginx moved the viewer) can
 * plan it itself. Without vod.shared_dir every call is a no-op / -ENOENT. */
#include "vod/session_priv.h"

#include "core/digest.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int registry_path(const struct vod_manager *m, const char *id, char *out, size_t size)
{
    return util_fmt(out, size, "%s/sessions/%s.json", m->cfg->vod.shared_dir, id);
}

void vod_registry_record(const struct vod_manager *m, const struct vod_session *s)
{
    char path[PATH_MAX], *text = NULL;
    cJSON *o = NULL;
    if (!m->cfg->vod.shared_dir || registry_path(m, s->id, path, sizeof(path)) < 0)
        return;
    if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "camera", s->camera) ||
        !cJSON_AddNumberToObject(o, "start", s->start) ||
        !cJSON_AddNumberToObject(o, "end", s->end) ||
        !cJSON_AddStringToObject(o, "variant", s->variant) || !(text = cJSON_PrintUnformatted(o))) {
        cJSON_Delete(o);
        return;
    }
    int r = util_write_file_atomic(path, text, strlen(text));
    if (r < 0)
        LOG_WARN(s->name, "cannot record the session in %s: %s", path, strerror(-r));
    free(text);
    cJSON_Delete(o);
}

void vod_registry_remove(const struct vod_manager *m, const char *id)
{
    char path[PATH_MAX];
    if (m->cfg->vod.shared_dir && registry_path(m, id, path, sizeof(path)) == 0 &&
        unlink(path) < 0 && errno != ENOENT)
        LOG_WARN(NULL, "cannot remove %s: %s", path, strerror(errno));
}

int vod_registry_adopt(struct vod_manager *m, struct http_request *req, const char *owner,
                       const char *id, struct vod_session **out)
{
    char path[PATH_MAX], check[VOD_ID_LEN + 1], *text = NULL;
    size_t len = 0;
    cJSON *o = NULL;
    int r;

    if (!m->cfg->vod.shared_dir || !vod_valid_id(id))
        return -ENOENT;
    /* Unreadable counts as absent: the session is simply unknown here. */
    if (registry_path(m, id, path, sizeof(path)) < 0 || util_read_file(path, 1024, &text, &len) < 0)
        return -ENOENT;
    o = cJSON_ParseWithLength(text, len);
    const char *camera = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "camera"));
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "start");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "end");
    const char *variant = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "variant"));
    if (!variant)
        variant = ""; /* a record of an older node */
    r = -EINVAL;
    /* The file is only a hint: what it says must hash to the id asked for. */
    if (camera && util_is_safe_name(camera) && cJSON_IsNumber(a) && cJSON_IsNumber(b) &&
        isfinite(a->valuedouble) && isfinite(b->valuedouble) &&
        vod_session_id(m, camera, a->valuedouble, b->valuedouble, variant, check) == 0 &&
        digest_equal(check, id)) {
        /* Checked before any work starts for it. */
        r = http_req_may_see(req, camera) ? vod_session_create(m, owner, camera, a->valuedouble,
                                                               b->valuedouble, variant, id, out)
                                          : -EPERM;
        if (r == 0)
            LOG_INFO((*out)->name, "session taken over from the cluster registry (%s %.3f..%.3f)",
                     camera, a->valuedouble, b->valuedouble);
    } else {
        LOG_WARN(NULL, "%s does not describe session %s: ignored", path, id);
    }
    cJSON_Delete(o);
    free(text);
    return r;
}
