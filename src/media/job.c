/* media_job_run: dispatch on the job's "kind" (owner: media engineer). */
#include "media/job.h"

#include "core/jobspec.h"
#include "media/avlog.h"
#include "media/thumbs.h"
#include "media/export.h"
#include "media/transcode.h"
#include "media/vod.h"

#include <errno.h>

int media_job_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    enum jobspec_kind kind;
    err[0] = '\0';
    media_avlog_init();
    int r = jobspec_kind_of(job, &kind, err, errlen);
    if (r < 0)
        return r;
    switch (kind) {
    case JOBSPEC_LIVE:
        return media_live_run(job, ctl, err, errlen);
    case JOBSPEC_TRANSCODE:
        return media_transcode_run(job, ctl, err, errlen);
    case JOBSPEC_VOD:
        return media_vod_run(job, ctl, err, errlen);
    case JOBSPEC_THUMBS:
        return media_thumbs_run(job, ctl, err, errlen);
    case JOBSPEC_EXPORT:
        return media_export_run(job, ctl, err, errlen);
    }
    return -EINVAL;
}
