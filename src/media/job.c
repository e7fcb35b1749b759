/* media_job_run: dispatch on the job's "kind" (owner: media engineer). */
#include "media/job.h"

#include "media/avlog.h"
#include "media/transcode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#if __has_include("media/vod.h")
#include "media/vod.h"
#define HAVE_VOD 1
#endif

int media_job_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    err[0] = '\0';
    media_avlog_init();
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "kind"));
    if (!kind) {
        snprintf(err, errlen, "job without a \"kind\"");
        return -EINVAL;
    }
    if (strcmp(kind, "live") == 0)
        return media_live_run(job, ctl, err, errlen);
    if (strcmp(kind, "transcode") == 0)
        return media_transcode_run(job, ctl, err, errlen);
    if (strcmp(kind, "vod") == 0) {
#ifdef HAVE_VOD
        return media_vod_run(job, ctl, err, errlen);
#else
        snprintf(err, errlen, "vod jobs are not available in this build");
        return -ENOSYS;
#endif
    }
    snprintf(err, errlen, "unknown job kind '%s'", kind);
    return -EINVAL;
}
