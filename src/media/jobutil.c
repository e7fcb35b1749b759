/* Job helpers: see jobutil.h. */
#include "media/jobutil.h"

#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int jobutil_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return ret;
}
