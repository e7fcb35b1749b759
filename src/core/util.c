#include "core/util.h"

#include <netinet/in.h>

#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double util_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double util_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int util_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= size)
        return -ENAMETOOLONG;
    return 0;
}

/* private: mode 0600, O_EXCL | O_NOFOLLOW on the temp file, fsync before
 * the rename. */
static int write_via_temp(const char *path, const void *data, size_t len, bool private)
{
    char tmp[4096];
    int fd = -1;
    int ret = util_fmt(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (ret < 0)
        return ret;
    if (private) {
        /* A leftover of a crashed run would make O_EXCL fail forever. */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    } else {
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return -errno;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    if (private && fsync(fd) < 0) {
        ret = -errno;
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        ret = -errno;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        ret = -errno;
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return ret;
}

int util_write_file_atomic(const char *path, const void *data, size_t len)
{
    return write_via_temp(path, data, len, false);
}

int util_write_file_private(const char *path, const void *data, size_t len)
{
    return write_via_temp(path, data, len, true);
}

int util_read_file(const char *path, size_t max_len, char **out, size_t *out_len)
{
    int fd = -1;
    char *buf = NULL;
    int ret;
    struct stat st;
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto out;
    }
    if ((size_t)st.st_size > max_len) {
        ret = -EFBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL;
    if (out_len)
        *out_len = got;
    ret = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return ret;
}

int util_mkdir_p(const char *path, unsigned mode)
{
    char buf[4096];
    int ret = util_fmt(buf, sizeof(buf), "%s", path);
    if (ret < 0)
        return ret;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int rm_rf_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        close(fd);
        return e;
    }
    int ret = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int r = rm_rf_at(fd, de->d_name);
        if (r < 0 && ret == 0)
            ret = r;
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && ret == 0)
        ret = -errno;
    return ret;
}

int util_rm_rf(const char *path)
{
    return rm_rf_at(AT_FDCWD, path);
}

int util_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        got += (size_t)r;
    }
    return 0;
}

int util_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (nbytes > sizeof(raw))
        return -EINVAL;
    int ret = util_random_bytes(raw, nbytes);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int util_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -EINVAL;
    /* strtod accepts "nan", "inf" and hex floats: none is a valid number here. */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789.-+eE", *p))
            return -EINVAL;
    if (errno == ERANGE || !isfinite(v))
        return -ERANGE;
    *out = v;
    return 0;
}

int util_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int util_parse_bitrate(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || v <= 0)
        return -EINVAL;
    double mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1e6, end++;
    if (*end != '\0' || v * mul > 1e10)
        return -EINVAL;
    *out = (int64_t)(v * mul);
    return 0;
}

bool util_is_safe_name(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

char *util_xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

size_t util_escape_text(const char *text, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        bool plain = *c >= 0x20 && *c < 0x7f;
        size_t need = plain ? 1 : 4;
        if (o + need >= size)
            break;
        if (plain) {
            out[o++] = (char)*c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*c >> 4];
            out[o++] = hex[*c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

int util_parse_cidr(const char *text, struct util_cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    long prefix = -1;
    if (!text || strlen(text) >= sizeof(buf))
        return -EINVAL;
    snprintf(buf, sizeof(buf), "%s", text);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        if (util_parse_int(slash + 1, 0, 128, &prefix) < 0)
            return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = prefix < 0 ? 32 : (int)prefix;
        return out->prefix <= 32 ? 0 : -EINVAL;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = prefix < 0 ? 128 : (int)prefix;
        return 0;
    }
    return -EINVAL;
}

bool util_cidr_match(const struct util_cidr *c, const char *addr)
{
    unsigned char a[16];
    const unsigned char *cmp = a;
    if (!addr)
        return false;
    if (c->family == AF_INET) {
        if (inet_pton(AF_INET, addr, a) != 1) {
            /* ::ffff:10.0.0.1 */
            if (inet_pton(AF_INET6, addr, a) != 1 || !IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
                return false;
            cmp = a + 12;
        }
    } else if (inet_pton(AF_INET6, addr, a) != 1) {
        return false;
    }
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(cmp, c->addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (cmp[full] & mask) == (c->addr[full] & mask);
}

bool util_addr_is_loopback(const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!addr)
        return false;
    if (strcasecmp(addr, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return false;
}
