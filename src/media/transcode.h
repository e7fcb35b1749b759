/* The "transcode" and "live" jobs (owner: media engineer); dispatched by
 * media_job_run (job.c). Same contract as media_job_run. */
#ifndef HLSD_MEDIA_TRANSCODE_H
#define HLSD_MEDIA_TRANSCODE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "media/job.h"

int media_transcode_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen);
int media_live_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen);

#endif
