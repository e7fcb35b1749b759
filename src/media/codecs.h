/* RFC 6381 codec strings (the HLS CODECS attribute) and the browser-side
 * rules for copying HEVC untouched into fMP4. */
#ifndef HLSD_MEDIA_CODECS_H
#define HLSD_MEDIA_CODECS_H

#include <stdbool.h>
#include <stddef.h>

#include <libavcodec/avcodec.h>

/* What our H.264 encoder declares (High, level 4.1: media/encode.c) and AAC-LC. */
#define MEDIA_CODECS_H264 "avc1.640029"
#define MEDIA_CODECS_AAC "mp4a.40.2"

/* "hvc1.<space><profile>.<compat>.<tier><level>[.<constraints>]" (ISO/IEC
 * 14496-15 E.3) from the profile_tier_level of par's extradata, whether it is
 * an hvcC record (MP4/MKV) or Annex B parameter sets (MPEG-TS). 0, or
 * -EINVAL when the extradata holds no readable SPS / configuration record. */
int media_hevc_codec_string(const AVCodecParameters *par, char *buf, size_t size);

/* True when par can be copied into an hvc1 fMP4 a browser with HEVC support
 * decodes: HEVC, Main or Main 10 (4:2:0, 8 or 10 bit), progressive, with
 * parameter sets in the extradata. Otherwise false and why (one line). */
bool media_hevc_copyable(const AVCodecParameters *par, char *why, size_t whylen);

#endif
