/* SHA-256 and HMAC-SHA256 (libavutil's), for token hashes and keyed session
 * ids. Lives in src/media because only this folder includes libav headers. */
#ifndef HLSD_DIGEST_H
#define HLSD_DIGEST_H

#include <stddef.h>

/* out receives 64 lowercase hex characters + NUL. Returns 0 or -ENOMEM. */
int digest_sha256_hex(const void *data, size_t len, char out[65]);
int digest_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                           char out[65]);

/* Constant-time comparison of two NUL-terminated strings of equal length;
 * false when the lengths differ (the length itself is not secret). */
int digest_equal(const char *a, const char *b);

#endif
