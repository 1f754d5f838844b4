/* kiln index: per-platform images -> one multi-platform index. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln index [OPTIONS] -o DEST IMAGE...\n"
    "\n"
    "Assemble images built for different platforms (kiln build --platform ...) into one\n"
    "multi-platform index at DEST: an OCI image index, or a Docker manifest list when the\n"
    "manifests are Docker-typed. Prints the index digest.\n"
    "IMAGE, DEST: oci:DIR[:NAME], oci-archive:FILE[:NAME], docker://HOST/REPO:TAG (an IMAGE\n"
    "also docker-archive:FILE[:REF|:@N], and oci:DIR:@N)\n"
    "A path ends at its first ':' (a NAME may hold ':' and '/', as podman's localhost/app:1);\n"
    "write a ':' in a path as \\:. @N is the image at that position, from 0.\n"
    "\n"
    "Options:\n"
    "  -o, --output DEST         where the index goes\n"
    "  --digestfile FILE         also write the index digest to FILE (no newline)\n"
    "  -j, --jobs N              parallel blob transfers (default 4)\n" CLI_SIGN_BY_HELP
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_index(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_DIGESTFILE };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        CLI_SIGN_BY_OPTIONS,
        { "output", required_argument, NULL, 'o' },
        { "digestfile", required_argument, NULL, OPT_DIGESTFILE },
        { "jobs", required_argument, NULL, 'j' },
        CLI_OPTION_QUIET,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, true);
    const char *dest = NULL, *digestfile = NULL;
    struct cli_sign_by sb = { 0 };
    int opt, rc = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (opt = cli_getopt(argc, argv, ":o:j:qvh", options)) != -1) {
        int r = cli_common_option(opt == 'j' ? OPT_PUSH_JOBS : opt, optarg, help, &ro, g, &err);
        if (r == CLI_OPT_HELP)
            return EXIT_OK;
        if (r < 0)
            rc = -1;
        if (r != CLI_OPT_OWN || cli_sign_by_option(opt, optarg, &sb))
            continue;
        switch (opt) {
        case 'o':
            dest = optarg;
            break;
        case OPT_DIGESTFILE:
            digestfile = optarg;
            break;
        default:
            rc = cli_bad_option("index", opt, argv, &err);
            break;
        }
    }
    if (rc == 0 && (!dest || optind >= argc)) {
        rc = cli_usage(&err, "index",
                       "expected -o DEST and at least one IMAGE; run 'kiln index --help'");
    }
    if (rc == 0 && digestfile)
        rc = cli_digestfile_check(digestfile, &err);
    if (rc == 0 && sb.key && strncmp(dest, "docker://", 9))
        rc = cli_usage(&err, "index", "--sign-by signs a docker:// destination");
    if (rc == 0)
        rc = cli_sign_by_prepare(&sb, "index", &err);
    char digest[KILN_DIGEST_MAX];
    if (rc == 0)
        rc = kiln_index((const char *const *)argv + optind, (size_t)(argc - optind), dest, &ro,
                        digest, &err);
    if (rc == 0)
        rc = cli_sign_by_run(&sb, dest, digest, &ro, g, &err);
    if (rc == 0 && digestfile)
        rc = cli_digestfile_write(digestfile, digest, &err);
    cli_sign_by_free(&sb);
    if (rc < 0)
        return cli_report(&err);
    printf("%s\n", digest);
    return EXIT_OK;
}
