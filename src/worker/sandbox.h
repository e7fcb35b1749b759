/* Filesystem confinement of a worker process with Linux landlock: after
 * worker_sandbox_apply() the process (and every thread it creates later) can
 * still read everything, but can create, write, truncate, rename or delete
 * files only beneath its job's output folder (plus opening device nodes under
 * /dev for writing, which capture devices need, and files in /dev/shm).
 * Network access, ioctls and reading are not restricted. */
#ifndef HLSD_WORKER_SANDBOX_H
#define HLSD_WORKER_SANDBOX_H

/* Outcome of worker_sandbox_apply. */
enum worker_sandbox_state {
    WORKER_SANDBOX_ON = 0,      /* landlock applied */
    WORKER_SANDBOX_UNAVAILABLE, /* the kernel has no landlock (or it is disabled): not confined */
};

/* Confines the calling process to writing beneath out_dir. Call it while the
 * process is still single-threaded (landlock applies to the calling thread and
 * the threads it creates afterwards). out_dir may be NULL (nothing writable);
 * a missing out_dir is created first (mode 0755), as the pipelines would.
 * Sets PR_SET_NO_NEW_PRIVS. Returns 0 and sets *state, or -errno when the
 * kernel has landlock but the ruleset could not be applied (the caller decides
 * whether to run unconfined); the ABI version found is stored in *abi (0 when
 * unavailable). */
int worker_sandbox_apply(const char *out_dir, enum worker_sandbox_state *state, int *abi);

#endif
