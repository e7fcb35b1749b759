/* stub */
#include <stdio.h>
int transcode_cli_main(int argc, char **argv);
int transcode_cli_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hlsd transcode: not implemented\n"); return 1; }
