/* The "live" job: placeholder until written. */
#include "media/transcode.h"
#include <errno.h>
#include <stdio.h>
int media_live_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen)
{
    (void)job;
    (void)ctl;
    snprintf(err, errlen, "live jobs: not yet");
    return -ENOSYS;
}
