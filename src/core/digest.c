#include "core/digest.h"

#include <errno.h>
#include <libavutil/hmac.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>
#include <stdint.h>
#include <string.h>

static void to_hex(const uint8_t *raw, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

int digest_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t raw[32];
    struct AVSHA *sha = av_sha_alloc();
    if (!sha)
        return -ENOMEM;
    av_sha_init(sha, 256);
    av_sha_update(sha, data, len);
    av_sha_final(sha, raw);
    av_free(sha);
    to_hex(raw, sizeof(raw), out);
    return 0;
}

int digest_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                           char out[65])
{
    uint8_t raw[32];
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    if (!h)
        return -ENOMEM;
    int n = av_hmac_calc(h, data, (unsigned)len, key, (unsigned)keylen, raw, sizeof(raw));
    av_hmac_free(h);
    if (n != (int)sizeof(raw))
        return -EINVAL;
    to_hex(raw, sizeof(raw), out);
    return 0;
}

int digest_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
