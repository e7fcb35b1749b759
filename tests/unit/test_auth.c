/* Access-control rules without HTTP: token hashes, sessions and their expiry,
 * the failed-login rate limit, and the generated admin token file. */
#include "core/config.h"
#include "core/util.h"
#include "core/digest.h"
#include "app/auth_store.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* sha256("hello"), sha256("world") */
#define HELLO_SHA "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define WORLD_SHA "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

static char *cams[] = {"cam-1", "cam-2"};
static struct cfg_user users[] = {
    {.name = "alice", .role = CFG_ROLE_ADMIN, .token_sha256 = HELLO_SHA},
    {.name = "bob",
     .role = CFG_ROLE_VIEWER,
     .cameras = cams,
     .n_cameras = 2,
     .token_sha256 = WORLD_SHA},
};

static void test_token_check(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    assert_int_equal(auth_store_new(users, 2, NULL, 10, &s), 0);
    assert_ptr_equal(auth_store_check_token(s, "hello"), &users[0]);
    assert_ptr_equal(auth_store_check_token(s, "world"), &users[1]);
    assert_null(auth_store_check_token(s, "hello "));
    assert_null(auth_store_check_token(s, "Hello"));
    assert_null(auth_store_check_token(s, ""));
    assert_null(auth_store_check_token(s, NULL));
    /* The hash itself is not a token. */
    assert_null(auth_store_check_token(s, HELLO_SHA));
    char big[AUTH_TOKEN_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_null(auth_store_check_token(s, big));
    auth_store_free(&s);
    assert_null(s);
    auth_store_free(&s);
    auth_store_free(NULL);
}

static void test_generated_admin(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    /* Upper-case hex is accepted. */
    assert_int_equal(
        auth_store_new(NULL, 0, "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
                       10, &s),
        0);
    const struct cfg_user *u = auth_store_check_token(s, "hello");
    assert_non_null(u);
    assert_string_equal(u->name, "admin");
    assert_int_equal(u->role, CFG_ROLE_ADMIN);
    assert_null(auth_store_check_token(s, "world"));
    auth_store_free(&s);

    /* Configured users win over a generated hash. */
    assert_int_equal(auth_store_new(users, 2, WORLD_SHA, 10, &s), 0);
    assert_ptr_equal(auth_store_check_token(s, "world"), &users[1]);
    auth_store_free(&s);

    assert_int_equal(auth_store_new(NULL, 0, "abc", 10, &s), -EINVAL);
    assert_null(s);
    /* No users and no hash: nobody gets in. */
    assert_int_equal(auth_store_new(NULL, 0, NULL, 10, &s), 0);
    assert_null(auth_store_check_token(s, "hello"));
    auth_store_free(&s);
}

static void test_sessions(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    char k1[65], k2[65];
    assert_int_equal(auth_store_new(users, 2, NULL, 10, &s), 0);
    assert_int_equal(auth_store_session_new(s, &users[0], 100, k1), 0);
    assert_int_equal(auth_store_session_new(s, &users[1], 100, k2), 0);
    assert_int_equal(strlen(k1), 64);
    assert_int_equal(strspn(k1, "0123456789abcdef"), 64);
    assert_string_not_equal(k1, k2);
    assert_int_equal(auth_store_session_count(s), 2);

    assert_ptr_equal(auth_store_session_get(s, k1, 101), &users[0]);
    assert_ptr_equal(auth_store_session_get(s, k2, 101), &users[1]);
    char wrong[65];
    memcpy(wrong, k1, 65);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    assert_null(auth_store_session_get(s, wrong, 101));
    assert_null(auth_store_session_get(s, "short", 101));
    assert_null(auth_store_session_get(s, NULL, 101));

    /* Use keeps a session alive; idleness ends it. */
    double t = 101 + AUTH_SESSION_IDLE_SECONDS - 1;
    assert_ptr_equal(auth_store_session_get(s, k1, t), &users[0]);
    assert_ptr_equal(auth_store_session_get(s, k1, t + AUTH_SESSION_IDLE_SECONDS - 1), &users[0]);
    assert_null(auth_store_session_get(s, k2, t + 2));
    assert_int_equal(auth_store_session_count(s), 1);

    /* Logout. */
    assert_true(auth_store_session_end(s, k1));
    assert_false(auth_store_session_end(s, k1));
    assert_null(auth_store_session_get(s, k1, t + 3));
    assert_int_equal(auth_store_session_count(s), 0);
    auth_store_free(&s);
}

/* A viewer logging in thousands of times only ever ends their own oldest
 * sessions, never the admin's (issue 12: one global LRU let any user log
 * everyone out). */
static void test_sessions_capped_per_user(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    char admin[65], first[65], touched[65], key[65];
    assert_int_equal(auth_store_new(users, 2, NULL, 10, &s), 0);
    assert_int_equal(auth_store_session_new(s, &users[0], 1, admin), 0);
    assert_int_equal(auth_store_session_new(s, &users[1], 2, first), 0);
    assert_int_equal(auth_store_session_new(s, &users[1], 3, touched), 0);
    for (int i = 0; i < 5000; i++) {
        /* keep one session in use: the user's least recently used ones go */
        assert_non_null(auth_store_session_get(s, touched, 4 + i));
        assert_int_equal(auth_store_session_new(s, &users[1], 4.5 + i, key), 0);
    }
    assert_int_equal(auth_store_session_count_for(s, &users[1]), AUTH_MAX_SESSIONS_PER_USER);
    assert_int_equal(auth_store_session_count_for(s, &users[0]), 1);
    assert_int_equal(auth_store_session_count(s), AUTH_MAX_SESSIONS_PER_USER + 1);
    assert_ptr_equal(auth_store_session_get(s, admin, 6000), &users[0]);
    assert_null(auth_store_session_get(s, first, 6000));
    assert_ptr_equal(auth_store_session_get(s, touched, 6000), &users[1]);
    assert_ptr_equal(auth_store_session_get(s, key, 6000), &users[1]);
    auth_store_free(&s);
}

/* With more users than the table holds at AUTH_MAX_SESSIONS_PER_USER each,
 * a full table takes from whoever holds the most: a user with one session
 * keeps it. */
static void test_full_table_takes_from_the_biggest_holder(void **state)
{
    (void)state;
    enum { N = AUTH_MAX_SESSIONS / AUTH_MAX_SESSIONS_PER_USER + 8 };
    static struct cfg_user many[N];
    static char names[N][16];
    struct auth_store *s = NULL;
    char lone[65], key[65];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "u%d", i);
        many[i] = users[1];
        many[i].name = names[i];
    }
    assert_int_equal(auth_store_new(many, N, NULL, 10, &s), 0);
    assert_int_equal(auth_store_session_new(s, &many[0], 0, lone), 0);
    double t = 1;
    for (int u = 1; u < N; u++)
        for (int k = 0; k < AUTH_MAX_SESSIONS_PER_USER; k++)
            assert_int_equal(auth_store_session_new(s, &many[u], t++, key), 0);
    assert_int_equal(auth_store_session_count(s), AUTH_MAX_SESSIONS);
    assert_ptr_equal(auth_store_session_get(s, lone, t), &many[0]);
    assert_ptr_equal(auth_store_session_get(s, key, t), &many[N - 1]);
    for (int u = 1; u < N; u++)
        assert_true(auth_store_session_count_for(s, &many[u]) <= AUTH_MAX_SESSIONS_PER_USER);
    auth_store_free(&s);
}

