/* kiln copy: an image between oci:, oci-archive:, docker-archive: and docker://. */
#include <jansson.h>
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
    "  --manifest-format FMT     oci or docker (v2 schema 2): convert the manifest and the\n"
    "                            config's media types (layers' bytes kept; the digest changes,\n"
    "                            so the source's signatures do not apply); one image at a time\n"
    "  --src-creds USER[:PASS]   credentials for the source registry\n"
    "  --dest-creds USER[:PASS]  credentials for the destination registry\n"
    "  -j, --jobs N              parallel blob transfers (default 4)\n"
    "  --copy-signatures         registry to registry: copy the sigstore signatures\n"
    "                            (sha256-<hex>.sig tags) of the image and of each image of\n"
    "                            an index too, adding them to those at DESTINATION\n"
    "  --referrers               copy the referrers (kiln attach, oras, cosign attestations)\n"
    "                            of the image and of each image of an index too; to a\n"
    "                            docker-archive they are dropped, with a warning\n" CLI_SIGN_BY_HELP
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

/* --manifest-format: the image written again in the other format, as kiln
 * mutate writes it (a build with the image as its base and no change), or
 * copied as it is when it already has that format. */
static int copy_as(const char *src, const char *dest, const char *platform, const char *format,
                   struct kiln_remote_opts *ro, struct cli_globals *g, char digest[],
                   struct kiln_error *err)
{
    char *raw = NULL;
    size_t len = 0;
    if (kiln_inspect(src, KILN_INSPECT_JSON, platform, ro, &raw, &len, err) < 0)
        return -1;
    json_t *j = json_loadb(raw, len, 0, NULL), *im = j;
    free(raw);
    int rc = 0;
    json_t *ms = json_object_get(j, "manifests");
    if (ms && (!platform || json_array_size(ms) != 1))
        rc = cli_usage(err, "copy",
                       "--manifest-format converts one image: SOURCE is a multi-platform index; "
                       "give --platform (then 'kiln index' assembles the platforms again)");
    else if (ms)
        im = json_array_get(ms, 0);
    const char *mt = rc == 0 ? json_string_value(json_object_get(im, "mediaType")) : NULL;
    bool docker = !strcmp(format, "docker");
    bool same = mt && (docker ? !strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json")
                              : !strcmp(mt, "application/vnd.oci.image.manifest.v1+json"));
    size_t i;
    json_t *l;
    json_array_foreach(rc == 0 && docker ? json_object_get(im, "layers") : NULL, i, l)
    {
        const char *lt = json_string_value(json_object_get(l, "mediaType"));
        if (lt && strstr(lt, "zstd")) {
            err->code = KILN_ERR_USAGE;
            snprintf(err->message, sizeof(err->message),
                     "copy: --manifest-format docker: layer %s is zstd-compressed, and Docker's "
                     "v2 schema 2 has no zstd layer type (Docker before 23 cannot read zstd); "
                     "keep the OCI format, or rebuild the image with --compression gzip",
                     json_string_value(json_object_get(l, "digest")));
            rc = -1;
            break;
        }
    }
    json_decref(j);
    if (rc < 0)
        return -1;
    if (same)
        return kiln_copy(src, dest, platform, ro, digest, err);
    if (g->verbosity >= 0)
        fprintf(stderr, "kiln: warning: --manifest-format %s: the copy has another digest than "
                        "%s, so the source's signatures and referrers do not apply to it\n",
                format, src);
    kiln_build *b = kiln_build_new();
    if (!b) {
        err->code = KILN_ERR_NOMEM;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -1;
    }
    kiln_build_set_log(b, cli_log, g);
    kiln_build_set_remote(b, ro);
    rc = kiln_build_set(b, KILN_SET_FROM, src, err);
    if (rc == 0 && platform)
        rc = kiln_build_set(b, KILN_SET_PLATFORM, platform, err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_MANIFEST_FORMAT, format, err);
    if (rc == 0)
        rc = kiln_build_set(b, KILN_SET_CREATED, "base", err);
    if (rc == 0)
        rc = kiln_build_add_output(b, dest, err);
    if (rc == 0)
        rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    return rc;
}

int cmd_copy(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_PLATFORM = 1, OPT_DIGESTFILE, OPT_COPY_SIGNATURES, OPT_FORMAT, OPT_REFERRERS };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        CLI_SIGN_BY_OPTIONS,
        { "src-creds", required_argument, NULL, OPT_SRC_CREDS },
        { "dest-creds", required_argument, NULL, OPT_DEST_CREDS },
        { "jobs", required_argument, NULL, 'j' },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        { "digestfile", required_argument, NULL, OPT_DIGESTFILE },
        { "copy-signatures", no_argument, NULL, OPT_COPY_SIGNATURES },
        { "referrers", no_argument, NULL, OPT_REFERRERS },
        { "manifest-format", required_argument, NULL, OPT_FORMAT },
        CLI_OPTION_QUIET,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, true);
    const char *platform = NULL, *digestfile = NULL, *format = NULL;
    struct cli_sign_by sb = { 0 };
    bool copy_signatures = false, referrers = false;
    int opt, rc = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (opt = cli_getopt(argc, argv, ":j:qvh", options)) != -1) {
        int r = cli_common_option(opt == 'j' ? OPT_PUSH_JOBS : opt, optarg, help, &ro, g, &err);
        if (r == CLI_OPT_HELP)
            return EXIT_OK;
        if (r < 0)
            rc = -1;
        if (r != CLI_OPT_OWN || cli_sign_by_option(opt, optarg, &sb))
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
        case OPT_REFERRERS:
            referrers = true;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "oci") && strcmp(optarg, "docker"))
                rc = cli_usage(&err, "copy", "--manifest-format: expected oci or docker");
            format = optarg;
            break;
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
    if (rc == 0 && copy_signatures && format)
        rc = cli_usage(&err, "copy", "--copy-signatures with --manifest-format: the signatures "
                                     "sign the source's digest, and a converted copy has "
                                     "another; sign the copy with --sign-by");
    if (rc == 0 && referrers && format)
        rc = cli_usage(&err, "copy", "--referrers with --manifest-format: the referrers name the "
                                     "source's digest as their subject, and a converted copy has "
                                     "another");
    if (rc == 0)
        rc = cli_sign_by_prepare(&sb, "copy", &err);
    char digest[KILN_DIGEST_MAX];
    if (rc == 0 && format)
        rc = copy_as(argv[optind], argv[optind + 1], platform, format, &ro, g, digest, &err);
    else if (rc == 0)
        rc = kiln_copy(argv[optind], argv[optind + 1], platform, &ro, digest, &err);
    unsigned copied = 0;
    if (rc == 0 && copy_signatures)
        rc = kiln_copy_signatures(argv[optind], argv[optind + 1], digest, &ro, &copied, &err);
    if (rc == 0 && copy_signatures && g->verbosity > 0)
        fprintf(stderr, "kiln: %u signature%s copied\n", copied, copied == 1 ? "" : "s");
    if (rc == 0 && referrers)
        rc = kiln_copy_referrers(argv[optind], argv[optind + 1], digest, &ro, &copied, &err);
    if (rc == 0 && referrers && g->verbosity > 0)
        fprintf(stderr, "kiln: %u referrer%s copied\n", copied, copied == 1 ? "" : "s");
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
