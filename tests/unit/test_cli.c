/* Unit tests: the CLI's option parsing (src/cli/options.c) takes long
 * options only in full, and names the word it refuses; its progress line
 * (src/cli/progress.c) shows no rate it cannot measure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_names),
        cmocka_unit_test(test_prefixes_refused),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_progress_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
