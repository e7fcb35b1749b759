#include "core/log.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static enum log_level g_level = LOG_LEVEL_INFO;
static char g_process_prefix[64];

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
    g_level = level;
}

enum log_level log_get_level(void)
{
    return g_level;
}

int log_parse_level(const char *name, enum log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (name && strcasecmp(name, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (name && strcasecmp(name, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -EINVAL;
}

void log_set_process_prefix(const char *prefix)
{
    snprintf(g_process_prefix, sizeof(g_process_prefix), "%s", prefix ? prefix : "");
}

void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    int saved = errno;
    struct timeval tv;
    struct tm tm;
    char ts[32];
    char line[2048], msg[1024];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s ", ts, (long)(tv.tv_usec / 1000),
                     level_names[level]);
    if (g_process_prefix[0] && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - n, "[%s] ", g_process_prefix);
    if (prefix && prefix[0] && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - n, "[%s] ", prefix);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t m = strlen(msg);
    while (m > 0 && msg[m - 1] == '\n')
        msg[--m] = '\0';
    /* Fields come from clients and media files: escaped, one line stays one line. */
    if (n < (int)sizeof(line))
        n += (int)util_escape_text(msg, line + n, sizeof(line) - (size_t)n);
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    /* One write per line so lines from the daemon and its workers never interleave. */
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
    errno = saved;
}

void log_msg(enum log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, prefix, fmt, ap);
    va_end(ap);
}
