/* live_redact_url: credentials never leave the daemon through /api/ports. */
#include "live/preview.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void check(const char *in, const char *want)
{
    char out[512];
    assert_int_equal(live_redact_url(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_userinfo(void **state)
{
    (void)state;
    check("rtsp://admin:secret@10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1");
    check("rtsp://admin@10.0.0.5/s", "rtsp://10.0.0.5/s");
    /* an unencoded '@' in the password: the last '@' of the authority ends it */
    check("rtsp://u:p@ss@cam/x", "rtsp://cam/x");
    /* '@' after the authority is not userinfo */
    check("http://host/path@x", "http://host/path@x");
    check("udp://127.0.0.1:1234?pkt_size=1316", "udp://127.0.0.1:1234?pkt_size=1316");
}

static void test_query(void **state)
{
    (void)state;
    check("srt://h:9000?mode=caller&passphrase=abcdefghij&latency=20",
          "srt://h:9000?mode=caller&passphrase=***&latency=20");
    check("http://h/live?user=bob&Password=x#frag", "http://h/live?user=***&Password=***#frag");
}

static void test_not_urls(void **state)
{
    (void)state;
    check("testsrc2=size=1280x720:rate=30", "testsrc2=size=1280x720:rate=30");
    check("/dev/video0", "/dev/video0");
    check("", "");
    check("a b://x:y@z", "a b://x:y@z");
}

static void test_too_small(void **state)
{
    char out[8];
    (void)state;
    assert_int_equal(live_redact_url("rtsp://cam/very/long/path", out, sizeof(out)), -ENAMETOOLONG);
    assert_int_equal(live_redact_url("abc", out, 0), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_userinfo),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_not_urls),
        cmocka_unit_test(test_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
