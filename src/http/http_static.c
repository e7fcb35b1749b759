/* Confined static files (MIME, caching, Range, sendfile) and the built-in
 * routes: health, version and the web page. */
#include "http/http_internal.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct mime {
    const char *ext;
    const char *type;
    int kind; /* 0 other, 1 playlist, 2 segment */
};

static const struct mime mimes[] = {
    {".m3u8", "application/vnd.apple.mpegurl", 1},
    {".ts", "video/mp2t", 2},
    {".mp4", "video/mp4", 2},
    {".m4s", "video/mp4", 2},
    {".m4a", "audio/mp4", 2},
    {".aac", "audio/aac", 2},
    {".html", "text/html; charset=utf-8", 0},
    {".htm", "text/html; charset=utf-8", 0},
    {".js", "text/javascript; charset=utf-8", 0},
    {".mjs", "text/javascript; charset=utf-8", 0},
    {".css", "text/css; charset=utf-8", 0},
    {".json", "application/json", 0},
    {".map", "application/json", 0},
    {".txt", "text/plain; charset=utf-8", 0},
    {".vtt", "text/vtt; charset=utf-8", 0},
    {".jpg", "image/jpeg", 0},
    {".jpeg", "image/jpeg", 0},
    {".png", "image/png", 0},
    {".svg", "image/svg+xml", 0},
    {".ico", "image/x-icon", 0},
    {".webp", "image/webp", 0},
    {".woff2", "font/woff2", 0},
};

static const struct mime *mime_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
        if (strcasecmp(dot, mimes[i].ext) == 0)
            return &mimes[i];
    return NULL;
}

const char *http_mime_type(const char *path)
{
    const struct mime *m = mime_for(path);
    return m ? m->type : "application/octet-stream";
}

const char *http_cache_control(const char *path)
{
    const struct mime *m = mime_for(path);
    /* Segment names are never reused for other content, so they may be cached forever. */
    return m && m->kind == 2 ? "public, max-age=31536000, immutable" : "no-cache";
}

