/* stub */
#include <stdio.h>
int worker_main(int argc, char **argv);
int worker_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hlsd worker: not implemented\n"); return 1; }
