/* Entry points of the media engine (the only part of hlsd that includes libav
 * headers). A job is the JSON object described in docs/WORKER-PROTOCOL.md;
 * the caller (worker process or one-shot CLI) supplies the control hooks. */
#ifndef HLSD_MEDIA_JOB_H
#define HLSD_MEDIA_JOB_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct media_ctl {
    void *arg;
    /* Cheap, called between packets and from libav's interrupt callback:
     * true once a stop was requested. */
    bool (*should_stop)(void *arg);
    /* Next control command other than stop, or NULL; the caller of
     * next_command frees the result with cJSON_Delete. Waits at most
     * timeout_ms (0 = just check). */
    cJSON *(*next_command)(void *arg, int timeout_ms);
    /* Reports an event (copied by the callee). */
    void (*emit)(void *arg, const cJSON *event);
};

/* Runs a job to completion or until stopped. Returns 0, or a negative
 * AVERROR/errno with a one-line reason in err. */
int media_job_run(const cJSON *job, const struct media_ctl *ctl, char *err, size_t errlen);

/* What the recordings index stores about a file. */
struct media_probe {
    double duration;      /* seconds (video stream when there is one) */
    double creation_time; /* epoch seconds from the container's creation_time, or NAN */
    char video_codec[32]; /* "hevc", "h264"; "" when none */
    char pix_fmt[32];
    int width, height;
    char audio_codec[32];  /* "" when none */
    bool browser_playable; /* H.264 8-bit 4:2:0 progressive (+ AAC or no audio) */
};

/* Opens path with libavformat and fills out. 0, or negative AVERROR with the
 * reason in err (unreadable, no video, zero duration...). */
int media_probe_file(const char *path, struct media_probe *out, char *err, size_t errlen);

/* Writes a sample recording (test pattern + tone, H.265 + AAC in MP4) of
 * `seconds` at path, stamped with creation_time. 0 or negative AVERROR. */
int media_make_sample(const char *path, double seconds, double creation_time, int width, int height,
                      char *err, size_t errlen);

#endif
