/* libFuzzer target: the raw request-target decoder and the route matcher
 * (src/http/http_internal.h). The input is one request target as a client
 * would send it; the checks are the confinement promises the static and
 * stream handlers rely on. */
#include "http/http_internal.h"

#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Every pattern the daemon registers (keep in step with the http_route calls). */
static const char *const patterns[] = {
    "/",
    "/api/health",
    "/api/login",
    "/api/ports",
    "/api/ports/{index}/preview",
    "/api/previews",
    "/api/cameras",
    "/api/recordings/{camera}",
    "/api/transcode",
    "/api/transcode/{id}",
    "/api/transcode/{camera}/start/{start_ts}/end/{end_ts}",
    "/transcode/{camera}/start/{start_ts}/end/{end_ts}",
    "/transcode/{id}",
    "/stream/transcode/{id}/{file}",
    "/hls/{*rest}",
    "/web/{*rest}",
};

static void check_decoded(const char *path)
{
    size_t n = strlen(path);
    if (path[0] != '/' || n > HTTP_MAX_PATH)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            abort();
    }
    /* No "." or ".." segment may survive decoding. */
    for (const char *seg = path; seg; seg = strchr(seg + 1, '/')) {
        const char *s = seg + 1;
        size_t len = strcspn(s, "/");
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            abort();
    }
}

static void check_match(const char *pattern, const char *path)
{
    struct http_param_span sp[HTTP_MAX_PARAMS];
    size_t n = 99;
    if (!http_pattern_match(pattern, path, sp, &n))
        return;
    if (n > HTTP_MAX_PARAMS)
        abort();
    for (size_t i = 0; i < n; i++) {
        /* Spans point inside the pattern and the path. */
        if (sp[i].name < pattern || sp[i].name + sp[i].name_len > pattern + strlen(pattern))
            abort();
        if (sp[i].value < path || sp[i].value + sp[i].value_len > path + strlen(path))
            abort();
        if (sp[i].value_len == 0)
            abort();
        bool rest = sp[i].name > pattern && sp[i].name[-1] == '*';
        if (!rest && memchr(sp[i].value, '/', sp[i].value_len))
            abort(); /* a single-segment parameter never spans segments */
        if (sp[i].value_len <= 2 && sp[i].value[0] == '.' &&
            (sp[i].value_len == 1 || sp[i].value[1] == '.'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4 * HTTP_MAX_TARGET)
        return 0;
    char *raw = malloc(size + 1);
    char *out = malloc(HTTP_MAX_PATH + 1);
    if (!raw || !out)
        abort();
    memcpy(raw, data, size);
    raw[size] = '\0';

    int st = http_path_decode(raw, out, HTTP_MAX_PATH + 1);
    if (st != 0 && st != -EINVAL && st != -ENAMETOOLONG)
        abort();
    if (st == 0) {
        check_decoded(out);
        /* Decoding is idempotent on paths with no '%' left. */
        if (!strpbrk(out, "%?# ")) {
            char *again = malloc(HTTP_MAX_PATH + 1);
            if (!again || http_path_decode(out, again, HTTP_MAX_PATH + 1) != 0 ||
                strcmp(again, out) != 0)
                abort();
            free(again);
        }
        for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
            check_match(patterns[i], out);
    }

    /* The same bytes as a route pattern: a pattern accepted by the checker
     * must be safe to match against any path, including itself. */
    if (http_pattern_check(raw) == 0) {
        check_match(raw, raw);
        check_match(raw, "/");
        check_match(raw, "/a/b/c/d/e/f/g/h/i/j");
        if (st == 0)
            check_match(raw, out);
    }
    free(out);
    free(raw);
    return 0;
}
