/* Where the web page's files are looked for (src/app/webpage.c): by the
 * install layout, or the source tree for the binary of a build tree, never
 * next to the executable. */
#include "app/webpage.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_build_tree_binary_reads_source(void **state)
{
    (void)state;
    char page[PATH_MAX], js[PATH_MAX];
    assert_int_equal(webpage_locate("/src/hlsd/build/hlsd", "/src/hlsd/build", "/src/hlsd",
                                    "/usr/local/share/hlsd", NULL, page, js, sizeof(page)),
                     0);
    assert_string_equal(page, "/src/hlsd/web");
    assert_string_equal(js, "/src/hlsd/node_modules/hls.js/dist");
}

static void test_installed_binary_reads_data_dir(void **state)
{
    (void)state;
    char page[PATH_MAX], js[PATH_MAX];
    /* anywhere else, including a folder whose name merely starts like the
     * build folder's */
    static const char *const exes[] = {"/usr/local/bin/hlsd", "/src/hlsd/build-other/hlsd",
                                       "/opt/x/hlsd", NULL};
    for (int i = 0; exes[i]; i++) {
        assert_int_equal(webpage_locate(exes[i], "/src/hlsd/build", "/src/hlsd",
                                        "/usr/local/share/hlsd", NULL, page, js, sizeof(page)),
                         0);
        assert_string_equal(page, "/usr/local/share/hlsd/web");
        assert_string_equal(js, "/usr/local/share/hlsd/hls.js");
    }
    /* unknown executable path (no /proc): the install layout */
    assert_int_equal(webpage_locate(NULL, "/b", "/s", "/d", NULL, page, js, sizeof(page)), 0);
    assert_string_equal(page, "/d/web");
}

static void test_web_dir_overrides_the_page(void **state)
{
    (void)state;
    char tmp[] = "/tmp/hlsd-webpage-XXXXXX", p[PATH_MAX], page[PATH_MAX], js[PATH_MAX];
    assert_non_null(mkdtemp(tmp));
    assert_int_equal(
        webpage_locate("/usr/bin/hlsd", "/b", "/s", "/usr/share/hlsd", tmp, page, js, sizeof(page)),
        0);
    assert_string_equal(page, tmp);
    assert_string_equal(js, "/usr/share/hlsd/hls.js"); /* no vendored copy there */
    snprintf(p, sizeof(p), "%s/vendor", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/vendor/hls.min.js", tmp);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(
        webpage_locate("/usr/bin/hlsd", "/b", "/s", "/usr/share/hlsd", tmp, page, js, sizeof(page)),
        0);
    snprintf(p, sizeof(p), "%s/vendor", tmp);
    assert_string_equal(js, p);
    snprintf(p, sizeof(p), "%s/vendor/hls.min.js", tmp);
    unlink(p);
    snprintf(p, sizeof(p), "%s/vendor", tmp);
    rmdir(p);
    rmdir(tmp);
}

static void test_too_long(void **state)
{
    (void)state;
    char page[16], js[16];
    assert_int_equal(webpage_locate("/usr/bin/hlsd", "/b", "/s", "/a/very/long/data/dir", NULL,
                                    page, js, sizeof(page)),
                     -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_tree_binary_reads_source),
        cmocka_unit_test(test_installed_binary_reads_data_dir),
        cmocka_unit_test(test_web_dir_overrides_the_page),
        cmocka_unit_test(test_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
