/* Unit tests: image/platform.c — parsing --platform, the host platform. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "internal.h"

static void expect_platform(const char *text, const char *os, const char *arch, const char *variant)
{
    struct kiln_platform p;
    memset(&p, 'Z', sizeof(p));
    struct kiln_error err = { 0 };
    if (kiln_platform_parse(text, &p, &err) != 0)
        fail_msg("'%s' refused: %s", text, err.message);
    assert_string_equal(p.os, os);
    assert_string_equal(p.arch, arch);
    assert_string_equal(p.variant, variant);
}

static void test_parse_valid(void **state)
{
    (void)state;
    expect_platform("linux/amd64", "linux", "amd64", "");
    expect_platform("linux/x86_64", "linux", "amd64", "");
    expect_platform("linux/x86-64", "linux", "amd64", "");
    expect_platform("linux/amd64/v3", "linux", "amd64", "v3");
    expect_platform("linux/arm64", "linux", "arm64", "");
    expect_platform("linux/aarch64", "linux", "arm64", "");
    /* arm64/v8 is plain arm64 to registries */
    expect_platform("linux/arm64/v8", "linux", "arm64", "");
    expect_platform("linux/armv8", "linux", "arm64", "");
    expect_platform("linux/aarch64/v8", "linux", "arm64", "");
    expect_platform("linux/arm64/v8.2", "linux", "arm64", "v8.2");
    expect_platform("linux/arm64/v9", "linux", "arm64", "v9");
    expect_platform("linux/arm", "linux", "arm", "v7");
    expect_platform("linux/armv7", "linux", "arm", "v7");
    expect_platform("linux/armv7l", "linux", "arm", "v7");
    expect_platform("linux/armhf", "linux", "arm", "v7");
    expect_platform("linux/arm/v7", "linux", "arm", "v7");
    expect_platform("linux/arm/v6", "linux", "arm", "v6");
    expect_platform("linux/arm/v5", "linux", "arm", "v5");
    expect_platform("linux/armel", "linux", "arm", "v6");
    expect_platform("linux/armv6l", "linux", "arm", "v6");
    expect_platform("linux/armv5te", "linux", "arm", "v5");
    /* an explicit variant wins over the alias's */
    expect_platform("linux/armhf/v6", "linux", "arm", "v6");
    expect_platform("linux/i686", "linux", "386", "");
    expect_platform("linux/i386", "linux", "386", "");
    expect_platform("linux/386", "linux", "386", "");
    expect_platform("linux/mips64el", "linux", "mips64le", "");
    expect_platform("linux/mipsel", "linux", "mipsle", "");
    expect_platform("linux/loongarch64", "linux", "loong64", "");
    expect_platform("linux/powerpc64le", "linux", "ppc64le", "");
    expect_platform("linux/ppc64le", "linux", "ppc64le", "");
    expect_platform("linux/riscv64", "linux", "riscv64", "");
    expect_platform("linux/s390x", "linux", "s390x", "");
    expect_platform("windows/amd64", "windows", "amd64", "");
    expect_platform("freebsd/arm64", "freebsd", "arm64", "");
}

static void expect_error(const char *text)
{
    struct kiln_platform p;
    struct kiln_error err = { 0 };
    if (kiln_platform_parse(text, &p, &err) == 0)
        fail_msg("'%s' accepted as %s/%s/%s", text, p.os, p.arch, p.variant);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    char quoted[200];
    snprintf(quoted, sizeof(quoted), "'%s'", text);
    if (!strstr(err.message, quoted))
        fail_msg("the error for '%s' does not name it: %s", text, err.message);
    assert_non_null(strstr(err.message, "--platform"));
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "linux",
        "foo/bar",
        "linux/",
        "/amd64",
        "linux/amd64/v9x",
        "linux/arm/v7/extra",
        "",
        "/",
        "//",
        "linux//",
        "linux/amd64/",
        "Linux/amd64",
        "linux/AMD64",
        "linux/sparc",
        "linux/arm/v9",
        "linux/386/v7",
        "linux/riscv64/v8",
        "linux/amd64/v8",
        "linux/arm64/v7",
        "darwin/amd64 ",
        " linux/amd64",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        expect_error(bad[i]);
}

static void test_error_messages(void **state)
{
    (void)state;
    struct kiln_platform p;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_platform_parse("foo/bar", &p, &err), -1);
    assert_non_null(strstr(err.message, "unknown OS 'foo'"));
    assert_int_equal(kiln_platform_parse("linux/sparc", &p, &err), -1);
    assert_non_null(strstr(err.message, "unknown architecture 'sparc'"));
    assert_int_equal(kiln_platform_parse("linux/amd64/v9x", &p, &err), -1);
    assert_non_null(strstr(err.message, "variant 'v9x'"));

    /* overlong text is refused without overflowing anything */
    char longp[300];
    memcpy(longp, "linux/", 6);
    memset(longp + 6, 'a', 250);
    longp[256] = '\0';
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_platform_parse(longp, &p, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "too long"));
}

static void test_arch_canonical(void **state)
{
    (void)state;
    char arch[32], variant[16];
    assert_true(kiln_arch_canonical("x86_64", arch, variant));
    assert_string_equal(arch, "amd64");
    assert_string_equal(variant, "");
    assert_true(kiln_arch_canonical("armv7a", arch, variant));
    assert_string_equal(arch, "arm");
    assert_string_equal(variant, "v7");
    assert_true(kiln_arch_canonical("powerpc64", arch, variant));
    assert_string_equal(arch, "ppc64");
    assert_false(kiln_arch_canonical("sparc64", arch, variant));
    assert_false(kiln_arch_canonical("", arch, variant));
    assert_false(kiln_arch_canonical("AMD64", arch, variant));
}

static void test_host(void **state)
{
    (void)state;
    struct kiln_platform p;
    memset(&p, 'Z', sizeof(p));
    kiln_platform_host(&p);
    assert_string_equal(p.os, "linux");
    static const char *const known[] = { "amd64", "arm64",  "arm",     "386",      "ppc64le",
                                         "ppc64", "s390x",  "riscv64", "mips64le", "mipsle",
                                         "mips",  "mips64", "loong64", "ppc" };
    bool ok = false;
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        ok = ok || !strcmp(p.arch, known[i]);
    if (!ok)
        fail_msg("host arch '%s' is not a Go architecture name", p.arch);
    /* the canonical name maps to itself */
    char arch[32], variant[16];
    assert_true(kiln_arch_canonical(p.arch, arch, variant));
    assert_string_equal(arch, p.arch);
#if defined(__x86_64__)
    assert_string_equal(p.arch, "amd64");
    assert_string_equal(p.variant, "");
#elif defined(__aarch64__)
    assert_string_equal(p.arch, "arm64");
#endif
    /* and the host platform parses back to itself */
    char text[80];
    snprintf(text, sizeof(text), "%s/%s%s%s", p.os, p.arch, p.variant[0] ? "/" : "", p.variant);
    struct kiln_platform q;
    assert_int_equal(kiln_platform_parse(text, &q, NULL), 0);
    assert_string_equal(q.arch, p.arch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),    cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_error_messages), cmocka_unit_test(test_arch_canonical),
        cmocka_unit_test(test_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
