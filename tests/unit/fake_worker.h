/* For the state-machine tests: a shell script that plays a worker's part
 * (the process table re-executes it instead of our binary). Include after
 * cmocka.h. */
#ifndef HLSD_TEST_FAKE_WORKER_H
#define HLSD_TEST_FAKE_WORKER_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Makes a folder from tmpl ("/tmp/x-XXXXXX", modified in place) holding
 * the executable script; its path goes to path. */
static inline void fake_worker_write(char *tmpl, const char *script, char *path, size_t size)
{
    assert_non_null(mkdtemp(tmpl));
    snprintf(path, size, "%s/fake-worker", tmpl);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(script, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0755), 0);
}

#endif
