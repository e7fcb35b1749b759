/* `hlsd recordings add|scan|list` and the hidden `sample`: maintain the
 * recordings index from the command line. The daemon runs `scan` and
 * `sample` as child processes, so probing a malformed file can only ever
 * take this short-lived process down. */
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "media/avlog.h"
#include "media/job.h"
#include "vod/index.h"
#include "vod/scan.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int recordings_cli_main(int argc, char **argv);

#define SAMPLE_CAMERA "sample"

struct cli {
    const char *config_path;
    const char *state_dir;
    const char *camera;
    const char *start;
    const char *seconds;
    bool quiet;
    struct hlsd_config *cfg;
    struct vod_index *ix;
};

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  hlsd recordings add FILE --camera NAME [--start EPOCH] [--config FILE] "
               "[--state-dir DIR]\n"
               "  hlsd recordings scan DIR... [--config FILE] [--state-dir DIR]\n"
               "  hlsd recordings list [--camera NAME] [--config FILE] [--state-dir DIR]\n");
}

/* The index lives in the state folder: --state-dir, else the config's. */
static int open_index(struct cli *c)
{
    char err[512] = "";
    int r;

    if (!c->state_dir) {
        r = config_load(c->config_path, &c->cfg, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "hlsd recordings: %s\n", err[0] ? err : strerror(-r));
            return r;
        }
        c->state_dir = c->cfg->state_dir;
    }
    r = util_mkdir_p(c->state_dir, 0755);
    if (r < 0) {
        fprintf(stderr, "hlsd recordings: cannot create state folder %s: %s\n", c->state_dir,
                strerror(-r));
        return r;
    }
    r = vod_index_open(c->state_dir, &c->ix, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "hlsd recordings: cannot open the index %s\n", err);
        return r;
    }
    return 0;
}

static void fmt_time(double t, char *buf, size_t size)
{
    time_t s = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || !gmtime_r(&s, &tm)) {
        snprintf(buf, size, "-");
        return;
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)((t - floor(t)) * 1000) % 1000);
}

static int cmd_add(struct cli *c, int argc, char **argv)
{
    char abs[PATH_MAX], err[512] = "", a[40], b[40];
    struct vod_recording rec;
    double start = NAN;

    if (argc != 1) {
        fprintf(stderr, "hlsd recordings add: expected one FILE (see hlsd recordings --help)\n");
        return 2;
    }
    if (!c->camera) {
        fprintf(stderr, "hlsd recordings add: --camera NAME is required\n");
        return 2;
    }
    if (!util_is_safe_name(c->camera)) {
        /* Not echoed: it may hold control characters. */
        fprintf(stderr, "hlsd recordings add: --camera: the name is not allowed (1-64 of "
                        "A-Z a-z 0-9 . _ -)\n");
        return 2;
    }
    if (c->start && (util_parse_double(c->start, &start) < 0 || start < 0)) {
        fprintf(stderr, "hlsd recordings add: --start must be epoch seconds, got '%s'\n", c->start);
        return 2;
    }
    if (!realpath(argv[0], abs)) {
        fprintf(stderr, "hlsd recordings add: %s: %s\n", argv[0], strerror(errno));
        return 1;
    }
    if (open_index(c) < 0)
        return 1;
    if (vod_scan_add_file(c->ix, abs, c->camera, start, &rec, err, sizeof(err)) < 0) {
        fprintf(stderr, "hlsd recordings add: %s: %s\n", argv[0], err);
        return 1;
    }
    fmt_time(rec.start_time, a, sizeof(a));
    fmt_time(rec.end_time, b, sizeof(b));
    printf("added %s: camera %s, %s .. %s (%.3f s, %s %dx%d%s%s)\n", abs, rec.camera, a, b,
           rec.duration, rec.video_codec, rec.width, rec.height, rec.audio_codec[0] ? " + " : "",
           rec.audio_codec);
    free(rec.path);
    return 0;
}

static int cmd_scan(struct cli *c, int argc, char **argv)
{
    struct vod_scan_opts opts = {.quiet_known = c->quiet,
                                 .settle_seconds = VOD_SCAN_SETTLE_SECONDS};
    int done = 0;

    if (argc < 1) {
        fprintf(stderr, "hlsd recordings scan: expected a folder (see hlsd recordings --help)\n");
        return 2;
    }
    if (open_index(c) < 0)
        return 1;
    for (int i = 0; i < argc; i++) {
        struct vod_scan_stats st;
        char err[PATH_MAX + 256] = "";
        int r = vod_scan_dir(c->ix, argv[i], &opts, &st, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "hlsd recordings scan: %s\n", err);
            continue;
        }
        done++;
        if (!c->quiet || st.indexed || st.removed)
            printf("scanned %s: %d indexed, %d unchanged, %d failed, %d still being written, "
                   "%d removed\n",
                   argv[i], st.indexed, st.unchanged, st.failed, st.growing, st.removed);
    }
    return done > 0 ? 0 : 1;
}

