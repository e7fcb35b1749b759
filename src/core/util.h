/* Small helpers shared by every subsystem. None of them allocate unless said. */
#ifndef HLSD_UTIL_H
#define HLSD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Seconds on the monotonic clock / since the epoch (wall clock). */
double util_now_mono(void);
double util_now_wall(void);

/* Writes data (mode 0644) to path through "path.tmp.<pid>" + rename, so
 * readers see either the old or the new file, never a torn one. No fsync:
 * cheap enough for playlists rewritten every segment, but not durable across
 * a power loss (util_write_file_private is). Returns 0 or -errno. */
int util_write_file_atomic(const char *path, const void *data, size_t len);

/* The same for secrets and state that must survive a crash: mode 0600, the
 * temp file created exclusively and never through a planted symlink, and
 * fsync before the rename. Returns 0 or -errno. */
int util_write_file_private(const char *path, const void *data, size_t len);

/* Reads a whole file into a NUL-terminated heap buffer the caller frees.
 * Refuses files larger than max_len (-EFBIG). Returns 0 or -errno. */
int util_read_file(const char *path, size_t max_len, char **out, size_t *out_len);

/* mkdir -p with the given mode. Returns 0 or -errno. */
int util_mkdir_p(const char *path, unsigned mode);

/* Removes a directory tree without following symlinks. Returns 0 or -errno. */
int util_rm_rf(const char *path);

/* Fills buf with n bytes from getrandom(). Returns 0 or -errno. */
int util_random_bytes(void *buf, size_t n);
/* Fills out with 2*nbytes lowercase hex characters + NUL from getrandom().
 * nbytes is at most 64. Returns 0, -EINVAL or -errno. */
int util_random_hex(char *out, size_t nbytes);

/* Strict number parsing: the whole string must be a finite number in range.
 * Returns 0 or -EINVAL / -ERANGE. */
int util_parse_double(const char *s, double *out);
int util_parse_int(const char *s, long min, long max, long *out);

/* Parses "5M", "128k", "800000" into bits per second. 0 or -EINVAL. */
int util_parse_bitrate(const char *s, int64_t *out);

/* True when name is 1..64 chars of [A-Za-z0-9._-] and not "." or "..":
 * the only names that may become part of a path, URL or filter string. */
bool util_is_safe_name(const char *name);

/* strdup that aborts on OOM (configuration-sized strings only). NULL in, NULL out. */
char *util_xstrdup(const char *s);

/* Copies text into out (size > 0, always NUL-terminated, truncated to fit)
 * with every control byte (< 0x20, 0x7f) and every non-ASCII byte written
 * as \xNN, so a logged path or an error message can neither start a forged
 * log line (\n, U+0085, U+2028) nor smuggle terminal escapes. Returns the
 * length written. */
size_t util_escape_text(const char *text, char *out, size_t size);

/* An IPv4 or IPv6 address with a prefix length: "10.0.0.0/8", "::1",
 * "192.168.1.7" (a plain address is a /32 or /128). IPv4-mapped IPv6
 * addresses match IPv4 entries. */
struct util_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};
/* 0, or -EINVAL when text is not an address or address/prefix. */
int util_parse_cidr(const char *text, struct util_cidr *out);
/* True for "localhost", 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
bool util_addr_is_loopback(const char *addr);
/* True when the textual address addr (as inet_ntop writes it) lies in c. */
bool util_cidr_match(const struct util_cidr *c, const char *addr);

/* snprintf into a fixed buffer; returns -ENAMETOOLONG when truncated. */
int util_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
