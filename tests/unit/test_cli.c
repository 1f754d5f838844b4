/* Unit tests: the CLI's option parsing (src/cli/options.c) takes long
 * options only in full, and names the word it refuses; its progress line
 * (src/cli/progress.c) shows no rate it cannot measure; --format templates
 * (src/cli/template.c) render as Go's text/template does. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/cli/cli.h"

enum { O_ROOTFS = 1, O_COMPRESSION, O_COMPRESSION_LEVEL, O_INSECURE, O_TLS };
static const struct option opts[] = {
    { "rootfs", required_argument, NULL, O_ROOTFS },
    { "compression", required_argument, NULL, O_COMPRESSION },
    { "compression-level", required_argument, NULL, O_COMPRESSION_LEVEL },
    { "insecure", no_argument, NULL, O_INSECURE },
    { "tls-verify", optional_argument, NULL, O_TLS },
    { "quiet", no_argument, NULL, 'q' },
    { NULL, 0, NULL, 0 },
};

/* Parses argv (NULL-terminated); returns the first option that is not
 * accepted ('?' or ':') or -1 when all were, with the message in err. */
static int parse(char **argv, struct kiln_error *err, const char **rootfs)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = cli_getopt(argc, argv, ":qh", opts)) != -1) {
        if (opt == O_ROOTFS && rootfs)
            *rootfs = optarg;
        if (opt == '?' || opt == ':') {
            cli_bad_option("build", opt, argv, err);
            return opt;
        }
    }
    return -1;
}

#define ARGV(...) ((char *[]){ "build", __VA_ARGS__, NULL })

static void refused(char **argv, const char *want1, const char *want2)
{
    struct kiln_error err = { 0 };
    int r = parse(argv, &err, NULL);
    if (r == -1)
        fail_msg("%s was accepted", argv[1]);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    if (!strstr(err.message, want1))
        fail_msg("message lacks '%s': %s", want1, err.message);
    if (want2 && !strstr(err.message, want2))
        fail_msg("message lacks '%s': %s", want2, err.message);
}

static void test_full_names(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    const char *rootfs = NULL;
    assert_int_equal(parse(ARGV("--rootfs", "/r", "--insecure", "-q", "--tls-verify=false",
                                "--compression=zstd", "--compression-level", "3", "ctx"),
                           &err, &rootfs),
                     -1);
    assert_string_equal(rootfs, "/r");
    assert_int_equal(parse(ARGV("--rootfs=/s"), &err, &rootfs), -1);
    assert_string_equal(rootfs, "/s");
    /* after "--", words are operands */
    assert_int_equal(parse(ARGV("--", "--rootf"), &err, NULL), -1);
}

static void test_prefixes_refused(void **state)
{
    (void)state;
    /* an unambiguous prefix, glibc would take it */
    refused(ARGV("--rootf", "/r"), "unknown option '--rootf'", "did you mean --rootfs?");
    refused(ARGV("--rootf=/r"), "unknown option '--rootf'", "--rootfs");
    refused(ARGV("--rootf"), "unknown option '--rootf'", "--rootfs");
    refused(ARGV("--insec"), "unknown option '--insec'", "--insecure");
    refused(ARGV("--quiet", "--tls"), "unknown option '--tls'", "--tls-verify");
    /* an ambiguous prefix: unknown, with both candidates */
    refused(ARGV("--co", "x"), "unknown option '--co'", "--compression or --compression-level");
    /* a prefix of the longer of two names that share one */
    refused(ARGV("--compression-l", "3"), "unknown option '--compression-l'",
            "--compression-level");
    /* an option after an operand (getopt permutes) */
    refused(ARGV("ctx", "--rootf", "/r"), "'--rootf'", NULL);
    refused(ARGV("--frobnicate"), "unknown option '--frobnicate'", "kiln build --help");
    struct kiln_error err = { 0 };
    parse(ARGV("--frobnicate"), &err, NULL);
    assert_null(strstr(err.message, "abbreviated"));
}

static void test_values(void **state)
{
    (void)state;
    refused(ARGV("--rootfs"), "option '--rootfs' needs a value", NULL);
    refused(ARGV("--insecure=yes"), "option '--insecure' takes no value", NULL);
    refused(ARGV("-x"), "unknown option '-x'", NULL);
}

