/* kiln unpack: an image's filesystem, layers and whiteouts applied, into a directory. */
#include <stdio.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln unpack [OPTIONS] REF DIR\n"
    "\n"
    "Apply every layer of the image REF (whiteouts included) to the new directory DIR.\n"
    "Entries that would land outside DIR (.., absolute names, through symlinks) are refused.\n"
    "Owners are kept when run as root, and become the caller's otherwise.\n"
    "REF: oci:DIR[:NAME|:@N], oci-archive:FILE[:NAME|:@N], docker-archive:FILE[:REF|:@N],\n"
    "     docker://HOST/REPO[:TAG]\n"
    "A path ends at its first ':' (a NAME may hold ':' and '/', as podman's localhost/app:1);\n"
    "write a ':' in a path as \\:. @N is the image at that position, from 0.\n"
    "\n"
    "Options:\n"
    "  --platform OS/ARCH[/VAR]  the image of a multi-platform index (default: the host's)\n"
    "  -q, --quiet\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_unpack(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_PLATFORM = 1 };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "platform", required_argument, NULL, OPT_PLATFORM },
        CLI_OPTION_QUIET,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    const char *platform = NULL;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qh", options, help, &ro, g, &err) {
        switch (opt) {
        case OPT_PLATFORM:
            platform = optarg;
            break;
        default:
            rc = cli_bad_option("unpack", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 2) {
        rc = cli_usage(&err, "unpack", "expected REF and DIR");
    }
    if (rc == 0)
        rc = kiln_unpack(argv[optind], argv[optind + 1], platform, &ro, &err);
    return rc < 0 ? cli_report(&err) : EXIT_OK;
}
