/* stub */
#include "worker/supervisor.h"
#include <errno.h>
int supervisor_init(struct loop *loop, const char *self_exe, const char *log_level) { (void)loop; (void)self_exe; (void)log_level; return 0; }
int worker_spawn(const struct worker_spawn_opts *opts, const struct worker_callbacks *cb, void *arg, struct worker **out) { (void)opts; (void)cb; (void)arg; (void)out; return -ENOSYS; }
int worker_send(struct worker *w, const cJSON *msg) { (void)w; (void)msg; return -ENOSYS; }
void worker_stop(struct worker *w) { (void)w; }
void worker_kill(struct worker *w) { (void)w; }
pid_t worker_pid(const struct worker *w) { (void)w; return -1; }
bool worker_alive(const struct worker *w) { (void)w; return false; }
void worker_free(struct worker **w) { (void)w; }
int supervisor_count(void) { return 0; }
void supervisor_shutdown(struct loop *loop) { (void)loop; }