static void test_progress_line(void **state)
{
    (void)state;
    struct kiln_progress p = { .registry = "127.0.0.1:5000",
                               .repository = "team/app",
                               .blobs_done = 3,
                               .blobs_total = 3,
                               .bytes_done = 335400,
                               .bytes_total = 335400,
                               .done = true };
    char line[256];
    /* a push shorter than 0.05 s: no rate (it was "0 B/s") */
    cli_progress_line(line, sizeof(line), &p, 0.02);
    assert_string_equal(line, "127.0.0.1:5000/team/app: 3/3 blobs, 335.4 kB / 335.4 kB in 0.02 s");
    cli_progress_line(line, sizeof(line), &p, 0.0497); /* shown as 0.05 s: with a rate */
    assert_string_equal(line, "127.0.0.1:5000/team/app: 3/3 blobs, 335.4 kB / 335.4 kB in 0.05 s, "
                              "6.7 MB/s");
    cli_progress_line(line, sizeof(line), &p, 0.0);
    assert_null(strstr(line, "/s"));
    /* long enough: the rate from the elapsed time */
    cli_progress_line(line, sizeof(line), &p, 2.0);
    assert_string_equal(line, "127.0.0.1:5000/team/app: 3/3 blobs, 335.4 kB / 335.4 kB in 2.00 s, "
                              "167.7 kB/s");
    /* a line on a terminal, while pushing */
    p.done = false;
    p.blobs_done = 1;
    p.bytes_done = 1000;
    cli_progress_line(line, sizeof(line), &p, 0.01);
    assert_string_equal(line, "127.0.0.1:5000/team/app: 1/3 blobs, 1.0 kB / 335.4 kB");
    cli_progress_line(line, sizeof(line), &p, 0.5);
    assert_string_equal(line, "127.0.0.1:5000/team/app: 1/3 blobs, 1.0 kB / 335.4 kB, 2.0 kB/s");
}

static char *render(const char *tmpl, const char *json)
{
    struct kiln_error err = { 0 };
    struct cli_template *t = NULL;
    if (cli_template_parse(tmpl, &t, &err) < 0)
        fail_msg("'%s' refused: %s", tmpl, err.message);
    char *r = cli_template_render(t, json);
    cli_template_free(t);
    assert_non_null(r);
    return r;
}

static void expect(const char *tmpl, const char *json, const char *want)
{
    char *r = render(tmpl, json);
    if (strcmp(r, want))
        fail_msg("'%s' gave '%s', not '%s'", tmpl, r, want);
    free(r);
}

static void tmpl_refused(const char *tmpl, const char *what)
{
    struct kiln_error err = { 0 };
    struct cli_template *t = NULL;
    if (cli_template_parse(tmpl, &t, &err) == 0)
        fail_msg("'%s' was accepted", tmpl);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    if (!strstr(err.message, what) || !strstr(err.message, tmpl))
        fail_msg("the error for '%s' does not say '%s' and name it: %s", tmpl, what, err.message);
}

static void test_template(void **state)
{
    (void)state;
    const char *img = "{\"digest\":\"sha256:ab\",\"os\":\"linux\",\"size\":42,"
                      "\"labels\":{\"b\":\"2\",\"a\":\"1\",\"A\":\"x\"},\"env\":[\"P=/bin\",\"X=1\"],"
                      "\"layers\":[{\"digest\":\"l1\",\"size\":1},{\"digest\":\"l2\",\"size\":2}],"
                      "\"variant\":\"\",\"ok\":true,\"none\":null}";
    expect("{{.Digest}}", img, "sha256:ab");         /* a key in any case */
    expect("{{.digest}} {{.OS}}", img, "sha256:ab linux");
    expect("id={{.Size}}!", img, "id=42!");
    expect("{{.Missing}}|{{.None}}", img, "|");       /* nothing for what is not there */
    expect("{{.Labels}}", img, "map[A:x a:1 b:2]");   /* Go: keys sorted */
    expect("{{.Env}}", img, "[P=/bin X=1]");
    expect("{{index .Labels \"a\"}}{{index .Labels \"A\"}}", img, "1x"); /* exact keys */
    expect("{{index .Layers 1}}", img, "map[digest:l2 size:2]");
    expect("{{json .Labels}}", img, "{\"b\":\"2\",\"a\":\"1\",\"A\":\"x\"}");
    expect("{{json .Missing}}", img, "null");
    expect("{{len .Layers}} {{len .Labels}} {{len .Digest}}", img, "2 3 9");
    expect("{{range .Layers}}{{.Digest}}={{.Size}};{{end}}", img, "l1=1;l2=2;");
    expect("{{range .Labels}}{{.}}{{end}}", img, "x12"); /* values in key order */
    expect("{{join .Env \",\"}}", img, "P=/bin,X=1");
    expect("{{if .Variant}}v{{else}}none{{end}} {{if .Ok}}yes{{end}}", img, "none yes");
    expect("{{if .Layers}}{{range .Layers}}[{{.digest}}]{{end}}{{end}}", img, "[l1][l2]");
    expect("a  {{- .Os -}}  b", img, "alinuxb");        /* trim markers */
    expect("{{range .Layers -}}\n  {{.Digest}}\n{{- end}}", img, "l1l2");
    expect("plain text", img, "plain text");
    expect("{{.Os}}{{\"\\t\"}}{{.Size}}{{\"\\n\"}}", img, "linux\t42\n");
    expect("{{.}}", "\"just a string\"", "just a string");
    tmpl_refused("{{.Digest", "expected '}}'");
    tmpl_refused("{{nosuch .X}}", "unknown function");
    tmpl_refused("{{range .Layers}}x", "missing {{end}}");
    tmpl_refused("{{end}}", "without {{range}}");
    tmpl_refused("{{index .Labels a}}", "quoted string");
    tmpl_refused("{{.A.}}", "field name");
    tmpl_refused("{{Digest}}", "unknown function");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_names),
        cmocka_unit_test(test_prefixes_refused),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
