/* Unit tests: image/reference.c — parsing and printing image references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "internal.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG   "sha256:" HEX64

static void expect_ref(const char *text, const char *domain, const char *path, const char *tag,
                       const char *digest, const char *full, const char *familiar)
{
    struct kiln_reference r;
    struct kiln_error err = { 0 };
    if (kiln_reference_parse(text, &r, &err) != 0)
        fail_msg("'%s' was refused: %s", text, err.message);
    assert_string_equal(r.domain, domain);
    assert_string_equal(r.path, path);
    if (tag) {
        assert_non_null(r.tag);
        assert_string_equal(r.tag, tag);
    } else {
        assert_null(r.tag);
    }
    if (digest) {
        assert_non_null(r.digest);
        assert_string_equal(r.digest, digest);
    } else {
        assert_null(r.digest);
    }
    char *f = kiln_reference_full(&r, &err);
    assert_non_null(f);
    assert_string_equal(f, full);
    free(f);
    char *fam = kiln_reference_familiar(&r, true, &err);
    assert_non_null(fam);
    assert_string_equal(fam, familiar);
    free(fam);
    kiln_reference_free(&r);
    assert_null(r.domain);
    assert_null(r.path);
}

static void test_parse_valid(void **state)
{
    (void)state;
    expect_ref("app", "docker.io", "library/app", "latest", NULL, "docker.io/library/app:latest",
               "app:latest");
    expect_ref("app:1.0", "docker.io", "library/app", "1.0", NULL, "docker.io/library/app:1.0",
               "app:1.0");
    expect_ref("team/app:1.0", "docker.io", "team/app", "1.0", NULL, "docker.io/team/app:1.0",
               "team/app:1.0");
    expect_ref("team/sub/app", "docker.io", "team/sub/app", "latest", NULL,
               "docker.io/team/sub/app:latest", "team/sub/app:latest");
    expect_ref("registry.example.com/team/app:1.0", "registry.example.com", "team/app", "1.0", NULL,
               "registry.example.com/team/app:1.0", "registry.example.com/team/app:1.0");
    /* a port is not a tag */
    expect_ref("localhost:5000/app", "localhost:5000", "app", "latest", NULL,
               "localhost:5000/app:latest", "localhost:5000/app:latest");
    expect_ref("host:5000/app:1.0", "host:5000", "app", "1.0", NULL, "host:5000/app:1.0",
               "host:5000/app:1.0");
    /* localhost is a domain without a dot or port, and gets no library/ */
    expect_ref("localhost/app", "localhost", "app", "latest", NULL, "localhost/app:latest",
               "localhost/app:latest");
    expect_ref("[::1]:5000/app:x", "[::1]:5000", "app", "x", NULL, "[::1]:5000/app:x",
               "[::1]:5000/app:x");
    expect_ref("[2001:db8::1]/ns/app", "[2001:db8::1]", "ns/app", "latest", NULL,
               "[2001:db8::1]/ns/app:latest", "[2001:db8::1]/ns/app:latest");
    /* docker.io spelled out, and its aliases */
    expect_ref("docker.io/app:2", "docker.io", "library/app", "2", NULL, "docker.io/library/app:2",
               "app:2");
    expect_ref("index.docker.io/library/app", "docker.io", "library/app", "latest", NULL,
               "docker.io/library/app:latest", "app:latest");
    expect_ref("registry-1.docker.io/team/app", "docker.io", "team/app", "latest", NULL,
               "docker.io/team/app:latest", "team/app:latest");
    /* separators inside components */
    expect_ref("team/a.b_c__d-e---f9:T_a.g-1", "docker.io", "team/a.b_c__d-e---f9", "T_a.g-1", NULL,
               "docker.io/team/a.b_c__d-e---f9:T_a.g-1", "team/a.b_c__d-e---f9:T_a.g-1");
    /* a tag may start with '_' */
    expect_ref("app:_x", "docker.io", "library/app", "_x", NULL, "docker.io/library/app:_x",
               "app:_x");
}

static void test_parse_digest(void **state)
{
    (void)state;
    expect_ref("app@" DIG, "docker.io", "library/app", NULL, DIG, "docker.io/library/app@" DIG,
               "app");
    expect_ref("app:1.0@" DIG, "docker.io", "library/app", "1.0", DIG,
               "docker.io/library/app:1.0@" DIG, "app:1.0");
    expect_ref("localhost:5000/team/app@" DIG, "localhost:5000", "team/app", NULL, DIG,
               "localhost:5000/team/app@" DIG, "localhost:5000/team/app");
}

/* Returns false (and says why) if text is accepted or refused badly. */
static bool refused(const char *text)
{
    struct kiln_reference r;
    struct kiln_error err = { 0 };
    memset(&r, 0x55, sizeof(r));
    if (kiln_reference_parse(text, &r, &err) == 0) {
        char *f = kiln_reference_full(&r, NULL);
        print_message("'%s' was accepted, as %s\n", text, f ? f : "?");
        free(f);
        kiln_reference_free(&r);
        return false;
    }
    assert_int_equal(err.code, KILN_ERR_USAGE);
    if (!strstr(err.message, text))
        fail_msg("the error for '%s' does not name it: %s", text, err.message);
    /* nothing to free after a failure */
    assert_null(r.domain);
    assert_null(r.path);
    assert_null(r.tag);
    assert_null(r.digest);
    return true;
}

