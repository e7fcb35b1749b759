/* Access-control state: users, sessions, failed-login windows, and the
 * generated admin token. See auth_store.h. */
#include "app/auth_store.h"

#include "core/util.h"
#include "core/digest.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE_WINDOW_SECONDS 60.0

struct auth_session {
    char key[65];
    const struct cfg_user *user;
    double last_used;
};

struct auth_attempts {
    char addr[80]; /* the window's key (see attempts_find), "" = free slot */
    double window_start;
    int failures;
};

struct auth_store {
    const struct cfg_user *users;
    size_t n_users;
    struct cfg_user generated_admin; /* used when no users are configured */
    int attempts_per_minute;
    struct auth_session *sessions;
    size_t n_sessions;
    struct auth_attempts *attempts; /* AUTH_MAX_TRACKED_ADDRS slots */
};

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return false;
    return n == 64;
}

int auth_store_new(const struct cfg_user *users, size_t n_users, const char *admin_hash,
                   int attempts_per_minute, struct auth_store **out)
{
    struct auth_store *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return -ENOMEM;
    s->attempts = calloc(AUTH_MAX_TRACKED_ADDRS, sizeof(*s->attempts));
    if (!s->attempts) {
        free(s);
        return -ENOMEM;
    }
    s->attempts_per_minute = attempts_per_minute;
    if (n_users > 0) {
        s->users = users;
        s->n_users = n_users;
    } else if (admin_hash) {
        if (!is_hex64(admin_hash)) {
            auth_store_free(&s);
            return -EINVAL;
        }
        s->generated_admin.name = util_xstrdup("admin");
        s->generated_admin.role = CFG_ROLE_ADMIN;
        s->generated_admin.token_sha256 = util_xstrdup(admin_hash);
        for (char *p = s->generated_admin.token_sha256; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        s->users = &s->generated_admin;
        s->n_users = 1;
    }
    *out = s;
    return 0;
}

void auth_store_free(struct auth_store **sp)
{
    struct auth_store *s = sp ? *sp : NULL;
    if (!s)
        return;
    /* Session keys are credentials: do not leave them in freed memory. */
    if (s->sessions)
        memset(s->sessions, 0, s->n_sessions * sizeof(*s->sessions));
    free(s->sessions);
    free(s->attempts);
    free(s->generated_admin.name);
    free(s->generated_admin.token_sha256);
    free(s);
    *sp = NULL;
}

const struct cfg_user *auth_store_check_token(const struct auth_store *s, const char *token)
{
    char hash[65];
    const struct cfg_user *match = NULL;
    if (!s || !token || !*token || strlen(token) > AUTH_TOKEN_MAX)
        return NULL;
    if (digest_sha256_hex(token, strlen(token), hash) < 0)
        return NULL;
    /* Every user is compared, so the time taken does not tell which matched. */
    for (size_t i = 0; i < s->n_users; i++) {
        int eq = digest_equal(hash, s->users[i].token_sha256);
        if (eq && !match)
            match = &s->users[i];
    }
    return match;
}

static void session_remove(struct auth_store *s, size_t i)
{
    s->sessions[i] = s->sessions[s->n_sessions - 1];
    memset(&s->sessions[s->n_sessions - 1], 0, sizeof(s->sessions[0]));
    s->n_sessions--;
}

static void sessions_prune(struct auth_store *s, double now)
{
    for (size_t i = 0; i < s->n_sessions;) {
        if (now - s->sessions[i].last_used >= AUTH_SESSION_IDLE_SECONDS)
            session_remove(s, i);
        else
            i++;
    }
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const void *const *)a, y = (uintptr_t) * (const void *const *)b;
    return x < y ? -1 : x > y;
}

/* Which session to drop for a new one of user: the user's own least
 * recently used when the user has AUTH_MAX_SESSIONS_PER_USER; when the table
 * is full, the least recently used of whoever holds the most sessions (so
 * one user's logins never end another user's sessions while others hold
 * fewer). -1 = none. */
