/* Job helpers: see jobutil.h. */
#include "media/jobutil.h"

#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *jobutil_str(const cJSON *job, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

int jobutil_num(const cJSON *job, const char *key, double min, double max, double def, double *out,
                char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max) {
        snprintf(err, errlen, "job key '%s': expected a number in %g..%g", key, min, max);
        return -EINVAL;
    }
    *out = v->valuedouble;
    return 0;
}

bool jobutil_bool(const cJSON *job, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

int jobutil_input_cfg(const cJSON *input, const char *what, struct media_input_cfg *cfg, char *err,
                      size_t errlen)
{
    *cfg = (struct media_input_cfg){0};
    if (cJSON_IsString(input)) {
        cfg->url = input->valuestring;
        return 0;
    }
    if (!cJSON_IsObject(input)) {
        snprintf(err, errlen, "job key '%s': expected an input object", what);
        return -EINVAL;
    }
    cfg->url = jobutil_str(input, "url", NULL);
    cfg->format = jobutil_str(input, "format", NULL);
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(input, "options");
    cfg->options = cJSON_IsObject(opts) ? opts : NULL;
    if (!cfg->url || !cfg->url[0]) {
        snprintf(err, errlen, "job key '%s': no url", what);
        return -EINVAL;
    }
    return 0;
}

void jobutil_emit(const struct media_ctl *ctl, const char *type, cJSON *fields)
{
    cJSON *ev = cJSON_CreateObject();
    if (ev && cJSON_AddStringToObject(ev, "type", type) && fields) {
        /* "type" first, for readable logs. */
        while (fields->child) {
            cJSON *it = cJSON_DetachItemViaPointer(fields, fields->child);
            if (strcmp(it->string ? it->string : "", "type") == 0)
                cJSON_Delete(it);
            else
                cJSON_AddItemToObject(ev, it->string, it);
        }
    }
    if (ev && ctl && ctl->emit)
        ctl->emit(ctl->arg, ev);
    cJSON_Delete(ev);
    cJSON_Delete(fields);
}

bool jobutil_should_stop(const struct media_ctl *ctl)
{
    return ctl && ctl->should_stop && ctl->should_stop(ctl->arg);
}

bool jobutil_wait_stop(const struct media_ctl *ctl, double seconds)
{
    double end = util_now_mono() + seconds;
    for (;;) {
        if (jobutil_should_stop(ctl))
            return true;
        double left = end - util_now_mono();
        if (left <= 0)
            return false;
        int ms = (int)(left * 1000) + 1;
        if (ms > 200)
            ms = 200;
        if (ctl && ctl->next_command) {
            cJSON *cmd = ctl->next_command(ctl->arg, ms);
            cJSON_Delete(cmd);
        } else {
            struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}
