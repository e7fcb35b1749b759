/* /library/: serves finished HLS folders written by `hlsd transcode` into
 * <state_dir>/library/NAME/, so a one-shot transcode plays in a browser from
 * the same server (GET /library/NAME/index.m3u8). */
#ifndef HLSD_LIBRARY_H
#define HLSD_LIBRARY_H

#include "core/config.h"
#include "http/http.h"

/* Registers GET /library/{*rest}; creates the folder. cfg must outlive the
 * server. Returns 0 or -errno (logged here). */
int library_register(const struct hlsd_config *cfg, struct http_server *http);

#endif
