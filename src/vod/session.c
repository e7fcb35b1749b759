/* stub */
#include "vod/session.h"
#include <errno.h>
int vod_manager_new(struct loop *loop, const struct hlsd_config *cfg, struct http_server *http, struct vod_manager **out) { (void)loop; (void)cfg; (void)http; *out = NULL; return 0; }
void vod_manager_shutdown(struct vod_manager *m) { (void)m; }
void vod_manager_free(struct vod_manager **m) { (void)m; }