static void test_login_rate_limit(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    assert_int_equal(auth_store_new(users, 2, NULL, 10, &s), 0);
    for (int i = 0; i < AUTH_LOGINS_PER_MINUTE; i++) {
        assert_float_equal(auth_store_login_blocked_for(s, &users[1], "10.0.0.1", i * 0.1), 0, 0);
        auth_store_record_login(s, &users[1], "10.0.0.1", i * 0.1);
    }
    /* the user is limited from any address, the address for any user */
    assert_true(auth_store_login_blocked_for(s, &users[1], "10.0.0.9", 3) > 50);
    assert_true(auth_store_login_blocked_for(s, &users[0], "10.0.0.1", 3) > 50);
    /* others are not */
    assert_float_equal(auth_store_login_blocked_for(s, &users[0], "10.0.0.9", 3), 0, 0);
    /* failed-token lockout is separate: logins did not count as failures */
    assert_float_equal(auth_store_blocked_for(s, "10.0.0.1", 3), 0, 0);
    /* the window ends */
    assert_float_equal(auth_store_login_blocked_for(s, &users[1], "10.0.0.1", 61), 0, 0);
    auth_store_free(&s);
}

static void test_rate_limit(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    assert_int_equal(auth_store_new(users, 2, NULL, 3, &s), 0);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 0), 0, 0);
    auth_store_record_failure(s, "10.1.1.1", 0);
    auth_store_record_failure(s, "10.1.1.1", 1);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 2), 0, 0);
    auth_store_record_failure(s, "10.1.1.1", 2);
    /* The third failure in the window blocks until the window ends. */
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 3), 57, 1e-9);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.2", 3), 0, 0);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 59.5), 0.5, 1e-9);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 60), 0, 0);
    /* A new window starts with the next failure. */
    auth_store_record_failure(s, "10.1.1.1", 61);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 62), 0, 0);
    auth_store_free(&s);

    /* 0 = unlimited. */
    assert_int_equal(auth_store_new(users, 2, NULL, 0, &s), 0);
    for (int i = 0; i < 100; i++)
        auth_store_record_failure(s, "10.1.1.1", i * 0.01);
    assert_float_equal(auth_store_blocked_for(s, "10.1.1.1", 1), 0, 0);
    auth_store_free(&s);
}