static void expect_all_refused(const char *const *v, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !refused(v[i]);
    if (bad)
        fail_msg("%zu invalid reference(s) accepted (listed above)", bad);
}

static void expect_invalid(const char *text)
{
    expect_all_refused(&text, 1);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "UPPER/app",
        "App",
        "app:bad tag",
        "app:",
        ":tag",
        "a//b",
        "app:-x",
        "app:.x",
        "-app",
        "app-",
        "app_",
        "a___b",
        "a..b",
        "a.-b",
        "/app",
        "localhost:5000/",
        "localhost:/app",
        "localhost:123456/app",
        "localhost:50a0/app",
        "app@sha256:abc",
        "app@sha256:"
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "app@md5:" HEX64,
        "app@",
        "app:1.0:2.0",
        "app with space",
        "reg\xc3\xa9.example.com/app",
    };
    expect_all_refused(bad, ARRAY_SIZE(bad));

    /* tags: 128 characters are fine, 129 are not */
    char ref[160] = "app:";
    memset(ref + 4, 't', 128);
    ref[4 + 128] = '\0';
    struct kiln_reference r;
    assert_int_equal(kiln_reference_parse(ref, &r, NULL), 0);
    assert_int_equal(strlen(r.tag), 128);
    kiln_reference_free(&r);
    ref[4 + 128] = 't';
    ref[4 + 129] = '\0';
    expect_invalid(ref);

    /* empty, and longer than the 255-byte name limit */
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_reference_parse("", &r, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    char longname[300];
    memset(longname, 'a', 260);
    longname[260] = '\0';
    expect_invalid(longname);
}

/* An empty last path component is as invalid as an empty middle one ("a//b"). */
static void test_parse_trailing_slash(void **state)
{
    (void)state;
    static const char *const bad[] = { "app/", "team/app/", "app/:1.0", "localhost:5000/app/",
                                       "team/app/@" DIG };
    expect_all_refused(bad, ARRAY_SIZE(bad));
}

/* Docker's grammar: a domain component is [a-zA-Z0-9] or
 * [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9], joined by single dots. */
static void test_parse_invalid_domain(void **state)
{
    (void)state;
    static const char *const bad[] = {
        ".example.com/app", "example..com/app", "-example.com/app",
        "example-.com/app", "example.com./app",
    };
    expect_all_refused(bad, ARRAY_SIZE(bad));
}

static void test_familiar_and_full(void **state)
{
    (void)state;
    static const struct {
        const char *in, *fam_tag, *fam, *full;
    } cases[] = {
        { "app:1.0", "app:1.0", "app", "docker.io/library/app:1.0" },
        { "team/app:1.0", "team/app:1.0", "team/app", "docker.io/team/app:1.0" },
        { "host:5000/app:1.0", "host:5000/app:1.0", "host:5000/app", "host:5000/app:1.0" },
        { "docker.io/library/app", "app:latest", "app", "docker.io/library/app:latest" },
        /* "library/" is only dropped on docker.io */
        { "quay.io/library/app:3", "quay.io/library/app:3", "quay.io/library/app",
          "quay.io/library/app:3" },
        { "docker.io/libraryx/app", "libraryx/app:latest", "libraryx/app",
          "docker.io/libraryx/app:latest" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct kiln_reference r;
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_reference_parse(cases[i].in, &r, &err), 0);
        char *a = kiln_reference_familiar(&r, true, &err);
        char *b = kiln_reference_familiar(&r, false, &err);
        char *c = kiln_reference_full(&r, &err);
        assert_string_equal(a, cases[i].fam_tag);
        assert_string_equal(b, cases[i].fam);
        assert_string_equal(c, cases[i].full);
        free(a);
        free(b);
        free(c);
        kiln_reference_free(&r);
    }
    kiln_reference_free(NULL);
}

static void test_tag_valid(void **state)
{
    (void)state;
    static const char *const good[] = { "latest", "1.0", "v1.2.3-rc.1", "_", "_x",
                                        "A",      "Z9",  "a_b-c.d",     "0" };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++)
        if (!kiln_tag_valid(good[i]))
            fail_msg("tag '%s' refused", good[i]);
    static const char *const bad[] = { "",    ".x",  "-x",          "a b", "a:b", "a/b",
                                       "a@b", "a+b", "caf\xc3\xa9", "a\n", "\t" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (kiln_tag_valid(bad[i]))
            fail_msg("tag '%s' accepted", bad[i]);
    char t[131];
    memset(t, 'x', 130);
    t[128] = '\0';
    assert_true(kiln_tag_valid(t));
    t[128] = 'x';
    t[129] = '\0';
    assert_false(kiln_tag_valid(t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_digest),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_trailing_slash),
        cmocka_unit_test(test_parse_invalid_domain),
        cmocka_unit_test(test_familiar_and_full),
        cmocka_unit_test(test_tag_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
