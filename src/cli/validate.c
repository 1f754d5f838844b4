/* kiln validate: will docker, podman and containerd take this image? */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln validate [OPTIONS] REF\n"
    "\n"
    "Check that docker, podman and containerd will accept an image and run it as its config\n"
    "says: the manifest, index and config against the specs (required fields, media types of\n"
    "one family), every blob against its digest and size, every layer against its diff_id,\n"
    "the consumers' limits (zstd before Docker 23, overlay2's 128 layers), the layer tars\n"
    "('..' names, whiteouts, hardlinks to nowhere), and the entrypoint, user and working\n"
    "directory in the merged filesystem.\n"
    "REF: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, docker://HOST/REPO:TAG\n"
    "\n"
    "Prints one line per finding (severity, where, finding), then a count. Exits 0 when no\n"
    "error was found (warnings alone exit 0), 1 when one was, 2 on a usage error.\n"
    "\n"
    "Options:\n"
    "  --format json             the findings as a JSON object\n"
    "  --platform OS/ARCH[/VAR]  only that image of a multi-platform index\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

/* The length of the UTF-8 sequence at p, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] < 0x80             ? 1
               : (p[0] & 0xe0) == 0xc0 ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 2 && p[0] < 0xc2)
        return 0; /* overlong */
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* A JSON string. Entry names come from tar headers and need not be UTF-8: a
 * byte that is not is written as the code point of the same value (Latin-1),
 * so that the output stays JSON. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        size_t n = utf8_len(p);
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || !n)
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

static const char *severity_name(enum kiln_severity s)
{
    return s == KILN_SEVERITY_ERROR ? "error" : "warning";
}

static void print_json(const char *ref, const struct kiln_finding *f, size_t n, size_t errors)
{
    fputs("{\"ref\": ", stdout);
    json_str(stdout, ref);
    printf(", \"valid\": %s, \"errors\": %zu, \"warnings\": %zu, \"findings\": [",
           errors ? "false" : "true", errors, n - errors);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n  {\"severity\": " : "\n  {\"severity\": ", stdout);
        json_str(stdout, severity_name(f[i].severity));
        fputs(", \"check\": ", stdout);
        json_str(stdout, f[i].check);
        fputs(", \"where\": ", stdout);
        json_str(stdout, f[i].where);
        fputs(", \"message\": ", stdout);
        json_str(stdout, f[i].message);
        fputs("}", stdout);
    }
    fputs(n ? "\n]}\n" : "]}\n", stdout);
}

static void print_table(const char *ref, const struct kiln_finding *f, size_t n, size_t errors)
{
    int ww = 5;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(f[i].where);
        ww = l > ww ? l : ww;
    }
    if (ww > 60)
        ww = 60;
    if (n)
        printf("%-8s  %-*s  %s\n", "SEVERITY", ww, "WHERE", "FINDING");
    for (size_t i = 0; i < n; i++)
        printf("%-8s  %-*s  %s\n", severity_name(f[i].severity), ww, f[i].where, f[i].message);
    printf("%s: %zu error%s, %zu warning%s\n", ref, errors, errors == 1 ? "" : "s", n - errors,
           n - errors == 1 ? "" : "s");
}

int cmd_validate(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_FORMAT = 1, OPT_PLATFORM };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "format", required_argument, NULL, OPT_FORMAT },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        CLI_OPTION_DEBUG,
        CLI_OPTION_VERBOSE,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    const char *platform = NULL;
    bool json = false;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":vh", options, help, &ro, g, &err) {
        switch (opt) {
        case OPT_FORMAT:
            if (strcmp(optarg, "json"))
                rc = cli_usage(&err, "validate", "--format: only json is supported");
            json = true;
            break;
        case OPT_PLATFORM:
            platform = optarg;
            break;
        default:
            rc = cli_bad_option("validate", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage(&err, "validate", "expected one REF; run 'kiln validate --help'");
    struct kiln_finding *f = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = kiln_validate(argv[optind], platform, &ro, &f, &n, &err);
    if (rc < 0)
        return cli_report(&err);
    size_t errors = 0;
    for (size_t i = 0; i < n; i++)
        errors += f[i].severity == KILN_SEVERITY_ERROR;
    if (json)
        print_json(argv[optind], f, n, errors);
    else
        print_table(argv[optind], f, n, errors);
    kiln_findings_free(f, n);
    if (fflush(stdout) != 0)
        return EXIT_FAILURE_;
    return errors ? EXIT_FAILURE_ : EXIT_OK;
}