static void test_rate_limit_table_full(void **state)
{
    (void)state;
    struct auth_store *s = NULL;
    char addr[64];
    assert_int_equal(auth_store_new(users, 2, NULL, 1, &s), 0);
    auth_store_record_failure(s, "victim", 0);
    assert_true(auth_store_blocked_for(s, "victim", 1) > 0);
    /* A flood of other addresses takes the oldest slots, never blocks a new one. */
    for (int i = 0; i < AUTH_MAX_TRACKED_ADDRS + 10; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        auth_store_record_failure(s, addr, 2 + i * 1e-4);
        assert_true(auth_store_blocked_for(s, addr, 3) > 0);
    }
    assert_float_equal(auth_store_blocked_for(s, "fresh", 3), 0, 0);
    auth_store_free(&s);
}

static void test_admin_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/hlsd-test-auth-XXXXXX";
    char hash[65], hash2[65], token[49], token2[49], path[4096], file[4200];
    struct stat st;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/admin_token.sha256", dir);

    assert_int_equal(auth_admin_hash_load_or_create(dir, hash, token, path, sizeof(path)), 0);
    assert_string_equal(path, file);
    assert_int_equal(strlen(token), 48);
    assert_int_equal(strspn(token, "0123456789abcdef"), 48);
    char want[65];
    assert_int_equal(digest_sha256_hex(token, strlen(token), want), 0);
    assert_string_equal(hash, want);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(file, 4096, &text, &len), 0);
    assert_int_equal(len, 65);
    assert_memory_equal(text, want, 64);
    assert_int_equal(text[64], '\n');
    free(text);

    /* Second start: the same hash, no token. */
    assert_int_equal(auth_admin_hash_load_or_create(dir, hash2, token2, NULL, 0), 0);
    assert_string_equal(hash2, hash);
    assert_string_equal(token2, "");

    /* A hand-edited file: white space and upper case are fine. */
    char edited[80];
    snprintf(edited, sizeof(edited), "  %s\r\n",
             "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824");
    assert_int_equal(util_write_file_atomic(file, edited, strlen(edited)), 0);
    assert_int_equal(auth_admin_hash_load_or_create(dir, hash2, token2, NULL, 0), 0);
    assert_string_equal(hash2, HELLO_SHA);

    /* Garbage is refused, not replaced. */
    assert_int_equal(util_write_file_atomic(file, "not a hash\n", 11), 0);
    assert_int_equal(auth_admin_hash_load_or_create(dir, hash2, token2, NULL, 0), -EINVAL);
    assert_string_equal(token2, "");

    /* A state folder that does not exist. */
    char missing[4200];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    assert_int_equal(auth_admin_hash_load_or_create(missing, hash2, token2, NULL, 0), -ENOENT);
    assert_int_equal(util_rm_rf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_check),
        cmocka_unit_test(test_generated_admin),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_sessions_capped_per_user),
        cmocka_unit_test(test_full_table_takes_from_the_biggest_holder),
        cmocka_unit_test(test_login_rate_limit),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_rate_limit_table_full),
        cmocka_unit_test(test_admin_token_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
