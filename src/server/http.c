/* stub */
#include "server/http.h"
#include <errno.h>
int http_server_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server **out) { (void)loop; (void)cfg; *out = NULL; return -ENOSYS; }
int http_server_start(struct http_server *s) { (void)s; return -ENOSYS; }
void http_server_free(struct http_server **s) { (void)s; }
void http_server_set_auth(struct http_server *s, http_auth_cb cb, void *arg) { (void)s; (void)cb; (void)arg; }
int http_route(struct http_server *s, const char *method, const char *pattern, int flags, http_handler h, void *arg) { (void)s; (void)method; (void)pattern; (void)flags; (void)h; (void)arg; return -ENOSYS; }
int http_respond_json(struct http_request *r, unsigned status, const cJSON *body) { (void)r; (void)status; (void)body; return -ENOSYS; }