static long session_victim(const struct auth_store *s, const struct cfg_user *user)
{
    long own = -1, own_n = 0;
    for (size_t i = 0; i < s->n_sessions; i++) {
        if (s->sessions[i].user != user)
            continue;
        own_n++;
        if (own < 0 || s->sessions[i].last_used < s->sessions[own].last_used)
            own = (long)i;
    }
    if (own_n >= AUTH_MAX_SESSIONS_PER_USER)
        return own;
    if (s->n_sessions < AUTH_MAX_SESSIONS)
        return -1;
    /* Who holds the most: count runs of the sorted user pointers. */
    static const struct cfg_user *by_user[AUTH_MAX_SESSIONS];
    const struct cfg_user *top = NULL;
    size_t top_n = 0;
    for (size_t i = 0; i < s->n_sessions; i++)
        by_user[i] = s->sessions[i].user;
    qsort(by_user, s->n_sessions, sizeof(by_user[0]), cmp_ptr);
    for (size_t i = 0, run = 0; i < s->n_sessions; i++) {
        run = i > 0 && by_user[i] == by_user[i - 1] ? run + 1 : 1;
        if (run > top_n) {
            top_n = run;
            top = by_user[i];
        }
    }
    long lru = -1;
    for (size_t i = 0; i < s->n_sessions; i++)
        if (s->sessions[i].user == top &&
            (lru < 0 || s->sessions[i].last_used < s->sessions[lru].last_used))
            lru = (long)i;
    return lru;
}

int auth_store_session_new(struct auth_store *s, const struct cfg_user *user, double now,
                           char key[65])
{
    int r;
    sessions_prune(s, now);
    long victim = s->sessions ? session_victim(s, user) : -1;
    if (victim >= 0)
        session_remove(s, (size_t)victim);
    if (!s->sessions) {
        s->sessions = calloc(AUTH_MAX_SESSIONS, sizeof(*s->sessions));
        if (!s->sessions)
            return -ENOMEM;
    }
    r = util_random_hex(key, 32);
    if (r < 0)
        return r;
    struct auth_session *se = &s->sessions[s->n_sessions++];
    memcpy(se->key, key, 65);
    se->user = user;
    se->last_used = now;
    return 0;
}

size_t auth_store_session_count_for(const struct auth_store *s, const struct cfg_user *user)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n_sessions; i++)
        n += s->sessions[i].user == user;
    return n;
}

/* Index of the session with this key, or -1; compares every key in constant time. */
static long session_find(const struct auth_store *s, const char *key)
{
    long found = -1;
    if (!key || strlen(key) != 64)
        return -1;
    for (size_t i = 0; i < s->n_sessions; i++) {
        int eq = digest_equal(key, s->sessions[i].key);
        if (eq && found < 0)
            found = (long)i;
    }
    return found;
}

const struct cfg_user *auth_store_session_get(struct auth_store *s, const char *key, double now)
{
    long i = session_find(s, key);
    if (i < 0)
        return NULL;
    if (now - s->sessions[i].last_used >= AUTH_SESSION_IDLE_SECONDS) {
        session_remove(s, (size_t)i);
        return NULL;
    }
    s->sessions[i].last_used = now;
    return s->sessions[i].user;
}

bool auth_store_session_end(struct auth_store *s, const char *key)
{
    long i = session_find(s, key);
    if (i < 0)
        return false;
    session_remove(s, (size_t)i);
    return true;
}

size_t auth_store_session_count(const struct auth_store *s)
{
    return s ? s->n_sessions : 0;
}

/* The windows are one table of keyed counters: "f:ADDR" failed token
 * checks, "l:ADDR" and "u:USER" successful logins. */
static struct auth_attempts *attempts_find(struct auth_store *s, const char *key)
{
    for (size_t i = 0; i < AUTH_MAX_TRACKED_ADDRS; i++)
        if (s->attempts[i].addr[0] && strcmp(s->attempts[i].addr, key) == 0)
            return &s->attempts[i];
    return NULL;
}

static double window_blocked_for(struct auth_store *s, const char *key, int limit, double now)
{
    struct auth_attempts *a = attempts_find(s, key);
    if (!a || now - a->window_start >= RATE_WINDOW_SECONDS || a->failures < limit)
        return 0;
    return a->window_start + RATE_WINDOW_SECONDS - now;
}

