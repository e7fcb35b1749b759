/* Logging to stderr: "2026-11-22T10:00:00.123Z INFO  [port 0] message". */
#ifndef HLSD_LOG_H
#define HLSD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the threshold; messages above it are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Sets a process-wide prefix (a worker sets its session/port name), copied. */
void log_set_process_prefix(const char *prefix);

/* prefix may be NULL; it is the session/port the message is about. */
void log_msg(enum log_level level, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap);

#define LOG_ERROR(pfx, ...) log_msg(LOG_LEVEL_ERROR, (pfx), __VA_ARGS__)
#define LOG_WARN(pfx, ...) log_msg(LOG_LEVEL_WARN, (pfx), __VA_ARGS__)
#define LOG_INFO(pfx, ...) log_msg(LOG_LEVEL_INFO, (pfx), __VA_ARGS__)
#define LOG_DEBUG(pfx, ...) log_msg(LOG_LEVEL_DEBUG, (pfx), __VA_ARGS__)

#endif
