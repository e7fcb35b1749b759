/* `hlsd transcode INPUT OUTDIR [...]`: the transcode job in the foreground
 * (owner: media engineer). Progress on stderr when it is a terminal; one
 * error line "hlsd transcode: INPUT: cause" and exit 1 on failure; exit 2 on
 * bad arguments; 130 when interrupted (what was done is kept, playlist
 * included). */
#include "core/log.h"
#include "core/util.h"
#include "media/job.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int transcode_cli_main(int argc, char **argv);

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct cli {
    bool tty;
    bool progress_shown;
};

static bool cli_should_stop(void *arg)
{
    (void)arg;
    return g_stop != 0;
}

static cJSON *cli_next_command(void *arg, int timeout_ms)
{
    (void)arg;
    if (timeout_ms > 0 && !g_stop) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* SIGINT ends it early */
    }
    return NULL;
}

static void cli_emit(void *arg, const cJSON *ev)
{
    struct cli *c = arg;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
    if (!c->tty || !type || strcmp(type, "progress") != 0)
        return;
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(ev, "percent");
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(ev, "speed");
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(ev, "segments");
    fprintf(stderr, "\r%5.1f%%  speed %.2fx  %d segments   ",
            cJSON_IsNumber(pct) ? pct->valuedouble : 0.0,
            cJSON_IsNumber(speed) ? speed->valuedouble : 0.0,
            cJSON_IsNumber(segs) ? (int)segs->valuedouble : 0);
    c->progress_shown = true;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: hlsd transcode INPUT OUTDIR [--format F] [--segment-seconds N]\n"
               "                      [--max-height H] [--max-width W] [--crf N] [--preset P]\n"
               "                      [--encoder NAME] [--playlist NAME] [--log-level L]\n"
               "Transcodes INPUT (a file or any libavformat input) to H.264/AAC HLS in OUTDIR:\n"
               "a complete VOD playlist (default index.m3u8) and MPEG-TS segments of exactly\n"
               "N seconds (default 6). Defaults: --max-height 720, --crf 26, --preset ultrafast,\n"
               "--encoder libx264 (falls back to libx264 when another encoder cannot open).\n");
}

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "hlsd transcode: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see hlsd transcode --help)\n");
    return 2;
}

int transcode_cli_main(int argc, char **argv)
{
    enum { O_FORMAT = 1, O_SEG, O_MAXH, O_MAXW, O_CRF, O_PRESET, O_ENCODER, O_PLAYLIST, O_LOG };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, O_FORMAT},
        {"segment-seconds", required_argument, NULL, O_SEG},
        {"max-height", required_argument, NULL, O_MAXH},
        {"max-width", required_argument, NULL, O_MAXW},
        {"crf", required_argument, NULL, O_CRF},
        {"preset", required_argument, NULL, O_PRESET},
        {"encoder", required_argument, NULL, O_ENCODER},
        {"playlist", required_argument, NULL, O_PLAYLIST},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *format = NULL, *preset = "ultrafast", *encoder = "libx264";
    const char *playlist = "index.m3u8";
    double seg = 6;
    long max_h = 720, max_w = 0, crf = 26;
    enum log_level level = LOG_LEVEL_WARN;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_FORMAT:
            format = optarg;
            break;
        case O_SEG:
            if (util_parse_double(optarg, &seg) < 0 || seg < 0.5 || seg > 60)
                return bad("--segment-seconds: '%s' is not a number in 0.5..60", optarg);
            break;
        case O_MAXH:
            if (util_parse_int(optarg, 0, 16384, &max_h) < 0 || (max_h > 0 && max_h < 16))
                return bad("--max-height: '%s' is not 0 (no limit) or 16..16384", optarg);
            break;
        case O_MAXW:
            if (util_parse_int(optarg, 0, 16384, &max_w) < 0 || (max_w > 0 && max_w < 16))
                return bad("--max-width: '%s' is not 0 (no limit) or 16..16384", optarg);
            break;
        case O_CRF:
            if (util_parse_int(optarg, 0, 51, &crf) < 0)
                return bad("--crf: '%s' is not an integer in 0..51", optarg);
            break;
        case O_PRESET:
            preset = optarg;
            break;
        case O_ENCODER:
            encoder = optarg;
            break;
        case O_PLAYLIST:
            if (!util_is_safe_name(optarg) || !strstr(optarg, ".m3u8"))
                return bad("--playlist: '%s' is not a plain NAME.m3u8", optarg);
            playlist = optarg;
            break;
        case O_LOG:
            if (log_parse_level(optarg, &level) < 0)
                return bad("--log-level: '%s' is not error|warn|info|debug", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (optopt)
                return bad("option '%s' needs a value or is unknown", argv[optind - 1]);
            return bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return bad("%s", argc - optind < 2 ? "expected INPUT and OUTDIR" : "too many arguments");
    const char *input = argv[optind], *out_dir = argv[optind + 1];
    log_set_level(level);

    char runid[9], prefix[32];
    if (util_random_hex(runid, 4) < 0)
        snprintf(runid, sizeof(runid), "%08x", (unsigned)getpid());
    snprintf(prefix, sizeof(prefix), "seg-%s-", runid);

    cJSON *job = cJSON_CreateObject();
    cJSON *in = cJSON_AddObjectToObject(job, "input");
    cJSON_AddStringToObject(in, "url", input);
    if (format)
        cJSON_AddStringToObject(in, "format", format);
    cJSON_AddStringToObject(job, "kind", "transcode");
    cJSON_AddStringToObject(job, "name", "transcode");
    cJSON_AddStringToObject(job, "out_dir", out_dir);
    cJSON_AddStringToObject(job, "playlist", playlist);
    cJSON_AddStringToObject(job, "segment_prefix", prefix);
    cJSON_AddNumberToObject(job, "segment_seconds", seg);
    cJSON *v = cJSON_AddObjectToObject(job, "video");
    cJSON_AddStringToObject(v, "encoder", encoder);
    cJSON_AddStringToObject(v, "preset", preset);
    cJSON_AddNumberToObject(v, "crf", (double)crf);
    cJSON_AddNumberToObject(v, "max_width", (double)max_w);
    cJSON_AddNumberToObject(v, "max_height", (double)max_h);
    cJSON *a = cJSON_AddObjectToObject(job, "audio");
    cJSON_AddStringToObject(a, "bitrate", "128k");

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct cli cli = {.tty = isatty(2) == 1};
    struct media_ctl ctl = {.arg = &cli,
                            .should_stop = cli_should_stop,
                            .next_command = cli_next_command,
                            .emit = cli_emit};
    char err[512] = "";
    int r = media_job_run(job, &ctl, err, sizeof(err));
    cJSON_Delete(job);
    if (cli.progress_shown)
        fputc('\n', stderr);
    if (r < 0) {
        if (!err[0])
            snprintf(err, sizeof(err), "%s", strerror(r > -4096 ? -r : EIO));
        fprintf(stderr, "hlsd transcode: %s: %s\n", input, err);
        return 1;
    }
    if (g_stop) {
        fprintf(stderr, "hlsd transcode: %s: interrupted\n", input);
        return 130;
    }
    return 0;
}
