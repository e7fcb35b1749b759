/* stub */
#include "worker/protocol.h"
#include <errno.h>
int proto_read(int fd, struct proto_reader *r, proto_msg_cb cb, void *arg) { (void)fd; (void)r; (void)cb; (void)arg; return -ENOSYS; }
int proto_send(int fd, const cJSON *msg) { (void)fd; (void)msg; return -ENOSYS; }
void proto_reader_reset(struct proto_reader *r) { (void)r; }
