/* hlsd: one binary, several modes. The daemon re-executes this same binary in
 * worker mode for each media pipeline. */
#include "core/log.h"

#include <stdio.h>
#include <string.h>

int daemon_main(int argc, char **argv);         /* app/daemon.c */
int worker_main(int argc, char **argv);         /* worker/worker_main.c */
int transcode_cli_main(int argc, char **argv);  /* worker/transcode_cli.c */
int recordings_cli_main(int argc, char **argv); /* vod/recordings_cli.c */

static void usage(FILE *f)
{
    fprintf(f,
            "hlsd %s - makes any video source play in a web browser (HLS: H.264 + AAC)\n"
            "\n"
            "Usage:\n"
            "  hlsd [serve] [--config FILE] [--listen ADDR:PORT] [--state-dir DIR]\n"
            "              [--log-level error|warn|info|debug]\n"
            "      Run the daemon: JSON API, HLS files and the web page on one port.\n"
            "      Without --config the embedded defaults apply (a test-pattern port\n"
            "      and a sample recording) on http://127.0.0.1:8080.\n"
            "  hlsd transcode INPUT OUTDIR [--format F] [--segment-seconds N]\n"
            "              [--max-height H] [--crf N] [--preset P] [--encoder NAME]\n"
            "      Transcode one input to a VOD HLS folder in the foreground.\n"
            "  hlsd recordings add FILE --camera NAME [--start EPOCH] [--config FILE]\n"
            "  hlsd recordings scan DIR [--config FILE]\n"
            "  hlsd recordings list [--camera NAME] [--config FILE]\n"
            "      Maintain the recordings index (SQLite in the state folder).\n"
            "  hlsd --help | --version\n"
            "\n"
            "See README.md for the configuration file and the HTTP API.\n",
            HLSD_VERSION);
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        const char *cmd = argv[1];
        if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
            printf("hlsd %s\n", HLSD_VERSION);
            return 0;
        }
        if (strcmp(cmd, "worker") == 0)
            return worker_main(argc - 1, argv + 1);
        if (strcmp(cmd, "transcode") == 0)
            return transcode_cli_main(argc - 1, argv + 1);
        if (strcmp(cmd, "recordings") == 0)
            return recordings_cli_main(argc - 1, argv + 1);
        if (strcmp(cmd, "serve") == 0)
            return daemon_main(argc - 1, argv + 1);
        if (cmd[0] != '-') {
            fprintf(stderr, "hlsd: unknown command '%s' (see hlsd --help)\n", cmd);
            return 2;
        }
    }
    return daemon_main(argc, argv);
}
