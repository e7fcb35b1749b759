/* Helpers shared by the media jobs (owner: media engineer): emitting events,
 * waiting for a stop. The job's keys are read with core/jobspec.h. */
#ifndef HLSD_MEDIA_JOBUTIL_H
#define HLSD_MEDIA_JOBUTIL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "media/job.h"

/* Builds and emits an event {"type": type, ...} from a cJSON object the
 * function takes ownership of (NULL = just the type). */
void jobutil_emit(const struct media_ctl *ctl, const char *type, cJSON *fields);

bool jobutil_should_stop(const struct media_ctl *ctl);

/* Writes the reason into err (printf-style) and returns ret: the
 * `return jobutil_fail(err, errlen, AVERROR(EINVAL), "…", …)` of a job. */
int jobutil_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Waits up to seconds, returning early (true) when a stop was requested;
 * other commands received meanwhile are dropped. Never busy-waits. */
bool jobutil_wait_stop(const struct media_ctl *ctl, double seconds);

#endif
