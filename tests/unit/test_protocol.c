/* JSON-lines framing of the worker channel (src/worker/protocol.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker/protocol.h"

struct collected {
    cJSON *msgs; /* array of copies */
};

static void collect(void *arg, cJSON *msg)
{
    struct collected *c = arg;
    cJSON_AddItemToArray(c->msgs, cJSON_Duplicate(msg, true));
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

static void write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

static int seq_of(const cJSON *msgs, int i)
{
    return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, i), "seq"));
}

static void test_several_lines_in_one_read(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct collected c = {cJSON_CreateArray()};
    struct proto_reader r = {0};
    const char *text = "{\"seq\":1}\n{\"seq\":2,\"s\":\"a b\"}\r\n{\"seq\":3}\n";
    write_all(sv[1], text, strlen(text));
    assert_int_equal(proto_read(sv[0], &r, collect, &c), 0);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(seq_of(c.msgs, i), i + 1);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c.msgs, 1), "s")), "a b");
    assert_int_equal(r.len, 0);
    /* Nothing more: would block, no new message. */
    assert_int_equal(proto_read(sv[0], &r, collect, &c), 0);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 3);
    proto_reader_reset(&r);
    cJSON_Delete(c.msgs);
    close(sv[0]);
    close(sv[1]);
}

static void test_partial_lines(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct collected c = {cJSON_CreateArray()};
    struct proto_reader r = {0};
    const char *text = "{\"seq\":7,\"type\":\"progress\"}\n{\"seq\":8}";
    /* One byte at a time: no message until its newline arrives. */
    size_t first_nl = strchr(text, '\n') - text;
    for (size_t i = 0; i < first_nl; i++) {
        write_all(sv[1], text + i, 1);
        assert_int_equal(proto_read(sv[0], &r, collect, &c), 0);
        assert_int_equal(cJSON_GetArraySize(c.msgs), 0);
    }
    /* The newline plus the start of the next line. */
    write_all(sv[1], text + first_nl, strlen(text) - first_nl);
    assert_int_equal(proto_read(sv[0], &r, collect, &c), 0);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 1);
    assert_int_equal(seq_of(c.msgs, 0), 7);
    assert_int_equal(r.len, strlen("{\"seq\":8}"));
    write_all(sv[1], "\n", 1);
    assert_int_equal(proto_read(sv[0], &r, collect, &c), 0);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 2);
    assert_int_equal(seq_of(c.msgs, 1), 8);
    proto_reader_reset(&r);
    cJSON_Delete(c.msgs);
    close(sv[0]);
    close(sv[1]);
}

static void test_non_objects_dropped(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct collected c = {cJSON_CreateArray()};
    struct proto_reader r = {0};
    const char *text = "[1,2]\nnot json\n\n   \n\"str\"\n{\"seq\":1\n{\"seq\":2}\n";
    write_all(sv[1], text, strlen(text));
    assert_int_equal(proto_read(sv[0], &r, collect, &c), 0);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 1);
    assert_int_equal(seq_of(c.msgs, 0), 2);
    proto_reader_reset(&r);
    cJSON_Delete(c.msgs);
    close(sv[0]);
    close(sv[1]);
}

static void test_eof(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct collected c = {cJSON_CreateArray()};
    struct proto_reader r = {0};
    const char *text = "{\"seq\":1}\n{\"seq\":2"; /* the last line is cut off */
    write_all(sv[1], text, strlen(text));
    close(sv[1]);
    assert_int_equal(proto_read(sv[0], &r, collect, &c), -EPIPE);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 1);
    assert_int_equal(seq_of(c.msgs, 0), 1);
    assert_int_equal(proto_read(sv[0], &r, collect, &c), -EPIPE);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 1);
    proto_reader_reset(&r);
    cJSON_Delete(c.msgs);
    close(sv[0]);
}

/* Feeds `total` bytes of one endless line; proto_read must refuse it. */
static void feed_oversized(bool with_newline_at_end)
{
    int sv[2];
    pair(sv);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    struct collected c = {cJSON_CreateArray()};
    struct proto_reader r = {0};
    size_t total = PROTO_MAX_LINE + 100 * 1024;
    char *big = malloc(total + 1);
    assert_non_null(big);
    memset(big, 'x', total);
    big[0] = '"';
    if (with_newline_at_end)
        big[total - 1] = '\n';
    size_t off = 0;
    int ret = 0;
    while (ret == 0) {
        if (off < total) {
            ssize_t n = write(sv[1], big + off, total - off);
            if (n > 0)
                off += (size_t)n;
            else
                assert_int_equal(errno, EAGAIN);
        }
        ret = proto_read(sv[0], &r, collect, &c);
        /* Never buffers unboundedly. */
        assert_true(r.cap <= PROTO_MAX_LINE + 4 * 64 * 1024);
        if (off >= total && ret == 0) {
            struct pollfd p = {.fd = sv[0], .events = POLLIN};
            if (poll(&p, 1, 0) == 0)
                break;
        }
    }
    assert_int_equal(ret, -EMSGSIZE);
    assert_int_equal(cJSON_GetArraySize(c.msgs), 0);
    free(big);
    proto_reader_reset(&r);
    cJSON_Delete(c.msgs);
    close(sv[0]);
    close(sv[1]);
}

static void test_oversized_line(void **state)
{
    (void)state;
    feed_oversized(false);
    feed_oversized(true);
}

struct reader_thread {
    int fd;
    int count;
    size_t biggest;
    int ret;
};

static void count_msg(void *arg, cJSON *msg)
{
    struct reader_thread *t = arg;
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "s"));
    if (s && strlen(s) > t->biggest)
        t->biggest = strlen(s);
    t->count++;
}

static void *reader_main(void *arg)
{
    struct reader_thread *t = arg;
    struct proto_reader r = {0};
    for (;;) {
        struct pollfd p = {.fd = t->fd, .events = POLLIN};
        poll(&p, 1, 5000);
        int ret = proto_read(t->fd, &r, count_msg, t);
        if (ret < 0) {
            t->ret = ret;
            break;
        }
    }
    proto_reader_reset(&r);
    return NULL;
}

/* A message larger than the socket buffer: proto_send must wait (EAGAIN + poll)
 * and deliver it whole; newlines inside strings never split a frame. */
static void test_send_large_and_escaped(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    struct reader_thread t = {.fd = sv[0]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &t), 0);

    size_t big_len = 800 * 1024;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (i % 97 == 0) ? '\n' : 'a' + (char)(i % 26);
    big[big_len] = '\0';
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "s", big);
    assert_int_equal(proto_send(sv[1], m), 0);
    cJSON_Delete(m);
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "s", "line1\nline2");
    assert_int_equal(proto_send(sv[1], m), 0);
    cJSON_Delete(m);
    close(sv[1]);
    pthread_join(th, NULL);
    assert_int_equal(t.ret, -EPIPE);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.biggest, big_len);
    free(big);
    close(sv[0]);
}

static void test_send_to_closed_peer(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    close(sv[0]);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "cmd", "stop");
    /* EPIPE, not a SIGPIPE that kills the test. */
    assert_int_equal(proto_send(sv[1], m), -EPIPE);
    cJSON_Delete(m);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_several_lines_in_one_read),
        cmocka_unit_test(test_partial_lines),
        cmocka_unit_test(test_non_objects_dropped),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_oversized_line),
        cmocka_unit_test(test_send_large_and_escaped),
        cmocka_unit_test(test_send_to_closed_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
