/* `hlsd transcode INPUT OUTDIR [...]`: the transcode job in the foreground
 * (owner: media engineer). Progress on stderr when it is a terminal; one
 * error line "hlsd transcode: INPUT: cause" and exit 1 on failure; exit 2 on
 * bad arguments; 130 when interrupted (what was done is kept, playlist
 * included). */
#include "core/jobspec.h"
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
    /* The transcode kind's defaults are this command's (core/jobspec.c). */
    struct jobspec_transcode j;
    const struct jobspec_opt *seg_opt = jobspec_lookup("transcode.segment_seconds");
    const struct jobspec_opt *crf_opt = jobspec_lookup("transcode.video.crf");
    long n;
    enum log_level level = LOG_LEVEL_WARN;
    int c;

    jobspec_transcode_defaults(&j);

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_FORMAT:
            j.input.format = optarg;
            break;
        case O_SEG:
            if (util_parse_double(optarg, &j.segment_seconds) < 0 ||
                !(j.segment_seconds >= seg_opt->min && j.segment_seconds <= seg_opt->max))
                return bad("--segment-seconds: '%s' is not a number in 0.5..60", optarg);
            break;
        case O_MAXH:
            if (util_parse_int(optarg, 0, 16384, &n) < 0 || (n > 0 && n < 16))
                return bad("--max-height: '%s' is not 0 (no limit) or 16..16384", optarg);
            j.video.max_height = (int)n;
            break;
        case O_MAXW:
            if (util_parse_int(optarg, 0, 16384, &n) < 0 || (n > 0 && n < 16))
                return bad("--max-width: '%s' is not 0 (no limit) or 16..16384", optarg);
            j.video.max_width = (int)n;
            break;
        case O_CRF:
            if (util_parse_int(optarg, (long)crf_opt->min, (long)crf_opt->max, &n) < 0)
                return bad("--crf: '%s' is not an integer in 0..51", optarg);
            j.video.crf = (int)n;
            break;
        case O_PRESET:
            j.video.preset = optarg;
            break;
        case O_ENCODER:
            j.video.encoder = optarg;
            break;
        case O_PLAYLIST:
            if (!util_is_safe_name(optarg) || !strstr(optarg, ".m3u8"))
                return bad("--playlist: '%s' is not a plain NAME.m3u8", optarg);
            j.playlist = optarg;
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

    j.out_dir = out_dir;
    j.segment_prefix = prefix;
    j.input.url = input;
    cJSON *job = NULL;
    char err[512] = "";
    if (jobspec_transcode_to_json(&j, &job, err, sizeof(err)) < 0) {
        fprintf(stderr, "hlsd transcode: %s: %s\n", input, err);
        return 1;
    }

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
