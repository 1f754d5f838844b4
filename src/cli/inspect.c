/* kiln inspect: what an image is, on any transport. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln inspect [OPTIONS] REF\n"
    "\n"
    "Describe an image: digest, media type, platform, config, layers and sizes.\n"
    "REF: oci:DIR[:NAME|:@N], oci-archive:FILE[:NAME|:@N], docker-archive:FILE[:REF|:@N],\n"
    "     docker://HOST/REPO[:TAG]\n"
    "A path ends at its first ':' (a NAME may hold ':' and '/', as podman's localhost/app:1);\n"
    "write a ':' in a path as \\:. @N is the image at that position, from 0.\n"
    "\n"
    "Options:\n"
    "  --raw                     print the exact manifest (or index) bytes\n"
    "  --config                  print the image config JSON\n"
    "  --format json             the summary as JSON\n"
    "  --format TEMPLATE         fields of that JSON, Go-template style: '{{.Digest}}',\n"
    "                            '{{index .Labels \"k\"}}', '{{range .Layers}}{{.Digest}} {{end}}'\n"
    "  --platform OS/ARCH[/VAR]  one image of a multi-platform index\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

/* Shared by inspect and digest. */
int cli_inspect_run(const char *cmd, int argc, char **argv, struct cli_globals *g,
                    enum kiln_inspect_what what, const char *usage);
int cli_inspect_run(const char *cmd, int argc, char **argv, struct cli_globals *g,
                    enum kiln_inspect_what what, const char *usage)
{
    enum { OPT_RAW = 1, OPT_CONFIG, OPT_FORMAT, OPT_PLATFORM };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "raw", no_argument, NULL, OPT_RAW },
        { "config", no_argument, NULL, OPT_CONFIG },
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
    struct cli_template *tmpl = NULL;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":vh", options, usage, &ro, g, &err) {
        switch (opt) {
        case OPT_RAW:
            what = KILN_INSPECT_RAW;
            break;
        case OPT_CONFIG:
            what = KILN_INSPECT_CONFIG;
            break;
        case OPT_FORMAT:
            what = KILN_INSPECT_JSON;
            cli_template_free(tmpl);
            tmpl = NULL;
            if (strcmp(optarg, "json") && cli_template_parse(optarg, &tmpl, &err) < 0) {
                char m[sizeof(err.message)];
                snprintf(m, sizeof(m), "%s", err.message);
                snprintf(err.message, sizeof(err.message), "%s: %s", cmd, m);
                rc = -1;
            }
            break;
        case OPT_PLATFORM:
            platform = optarg;
            break;
        default:
            rc = cli_bad_option(cmd, opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN) {
        cli_template_free(tmpl);
        return EXIT_OK;
    }
    if (rc == 0 && argc - optind != 1) {
        err.code = KILN_ERR_USAGE;
        snprintf(err.message, sizeof(err.message), "%s: expected one REF; run 'kiln %s --help'",
                 cmd, cmd);
        rc = -1;
    }
    char *out = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = kiln_inspect(argv[optind], what, platform, &ro, &out, &len, &err);
    if (rc == 0 && tmpl) {
        char *r = cli_template_render(tmpl, out);
        free(out);
        out = r;
        len = r ? strlen(r) : 0;
        if (!r) {
            err.code = KILN_ERR_NOMEM;
            snprintf(err.message, sizeof(err.message), "%s: --format: out of memory", cmd);
            rc = -1;
        }
    }
    bool newline = tmpl != NULL;
    cli_template_free(tmpl);
    if (rc < 0)
        return cli_report(&err);
    fwrite(out, 1, len, stdout);
    if (newline)
        fputc('\n', stdout);
    free(out);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}

int cmd_inspect(int argc, char **argv, struct cli_globals *g)
{
    return cli_inspect_run("inspect", argc, argv, g, KILN_INSPECT_SUMMARY, help);
}
