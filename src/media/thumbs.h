/* The `thumbs` job (docs/WORKER-PROTOCOL.md): scrub thumbnail sheets (JPEG)
 * and single-IDR H.264 TS files for an I-frame playlist, made from the
 * recordings' keyframes only. */
#ifndef HLSD_MEDIA_THUMBS_H
#define HLSD_MEDIA_THUMBS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "media/job.h"

/* Makes the sheets in order, skipping those on disk, emitting
 * {"type":"sheet","index":K,"file":…} for each. 0 (done or stopped), or a
 * negative AVERROR/errno with the reason in err. A recording that cannot be
 * read leaves its tiles black (logged), it does not fail the job. */
/* Whether the I-frame files can be made (libx264 is there): without it the
 * daemon names no I-frame playlist. */
bool media_thumbs_iframes_available(void);

int media_thumbs_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen);

#endif
