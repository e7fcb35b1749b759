/* The "export" worker job (docs/WORKER-PROTOCOL.md): the recordings of a
 * range, in order, into one fast-start MP4 (moov before mdat). Browser-
 * playable H.264 is remuxed from the keyframe at or before the range start
 * (audio copied when AAC-LC, else re-encoded); anything else is transcoded
 * with the job's video settings and cut at the range. Gaps between
 * recordings are removed: the next recording continues the timeline. */
#ifndef HLSD_MEDIA_EXPORT_H
#define HLSD_MEDIA_EXPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "media/job.h"

/* Writes <out_dir>/<file> through a temp name + rename (a file that exists
 * is complete). Emits started, progress and a final "export" event
 * ({"file","bytes","duration","remux"}); the caller emits done/error. 0
 * (also after a stop, then without the file), or negative AVERROR/errno
 * with a one-line reason in err. */
int media_export_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen);

#endif
