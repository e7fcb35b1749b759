/* HTTP server helpers: request-target validation, route patterns, Range
 * parsing, MIME/cache rules, file confinement, plus a small in-process
 * server round trip (routes, JSON errors, suspension) over loopback. */
#include "core/loop.h"
#include "core/util.h"
#include "http/http_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

static int dec(const char *raw, char *out)
{
    return http_path_decode(raw, out, HTTP_MAX_PATH + 1);
}

static void test_path_decode_ok(void **state)
{
    (void)state;
    char out[HTTP_MAX_PATH + 1];
    assert_int_equal(dec("/", out), 0);
    assert_string_equal(out, "/");
    assert_int_equal(dec("/api/health?x=1", out), 0);
    assert_string_equal(out, "/api/health");
    assert_int_equal(dec("/web/a%20b.js", out), 0);
    assert_string_equal(out, "/web/a b.js");
    assert_int_equal(dec("/web/x..y/.hidden/...", out), 0);
    assert_string_equal(out, "/web/x..y/.hidden/...");
    assert_int_equal(dec("/a/%C3%A9", out), 0);
    assert_string_equal(out, "/a/\xc3\xa9");
    /* the query is not part of the path, even with odd bytes in it */
    assert_int_equal(dec("/a?p=%2e%2e/../", out), 0);
    assert_string_equal(out, "/a");
}

static void test_path_decode_hostile(void **state)
{
    (void)state;
    char out[HTTP_MAX_PATH + 1];
    static const char *bad[] = {
        "",           "x",         "*",        "http://h/a",   "/../etc/passwd",
        "/web/..",    "/web/../x", "/%2e%2e/", "/%2E%2E/x",    "/web/%2e%2e%2fx",
        "/web/.%2e/", "/a/%2fb",   "/a/%2Fb",  "/a%00b",       "/a%5cb",
        "/a\\b",      "/a/./b",    "/.",       "/a%",          "/a%4",
        "/a%zz",      "/a\tb",     "/a\x7f",   "/a%0d%0aX: y", "/a#frag",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = dec(bad[i], out);
        if (st != -EINVAL)
            fail_msg("'%s' gave %d, expected -EINVAL", bad[i], st);
    }
    assert_int_equal(http_path_decode(NULL, out, sizeof(out)), -EINVAL);

    char longp[HTTP_MAX_PATH + 10];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(dec(longp, out), -ENAMETOOLONG);
    longp[HTTP_MAX_PATH] = '\0'; /* exactly the limit is fine */
    assert_int_equal(dec(longp, out), 0);
    /* a small output buffer is reported, not overflowed */
    char small[4];
    assert_int_equal(http_path_decode("/abcdef", small, sizeof(small)), -ENAMETOOLONG);
}

static void test_pattern_check(void **state)
{
    (void)state;
    assert_int_equal(http_pattern_check("/"), 0);
    assert_int_equal(http_pattern_check("/api/ports/{index}/preview"), 0);
    assert_int_equal(http_pattern_check("/stream/{id}/{*rest}"), 0);
    assert_int_equal(http_pattern_check("api"), -EINVAL);
    assert_int_equal(http_pattern_check("/a//b"), -EINVAL);
    assert_int_equal(http_pattern_check("/a/"), -EINVAL);
    assert_int_equal(http_pattern_check("/{*rest}/x"), -EINVAL);
    assert_int_equal(http_pattern_check("/{}"), -EINVAL);
    assert_int_equal(http_pattern_check("/{a-b}"), -EINVAL);
    assert_int_equal(http_pattern_check("/x{a}"), -EINVAL);
    assert_int_equal(http_pattern_check(NULL), -EINVAL);
}

static bool match(const char *pattern, const char *path, const char *name0, const char *val0)
{
    struct http_param_span sp[HTTP_MAX_PARAMS];
    size_t n;
    if (!http_pattern_match(pattern, path, sp, &n))
        return false;
    if (!name0)
        return n == 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(name0) == sp[i].name_len && memcmp(sp[i].name, name0, sp[i].name_len) == 0)
            return strlen(val0) == sp[i].value_len &&
                   memcmp(sp[i].value, val0, sp[i].value_len) == 0;
    return false;
}

