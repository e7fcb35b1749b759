/* Codec strings and HEVC copy rules: see codecs.h. */
#include "media/codecs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/pixdesc.h>

#define HEVC_NAL_SPS 33
/* general_profile_space/tier/idc (1), compatibility flags (4), constraint
 * flags (6), level (1): the same 12 bytes in an hvcC record and an SPS. */
#define PTL_BYTES 12

/* Copies the first PTL_BYTES of the SPS's profile_tier_level out of an Annex
 * B buffer, without emulation prevention bytes. 0 or -EINVAL. */
static int ptl_from_annexb(const uint8_t *d, size_t n, uint8_t ptl[PTL_BYTES])
{
    for (size_t i = 0; i + 4 < n; i++) {
        if (!(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1))
            continue;
        size_t p = i + 3;
        if (((d[p] >> 1) & 0x3f) != HEVC_NAL_SPS)
            continue;
        /* NAL header (2 bytes), then vps id / max sub layers / nesting (1). */
        p += 3;
        size_t k = 0;
        int zeros = 0;
        for (; p < n && k < PTL_BYTES; p++) {
            if (zeros >= 2 && d[p] == 3) { /* emulation prevention */
                zeros = 0;
                continue;
            }
            zeros = d[p] == 0 ? zeros + 1 : 0;
            ptl[k++] = d[p];
        }
        return k == PTL_BYTES ? 0 : -EINVAL;
    }
    return -EINVAL;
}

static int read_ptl(const AVCodecParameters *par, uint8_t ptl[PTL_BYTES])
{
    const uint8_t *d = par->extradata;
    size_t n = par->extradata_size > 0 ? (size_t)par->extradata_size : 0;
    if (!d || n < 1 + PTL_BYTES)
        return -EINVAL;
    if (d[0] == 1) { /* hvcC: configurationVersion 1, then the PTL */
        memcpy(ptl, d + 1, PTL_BYTES);
        return 0;
    }
    return ptl_from_annexb(d, n, ptl);
}

int media_hevc_codec_string(const AVCodecParameters *par, char *buf, size_t size)
{
    uint8_t ptl[PTL_BYTES];
    if (par->codec_id != AV_CODEC_ID_HEVC || read_ptl(par, ptl) < 0)
        return -EINVAL;
    int space = ptl[0] >> 6, tier = (ptl[0] >> 5) & 1, idc = ptl[0] & 0x1f;
    uint32_t compat =
        (uint32_t)ptl[1] << 24 | (uint32_t)ptl[2] << 16 | (uint32_t)ptl[3] << 8 | ptl[4];
    uint32_t rev = 0; /* the flags are written in reverse bit order */
    for (int b = 0; b < 32; b++)
        if (compat & (1u << b))
            rev |= 1u << (31 - b);
    static const char *const spaces[] = {"", "A", "B", "C"};
    int len = snprintf(buf, size, "hvc1.%s%d.%X.%c%d", spaces[space], idc, rev, tier ? 'H' : 'L',
                       ptl[11]);
    /* constraint bytes, trailing zero bytes left out */
    int last = 10;
    while (last >= 5 && ptl[last] == 0)
        last--;
    for (int i = 5; i <= last && len > 0 && (size_t)len < size; i++)
        len += snprintf(buf + len, size - (size_t)len, ".%X", ptl[i]);
    return len > 0 && (size_t)len < size ? 0 : -ENAMETOOLONG;
}

bool media_hevc_copyable(const AVCodecParameters *par, char *why, size_t whylen)
{
    char cs[64];
    if (par->codec_id != AV_CODEC_ID_HEVC) {
        snprintf(why, whylen, "video codec %s is not HEVC", avcodec_get_name(par->codec_id));
        return false;
    }
    if (par->format != AV_PIX_FMT_YUV420P && par->format != AV_PIX_FMT_YUVJ420P &&
        par->format != AV_PIX_FMT_YUV420P10LE) {
        const char *pf = av_get_pix_fmt_name(par->format);
        snprintf(why, whylen, "HEVC pixel format %s is not 4:2:0 8/10-bit", pf ? pf : "unknown");
        return false;
    }
    if (par->field_order != AV_FIELD_PROGRESSIVE && par->field_order != AV_FIELD_UNKNOWN) {
        snprintf(why, whylen, "interlaced video");
        return false;
    }
    if (par->width <= 0 || par->height <= 0 || par->width > 8192 || par->height > 4320) {
        snprintf(why, whylen, "video size %dx%d", par->width, par->height);
        return false;
    }
    if (media_hevc_codec_string(par, cs, sizeof(cs)) < 0) {
        snprintf(why, whylen, "no HEVC parameter sets in the stream header");
        return false;
    }
    return true;
}
