/* kiln copy: an image between oci:, oci-archive:, docker-archive: and docker://. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln copy [OPTIONS] SOURCE DESTINATION\n"
    "\n"
    "Copy an image (or a whole multi-platform index) between transports:\n"
    "  oci:DIR[:NAME]  oci-archive:FILE[:NAME]  docker-archive:FILE[:REF]  docker://HOST/REPO[:TAG]\n"
    "  and, for a SOURCE, oci:DIR:@N  oci-archive:FILE:@N  docker-archive:FILE:@N\n"
    "A path ends at its first ':' (a NAME may hold ':' and '/', as podman's localhost/app:1);\n"
    "write a ':' in a path as \\:. @N is the image at that position, from 0.\n"
    "Pushing is a copy to docker://, pulling a copy from it. Prints the digest written.\n"
    "\n"
    "Options:\n"
    "  --platform OS/ARCH[/VAR]  copy only this platform's image of an index\n"
    "  --digestfile FILE         also write the digest to FILE (no newline)\n"
    "  --src-creds USER[:PASS]   credentials for the source registry\n"
    "  --dest-creds USER[:PASS]  credentials for the destination registry\n"
    "  -j, --jobs N              parallel blob transfers (default 4)\n"
    "  --copy-signatures         registry to registry: copy the sigstore signatures\n"
    "                            (sha256-<hex>.sig tags) of the image and of each image of\n"
    "                            an index too, adding them to those at DESTINATION\n" CLI_SIGN_BY_HELP
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_copy(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_PLATFORM = 1, OPT_DEBUG, OPT_DIGESTFILE, OPT_COPY_SIGNATURES };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        CLI_SIGN_BY_OPTIONS,
        { "src-creds", required_argument, NULL, OPT_SRC_CREDS },
        { "dest-creds", required_argument, NULL, OPT_DEST_CREDS },
        { "jobs", required_argument, NULL, 'j' },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        { "digestfile", required_argument, NULL, OPT_DIGESTFILE },
        { "copy-signatures", no_argument, NULL, OPT_COPY_SIGNATURES },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "debug", no_argument, NULL, OPT_DEBUG },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, true);
    const char *platform = NULL, *digestfile = NULL;
    struct cli_sign_by sb = { 0 };
    bool copy_signatures = false;
    int opt, rc = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (opt = cli_getopt(argc, argv, ":j:qvh", options)) != -1) {
        int r = cli_remote_option(opt == 'j' ? OPT_PUSH_JOBS : opt, optarg, &ro, &err);
        if (r < 0)
            rc = -1;
        if (r != 0 || cli_sign_by_option(opt, optarg, &sb))
            continue;
        switch (opt) {
        case OPT_PLATFORM:
            platform = optarg;
            break;
        case OPT_DIGESTFILE:
            digestfile = optarg;
            break;
        case OPT_COPY_SIGNATURES:
            copy_signatures = true;
            break;
        case 'q':
            g->verbosity = -1;
            break;
        case 'v':
            g->verbosity = 1;
            break;
        case OPT_DEBUG:
            g->verbosity = 2;
            break;
        case 'h':
            fputs(help, stdout);
            return EXIT_OK;
        default:
            rc = cli_bad_option("copy", opt, argv, &err);
            break;
        }
    }
    if (rc == 0 && argc - optind != 2) {
        rc = cli_usage(&err, "copy", "expected SOURCE and DESTINATION; run 'kiln copy --help'");
    }
    if (rc == 0 && digestfile)
        rc = cli_digestfile_check(digestfile, &err);
    if (rc == 0 && sb.key && strncmp(argv[optind + 1], "docker://", 9))
        rc = cli_usage(&err, "copy", "--sign-by signs a docker:// destination");
    if (rc == 0 && copy_signatures &&
        (strncmp(argv[optind], "docker://", 9) || strncmp(argv[optind + 1], "docker://", 9)))
        rc = cli_usage(&err, "copy", "--copy-signatures copies from a registry to a registry "
                                     "(layouts and archives hold no sigstore signatures)");
    if (rc == 0)
        rc = cli_sign_by_prepare(&sb, "copy", &err);
    char digest[KILN_DIGEST_MAX];
    if (rc == 0)
        rc = kiln_copy(argv[optind], argv[optind + 1], platform, &ro, digest, &err);
    unsigned copied = 0;
    if (rc == 0 && copy_signatures)
        rc = kiln_copy_signatures(argv[optind], argv[optind + 1], digest, &ro, &copied, &err);
    if (rc == 0 && copy_signatures && g->verbosity > 0)
        fprintf(stderr, "kiln: %u signature%s copied\n", copied, copied == 1 ? "" : "s");
    if (rc == 0)
        rc = cli_sign_by_run(&sb, argv[optind + 1], digest, &ro, g, &err);
    if (rc == 0 && digestfile)
        rc = cli_digestfile_write(digestfile, digest, &err);
    cli_sign_by_free(&sb);
    if (rc < 0)
        return cli_report(&err);
    printf("%s\n", digest);
    return EXIT_OK;
}
