/* Output picture geometry: see geometry.h. */
#include "media/geometry.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include <libavutil/display.h>

/* H.264 level 4.1 limits (Table A-1). */
#define LEVEL41_MAX_FS 8192
#define LEVEL41_MAX_MBPS 245760
/* Max dimension in macroblocks for MaxFS: sqrt(8 * MaxFS). */
#define LEVEL41_MAX_DIM_MBS 256

static int even_floor(double v)
{
    int e = (int)floor(v / 2.0) * 2;
    return e < 2 ? 2 : e;
}

static int even_round(double v)
{
    int e = (int)lround(v / 2.0) * 2;
    return e < 2 ? 2 : e;
}

static long mbs(int w, int h)
{
    return (long)((w + 15) / 16) * (long)((h + 15) / 16);
}

static int level_ok(int w, int h, double fps)
{
    long fs = mbs(w, h);
    if (fs > LEVEL41_MAX_FS)
        return 0;
    if ((w + 15) / 16 > LEVEL41_MAX_DIM_MBS || (h + 15) / 16 > LEVEL41_MAX_DIM_MBS)
        return 0;
    return (double)fs * fps <= LEVEL41_MAX_MBPS;
}

int media_geometry_fit(const struct media_geom_in *in, struct media_geom_out *out)
{
    if (in->width <= 0 || in->height <= 0 || in->width > MEDIA_GEOM_MAX_DIM ||
        in->height > MEDIA_GEOM_MAX_DIM)
        return -EINVAL;
    double sar = 1.0;
    if (in->sar_num > 0 && in->sar_den > 0)
        sar = (double)in->sar_num / in->sar_den;
    if (sar < 0.01 || sar > 100.0)
        return -EINVAL;

    /* Display size before the box: anamorphic pixels widen or narrow the
     * picture, the height stays (as players display it). */
    double dw = in->width * sar, dh = in->height;
    int rot = ((in->rotation % 360) + 360) % 360;
    int swap = rot == 90 || rot == 270;
    if (swap) {
        double t = dw;
        dw = dh;
        dh = t;
    }

    double s = 1.0;
    if (in->max_width > 0 && in->max_width < dw * s)
        s = in->max_width / dw;
    if (in->max_height > 0 && in->max_height < dh * s)
        s = in->max_height / dh;

    double fps = in->fps > 0 ? in->fps : 30.0;
    int w = 0, h = 0;
    for (int guard = 0; guard < 200; guard++) {
        w = even_round(dw * s);
        h = even_round(dh * s);
        /* Rounding must not leave the box. */
        if (in->max_width > 0 && w > in->max_width)
            w = even_floor(in->max_width);
        if (in->max_height > 0 && h > in->max_height)
            h = even_floor(in->max_height);
        if (level_ok(w, h, fps))
            break;
        s *= 0.97;
    }

    out->width = w;
    out->height = h;
    out->scale_width = swap ? h : w;
    out->scale_height = swap ? w : h;
    return 0;
}

int media_geometry_rotation(const int32_t matrix[9])
{
    if (!matrix)
        return 0;
    /* av_display_rotation_get gives the counterclockwise angle; the picture
     * must be turned clockwise by its opposite to display upright. */
    double ccw = av_display_rotation_get(matrix);
    if (isnan(ccw))
        return 0;
    double cw = -ccw;
    int r = (int)lround(cw / 90.0) * 90;
    r = ((r % 360) + 360) % 360;
    return r;
}
