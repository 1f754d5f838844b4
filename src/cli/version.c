/* kiln version: kiln's and its libraries' versions. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_version(int argc, char **argv, struct cli_globals *g)
{
    (void)g;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("Usage: kiln version\n\nPrints the versions of kiln and of the libraries it "
               "runs with.\n");
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "kiln version: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    puts(kiln_version_string());
    return EXIT_OK;
}
