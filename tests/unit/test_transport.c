/* The transport spec parser (image/transport.c): one for every command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "image/transport.h"

static void ok(const char *spec, enum kiln_transport kind, const char *path, const char *name,
               long index)
{
    struct kiln_spec t;
    struct kiln_error err = { 0 };
    if (kiln_spec_parse(spec, NULL, &t, &err) < 0)
        fail_msg("%s refused: %s", spec, err.message);
    assert_int_equal(t.kind, kind);
    if (path)
        assert_string_equal(t.path, path);
    else
        assert_null(t.path);
    if (name)
        assert_string_equal(t.name, name);
    else
        assert_null(t.name);
    assert_int_equal(t.index, index);
    kiln_spec_free(&t);
}

static void bad(const char *spec, const char *what)
{
    struct kiln_spec t;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_spec_parse(spec, NULL, &t, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    if (!strstr(err.message, spec))
        fail_msg("the error for %s does not name it: %s", spec, err.message);
    if (what && !strstr(err.message, what))
        fail_msg("the error for %s does not say '%s': %s", spec, what, err.message);
    assert_null(t.path);
    assert_null(t.name);
}

static void test_prefixes(void **state)
{
    (void)state;
    assert_int_equal(kiln_transport_of("oci:x"), KILN_TRANSPORT_OCI);
    assert_int_equal(kiln_transport_of("oci-archive:x"), KILN_TRANSPORT_OCI_ARCHIVE);
    assert_int_equal(kiln_transport_of("docker-archive:x"), KILN_TRANSPORT_DOCKER_ARCHIVE);
    assert_int_equal(kiln_transport_of("docker://x/y"), KILN_TRANSPORT_DOCKER);
    assert_int_equal(kiln_transport_of("docker:x"), KILN_TRANSPORT_NONE);
    assert_int_equal(kiln_transport_of("OCI:x"), KILN_TRANSPORT_NONE);
    assert_int_equal(kiln_transport_of(NULL), KILN_TRANSPORT_NONE);
    /* an unknown prefix lists all four */
    struct kiln_spec t;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_spec_parse("dokcer-archive:x", "-o", &t, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "-o dokcer-archive:x: unknown transport"));
    for (const char *const *p = (const char *const[]){ "oci:DIR", "oci-archive:FILE",
                                                       "docker-archive:FILE", "docker://", NULL };
         *p; p++)
        if (!strstr(err.message, *p))
            fail_msg("'%s' not listed: %s", *p, err.message);
}

static void test_first_colon(void **state)
{
    (void)state;
    ok("oci:dir", KILN_TRANSPORT_OCI, "dir", NULL, -1);
    ok("oci:dir/", KILN_TRANSPORT_OCI, "dir", NULL, -1);
    ok("oci:/", KILN_TRANSPORT_OCI, "/", NULL, -1);
    ok("oci:dir:1.0", KILN_TRANSPORT_OCI, "dir", "1.0", -1);
    /* skopeo's rule: the path ends at the first ':' */
    ok("oci:dir:localhost/ba-two:1", KILN_TRANSPORT_OCI, "dir", "localhost/ba-two:1", -1);
    ok("oci-archive:ps-oci.tar:localhost/ba-oci:1", KILN_TRANSPORT_OCI_ARCHIVE, "ps-oci.tar",
       "localhost/ba-oci:1", -1);
    ok("oci:/a:b/c", KILN_TRANSPORT_OCI, "/a", "b/c", -1);
    ok("oci:d:a@b+c--d", KILN_TRANSPORT_OCI, "d", "a@b+c--d", -1);
    ok("oci:d:_x", KILN_TRANSPORT_OCI, "d", "_x", -1); /* a tag kiln took before */
    /* the escape for a path with ':' */
    ok("oci:/a\\:b/c", KILN_TRANSPORT_OCI, "/a:b/c", NULL, -1);
    ok("oci:/a\\:b/c:v1", KILN_TRANSPORT_OCI, "/a:b/c", "v1", -1);
    ok("oci:a\\\\:v1", KILN_TRANSPORT_OCI, "a\\", "v1", -1);
    ok("oci:a\\b", KILN_TRANSPORT_OCI, "a\\b", NULL, -1);
    /* @INDEX */
    ok("oci:dir:@0", KILN_TRANSPORT_OCI, "dir", NULL, 0);
    ok("oci-archive:f:@12", KILN_TRANSPORT_OCI_ARCHIVE, "f", NULL, 12);
    ok("docker-archive:two.tar:@1", KILN_TRANSPORT_DOCKER_ARCHIVE, "two.tar", NULL, 1);
    bad("oci:dir:@", "not an image index");
    bad("oci:dir:@-1", "not an image index");
    bad("oci:dir:@1x", "not an image index");
    bad("docker-archive:f:@99999999999999999999", "not an image index");
    /* names */
    bad("oci:dir:", "not a valid tag");
    bad("oci:dir:a//b", "not a valid tag");
    bad("oci:dir:-x", "not a valid tag");
    bad("oci:dir:a b", "not a valid tag");
    bad("oci:dir:a:", "not a valid tag");
    bad("oci:", "no path");
    bad("oci::x", "no path");
    bad("docker-archive:", "no path");
}

