/* kiln verify: check an image's sigstore signatures with a public key. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln verify [OPTIONS] --key FILE REF...\n"
    "\n"
    "Check that each image, REF = docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST, has a\n"
    "sigstore signature made with the key (by kiln sign, skopeo or cosign) for its manifest\n"
    "digest and for the reference: by default as skopeo's sigstoreSigned policy does\n"
    "(matchRepoDigestOrExact): REF itself when it has a tag, else any tag of its repository.\n"
    "Of an index, each of its images must be signed too. Prints one line per manifest:\n"
    "DIGEST and the reference its signature names. Exits 1 naming why each signature\n"
    "was refused.\n"
    "\n"
    "Options:\n"
    "  --key FILE                the public key (PEM)\n"
    "  --identity HOST/REPO[:TAG]  the reference the signatures must name (without a tag:\n"
    "                            any tag of that repository)\n"
    "  --no-recursive            of an index, check the index's signature only\n"
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_verify(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_KEY = 1, OPT_IDENTITY, OPT_NO_RECURSIVE };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "key", required_argument, NULL, OPT_KEY },
        { "identity", required_argument, NULL, OPT_IDENTITY },
        { "no-recursive", no_argument, NULL, OPT_NO_RECURSIVE },
        CLI_OPTION_QUIET,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    struct kiln_verify_opts vo;
    kiln_verify_opts_init(&vo);
    cli_remote_setup(&ro, g, false);
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qvh", options, help, &ro, g, &err) {
        switch (opt) {
        case OPT_KEY:
            vo.key_file = optarg;
            break;
        case OPT_IDENTITY:
            vo.identity = optarg;
            break;
        case OPT_NO_RECURSIVE:
            vo.recursive = false;
            break;
        default:
            rc = cli_bad_option("verify", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && optind >= argc)
        rc = cli_usage(&err, "verify", "expected at least one REF; run 'kiln verify --help'");
    if (rc == 0 && !vo.key_file)
        rc = cli_usage(&err, "verify", "--key FILE is required");
    for (int i = optind; rc == 0 && i < argc; i++) {
        char *report = NULL;
        rc = kiln_verify(argv[i], &vo, &ro, &report, &err);
        if (rc == 0 && g->verbosity >= 0 && report)
            fputs(report, stdout);
        free(report);
    }
    if (rc < 0)
        return cli_report(&err);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