static void test_pattern_match(void **state)
{
    (void)state;
    assert_true(match("/", "/", NULL, NULL));
    assert_false(match("/", "/x", NULL, NULL));
    assert_true(match("/api/health", "/api/health", NULL, NULL));
    assert_false(match("/api/health", "/api/health/", NULL, NULL));
    assert_false(match("/api/health", "/api/healthz", NULL, NULL));
    assert_false(match("/api/health", "/api", NULL, NULL));
    assert_true(match("/api/ports/{index}/preview", "/api/ports/3/preview", "index", "3"));
    assert_false(match("/api/ports/{index}/preview", "/api/ports//preview", NULL, NULL));
    assert_false(match("/api/ports/{index}/preview", "/api/ports/./preview", NULL, NULL));
    assert_false(match("/api/ports/{index}/preview", "/api/ports/../preview", NULL, NULL));
    assert_false(match("/api/ports/{index}/preview", "/api/ports/1/2/preview", NULL, NULL));
    assert_true(match("/api/x/{a}/{b}", "/api/x/1/two", "b", "two"));
    assert_true(match("/web/{*rest}", "/web/a/b.js", "rest", "a/b.js"));
    assert_true(match("/web/{*rest}", "/web/index.html", "rest", "index.html"));
    assert_false(match("/web/{*rest}", "/web/", NULL, NULL));
    assert_false(match("/web/{*rest}", "/web", NULL, NULL));
    assert_false(match("/web/{*rest}", "/webx/a", NULL, NULL));
}

static void test_range(void **state)
{
    (void)state;
    uint64_t s, l;
    assert_int_equal(http_parse_range("BYTES=0-99", 1000, &s, &l), 1); /* unit is case-insensitive */
    assert_int_equal(s, 0);
    assert_int_equal(l, 100);
    assert_int_equal(http_parse_range("bytes=0-99", 1000, &s, &l), 1);
    assert_true(s == 0 && l == 100);
    assert_int_equal(http_parse_range("bytes=500-", 1000, &s, &l), 1);
    assert_true(s == 500 && l == 500);
    assert_int_equal(http_parse_range("bytes=-100", 1000, &s, &l), 1);
    assert_true(s == 900 && l == 100);
    assert_int_equal(http_parse_range("bytes=-5000", 1000, &s, &l), 1);
    assert_true(s == 0 && l == 1000);
    assert_int_equal(http_parse_range("bytes=990-5000", 1000, &s, &l), 1);
    assert_true(s == 990 && l == 10);
    assert_int_equal(http_parse_range("bytes=999-999", 1000, &s, &l), 1);
    assert_true(s == 999 && l == 1);
    /* unsatisfiable */
    assert_int_equal(http_parse_range("bytes=1000-", 1000, &s, &l), -1);
    assert_int_equal(http_parse_range("bytes=1000-2000", 1000, &s, &l), -1);
    assert_int_equal(http_parse_range("bytes=-0", 1000, &s, &l), -1);
    assert_int_equal(http_parse_range("bytes=0-", 0, &s, &l), -1);
    /* ignored: malformed or multiple ranges */
    assert_int_equal(http_parse_range("bytes=5-1", 1000, &s, &l), 0);
    assert_int_equal(http_parse_range("bytes=0-1,5-6", 1000, &s, &l), 0);
    assert_int_equal(http_parse_range("items=0-1", 1000, &s, &l), 0);
    assert_int_equal(http_parse_range("bytes=a-b", 1000, &s, &l), 0);
    assert_int_equal(http_parse_range("bytes=-", 1000, &s, &l), 0);
    assert_int_equal(http_parse_range("bytes=99999999999999999999-", 1000, &s, &l), 0);
    assert_int_equal(http_parse_range("bytes=+1-2", 1000, &s, &l), 0);
}

