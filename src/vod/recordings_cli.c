/* stub */
#include <stdio.h>
int recordings_cli_main(int argc, char **argv);
int recordings_cli_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hlsd recordings: not implemented\n"); return 1; }