static int cmd_list(struct cli *c, int argc, char **argv)
{
    struct vod_recording *recs = NULL;
    size_t n = 0;
    (void)argv;

    if (argc != 0) {
        fprintf(stderr, "hlsd recordings list: unexpected argument '%s'\n", argv[0]);
        return 2;
    }
    if (c->camera && !util_is_safe_name(c->camera)) {
        fprintf(stderr, "hlsd recordings list: --camera: the name is not allowed (1-64 of "
                        "A-Z a-z 0-9 . _ -)\n");
        return 2;
    }
    if (open_index(c) < 0)
        return 1;
    int r = vod_index_range(c->ix, c->camera, -INFINITY, INFINITY, 0, &recs, &n, NULL);
    if (r < 0) {
        fprintf(stderr, "hlsd recordings list: %s\n", vod_index_errmsg(c->ix));
        return 1;
    }
    printf("%-6s %-20s %-24s %-24s %9s %-6s %-9s %-6s %10s %s\n", "ID", "CAMERA", "START", "END",
           "DURATION", "VIDEO", "SIZE", "AUDIO", "BYTES", "PATH");
    for (size_t i = 0; i < n; i++) {
        char a[40], b[40], dim[24];
        fmt_time(recs[i].start_time, a, sizeof(a));
        fmt_time(recs[i].end_time, b, sizeof(b));
        snprintf(dim, sizeof(dim), "%dx%d", recs[i].width, recs[i].height);
        printf("%-6lld %-20s %-24s %-24s %9.3f %-6s %-9s %-6s %10lld %s\n", (long long)recs[i].id,
               recs[i].camera, a, b, recs[i].duration, recs[i].video_codec, dim,
               recs[i].audio_codec[0] ? recs[i].audio_codec : "-", (long long)recs[i].size,
               recs[i].path);
    }
    vod_recordings_free(&recs, n);
    return 0;
}

/* Hidden: generates the sample recording the default configuration ships
 * (test pattern + tone, H.265 + AAC) in the scan layout and indexes it. */
static int cmd_sample(struct cli *c, int argc, char **argv)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], err[512] = "";
    double seconds = 30;
    long have = 0;
    int r;
    (void)argv;

    if (argc != 0) {
        fprintf(stderr, "hlsd recordings sample: unexpected argument '%s'\n", argv[0]);
        return 2;
    }
    if (c->seconds &&
        (util_parse_double(c->seconds, &seconds) < 0 || seconds < 1 || seconds > 600)) {
        fprintf(stderr, "hlsd recordings sample: --seconds must be 1..600\n");
        return 2;
    }
    if (open_index(c) < 0)
        return 1;
    if (vod_index_count(c->ix, SAMPLE_CAMERA, &have) == 0 && have > 0) {
        printf("camera %s already has %ld recording(s)\n", SAMPLE_CAMERA, have);
        return 0;
    }
    /* It ends now, so "the last minute" of the sample camera plays it. */
    time_t start = (time_t)floor(util_now_wall() - seconds);
    struct tm tm;
    gmtime_r(&start, &tm);
    if (util_fmt(dir, sizeof(dir), "%s/sample/%s/%04d-%02d-%02d/%02d", c->state_dir, SAMPLE_CAMERA,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour) < 0 ||
        util_fmt(path, sizeof(path), "%s/%02d.%02d.mp4", dir, tm.tm_min, tm.tm_sec) < 0 ||
        util_fmt(tmp, sizeof(tmp), "%s/.tmp-%d-%02d.%02d.mp4", dir, (int)getpid(), tm.tm_min,
                 tm.tm_sec) < 0) {
        fprintf(stderr, "hlsd recordings sample: state folder path too long\n");
        return 1;
    }
    if ((r = util_mkdir_p(dir, 0755)) < 0) {
        fprintf(stderr, "hlsd recordings sample: cannot create %s: %s\n", dir, strerror(-r));
        return 1;
    }
    r = media_make_sample(tmp, seconds, (double)start, 640, 360, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "hlsd recordings sample: cannot make %s: %s\n", path, err);
        unlink(tmp);
        return 1;
    }
    /* Renamed only when complete, so a concurrent scan never sees half a file. */
    if (rename(tmp, path) < 0) {
        fprintf(stderr, "hlsd recordings sample: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    struct vod_recording rec;
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        fprintf(stderr, "hlsd recordings sample: %s: %s\n", path, strerror(errno));
        return 1;
    }
    r = vod_scan_add_file(c->ix, abs, SAMPLE_CAMERA, (double)start, &rec, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "hlsd recordings sample: %s: %s\n", path, err);
        return 1;
    }
    printf("sample recording %s (%.1f s) indexed as camera %s\n", abs, rec.duration, SAMPLE_CAMERA);
    free(rec.path);
    return 0;
}

int recordings_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"state-dir", required_argument, NULL, 's'},
        {"camera", required_argument, NULL, 'C'},  {"start", required_argument, NULL, 'S'},
        {"seconds", required_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    struct cli c = {0};
    const char *sub;
    int ch, ret;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    sub = argv[1];
    /* libav's own messages go through our log; the one-line errors printed
     * here carry the cause, so only warnings and errors are shown. */
    log_set_level(LOG_LEVEL_WARN);
    media_avlog_init();
    /* GNU getopt permutes: options may come before or after FILE/DIR. */
    optind = 2;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "c:s:C:S:n:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            c.config_path = optarg;
            break;
        case 's':
            c.state_dir = optarg;
            break;
        case 'C':
            c.camera = optarg;
            break;
        case 'S':
            c.start = optarg;
            break;
        case 'n':
            c.seconds = optarg;
            break;
        case 'q':
            c.quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "hlsd recordings %s: bad option '%s' (see hlsd recordings --help)\n",
                    sub, argv[optind - 1]);
            return 2;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (strcmp(sub, "add") == 0)
        ret = cmd_add(&c, nargs, args);
    else if (strcmp(sub, "scan") == 0)
        ret = cmd_scan(&c, nargs, args);
    else if (strcmp(sub, "list") == 0)
        ret = cmd_list(&c, nargs, args);
    else if (strcmp(sub, "sample") == 0)
        ret = cmd_sample(&c, nargs, args);
    else {
        fprintf(stderr, "hlsd recordings: unknown command '%s' (add, scan, list)\n", sub);
        ret = 2;
    }
    vod_index_close(&c.ix);
    config_free(&c.cfg);
    return ret;
}
