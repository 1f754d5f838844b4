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
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":h", options, help, &ro, g, &err)
        rc = cli_bad_option("tags", opt, argv, &err);
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
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
