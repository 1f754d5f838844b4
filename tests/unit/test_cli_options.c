/* Unit tests: the CLI's option parsing (src/cli/options.c) takes long
 * options only in full, and names the word it refuses. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_names),
        cmocka_unit_test(test_prefixes_refused),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
