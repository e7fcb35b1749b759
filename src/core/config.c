/* stub: replaced by the config implementation */
#include "core/config.h"
#include <errno.h>
const char config_embedded_yaml[] = "";
int config_load(const char *path, struct hlsd_config **out, char *err, size_t errlen)
{ (void)path; (void)out; (void)err; (void)errlen; return -ENOSYS; }
int config_load_string(const char *yaml, const char *name, struct hlsd_config **out, char *err, size_t errlen)
{ (void)yaml; (void)name; (void)out; (void)err; (void)errlen; return -ENOSYS; }
void config_free(struct hlsd_config **cfg) { (void)cfg; }
const struct cfg_port *config_find_port(const struct hlsd_config *cfg, int index) { (void)cfg; (void)index; return NULL; }