static void test_mime(void **state)
{
    (void)state;
    assert_string_equal(http_mime_type("a/b/index.m3u8"), "application/vnd.apple.mpegurl");
    assert_string_equal(http_mime_type("seg_001.ts"), "video/mp2t");
    assert_string_equal(http_mime_type("init.mp4"), "video/mp4");
    assert_string_equal(http_mime_type("p.m4s"), "video/mp4");
    assert_string_equal(http_mime_type("a.M4A"), "audio/mp4");
    assert_string_equal(http_mime_type("x.png"), "image/png");
    assert_string_equal(http_mime_type("dir.ts/file"), "application/octet-stream");
    assert_string_equal(http_cache_control("a.m3u8"), "no-cache");
    assert_string_equal(http_cache_control("a.ts"), "public, max-age=31536000, immutable");
    assert_string_equal(http_cache_control("a.m4s"), "public, max-age=31536000, immutable");
    assert_string_equal(http_cache_control("index.html"), "no-cache");
    assert_true(http_is_media("a.m3u8"));
    assert_true(http_is_media("a.ts"));
    assert_false(http_is_media("a.js"));
}

/* ---- confinement on a real folder ---- */

static char tmp[PATH_MAX];

static void write_file(const char *rel, const char *text)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_confine(void **state)
{
    (void)state;
    char p[PATH_MAX * 2], out[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "/tmp/hlsd-http-test-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    snprintf(p, sizeof(p), "%s/root", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/root/sub", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    write_file("root/a.txt", "a");
    write_file("root/sub/b.ts", "b");
    write_file("secret.txt", "secret");
    snprintf(p, sizeof(p), "%s/root/out", tmp);
    assert_int_equal(symlink("../secret.txt", p), 0);
    snprintf(p, sizeof(p), "%s/root/in", tmp);
    assert_int_equal(symlink("a.txt", p), 0);
    snprintf(p, sizeof(p), "%s/root/outdir", tmp);
    assert_int_equal(symlink("..", p), 0);
    snprintf(p, sizeof(p), "%s/root/subln", tmp);
    assert_int_equal(symlink("sub", p), 0);

    char root[PATH_MAX * 2];
    snprintf(root, sizeof(root), "%s/root", tmp);
    assert_int_equal(http_confine_path(root, "a.txt", out, sizeof(out)), 0);
    snprintf(p, sizeof(p), "%s/root/a.txt", tmp);
    char real[PATH_MAX];
    assert_non_null(realpath(p, real));
    assert_string_equal(out, real);
    assert_int_equal(http_confine_path(root, "sub/b.ts", out, sizeof(out)), 0);
    /* a symlinked folder that stays inside is fine */
    assert_int_equal(http_confine_path(root, "subln/b.ts", out, sizeof(out)), 0);

    assert_int_equal(http_confine_path(root, "missing", out, sizeof(out)), -ENOENT);
    assert_int_equal(http_confine_path(root, "a.txt/x", out, sizeof(out)), -ENOENT);
    assert_int_equal(http_confine_path(root, "out", out, sizeof(out)), -EACCES);
    assert_int_equal(http_confine_path(root, "in", out, sizeof(out)), -EACCES);
    assert_int_equal(http_confine_path(root, "outdir/secret.txt", out, sizeof(out)), -EACCES);
    assert_int_equal(http_confine_path(root, "sub", out, sizeof(out)), -EACCES);
    assert_int_equal(http_confine_path(root, "../secret.txt", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, "sub/../a.txt", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, "./a.txt", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, "/etc/passwd", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, "sub\\b.ts", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, "sub//b.ts", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, "", out, sizeof(out)), -EINVAL);
    assert_int_equal(http_confine_path(root, NULL, out, sizeof(out)), -EINVAL);
    snprintf(p, sizeof(p), "%s/nope", tmp);
    assert_int_equal(http_confine_path(p, "a.txt", out, sizeof(out)), -ENOENT);
}

/* ---- in-process server round trip ---- */

struct rt {
    struct loop *loop;
    struct http_server *srv;
    int port;
    int wake[2];
    struct http_request *held;
    int held_aborts;
    const char *reqs[16];
    char *answers[16];
};

static void *client_main(void *arg)
{
    struct rt *t = arg;
    for (int i = 0; t->reqs[i]; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            (void)!write(fd, t->reqs[i], strlen(t->reqs[i]));
            char buf[8192];
            size_t n = 0;
            ssize_t k;
            while (n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
                n += (size_t)k;
            buf[n] = '\0';
            t->answers[i] = strdup(buf);
        }
        close(fd);
    }
    (void)!write(t->wake[1], "x", 1);
    return NULL;
}

static void on_wake(void *arg, int fd, uint32_t ev)
{
    struct rt *t = arg;
    char c;
    (void)ev;
    (void)!read(fd, &c, 1);
    loop_stop(t->loop);
}

static void resume_held(void *arg)
{
    struct rt *t = arg;
    if (t->held)
        http_respond_error(t->held, 502, "resumed");
    t->held = NULL;
}

static int h_echo(void *arg, struct http_request *r)
{
    (void)arg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", http_req_param(r, "id"));
    const char *q = http_req_query(r, "q");
    cJSON_AddStringToObject(o, "q", q ? q : "");
    int ret = http_respond_json(r, 200, o);
    cJSON_Delete(o);
    return ret;
}

static int h_hold(void *arg, struct http_request *r)
{
    struct rt *t = arg;
    t->held = r;
    loop_timer_add(t->loop, 0.2, resume_held, t);
    return http_suspend(r, 5, NULL, NULL, NULL);
}

static int h_fail(void *arg, struct http_request *r)
{
    (void)arg;
    (void)r;
    return -EIO;
}

static int h_post(void *arg, struct http_request *r)
{
    (void)arg;
    size_t len;
    const char *b = http_req_body(r, &len);
    char msg[64];
    snprintf(msg, sizeof(msg), "got %zu", b ? len : 0);
    return http_respond_data(r, 201, "text/plain", msg, strlen(msg));
}

struct route_counts {
    unsigned long health_2xx, echo_2xx, hold_5xx, unmatched_4xx, post_4xx;
};

static void count_route(void *arg, const char *method, const char *pattern,
                        const unsigned long by_class[6])
{
    struct route_counts *rc = arg;
    if (strcmp(pattern, "/api/health") == 0)
        rc->health_2xx = by_class[2];
    else if (strcmp(pattern, "/x/{id}") == 0 && strcmp(method, "GET") == 0)
        rc->echo_2xx = by_class[2];
    else if (strcmp(pattern, "/x/{id}") == 0 && strcmp(method, "POST") == 0)
        rc->post_4xx = by_class[4];
    else if (strcmp(pattern, "/hold") == 0)
        rc->hold_5xx = by_class[5];
    else if (strcmp(pattern, "(unmatched)") == 0 && strcmp(method, "*") == 0)
        rc->unmatched_4xx = by_class[4];
}

static struct hlsd_config test_cfg;
static char test_web[PATH_MAX * 2];

static void start_server(struct rt *t)
{
    snprintf(test_web, sizeof(test_web), "%s/root", tmp);
    memset(&test_cfg, 0, sizeof(test_cfg));
    test_cfg.listen_addr = "127.0.0.1";
    test_cfg.web_dir = test_web;
    test_cfg.limits = (struct cfg_limits){.max_connections = 64,
                                          .connection_timeout = 5,
                                          .max_request_bytes = 100,
                                          .connection_memory = 32768};
    /* pick a free port */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    t->port = ntohs(a.sin_port);
    test_cfg.listen_port = t->port;

    assert_int_equal(loop_new(&t->loop), 0);
    assert_int_equal(pipe(t->wake), 0);
    assert_int_equal(loop_add_fd(t->loop, t->wake[0], EPOLLIN, on_wake, t), 0);
    assert_int_equal(http_server_new(t->loop, &test_cfg, &t->srv), 0);
}

static void run_clients(struct rt *t, const char *const *reqs)
{
    size_t n = 0;
    while (reqs[n])
        n++;
    assert_true(n < sizeof(t->reqs) / sizeof(t->reqs[0]));
    memcpy(t->reqs, reqs, (n + 1) * sizeof(*reqs));
    assert_int_equal(http_server_start(t->srv), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_main, t), 0);
    assert_int_equal(loop_run(t->loop), 0);
    pthread_join(th, NULL);
    for (size_t i = 0; i < n; i++)
        assert_non_null(t->answers[i]);
}

