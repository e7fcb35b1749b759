/* The "vod" worker job (docs/WORKER-PROTOCOL.md): recordings trimmed to a
 * wall-clock range become a complete VOD playlist at once (planned with
 * media/grid.h), then segments are encoded (or remuxed, passthrough) on
 * demand: in order from 0, pausing `lookahead` segments past the furthest
 * wanted one, restarting at a wanted segment far from the encoder, skipping
 * segments already on disk. */
#ifndef HLSD_MEDIA_VOD_H
#define HLSD_MEDIA_VOD_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "media/job.h"

/* Runs the job until every segment exists (0) or a stop (0), or fails
 * (negative AVERROR/errno, one-line reason in err). Emits started, plan,
 * segment and progress events through ctl; the caller emits done/error. */
int media_vod_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen);

#endif
