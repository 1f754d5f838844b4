/* kiln export: an image's merged filesystem as one tar, as docker export gives it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln export [OPTIONS] REF\n"
    "\n"
    "Write the filesystem of the image REF as one tar: its layers applied in order,\n"
    "whiteouts and opaque directories honoured, hardlinks kept. Owners, modes, devices\n"
    "and extended attributes are the layers' (nothing is unpacked, so whoever runs it).\n"
    "The same image gives the same bytes. Writes to standard output unless -o is given\n"
    "(and refuses a terminal).\n"
    "REF: oci:DIR[:NAME|:@N], oci-archive:FILE[:NAME|:@N], docker-archive:FILE[:REF|:@N],\n"
    "     docker://HOST/REPO[:TAG]\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE         write the tar to FILE (replaced atomically); - for stdout\n"
    "  --platform OS/ARCH[/VAR]  the image of a multi-platform index (default: the host's)\n"
    "  -q, --quiet\n"
    "  -h, --help\n"
    "\n" CLI_REMOTE_HELP "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-export(1).\n";

int cmd_export(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_PLATFORM = 1 };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "output", required_argument, NULL, 'o' },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        CLI_OPTION_QUIET,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    const char *platform = NULL, *output = NULL;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":o:qh", options, help, &ro, g, &err) {
        switch (opt) {
        case 'o':
            output = optarg;
            break;
        case OPT_PLATFORM:
            platform = optarg;
            break;
        default:
            rc = cli_bad_option("export", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage(&err, "export", "expected one REF");
    if (rc == 0 && output && !*output)
        rc = cli_usage(&err, "export", "-o: expected a FILE (or - for standard output)");
    bool to_stdout = !output || !strcmp(output, "-");
    if (rc == 0 && to_stdout && isatty(STDOUT_FILENO))
        rc = cli_usage(&err, "export",
                       "standard output is a terminal: redirect it, or write to a file with -o");
    if (rc == 0) {
        fflush(stdout);
        rc = kiln_export(argv[optind], output, platform, &ro, &err);
    }
    return rc < 0 ? cli_report(&err) : EXIT_OK;
}
