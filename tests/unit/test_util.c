/* core/util helpers that guard inputs: text escaping for logs and error
 * messages, address/CIDR matching for trusted proxies, the loopback test. */
#include "core/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

static void test_escape_text(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(util_escape_text("plain /path ok", out, sizeof(out)), 14);
    assert_string_equal(out, "plain /path ok");
    util_escape_text("a\nb\r\x1b[31m\x7f", out, sizeof(out));
    assert_string_equal(out, "a\\x0ab\\x0d\\x1b[31m\\x7f");
    util_escape_text("x\xe2\x80\xa8y\xc2\x85", out, sizeof(out)); /* U+2028, U+0085 */
    assert_string_equal(out, "x\\xe2\\x80\\xa8y\\xc2\\x85");
    /* truncation never splits an escape and always terminates */
    char small[6];
    assert_int_equal(util_escape_text("ab\ncd", small, sizeof(small)), 2);
    assert_string_equal(small, "ab");
}

static void test_cidr(void **state)
{
    (void)state;
    struct util_cidr c;
    assert_int_equal(util_parse_cidr("10.0.0.0/8", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_true(util_cidr_match(&c, "10.200.3.4"));
    assert_true(util_cidr_match(&c, "::ffff:10.1.2.3"));
    assert_false(util_cidr_match(&c, "11.0.0.1"));
    assert_false(util_cidr_match(&c, "not an address"));
    assert_int_equal(util_parse_cidr("192.168.1.7", &c), 0);
    assert_true(util_cidr_match(&c, "192.168.1.7"));
    assert_false(util_cidr_match(&c, "192.168.1.8"));
    assert_int_equal(util_parse_cidr("192.168.1.0/25", &c), 0);
    assert_true(util_cidr_match(&c, "192.168.1.127"));
    assert_false(util_cidr_match(&c, "192.168.1.128"));
    assert_int_equal(util_parse_cidr("fd00::/8", &c), 0);
    assert_true(util_cidr_match(&c, "fd12::1"));
    assert_false(util_cidr_match(&c, "fe80::1"));
    assert_false(util_cidr_match(&c, "10.0.0.1"));
    static const char *const bad[] = {"",       "10.0.0.0/33",  "10.0.0.0/",    "10.0.0/8",
                                      "::/129", "host.example", "10.0.0.0/8/8", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(util_parse_cidr(bad[i], &c), -EINVAL);
    assert_int_equal(util_parse_cidr(NULL, &c), -EINVAL);
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(util_addr_is_loopback("127.0.0.1"));
    assert_true(util_addr_is_loopback("127.9.8.7"));
    assert_true(util_addr_is_loopback("::1"));
    assert_true(util_addr_is_loopback("::ffff:127.0.0.1"));
    assert_true(util_addr_is_loopback("LocalHost"));
    assert_false(util_addr_is_loopback("128.0.0.1"));
    assert_false(util_addr_is_loopback("0.0.0.0"));
    assert_false(util_addr_is_loopback("localhost.evil"));
    assert_false(util_addr_is_loopback(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_text),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
