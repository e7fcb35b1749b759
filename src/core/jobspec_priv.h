/* Internal to src/core/jobspec*.c: the option table of each job kind. */
#ifndef HLSD_CORE_JOBSPEC_PRIV_H
#define HLSD_CORE_JOBSPEC_PRIV_H

#include "core/jobspec.h"

#define JOBSPEC_N_KINDS (JOBSPEC_EXPORT + 1) /* the last kind of the enum + 1 */

struct jobspec_kind_desc {
    const char *name;               /* the job's "kind" */
    const struct jobspec_opt *opts; /* ends with a NULL name */
};

/* Indexed by enum jobspec_kind; static data, never freed. */
extern const struct jobspec_kind_desc jobspec_kinds[JOBSPEC_N_KINDS];

#endif
