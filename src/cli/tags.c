/* kiln tags: every tag of a repository, following the registry's pages. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char help[] = "Usage: kiln tags [OPTIONS] [docker://]HOST/REPO\n"
                           "\n"
                           "List all tags of a repository, one per line.\n"
                           "\n"
                           "Options:\n"
                           "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_tags(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_DEBUG = 1 };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "debug", no_argument, NULL, OPT_DEBUG },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    int opt, rc = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (opt = cli_getopt(argc, argv, ":h", options)) != -1) {
        int r = cli_remote_option(opt, optarg, &ro, &err);
        if (r < 0)
            rc = -1;
        if (r != 0)
            continue;
        if (opt == 'h') {
            fputs(help, stdout);
            return EXIT_OK;
        } else if (opt == OPT_DEBUG)
            g->verbosity = 2;
        else
            rc = cli_bad_option("tags", opt, argv, &err);
    }
    if (rc == 0 && argc - optind != 1) {
        rc = cli_usage(&err, "tags", "expected one REPO");
    }
    char *out = NULL;
    if (rc == 0)
        rc = kiln_list_tags(argv[optind], &ro, &out, &err);
    if (rc < 0)
        return cli_report(&err);
    fputs(out, stdout);
    free(out);
    return EXIT_OK;
}
