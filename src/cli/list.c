/* kiln list (ls): the images of a local OCI layout or archive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln list [OPTIONS] REF\n"
    "       kiln ls [OPTIONS] REF\n"
    "\n"
    "List the images that a local layout or archive holds, one line each: name, digest,\n"
    "platform(s), size (config and compressed layers) and creation time.\n"
    "REF: oci:DIR[:NAME|:@N], oci-archive:FILE[:NAME|:@N], docker-archive:FILE[:REF|:@N]\n"
    "A path ends at its first ':' (a NAME may hold ':' and '/', as podman's localhost/app:1);\n"
    "write a ':' in a path as \\:. @N is the image at that position, from 0.\n"
    "Every image of a docker-archive is listed (docker save writes several).\n"
    "An oci: entry is a manifest of index.json, named by its org.opencontainers.image.ref.name;\n"
    "a docker-archive: entry is a RepoTag, and shows the image ID (there is no manifest).\n"
    "\n"
    "A referrer (a file attached to an image by kiln attach) shows (referrer) as its platform;\n"
    "kiln referrers lists an image's referrers with their types.\n"
    "An entry whose documents cannot be read is listed as broken, and kiln list then exits 1,\n"
    "naming it and why.\n"
    "\n"
    "Options:\n"
    "  --format json             the list as a JSON array\n"
    "  --format TEMPLATE         one line per entry with fields of that JSON, Go-template\n"
    "                            style: '{{.Name}} {{.Digest}} {{join .Platforms \",\"}}'\n"
    "  -h, --help\n";

/* JSON string or null. Names come from JSON documents, so they are UTF-8. */
static void json_str(FILE *f, const char *s)
{
    if (!s || !*s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* An entry kiln_list_images could not read: it has no platforms (and no
 * size or creation time); the listing's error says why. */
static bool broken(const struct kiln_image_entry *e)
{
    return !e->platforms;
}

/* An artifact attached to an image (kiln attach): a manifest without a
 * platform (kiln_image_entry says so). */
static bool referrer(const struct kiln_image_entry *e)
{
    return !broken(e) && !*e->platforms && e->media_type &&
           !strcmp(e->media_type, "application/vnd.oci.image.manifest.v1+json");
}

/* One entry as a JSON object, on one line. */
static void entry_json(FILE *f, const struct kiln_image_entry *e)
{
    fputs("{\"name\": ", f);
    json_str(f, e->name);
    fputs(", \"digest\": ", f);
    json_str(f, e->digest);
    fputs(", \"config\": ", f);
    json_str(f, e->config_digest);
    fputs(", \"mediaType\": ", f);
    json_str(f, e->media_type);
    if (broken(e))
        fputs(", \"platforms\": null", f);
    else
        fputs(", \"platforms\": [", f);
    const char *p = e->platforms ? e->platforms : "";
    while (*p) {
        char one[128];
        size_t l = strcspn(p, ",");
        snprintf(one, sizeof(one), "%.*s", (int)l, p);
        fputs(p == e->platforms ? "" : ", ", f);
        json_str(f, one);
        p += l + (p[l] == ',');
    }
    if (broken(e))
        fputs(", \"size\": null, \"created\": null, \"broken\": true}", f);
    else {
        fprintf(f, "], \"size\": %llu, \"created\": ", (unsigned long long)e->size);
        json_str(f, e->created);
        fprintf(f, ", \"broken\": false, \"referrer\": %s}", referrer(e) ? "true" : "false");
    }
}

static void print_json(const struct kiln_image_entry *e, size_t n)
{
    fputs("[", stdout);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n  " : "\n  ", stdout);
        entry_json(stdout, &e[i]);
    }
    fputs(n ? "\n]\n" : "]\n", stdout);
}

/* --format TEMPLATE: one line per entry. */
static int print_template(const struct cli_template *t, const struct kiln_image_entry *e,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *obj = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&obj, &len);
        if (!m)
            return -1;
        entry_json(m, &e[i]);
        if (fclose(m) != 0) {
            free(obj);
            return -1;
        }
        char *line = cli_template_render(t, obj);
        free(obj);
        if (!line)
            return -1;
        printf("%s\n", line);
        free(line);
    }
    return 0;
}

