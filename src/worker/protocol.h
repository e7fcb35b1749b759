/* The control channel between the daemon and a worker: one JSON object per
 * line (cJSON) over a SOCK_STREAM socketpair. The worker's end is fd 3.
 * See docs/WORKER-PROTOCOL.md for the messages. */
#ifndef HLSD_PROTOCOL_H
#define HLSD_PROTOCOL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define PROTO_WORKER_FD 3
#define PROTO_MAX_LINE (1024 * 1024)

struct proto_reader {
    char *buf;
    size_t len;
    size_t cap;
};

typedef void (*proto_msg_cb)(void *arg, cJSON *msg /* borrowed, freed after the call */);

/* Reads what is available on a non-blocking fd and calls cb for each complete
 * line that parses as a JSON object (other lines are logged and dropped).
 * Returns 0 when the fd would block, -EPIPE at EOF, -errno on error,
 * -EMSGSIZE for a line over PROTO_MAX_LINE. */
int proto_read(int fd, struct proto_reader *r, proto_msg_cb cb, void *arg);

/* Writes msg + '\n' completely (retries EINTR/EAGAIN with poll). 0 or -errno. */
int proto_send(int fd, const cJSON *msg);

/* Frees the reader's buffer. */
void proto_reader_reset(struct proto_reader *r);

#endif