bool http_is_media(const char *path)
{
    const struct mime *m = mime_for(path);
    return m && m->kind != 0;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

int http_parse_range(const char *value, uint64_t size, uint64_t *start, uint64_t *len)
{
    /* The range unit is case-insensitive (RFC 9110 14.1). */
    if (!value || strncasecmp(value, "bytes=", 6) != 0)
        return 0;
    const char *spec = value + 6;
    while (*spec == ' ')
        spec++;
    size_t n = strlen(spec);
    while (n && spec[n - 1] == ' ')
        n--;
    if (memchr(spec, ',', n))
        return 0; /* several ranges: answering with the whole file is allowed */
    const char *dash = memchr(spec, '-', n);
    if (!dash)
        return 0;
    size_t alen = (size_t)(dash - spec), blen = n - alen - 1;
    uint64_t a, b;
    if (alen == 0) {
        if (!parse_u64(dash + 1, blen, &b))
            return 0;
        if (b == 0 || size == 0)
            return -1;
        if (b > size)
            b = size;
        *start = size - b;
        *len = b;
        return 1;
    }
    if (!parse_u64(spec, alen, &a))
        return 0;
    if (blen == 0) {
        b = UINT64_MAX;
    } else {
        if (!parse_u64(dash + 1, blen, &b))
            return 0;
        if (b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *start = a;
    *len = b - a + 1;
    return 1;
}

static bool relpath_ok(const char *relpath)
{
    if (!relpath || !relpath[0] || relpath[0] == '/' || strlen(relpath) > HTTP_MAX_PATH)
        return false;
    for (const unsigned char *p = (const unsigned char *)relpath; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
    for (const char *s = relpath;;) {
        size_t len = strcspn(s, "/");
        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (s[len] == '\0')
            return true;
        s += len + 1;
    }
}

int http_confine_path(const char *root, const char *relpath, char *out, size_t outlen)
{
    char rroot[PATH_MAX], joined[PATH_MAX * 2], resolved[PATH_MAX];
    struct stat st;
    if (!relpath_ok(relpath))
        return -EINVAL;
    if (!realpath(root, rroot))
        return -ENOENT;
    snprintf(joined, sizeof(joined), "%s/%s", rroot, relpath);
    if (lstat(joined, &st) < 0)
        return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;
    if (S_ISLNK(st.st_mode))
        return -EACCES; /* no symlink as the final component, wherever it points */
    if (!realpath(joined, resolved))
        return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;
    size_t rl = strlen(rroot);
    /* A symlinked folder on the way may lead out of root. */
    if (strncmp(resolved, rroot, rl) != 0 || (resolved[rl] != '/' && strcmp(rroot, "/") != 0))
        return -EACCES;
    if (stat(resolved, &st) < 0)
        return -ENOENT;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (out) {
        if (strlen(resolved) >= outlen)
            return -ENAMETOOLONG;
        strcpy(out, resolved);
    }
    return 0;
}

static int respond_confine_error(struct http_request *r, int err, const char *relpath)
{
    switch (err) {
    case -EINVAL:
        return http_respond_error(r, 400, "invalid file path");
    case -ENOENT:
        return http_respond_error(r, 404, "not found: %s", r->path);
    case -EACCES:
        LOG_DEBUG("http", "refused %s (outside the served folder or not a regular file)",
                  relpath ? relpath : "");
        return http_respond_error(r, 403, "forbidden: %s", r->path);
    default:
        return http_respond_error(r, 500, "cannot serve %s: %s", r->path, strerror(-err));
    }
}

/* Opens root/relpath with the kernel enforcing confinement in one call:
 * RESOLVE_BENEATH refuses ".." and absolute or escaping symlinks on the way,
 * O_NOFOLLOW refuses a symlink as the final component — the same rules as
 * http_confine_path() without its realpath() walks (eleven readlink calls
 * per request on a playlist). Returns an fd, or -ENOSYS when the kernel (or
 * a seccomp filter) lacks openat2, or -ENOENT/-EACCES. */
static int open_beneath(const char *root, const char *relpath)
{
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -ENOENT;
    struct open_how how = {
        .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dfd, relpath, &how, sizeof(how));
    int e = errno;
    close(dfd);
    if (fd >= 0)
        return (int)fd;
    if (e == ENOSYS || e == EPERM)
        return -ENOSYS;
    return e == ENOENT || e == ENOTDIR ? -ENOENT : -EACCES;
}

/* Files up to this size are copied into the response so libmicrohttpd sends
 * headers and body in one write (playlists are a few hundred bytes). */
#define SMALL_FILE_BYTES 16384

int http_respond_file(struct http_request *r, const char *root, const char *relpath)
{
    return http_respond_file_flags(r, root, relpath, 0);
}

int http_respond_file_flags(struct http_request *r, const char *root, const char *relpath,
                            unsigned flags)
{
    char path[PATH_MAX], buf[128];
    struct stat st;
    int fd;
    if (!relpath_ok(relpath))
        return respond_confine_error(r, -EINVAL, relpath);
    fd = open_beneath(root, relpath);
    if (fd == -ENOSYS) {
        int ret = http_confine_path(root, relpath, path, sizeof(path));
        if (ret < 0)
            return respond_confine_error(r, ret, relpath);
        /* realpath() removed every symlink; O_NOFOLLOW catches one swapped in since. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return respond_confine_error(r, errno == ENOENT ? -ENOENT : -EACCES, relpath);
    } else if (fd < 0) {
        return respond_confine_error(r, fd, relpath);
    }
    /* Only the extension of the name matters from here on. */
    snprintf(path, sizeof(path), "%s", relpath);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return respond_confine_error(r, -EACCES, relpath);
    }
    uint64_t size = (uint64_t)st.st_size, start = 0, len = size;
    unsigned status = 200;
    const char *range = http_req_header(r, "Range");
    int rr = range ? http_parse_range(range, size, &start, &len) : 0;
    if (rr < 0) {
        close(fd);
        snprintf(buf, sizeof(buf), "bytes */%" PRIu64, size);
        http_add_header(r, "Content-Range", buf);
        return http_respond_error(r, 416, "range not satisfiable: %s", range);
    }
    if (rr > 0)
        status = 206;
    struct MHD_Response *resp = NULL;
    if (len <= SMALL_FILE_BYTES) {
        char small[SMALL_FILE_BYTES];
        ssize_t n = pread(fd, small, (size_t)len, (off_t)start);
        close(fd);
        if (n != (ssize_t)len)
            return http_respond_error(r, 500, "cannot read %s", r->path);
        resp = MHD_create_response_from_buffer((size_t)len, small, MHD_RESPMEM_MUST_COPY);
    } else {
        /* MHD owns fd from here (closed when the response is destroyed). */
        resp = MHD_create_response_from_fd_at_offset64(len, fd, (uint64_t)start);
        if (!resp)
            close(fd);
    }
    if (!resp)
        return http_respond_error(r, 500, "cannot serve %s", r->path);
    MHD_add_response_header(resp, "Content-Type", http_mime_type(path));
    MHD_add_response_header(resp, "Cache-Control",
                            (flags & HTTP_FILE_PRIVATE) ? "private, no-store"
                                                        : http_cache_control(path));
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (http_is_media(path) && !(flags & HTTP_FILE_PRIVATE))
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (status == 206) {
        snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, start + len - 1,
                 size);
        MHD_add_response_header(resp, "Content-Range", buf);
    }
    struct tm tm;
    if (gmtime_r(&st.st_mtime, &tm) && strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm))
        MHD_add_response_header(resp, "Last-Modified", buf);
    return http_respond_mhd(r, status, resp);
}

/* ---- built-in routes ---- */

static int h_health(void *arg, struct http_request *r)
{
    (void)arg;
    static const char body[] = "{\"status\":\"ok\"}";
    return http_respond_data(r, 200, "application/json", body, sizeof(body) - 1);
}

static int h_version(void *arg, struct http_request *r)
{
    (void)arg;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", "hlsd") ||
        !cJSON_AddStringToObject(o, "version", HLSD_VERSION)) {
        cJSON_Delete(o);
        return -ENOMEM;
    }
    int ret = http_respond_json(r, 200, o);
    cJSON_Delete(o);
    return ret;
}

int http_static_init(struct http_server *s)
{
    int ret;
    if ((ret = http_route(s, "GET", "/api/health", HTTP_ROUTE_PUBLIC, h_health, s)) < 0 ||
        (ret = http_route(s, "GET", "/api/version", HTTP_ROUTE_PUBLIC, h_version, s)) < 0)
        return ret;
    return 0;
}
