/* stub */
#include "media/job.h"
#include <errno.h>
int media_job_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen) { (void)job; (void)ctl; (void)err; (void)errlen; return -ENOSYS; }
int media_probe_file(const char *path, struct media_probe *out, char *err, size_t errlen) { (void)path; (void)out; (void)err; (void)errlen; return -ENOSYS; }
int media_make_sample(const char *path, double seconds, double creation_time, int width, int height, char *err, size_t errlen) { (void)path; (void)seconds; (void)creation_time; (void)width; (void)height; (void)err; (void)errlen; return -ENOSYS; }
