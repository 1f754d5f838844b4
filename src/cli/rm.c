/* kiln rm: untag images in an OCI layout, or delete them from a registry. */
#include <stdio.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln rm [OPTIONS] REF...\n"
    "\n"
    "Remove images:\n"
    "  oci:DIR:TAG               the entry of TAG leaves DIR/index.json, under the layout's\n"
    "                            lock; its blobs stay until 'kiln gc oci:DIR'\n"
    "  docker://HOST/REPO:TAG    the manifest TAG names is deleted from the registry, and\n"
    "  docker://HOST/REPO@DIGEST with it every tag that points at it (where the registry\n"
    "                            allows deletes); prints the digest deleted\n"
    "Each REF is removed in turn; the first failure stops.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_rm(int argc, char **argv, struct cli_globals *g)
{
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        CLI_OPTION_QUIET,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qvh", options, help, &ro, g, &err) {
        switch (opt) {
        default:
            rc = cli_bad_option("rm", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && optind >= argc)
        rc = cli_usage(&err, "rm", "expected at least one REF; run 'kiln rm --help'");
    for (int i = optind; rc == 0 && i < argc; i++) {
        char digest[KILN_DIGEST_MAX];
        rc = kiln_remove(argv[i], &ro, digest, &err);
        if (rc == 0 && digest[0])
            printf("%s\n", digest);
        if (rc == 0 && g->verbosity > 0)
            fprintf(stderr, "kiln: removed %s\n", argv[i]);
    }
    if (rc < 0)
        return cli_report(&err);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