/* Answer i contains needle; on failure, the whole answer is shown. */
static void assert_answer(const struct rt *t, int i, const char *needle)
{
    if (!strstr(t->answers[i], needle))
        fail_msg("answer %d lacks '%s':\n%s", i, needle, t->answers[i]);
}

static void stop_server(struct rt *t)
{
    for (int i = 0; t->reqs[i]; i++)
        free(t->answers[i]);
    http_server_free(&t->srv);
    assert_null(t->srv);
    http_server_free(NULL);
    loop_del_fd(t->loop, t->wake[0]);
    close(t->wake[0]);
    close(t->wake[1]);
    loop_free(&t->loop);
}

static void test_server_roundtrip(void **state)
{
    (void)state;
    struct rt t = {0};
    start_server(&t);
    assert_int_equal(http_route(t.srv, "GET", "/x/{id}", 0, h_echo, &t), 0);
    assert_int_equal(http_route(t.srv, "GET", "/hold", 0, h_hold, &t), 0);
    assert_int_equal(http_route(t.srv, "GET", "/fail", 0, h_fail, &t), 0);
    assert_int_equal(http_route(t.srv, "POST", "/x/{id}", 0, h_post, &t), 0);
    assert_int_equal(http_route(t.srv, "GET", "bad", 0, h_echo, &t), -EINVAL);

    static const char *const reqs[] = {
        "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /x/7?q=a%20b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "DELETE /x/7 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /%2e%2e/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /fail HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "POST /x/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 500\r\n\r\n",
        "POST /x/9 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
        "application/json\r\nContent-Length: 5\r\n\r\nhello",
        NULL};
    run_clients(&t, reqs);

    assert_answer(&t, 0, "HTTP/1.1 200");
    assert_answer(&t, 0, "{\"status\":\"ok\"}");
    assert_answer(&t, 1, "HTTP/1.1 200");
    assert_answer(&t, 1, "{\"id\":\"7\",\"q\":\"a b\"}");
    assert_answer(&t, 2, "HTTP/1.1 405");
    assert_answer(&t, 2, "Allow: GET, HEAD, POST");
    assert_answer(&t, 2, "\"success\":false");
    assert_answer(&t, 3, "HTTP/1.1 400");
    assert_answer(&t, 4, "HTTP/1.1 502");
    assert_answer(&t, 4, "{\"success\":false,\"message\":\"resumed\"}");
    assert_answer(&t, 5, "HTTP/1.1 500");
    assert_answer(&t, 6, "HTTP/1.1 413");
    assert_answer(&t, 7, "HTTP/1.1 201");
    assert_answer(&t, 7, "got 5");

    struct http_stats st;
    http_server_stats(t.srv, &st);
    assert_int_equal(st.requests, 8);
    assert_int_equal(st.suspended_now, 0);
    assert_int_equal(st.responses_by_class[2], 3);
    assert_int_equal(st.responses_by_class[4], 3);
    assert_int_equal(st.responses_by_class[5], 2);

    struct route_counts rc = {0};
    http_server_foreach_route(t.srv, count_route, &rc);
    assert_int_equal(rc.health_2xx, 1);
    assert_int_equal(rc.echo_2xx, 1);
    assert_int_equal(rc.hold_5xx, 1);
    assert_int_equal(rc.unmatched_4xx, 3); /* 405, the malformed path, 413 */
    assert_int_equal(rc.post_4xx, 0);      /* 413 comes before routing */
    stop_server(&t);
}

