/* stub */
#include "live/preview.h"
#include <errno.h>
int live_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http, struct live_manager **out) { (void)loop; (void)cfg; (void)http; *out = NULL; return 0; }
void live_manager_shutdown(struct live_manager *m) { (void)m; }
void live_manager_free(struct live_manager **m) { (void)m; }
