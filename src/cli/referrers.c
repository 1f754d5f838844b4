/* kiln referrers: the files attached to an image (OCI 1.1 referrers). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln referrers [OPTIONS] REF\n"
    "\n"
    "List the referrers of the image (or index) REF names: the artifacts attached to it\n"
    "(kiln attach, oras attach, cosign attestations, ...), one line each: digest, artifact\n"
    "type, size and creation time. REF: oci:DIR[:NAME], oci-archive:FILE[:NAME],\n"
    "docker://HOST/REPO[:TAG|@DIGEST] (the referrers API, else the fallback tag sha256-<hex>).\n"
    "\n"
    "Options:\n"
    "  --artifact-type TYPE      only referrers of that type (spdx, spdx3, cyclonedx,\n"
    "                            in-toto or a media type)\n"
    "  --json                    the referrers list as the distribution spec defines it\n"
    "                            (an OCI image index of their descriptors)\n"
    "  -q, --quiet, -v, --verbose\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

static const char *annotation(json_t *d, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(d, "annotations"), key));
    return v && *v ? v : "-";
}

static void print_table(json_t *list)
{
    json_t *ms = json_object_get(list, "manifests");
    int wt = 13;
    size_t i;
    json_t *d;
    json_array_foreach(ms, i, d)
    {
        const char *t = json_string_value(json_object_get(d, "artifactType"));
        int l = (int)strlen(t ? t : "-");
        wt = l > wt ? l : wt;
    }
    printf("%-71s  %-*s  %8s  %s\n", "DIGEST", wt, "ARTIFACT TYPE", "SIZE", "CREATED");
    json_array_foreach(ms, i, d)
    {
        const char *t = json_string_value(json_object_get(d, "artifactType"));
        char size[32];
        cli_human_size((uint64_t)json_integer_value(json_object_get(d, "size")), size,
                       sizeof(size));
        printf("%-71s  %-*s  %8s  %s\n", json_string_value(json_object_get(d, "digest")), wt,
               t ? t : "-", size, annotation(d, "org.opencontainers.image.created"));
    }
}

int cmd_referrers(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_TYPE = 1, OPT_JSON };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "artifact-type", required_argument, NULL, OPT_TYPE },
        { "json", no_argument, NULL, OPT_JSON },
        CLI_OPTION_QUIET,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    const char *type = NULL;
    bool as_json = false;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":qvh", options, help, &ro, g, &err) {
        switch (opt) {
        case OPT_TYPE:
            type = optarg;
            break;
        case OPT_JSON:
            as_json = true;
            break;
        default:
            rc = cli_bad_option("referrers", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage(&err, "referrers", "expected one REF; run 'kiln referrers --help'");
    char *out = NULL;
    if (rc == 0)
        rc = kiln_referrers(argv[optind], type, &ro, &out, &err);
    if (rc < 0)
        return cli_report(&err);
    json_t *list = json_loads(out, 0, NULL);
    if (as_json) {
        char *pretty = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputs(pretty ? pretty : out, stdout);
        fputc('\n', stdout);
        free(pretty);
    } else
        print_table(list);
    json_decref(list);
    free(out);
    return EXIT_OK;
}
