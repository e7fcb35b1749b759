/* The web page: GET / (index.html), /web/{file} and /web/vendor/hls.min.js.
 *
 * Where its files are does not depend on where the binary is: an installed
 * hlsd reads <datadir>/hlsd/web and <datadir>/hlsd/hls.js (meson install puts
 * them there); the binary of an uninstalled build tree reads the source tree
 * it was built from (web/ and node_modules/hls.js/dist); `web_dir` in the
 * configuration overrides the page's folder (hls.js is then taken from
 * <web_dir>/vendor/hls.min.js when present). */
#ifndef HLSD_APP_WEBPAGE_H
#define HLSD_APP_WEBPAGE_H

#include "core/config.h"
#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>

struct webpage;

/* Resolves the folders (a warning is logged when index.html or hls.min.js is
 * missing there: those requests then get 404) and registers the routes on
 * http. cfg and http are borrowed and must outlive *out; free *out after
 * http_server_free(). Returns 0 or -errno. */
int webpage_new(const struct hlsd_config *cfg, struct http_server *http, struct webpage **out);
void webpage_free(struct webpage **w);

/* The folders chosen (borrowed from w). */
const char *webpage_dir(const struct webpage *w);
const char *webpage_hlsjs_dir(const struct webpage *w);

/* Where the files are for a binary at exe (its resolved path): the source
 * tree when exe lies inside build_dir, else data_dir. Writes the page's and
 * hls.js' folders. web_dir (may be NULL) overrides the page's folder. 0 or
 * -ENAMETOOLONG. Exposed for the unit test. */
int webpage_locate(const char *exe, const char *build_dir, const char *source_dir,
                   const char *data_dir, const char *web_dir, char *page, char *hlsjs, size_t size);

#endif