static void test_docker_archive_refs(void **state)
{
    (void)state;
    struct kiln_spec t;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_spec_parse("docker-archive:two.tar:img1:v1", NULL, &t, &err), 0);
    assert_string_equal(t.path, "two.tar");
    assert_string_equal(t.name, "img1:v1");
    assert_true(t.have_ref);
    assert_string_equal(t.ref.domain, "docker.io");
    assert_string_equal(t.ref.path, "library/img1");
    assert_string_equal(t.ref.tag, "v1");
    assert_true(kiln_repo_tag_matches("img1:v1", &t.ref));
    assert_true(kiln_repo_tag_matches("docker.io/library/img1:v1", &t.ref));
    assert_false(kiln_repo_tag_matches("img1:v2", &t.ref));
    assert_false(kiln_repo_tag_matches("localhost/img1:v1", &t.ref));
    assert_false(kiln_repo_tag_matches(NULL, &t.ref));
    kiln_spec_free(&t);
    /* no tag is :latest, as docker and skopeo read it */
    assert_int_equal(kiln_spec_parse("docker-archive:f:localhost/x", NULL, &t, &err), 0);
    assert_true(kiln_repo_tag_matches("localhost/x:latest", &t.ref));
    kiln_spec_free(&t);
    bad("docker-archive:f:App:1", "invalid");
    bad("docker-archive:f:app@sha256:"
        "0000000000000000000000000000000000000000000000000000000000000000",
        "not by digest");
}

static void test_registry(void **state)
{
    (void)state;
    struct kiln_spec t;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_spec_parse("docker://127.0.0.1:5000/a/b:1", NULL, &t, &err), 0);
    assert_int_equal(t.kind, KILN_TRANSPORT_DOCKER);
    assert_null(t.path);
    assert_string_equal(t.ref.domain, "127.0.0.1:5000");
    assert_string_equal(t.ref.path, "a/b");
    assert_string_equal(t.ref.tag, "1");
    kiln_spec_free(&t);
    /* a port out of range is a usage error that names it, not a network error */
    bad("docker://127.0.0.1:99999/x:1", "invalid port 99999");
    bad("docker://127.0.0.1:0/x", "invalid port 0");
    bad("docker://[::1]:70000/x", "invalid port 70000");
    assert_int_equal(kiln_spec_parse("docker://[::1]:65535/x", NULL, &t, &err), 0);
    kiln_spec_free(&t);
    bad("docker://", NULL);
    bad("docker://Bad/x", NULL);
}

static void test_link_resolve(void **state)
{
    (void)state;
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_archive_link_resolve("bbb/layer.tar", "../aaa/layer.tar", true, &b, &err),
                     0);
    assert_string_equal(b.data, "aaa/layer.tar");
    assert_int_equal(kiln_archive_link_resolve("bbb/layer.tar", "aaa/layer.tar", false, &b, &err),
                     0);
    assert_string_equal(b.data, "aaa/layer.tar");
    assert_int_equal(kiln_archive_link_resolve("a/b/c", "./../d", true, &b, &err), 0);
    assert_string_equal(b.data, "a/d");
    assert_int_equal(kiln_archive_link_resolve("x", "../../etc/passwd", true, &b, &err), -1);
    assert_non_null(strstr(err.message, "outside the archive"));
    assert_int_equal(kiln_archive_link_resolve("a/x", "../../y", true, &b, &err), -1);
    /* the member's own directory is resolved too (found by fuzz_reference) */
    assert_int_equal(kiln_archive_link_resolve("r//../x", "y", true, &b, &err), 0);
    assert_string_equal(b.data, "y");
    assert_int_equal(kiln_archive_link_resolve("../d/x", "y", true, &b, &err), -1);
    kiln_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_first_colon),
        cmocka_unit_test(test_docker_archive_refs),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_link_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
