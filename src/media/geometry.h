/* Output picture geometry (owner: media engineer). Pure math, no libav state:
 * fit a picture inside a maximum box, never upscale, keep the display aspect
 * ratio (sample aspect ratio and rotation included), even dimensions, and stay
 * within H.264 level 4.1 (8192 macroblocks per frame, 245760 per second). */
#ifndef HLSD_MEDIA_GEOMETRY_H
#define HLSD_MEDIA_GEOMETRY_H

#include <stdint.h>

/* Largest coded width/height accepted from an input. */
#define MEDIA_GEOM_MAX_DIM 16384

struct media_geom_in {
    int width, height;    /* coded picture size */
    int sar_num, sar_den; /* sample aspect ratio; 0/x or x/0 = square */
    int rotation;         /* clockwise degrees to apply for display: 0, 90, 180, 270 */
    double fps;           /* frame rate, 0 = unknown (level check uses 30) */
    int max_width;        /* box; <= 0 = no limit in that direction */
    int max_height;
};

struct media_geom_out {
    int scale_width, scale_height; /* size to scale to before rotating */
    int width, height;             /* displayed (encoded) size after rotation */
};

/* Fills out. Returns 0, or -EINVAL for absurd input (size <= 0 or larger than
 * MEDIA_GEOM_MAX_DIM, or a sample aspect ratio beyond 1:100..100:1). */
int media_geometry_fit(const struct media_geom_in *in, struct media_geom_out *out);

/* Clockwise display rotation (0, 90, 180, 270) from a 3x3 display matrix as
 * stored in AV_PKT_DATA_DISPLAYMATRIX side data; NULL gives 0. */
int media_geometry_rotation(const int32_t matrix[9]);

#endif
