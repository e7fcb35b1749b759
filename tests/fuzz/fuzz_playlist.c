/* libFuzzer target: the playlist reader and writer (src/media/playlist.h).
 * parse → render → parse → render: whatever the reader accepts, the writer
 * renders, the reader accepts again, and the second rendering is identical
 * to the first (the text form is a fixed point). */
#include "media/playlist.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    struct playlist a, b, c;
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;

    int r = playlist_parse((const char *)data, size, &a);
    if (r != 0) {
        if (r != -EINVAL && r != -ENOMEM)
            abort();
        if (a.n_segs != 0 || a.segs)
            abort(); /* refused input leaves *out empty */
        playlist_clear(&a);
        return 0;
    }
    r = playlist_render(&a, &t1, &n1);
    if (r == 0) {
        if (strlen(t1) != n1)
            abort();
        r = playlist_parse(t1, n1, &b);
        if (r != 0) {
            fprintf(stderr, "rendered playlist not re-readable (%d):\n%s\n", r, t1);
            abort();
        }
        if (b.n_segs != a.n_segs || b.type != a.type || b.media_sequence != a.media_sequence ||
            b.ended != (a.ended || a.type == PLAYLIST_VOD)) { /* VOD: writer adds ENDLIST */
            fprintf(stderr, "model changed: segs %zu/%zu type %d/%d seq %llu/%llu ended %d/%d\n%s\n",
                    a.n_segs, b.n_segs, (int)a.type, (int)b.type,
                    (unsigned long long)a.media_sequence, (unsigned long long)b.media_sequence,
                    a.ended, b.ended, t1);
            abort();
        }
        for (size_t i = 0; i < a.n_segs; i++) {
            if (strcmp(a.segs[i].uri, b.segs[i].uri) != 0 ||
                a.segs[i].discontinuity != b.segs[i].discontinuity ||
                a.segs[i].n_parts != b.segs[i].n_parts ||
                isnan(a.segs[i].pdt) != isnan(b.segs[i].pdt))
                abort();
            /* Durations are written with 3 decimals. */
            if (fabs(a.segs[i].duration - b.segs[i].duration) > 0.0005 + 1e-9)
                abort();
        }
        if (playlist_render(&b, &t2, &n2) != 0)
            abort();
        if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
            fprintf(stderr, "render not stable:\n--- first\n%s\n--- second\n%s\n", t1, t2);
            abort();
        }
        /* Total duration and target stay consistent. */
        int target = playlist_effective_target(&b);
        for (size_t i = 0; i < b.n_segs; i++)
            if (lround(b.segs[i].duration) > target)
                abort();
        playlist_clear(&b);
    } else if (r != -EINVAL && r != -ENOMEM) {
        abort();
    }

    /* The live window helper on whatever was parsed: bounded, consistent. */
    if (a.n_segs > 0 && a.n_segs < 1000) {
        playlist_init(&c, PLAYLIST_LIVE, 0);
        char **removed = NULL;
        for (size_t i = 0; i < a.n_segs; i++) {
            removed = NULL;
            if (playlist_live_append(&c, a.segs[i].uri, a.segs[i].duration,
                                     a.segs[i].discontinuity, a.segs[i].pdt, 3, &removed) != 0)
                abort();
            playlist_free_strv(&removed);
            if (c.n_segs > 3)
                abort();
        }
        if (c.media_sequence + c.n_segs != a.n_segs)
            abort();
        playlist_clear(&c);
    }
    free(t2);
    free(t1);
    playlist_clear(&a);
    return 0;
}
