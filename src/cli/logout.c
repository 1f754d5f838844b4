/* kiln logout: forget stored credentials for a registry. */
#include <stdio.h>

#include "cli.h"

static const char help[] = "Usage: kiln logout [--authfile FILE] REGISTRY\n"
                           "\n"
                           "Remove the credentials stored for REGISTRY from the auth file.\n"
                           "\n"
                           "Options:\n"
                           "  --authfile FILE           the auth file (default: as kiln login)\n"
                           "  -h, --help\n";

int cmd_logout(int argc, char **argv, struct cli_globals *g)
{
    static const struct option options[] = {
        { "authfile", required_argument, NULL, OPT_AUTHFILE },
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    kiln_remote_opts_init(&ro);
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":h", options, help, NULL, g, &err) {
        if (opt == OPT_AUTHFILE)
            ro.authfile = optarg;
        else
            rc = cli_bad_option("logout", opt, argv, &err);
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 1) {
        rc = cli_usage(&err, "logout", "expected one REGISTRY");
    }
    if (rc == 0 && (rc = kiln_logout(argv[optind], &ro, &err)) == 0)
        fprintf(stderr, "kiln: not logged in to %s\n", argv[optind]);
    else if (rc > 0)
        fprintf(stderr, "Removed login credentials for %s\n", argv[optind]);
    if (rc < 0)
        return cli_report(&err);
    return EXIT_OK;
}