static void window_count(struct auth_store *s, const char *key, double now)
{
    struct auth_attempts *a = attempts_find(s, key);
    if (!a) {
        /* A free or expired slot, else the oldest window (a flood of
         * addresses can only make the limit forget, never block others). */
        size_t pick = 0;
        for (size_t i = 0; i < AUTH_MAX_TRACKED_ADDRS; i++) {
            struct auth_attempts *c = &s->attempts[i];
            if (!c->addr[0] || now - c->window_start >= RATE_WINDOW_SECONDS) {
                pick = i;
                break;
            }
            if (c->window_start < s->attempts[pick].window_start)
                pick = i;
        }
        a = &s->attempts[pick];
        snprintf(a->addr, sizeof(a->addr), "%s", key);
        a->failures = 0;
        a->window_start = now;
    } else if (now - a->window_start >= RATE_WINDOW_SECONDS) {
        a->failures = 0;
        a->window_start = now;
    }
    a->failures++;
}

static void window_key(char *buf, size_t size, char kind, const char *name)
{
    snprintf(buf, size, "%c:%s", kind, name);
}

double auth_store_blocked_for(struct auth_store *s, const char *addr, double now)
{
    char key[80];
    if (!s || s->attempts_per_minute <= 0 || !addr)
        return 0;
    window_key(key, sizeof(key), 'f', addr);
    return window_blocked_for(s, key, s->attempts_per_minute, now);
}

void auth_store_record_failure(struct auth_store *s, const char *addr, double now)
{
    char key[80];
    if (!s || s->attempts_per_minute <= 0 || !addr)
        return;
    window_key(key, sizeof(key), 'f', addr);
    window_count(s, key, now);
}

double auth_store_login_blocked_for(struct auth_store *s, const struct cfg_user *user,
                                    const char *addr, double now)
{
    char key[80];
    double w = 0, v;
    if (!s)
        return 0;
    if (addr) {
        window_key(key, sizeof(key), 'l', addr);
        w = window_blocked_for(s, key, AUTH_LOGINS_PER_MINUTE, now);
    }
    if (user) {
        window_key(key, sizeof(key), 'u', user->name);
        v = window_blocked_for(s, key, AUTH_LOGINS_PER_MINUTE, now);
        if (v > w)
            w = v;
    }
    return w;
}

void auth_store_record_login(struct auth_store *s, const struct cfg_user *user, const char *addr,
                             double now)
{
    char key[80];
    if (!s)
        return;
    if (addr) {
        window_key(key, sizeof(key), 'l', addr);
        window_count(s, key, now);
    }
    if (user) {
        window_key(key, sizeof(key), 'u', user->name);
        window_count(s, key, now);
    }
}

int auth_admin_hash_load_or_create(const char *state_dir, char hash[65], char token_out[49],
                                   char *path_out, size_t path_len)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    int r;

    token_out[0] = '\0';
    r = util_fmt(path, sizeof(path), "%s/admin_token.sha256", state_dir);
    if (r < 0)
        return r;
    if (path_out && path_len)
        snprintf(path_out, path_len, "%s", path);
    r = util_read_file(path, 4096, &text, &len);
    if (r == 0) {
        /* Accept the hash with surrounding white space (an editor's newline). */
        char *p = text, *end = text + len;
        while (p < end && isspace((unsigned char)*p))
            p++;
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        r = is_hex64(p) ? 0 : -EINVAL;
        if (r == 0) {
            for (int i = 0; i < 64; i++)
                hash[i] = (char)tolower((unsigned char)p[i]);
            hash[64] = '\0';
        }
        free(text);
        return r;
    }
    if (r != -ENOENT)
        return r;

    r = util_random_hex(token_out, 24);
    if (r < 0)
        return r;
    r = digest_sha256_hex(token_out, strlen(token_out), hash);
    if (r < 0)
        goto fail;
    char line[66];
    snprintf(line, sizeof(line), "%s\n", hash);
    r = util_write_file_private(path, line, 65);
    if (r < 0)
        goto fail;
    return 0;
fail:
    memset(token_out, 0, 49);
    return r;
}
