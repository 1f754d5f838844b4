/* kiln gc: remove the blobs of an OCI layout that nothing references. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln gc [OPTIONS] oci:DIR\n"
    "\n"
    "Remove the blobs of the layout that no entry of its index.json references, and what\n"
    "killed kiln processes left in it, under the layout's lock: kiln builds and copies into\n"
    "it may go on meanwhile. skopeo and umoci take no lock: do not let them write to it\n"
    "while kiln gc runs. A document the index references that cannot be read stops it\n"
    "before anything is removed. Prints what it removed and what it kept.\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run             only say what would be removed\n"
    "  -h, --help\n";

int cmd_gc(int argc, char **argv, struct cli_globals *g)
{
    static const struct option options[] = {
        { "dry-run", no_argument, NULL, 'n' },
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    bool dry = false;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":nh", options, help, NULL, g, &err) {
        if (opt == 'n')
            dry = true;
        else
            rc = cli_bad_option("gc", opt, argv, &err);
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage(&err, "gc", "expected one oci:DIR; run 'kiln gc --help'");
    struct kiln_gc_stats st;
    if (rc == 0)
        rc = kiln_gc(argv[optind], dry, &st, &err);
    if (rc < 0)
        return cli_report(&err);
    char rb[32], kb[32];
    cli_human_size(st.removed_bytes, rb, sizeof(rb));
    cli_human_size(st.kept_bytes, kb, sizeof(kb));
    printf("%s %" PRIu64 " blob%s (%s); kept %" PRIu64 " (%s)\n", dry ? "would remove" : "removed",
           st.removed, st.removed == 1 ? "" : "s", rb, st.kept, kb);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
