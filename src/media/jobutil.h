/* Helpers shared by the media jobs (owner: media engineer): reading job
 * keys, emitting events. */
#ifndef HLSD_MEDIA_JOBUTIL_H
#define HLSD_MEDIA_JOBUTIL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "media/input.h"
#include "media/job.h"

/* String value of key, or def when missing/not a string. */
const char *jobutil_str(const cJSON *job, const char *key, const char *def);
/* Number value of key, or def when missing/null; -EINVAL (err set) when not
 * a finite number within [min, max]. */
int jobutil_num(const cJSON *job, const char *key, double min, double max, double def, double *out,
                char *err, size_t errlen);
bool jobutil_bool(const cJSON *job, const char *key, bool def);

/* Fills an input config from a job's input object {format, url, options}
 * or a plain string (a path or URL). Pointers borrow from the JSON. */
int jobutil_input_cfg(const cJSON *input, const char *what, struct media_input_cfg *cfg, char *err,
                      size_t errlen);

/* Builds and emits an event {"type": type, ...} from a cJSON object the
 * function takes ownership of (NULL = just the type). */
void jobutil_emit(const struct media_ctl *ctl, const char *type, cJSON *fields);

bool jobutil_should_stop(const struct media_ctl *ctl);

/* Waits up to seconds, returning early (true) when a stop was requested;
 * other commands received meanwhile are dropped. Never busy-waits. */
bool jobutil_wait_stop(const struct media_ctl *ctl, double seconds);

#endif