/* "2023-11-14T22:13:20.123456Z" -> "2023-11-14T22:13:20Z" */
static void short_time(const char *in, char *out, size_t len)
{
    snprintf(out, len, "%s", in ? in : "-");
    char *dot = strchr(out, '.');
    size_t l = strlen(out);
    if (dot && l && out[l - 1] == 'Z')
        memmove(dot, "Z", 2);
}

static void print_table(const struct kiln_image_entry *e, size_t n, bool docker)
{
    const char *idh = docker ? "IMAGE ID" : "DIGEST";
    int wn = 4, wd = (int)strlen(idh), wp = 8, ws = 4;
    char size[32], when[64];
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(e[i].name ? e[i].name : "<none>");
        wn = l > wn ? l : wn;
        l = (int)strlen(docker ? e[i].config_digest : e[i].digest);
        wd = l > wd ? l : wd;
        l = (int)strlen(broken(&e[i]) ? "(broken)" : referrer(&e[i]) ? "(referrer)" : e[i].platforms);
        wp = l > wp ? l : wp;
        cli_human_size(e[i].size, size, sizeof(size));
        l = (int)strlen(size);
        ws = l > ws ? l : ws;
    }
    printf("%-*s  %-*s  %-*s  %*s  %s\n", wn, "NAME", wd, idh, wp, "PLATFORM", ws, "SIZE",
           "CREATED");
    for (size_t i = 0; i < n; i++) {
        const char *id = docker ? e[i].config_digest : e[i].digest;
        if (broken(&e[i]))
            snprintf(size, sizeof(size), "-");
        else
            cli_human_size(e[i].size, size, sizeof(size));
        short_time(e[i].created, when, sizeof(when));
        printf("%-*s  %-*s  %-*s  %*s  %s\n", wn, e[i].name ? e[i].name : "<none>", wd,
               *id ? id : "-", wp,
               broken(&e[i])     ? "(broken)"
               : referrer(&e[i]) ? "(referrer)"
               : *e[i].platforms ? e[i].platforms
                                 : "-",
               ws, size, when);
    }
}

int cmd_list(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_FORMAT = 1 };
    static const struct option options[] = {
        { "format", required_argument, NULL, OPT_FORMAT },
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    bool json = false;
    struct cli_template *tmpl = NULL;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":h", options, help, NULL, g, &err) {
        if (opt == OPT_FORMAT) {
            cli_template_free(tmpl);
            tmpl = NULL;
            json = !strcmp(optarg, "json");
            if (!json && cli_template_parse(optarg, &tmpl, &err) < 0) {
                char m[sizeof(err.message)];
                snprintf(m, sizeof(m), "%s", err.message);
                snprintf(err.message, sizeof(err.message), "list: %s", m);
                rc = -1;
            }
        } else
            rc = cli_bad_option("list", opt, argv, &err);
    }
    if (rc == CLI_HELP_SHOWN) {
        cli_template_free(tmpl);
        return EXIT_OK;
    }
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage(&err, "list", "expected one REF; run 'kiln list --help'");
    struct kiln_image_entry *e = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = kiln_list_images(argv[optind], &e, &n, &err);
    /* a listing with broken entries fails but keeps its entries: they are
     * printed, the broken ones marked, then the error that names them */
    if (rc < 0 && !e) {
        cli_template_free(tmpl);
        return cli_report(&err);
    }
    int pr = 0;
    if (tmpl)
        pr = print_template(tmpl, e, n);
    else if (json)
        print_json(e, n);
    else
        print_table(e, n, kiln_transport_of(argv[optind]) == KILN_TRANSPORT_DOCKER_ARCHIVE);
    kiln_image_list_free(e, n);
    cli_template_free(tmpl);
    if (pr < 0)
        fputs("kiln: list: --format: out of memory\n", stderr);
    int out = fflush(stdout) == 0 && pr == 0 ? EXIT_OK : EXIT_FAILURE_;
    return rc < 0 ? cli_report(&err) : out;
}
