/* Landlock confinement of workers (see sandbox.h). glibc has no wrappers for
 * the landlock system calls, and Debian 12's kernel headers stop at ABI 2:
 * the newer access bits are defined here. */
#include "worker/sandbox.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif

/* Every right that changes the filesystem, as of ABI 1. Reading, executing
 * and (ABI 5) device ioctls are deliberately not handled, so stay allowed. */
#define WRITE_ABI1                                                                                 \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                               \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* Only the first member exists in ABI 1; the kernel accepts this size from
 * any later ABI too. */
struct sandbox_ruleset_attr {
    uint64_t handled_access_fs;
};

static int add_path_rule(int ruleset, const char *path, uint64_t access)
{
    struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = -1};
    int ret = 0;
    pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
    if (pb.parent_fd < 0)
        return -errno;
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
        ret = -errno;
    close(pb.parent_fd);
    return ret;
}

int worker_sandbox_apply(const char *out_dir, enum worker_sandbox_state *state, int *abi)
{
    int ruleset = -1, ret;

    *state = WORKER_SANDBOX_UNAVAILABLE;
    *abi = 0;
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (v < 0)
        return 0; /* ENOSYS (old kernel) or EOPNOTSUPP (disabled at boot) */
    *abi = (int)v;

    uint64_t handled = WRITE_ABI1;
    if (v >= 2)
        handled |= LANDLOCK_ACCESS_FS_REFER;
    if (v >= 3)
        handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
    struct sandbox_ruleset_attr attr = {.handled_access_fs = handled};
    ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset < 0)
        return -errno;

    if (out_dir && out_dir[0]) {
        /* A rule needs an existing folder; the pipelines create it anyway. */
        if ((ret = util_mkdir_p(out_dir, 0755)) < 0 && ret != -EEXIST)
            goto out;
        if ((ret = add_path_rule(ruleset, out_dir, handled)) < 0)
            goto out;
    }
    /* Capture devices (V4L2, ALSA, DRM render nodes for hardware encoders) are
     * opened read-write; opening an existing node does not create anything. */
    uint64_t dev = LANDLOCK_ACCESS_FS_WRITE_FILE | (handled & LANDLOCK_ACCESS_FS_TRUNCATE);
    ret = add_path_rule(ruleset, "/dev", dev);
    if (ret < 0 && ret != -ENOENT)
        goto out;
    /* POSIX shared memory (shm_open) lives there; some device libraries use it. */
    uint64_t shm = dev | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
    ret = add_path_rule(ruleset, "/dev/shm", shm);
    if (ret < 0 && ret != -ENOENT)
        goto out;

    /* Required to restrict ourselves without CAP_SYS_ADMIN; a worker never
     * executes another program, so losing set-id gains costs nothing. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        ret = -errno;
        goto out;
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
        ret = -errno;
        goto out;
    }
    *state = WORKER_SANDBOX_ON;
    ret = 0;
out:
    close(ruleset);
    return ret;
}