/* ---- authentication hook ---- */

static struct cfg_user viewer_user;

/* X-User: admin | viewer | (anything else: 401 answered by the hook) */
static bool test_auth(void *arg, struct http_request *r, struct http_principal *who)
{
    (void)arg;
    const char *u = http_req_header(r, "X-User");
    if (u && strcmp(u, "admin") == 0) {
        *who = (struct http_principal){"admin", true, NULL};
        return true;
    }
    if (u && strcmp(u, "viewer") == 0) {
        *who = (struct http_principal){"viewer", false, &viewer_user};
        return true;
    }
    http_respond_error(r, 401, "who are you");
    return false;
}

static int h_whoami(void *arg, struct http_request *r)
{
    (void)arg;
    const struct http_principal *p = http_req_principal(r);
    char msg[128];
    snprintf(msg, sizeof(msg), "%s admin=%d cam1=%d cam2=%d", p->name, p->admin,
             http_req_may_see(r, "cam1"), http_req_may_see(r, "cam2"));
    return http_respond_data(r, 200, "text/plain", msg, strlen(msg));
}

static void test_server_auth(void **state)
{
    (void)state;
    struct rt t = {0};
    char *cams[] = {"cam1"};
    viewer_user = (struct cfg_user){.name = "viewer", .cameras = cams, .n_cameras = 1};
    start_server(&t);
    http_server_set_auth(t.srv, test_auth, NULL);
    assert_int_equal(http_route(t.srv, "GET", "/who", 0, h_whoami, &t), 0);
    assert_int_equal(http_route(t.srv, "GET", "/admin", HTTP_ROUTE_ADMIN, h_whoami, &t), 0);
    assert_int_equal(http_route(t.srv, "GET", "/open", HTTP_ROUTE_PUBLIC, h_whoami, &t), 0);
    static const char *const reqs[] = {
        "GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: viewer\r\nConnection: close\r\n\r\n",
        "GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: admin\r\nConnection: close\r\n\r\n",
        "GET /admin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: viewer\r\nConnection: close\r\n\r\n",
        "GET /admin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: admin\r\nConnection: close\r\n\r\n",
        "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        NULL};
    run_clients(&t, reqs);
    assert_answer(&t, 0, "HTTP/1.1 401");
    assert_answer(&t, 0, "who are you");
    assert_answer(&t, 1, "viewer admin=0 cam1=1 cam2=0");
    assert_answer(&t, 2, "admin admin=1 cam1=1 cam2=1");
    assert_answer(&t, 3, "HTTP/1.1 403");
    assert_answer(&t, 3, "\"success\":false");
    assert_answer(&t, 4, "HTTP/1.1 200");
    assert_answer(&t, 5, "anonymous admin=0 cam1=0 cam2=0");
    assert_answer(&t, 6, "HTTP/1.1 200");
    assert_answer(&t, 7, "HTTP/1.1 404");
    stop_server(&t);

    /* a viewer with no camera list sees everything */
    viewer_user.n_cameras = 0;
    struct rt t2 = {0};
    start_server(&t2);
    http_server_set_auth(t2.srv, test_auth, NULL);
    assert_int_equal(http_route(t2.srv, "GET", "/who", 0, h_whoami, &t2), 0);
    static const char *const reqs2[] = {
        "GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: viewer\r\nConnection: close\r\n\r\n", NULL};
    run_clients(&t2, reqs2);
    assert_answer(&t2, 0, "viewer admin=0 cam1=1 cam2=1");
    stop_server(&t2);

    /* without a hook everyone is an admin called anonymous */
    struct rt t3 = {0};
    start_server(&t3);
    assert_int_equal(http_route(t3.srv, "GET", "/who", 0, h_whoami, &t3), 0);
    static const char *const reqs3[] = {"GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                        NULL};
    run_clients(&t3, reqs3);
    assert_answer(&t3, 0, "anonymous admin=1 cam1=1 cam2=1");
    stop_server(&t3);
}

static int teardown_group(void **state)
{
    (void)state;
    return tmp[0] && util_rm_rf(tmp) < 0 ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_decode_ok), cmocka_unit_test(test_path_decode_hostile),
        cmocka_unit_test(test_pattern_check),  cmocka_unit_test(test_pattern_match),
        cmocka_unit_test(test_range),          cmocka_unit_test(test_mime),
        cmocka_unit_test(test_confine),        cmocka_unit_test(test_server_roundtrip),
        cmocka_unit_test(test_server_auth),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_group);
}
