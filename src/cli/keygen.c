/* kiln keygen: a key pair for kiln sign, skopeo and cosign. A command of its
 * own rather than a `kiln sign` option: it touches no image and no registry,
 * and a key is made once and used for many signatures. The file names follow
 * skopeo's generate-sigstore-key (PREFIX.private, PREFIX.pub). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln keygen [OPTIONS] (--passphrase-file FILE | --passphrase-fd N)\n"
    "\n"
    "Generate an ECDSA P-256 key pair for sigstore signatures:\n"
    "  PREFIX.private   the private key, encrypted with the passphrase (scrypt and NaCl\n"
    "                   secretbox, PEM \"ENCRYPTED COSIGN PRIVATE KEY\"; mode 0600), for\n"
    "                   'kiln sign --key', 'skopeo copy --sign-by-sigstore-private-key'\n"
    "                   and 'cosign sign --key'\n"
    "  PREFIX.pub       the public key (PEM), for 'kiln verify --key', a sigstoreSigned\n"
    "                   policy's keyPath and 'cosign verify --key'\n"
    "Existing files are never replaced. Prints the two file names.\n"
    "\n"
    "Options:\n"
    "  --output-prefix PREFIX    file names PREFIX.private and PREFIX.pub (default: kiln)\n"
    "  --passphrase-file FILE    the passphrase is the first line of FILE\n"
    "  --passphrase-fd N         the passphrase is the first line read from descriptor N\n"
    "  -q, --quiet\n"
    "  -h, --help\n";

int cmd_keygen(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_PREFIX = 1, OPT_PFILE, OPT_PFD };
    static const struct option options[] = {
        { "output-prefix", required_argument, NULL, OPT_PREFIX },
        { "passphrase-file", required_argument, NULL, OPT_PFILE },
        { "passphrase-fd", required_argument, NULL, OPT_PFD },
        CLI_OPTION_QUIET,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    const char *prefix = "kiln", *pfile = NULL, *pfd = NULL;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qh", options, help, NULL, g, &err) {
        switch (opt) {
        case OPT_PREFIX:
            prefix = optarg;
            break;
        case OPT_PFILE:
            pfile = optarg;
            break;
        case OPT_PFD:
            pfd = optarg;
            break;
        default:
            rc = cli_bad_option("keygen", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && optind < argc)
        rc = cli_usage(&err, "keygen", "takes no arguments; run 'kiln keygen --help'");
    if (rc == 0 && !prefix[0])
        rc = cli_usage(&err, "keygen", "--output-prefix is empty");
    char priv[4096], pub[4096];
    snprintf(priv, sizeof(priv), "%s.private", prefix);
    snprintf(pub, sizeof(pub), "%s.pub", prefix);
    struct cli_passphrase pass = { 0 };
    if (rc == 0)
        rc = cli_passphrase_read(pfile, pfd, &pass, &err);
    if (rc == 0)
        rc = kiln_sign_generate_key(priv, pub, pass.text, pass.len, &err);
    cli_passphrase_free(&pass);
    if (rc < 0)
        return cli_report(&err);
    if (g->verbosity >= 0)
        printf("%s\n%s\n", priv, pub);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
