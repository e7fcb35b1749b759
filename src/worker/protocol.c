/* Newline-delimited JSON over a stream socket. cJSON never emits a raw newline
 * when printing unformatted (strings escape it), so '\n' is a safe frame end. */
#include "worker/protocol.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
/* Reads per proto_read call: bounds the time one chatty peer holds the loop.
 * Callers watch the fd level-triggered (or poll again), so nothing is lost. */
#define READS_PER_CALL 16
/* proto_send gives up after this long without progress (peer not reading). */
#define SEND_TIMEOUT_MS 5000

void proto_reader_reset(struct proto_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    r->buf = NULL;
    r->len = 0;
    r->cap = 0;
}

static int reserve(struct proto_reader *r, size_t want_free)
{
    if (r->cap - r->len >= want_free)
        return 0;
    /* Doubling, but never past what the longest allowed line needs. */
    size_t cap = r->cap ? r->cap * 2 : READ_CHUNK;
    if (cap > PROTO_MAX_LINE + 2 * READ_CHUNK)
        cap = PROTO_MAX_LINE + 2 * READ_CHUNK;
    if (cap < r->len + want_free)
        cap = r->len + want_free;
    char *b = realloc(r->buf, cap);
    if (!b)
        return -ENOMEM;
    r->buf = b;
    r->cap = cap;
    return 0;
}

static void dispatch_line(char *line, size_t len, proto_msg_cb cb, void *arg)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;
    cJSON *msg = cJSON_ParseWithLength(line, len);
    if (!msg || !cJSON_IsObject(msg)) {
        LOG_WARN(NULL, "protocol: dropping a line that is not a JSON object (%zu bytes: %.*s)", len,
                 (int)(len < 60 ? len : 60), line);
        cJSON_Delete(msg);
        return;
    }
    cb(arg, msg);
    cJSON_Delete(msg);
}

/* Calls cb for every complete line in the buffer and keeps the rest. */
static int consume_lines(struct proto_reader *r, size_t scan_from, proto_msg_cb cb, void *arg)
{
    size_t start = 0;
    for (size_t i = scan_from; i < r->len; i++) {
        if (r->buf[i] != '\n')
            continue;
        if (i - start > PROTO_MAX_LINE)
            return -EMSGSIZE;
        dispatch_line(r->buf + start, i - start, cb, arg);
        start = i + 1;
    }
    if (start > 0) {
        memmove(r->buf, r->buf + start, r->len - start);
        r->len -= start;
    }
    if (r->len > PROTO_MAX_LINE)
        return -EMSGSIZE;
    return 0;
}

int proto_read(int fd, struct proto_reader *r, proto_msg_cb cb, void *arg)
{
    for (int n = 0; n < READS_PER_CALL; n++) {
        int ret = reserve(r, READ_CHUNK);
        if (ret < 0)
            return ret;
        ssize_t got = read(fd, r->buf + r->len, r->cap - r->len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        if (got == 0) {
            if (r->len > 0)
                LOG_WARN(NULL, "protocol: %zu bytes without a final newline dropped at EOF",
                         r->len);
            r->len = 0;
            return -EPIPE;
        }
        size_t old = r->len;
        r->len += (size_t)got;
        ret = consume_lines(r, old, cb, arg);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* send() with MSG_NOSIGNAL so a vanished peer is EPIPE, not a fatal SIGPIPE;
 * plain write() for pipes (tests). */
static ssize_t write_some(int fd, const char *p, size_t len)
{
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
        n = write(fd, p, len);
    return n;
}

int proto_send(int fd, const cJSON *msg)
{
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    char *buf = realloc(text, len + 2);
    if (!buf) {
        free(text);
        return -ENOMEM;
    }
    buf[len++] = '\n';
    int ret = 0;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write_some(fd, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int pr = poll(&pfd, 1, SEND_TIMEOUT_MS);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr < 0) {
                ret = -errno;
                break;
            }
            if (pr == 0) {
                ret = -ETIMEDOUT;
                break;
            }
            continue;
        }
        ret = n < 0 ? -errno : -EIO;
        break;
    }
    free(buf);
    return ret;
}
