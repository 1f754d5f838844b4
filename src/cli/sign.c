/* kiln sign: add a sigstore signature to an image in a registry. */
#include <stdio.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln sign [OPTIONS] --key FILE (--passphrase-file F | --passphrase-fd N) REF...\n"
    "\n"
    "Sign images in a registry, REF = docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST,\n"
    "with a sigstore signature as skopeo and podman verify (a sigstoreSigned policy with\n"
    "use-sigstore-attachments) and as cosign stores it: a signature of the manifest digest\n"
    "and the reference, added to those at the tag sha256-<hex>.sig of the repository.\n"
    "An index is signed, and so is each of its images. Prints the digest signed.\n"
    "\n"
    "Options:\n"
    "  --key FILE                the encrypted private key (kiln keygen, cosign, skopeo)\n"
    "  --passphrase-file FILE    its passphrase: the first line of FILE\n"
    "  --passphrase-fd N         its passphrase: the first line read from descriptor N\n"
    "  --identity HOST/REPO:TAG  the reference to sign for (default: REF, normalised;\n"
    "                            HOST/REPO for a REF by digest)\n"
    "  --no-recursive            of an index, sign the index only\n"
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_sign(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_KEY = 1, OPT_PFILE, OPT_PFD, OPT_IDENTITY, OPT_NO_RECURSIVE };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "key", required_argument, NULL, OPT_KEY },
        { "passphrase-file", required_argument, NULL, OPT_PFILE },
        { "passphrase-fd", required_argument, NULL, OPT_PFD },
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
    struct kiln_sign_opts so;
    kiln_sign_opts_init(&so);
    cli_remote_setup(&ro, g, false);
    const char *pfile = NULL, *pfd = NULL;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qvh", options, help, &ro, g, &err) {
        switch (opt) {
        case OPT_KEY:
            so.key_file = optarg;
            break;
        case OPT_PFILE:
            pfile = optarg;
            break;
        case OPT_PFD:
            pfd = optarg;
            break;
        case OPT_IDENTITY:
            so.identity = optarg;
            break;
        case OPT_NO_RECURSIVE:
            so.recursive = false;
            break;
        default:
            rc = cli_bad_option("sign", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && optind >= argc)
        rc = cli_usage(&err, "sign", "expected at least one REF; run 'kiln sign --help'");
    if (rc == 0 && !so.key_file)
        rc = cli_usage(&err, "sign", "--key FILE is required");
    struct cli_passphrase pass = { 0 };
    if (rc == 0)
        rc = cli_passphrase_read(pfile, pfd, &pass, &err);
    so.passphrase = pass.text;
    so.passphrase_len = pass.len;
    for (int i = optind; rc == 0 && i < argc; i++) {
        char digest[KILN_DIGEST_MAX];
        rc = kiln_sign(argv[i], &so, &ro, digest, &err);
        if (rc == 0 && g->verbosity >= 0)
            printf("%s\n", digest);
    }
    cli_passphrase_free(&pass);
    if (rc < 0)
        return cli_report(&err);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
