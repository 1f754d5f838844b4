/* kiln diff: the changeset between two trees, as a layer tar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln diff [OPTIONS] OLD NEW -o FILE\n"
    "\n"
    "Write the layer that turns directory tree OLD into NEW: new and changed entries,\n"
    "whiteouts (.wh.NAME) for removed ones, opaque markers for replaced directories.\n"
    "Prints its DiffID (sha256 of the uncompressed tar). The same changeset is a build\n"
    "input with 'kiln build --diff OLD NEW'.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE         the tar to write (atomically)\n"
    "  --compression ALGO        none (default), gzip or zstd\n"
    "  --source-date-epoch N     clamp mtimes to N (default $SOURCE_DATE_EPOCH)\n"
    "  --no-xattrs               drop extended attributes\n"
    "  -h, --help\n";

int cmd_diff(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_COMPRESSION = 1, OPT_SDE, OPT_NO_XATTRS };
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' },
        { "compression", required_argument, NULL, OPT_COMPRESSION },
        { "source-date-epoch", required_argument, NULL, OPT_SDE },
        { "no-xattrs", no_argument, NULL, OPT_NO_XATTRS },
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    const char *out = NULL, *comp = "none", *sde = getenv("SOURCE_DATE_EPOCH");
    bool xattrs = true;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":o:h", options, help, NULL, g, &err) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case OPT_COMPRESSION:
            comp = optarg;
            break;
        case OPT_SDE:
            sde = optarg;
            break;
        case OPT_NO_XATTRS:
            xattrs = false;
            break;
        default:
            rc = cli_bad_option("diff", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && (argc - optind != 2 || !out)) {
        rc = cli_usage(&err, "diff", "expected OLD NEW -o FILE; run 'kiln diff --help'");
    }
    enum kiln_compression c = KILN_COMPRESSION_NONE;
    int64_t epoch = -1;
    if (rc == 0)
        rc = kiln_parse_compression(comp, &c, &err);
    if (rc == 0 && sde && *sde)
        rc = kiln_parse_source_date_epoch(sde, &epoch, &err);
    char diff_id[KILN_DIGEST_MAX];
    if (rc == 0)
        rc = kiln_write_diff(argv[optind], argv[optind + 1], out, epoch, xattrs, c, diff_id, &err);
    if (rc < 0)
        return cli_report(&err);
    printf("%s\n", diff_id);
    return EXIT_OK;
}
