/* The state behind access control, without HTTP: token verification against
 * the configured users, login sessions, the failed-login rate limit, and the
 * generated admin token of a first start. Times are passed in (monotonic
 * seconds) so the rules can be tested without waiting. */
#ifndef HLSD_AUTH_STORE_H
#define HLSD_AUTH_STORE_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>

#define AUTH_SESSION_IDLE_SECONDS (24 * 3600.0) /* a login session unused this long ends */
#define AUTH_MAX_SESSIONS 4096                  /* in all (see auth_store_session_new) */
#define AUTH_MAX_SESSIONS_PER_USER 16           /* a user's own oldest goes first */
#define AUTH_LOGINS_PER_MINUTE 20               /* successful logins per user, per address */
#define AUTH_MAX_TRACKED_ADDRS 4096             /* rate-limit table size */
#define AUTH_TOKEN_MAX 512                      /* longer tokens are refused unhashed */

struct auth_store;

/* users: the configured users. When there are none, admin_hash (the SHA-256
 * of the generated admin token, 64 hex characters, may be NULL) becomes one
 * admin user named "admin". attempts_per_minute: failed token checks allowed
 * per client address per minute (0 = unlimited). The store borrows users and
 * copies admin_hash; *out is freed with auth_store_free(). */
int auth_store_new(const struct cfg_user *users, size_t n_users, const char *admin_hash,
                   int attempts_per_minute, struct auth_store **out);
void auth_store_free(struct auth_store **s);

/* The user whose token_sha256 is SHA-256(token), or NULL. The hash is
 * compared with every user's in constant time, with no early exit. */
const struct cfg_user *auth_store_check_token(const struct auth_store *s, const char *token);

/* Creates a session for user; key receives 64 random hex characters + NUL
 * (the cookie value). A user holding AUTH_MAX_SESSIONS_PER_USER loses their
 * own least recently used session; when the table is full, the user with
 * the most sessions loses their least recently used one, so no user's
 * logins can end another user's sessions while that user holds fewer.
 * Returns 0 or -errno. */
int auth_store_session_new(struct auth_store *s, const struct cfg_user *user, double now,
                           char key[65]);
/* The session's user (and marks it used), or NULL when unknown or expired. */
const struct cfg_user *auth_store_session_get(struct auth_store *s, const char *key, double now);
/* Ends a session; false when there was none. */
bool auth_store_session_end(struct auth_store *s, const char *key);
size_t auth_store_session_count(const struct auth_store *s);
size_t auth_store_session_count_for(const struct auth_store *s, const struct cfg_user *user);

/* Seconds until addr may try a token again (0 = now). */
double auth_store_blocked_for(struct auth_store *s, const char *addr, double now);
/* Records a failed token check from addr. */
void auth_store_record_failure(struct auth_store *s, const char *addr, double now);

/* Successful logins are limited too (AUTH_LOGINS_PER_MINUTE per user and per
 * address), so nobody can churn the session table. Seconds until user (may
 * be NULL) from addr (may be NULL) may log in again (0 = now). */
double auth_store_login_blocked_for(struct auth_store *s, const struct cfg_user *user,
                                    const char *addr, double now);
/* Records a successful login. */
void auth_store_record_login(struct auth_store *s, const struct cfg_user *user, const char *addr,
                             double now);

/* The generated admin token of a first start: reads the hash from
 * <state_dir>/admin_token.sha256, or, when that file does not exist, makes a
 * random token, writes its hash there (mode 0600, temp file + rename) and
 * returns the token in token_out (48 hex characters + NUL; "" when the hash
 * was read). Returns 0, -EINVAL when the file does not hold a hash, or -errno. */
int auth_admin_hash_load_or_create(const char *state_dir, char hash[65], char token_out[49],
                                   char *path_out, size_t path_len);

#endif
