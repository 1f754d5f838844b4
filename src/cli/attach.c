/* kiln attach: attach a file (an SBOM, an attestation) to an image as a referrer. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln attach [OPTIONS] --artifact-type TYPE REF FILE\n"
    "\n"
    "Attach FILE to the image (or index) REF names, as an OCI 1.1 referrer: an artifact\n"
    "manifest whose subject is the image and whose one layer is FILE (docs/referrers.md).\n"
    "REF: oci:DIR[:NAME], oci-archive:FILE[:NAME] (offline; the archive is rewritten\n"
    "atomically) or docker://HOST/REPO[:TAG|@DIGEST] (the referrers API when the registry\n"
    "has it, else the fallback tag sha256-<hex>). Prints the artifact manifest's digest.\n"
    "\n"
    "Options:\n"
    "  --artifact-type TYPE      spdx (SPDX 2 JSON, application/spdx+json),\n"
    "                            spdx3 (SPDX 3 JSON-LD, application/spdx3+json),\n"
    "                            cyclonedx (application/vnd.cyclonedx+json),\n"
    "                            in-toto (application/vnd.in-toto+json), or a media type\n"
    "  --media-type TYPE         FILE's media type (default: the artifact type)\n"
    "  --annotation KEY=VALUE    an annotation of the artifact manifest (repeatable);\n"
    "                            org.opencontainers.image.created is SOURCE_DATE_EPOCH,\n"
    "                            else now\n"
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_attach(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_TYPE = 1, OPT_MEDIA, OPT_ANNOT };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "artifact-type", required_argument, NULL, OPT_TYPE },
        { "media-type", required_argument, NULL, OPT_MEDIA },
        { "annotation", required_argument, NULL, OPT_ANNOT },
        CLI_OPTION_QUIET,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    struct kiln_attach_opts ao;
    kiln_attach_opts_init(&ao);
    const char **annots = calloc((size_t)argc + 1, sizeof(*annots));
    if (!annots) {
        fputs("kiln: out of memory\n", stderr);
        return EXIT_FAILURE_;
    }
    size_t nannots = 0;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qvh", options, help, &ro, g, &err) {
        switch (opt) {
        case OPT_TYPE:
            ao.artifact_type = optarg;
            break;
        case OPT_MEDIA:
            ao.media_type = optarg;
            break;
        case OPT_ANNOT:
            annots[nannots++] = optarg;
            break;
        default:
            rc = cli_bad_option("attach", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN) {
        free(annots);
        return EXIT_OK;
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage(&err, "attach", "expected REF and FILE; run 'kiln attach --help'");
    if (rc == 0 && !ao.artifact_type)
        rc = cli_usage(&err, "attach",
                       "--artifact-type is required (spdx, spdx3, cyclonedx, in-toto or a media "
                       "type)");
    ao.annotations = annots;
    ao.nannotations = nannots;
    char digest[KILN_DIGEST_MAX];
    if (rc == 0)
        rc = kiln_attach(argv[optind], argv[optind + 1], &ao, &ro, digest, &err);
    free(annots);
    if (rc < 0)
        return cli_report(&err);
    printf("%s\n", digest);
    return EXIT_OK;
}
