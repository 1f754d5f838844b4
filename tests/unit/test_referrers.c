/* Unit tests: referrers/ — artifact manifests, referrer descriptors and
 * referrers lists (what registries return is checked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "digest/sha256.h"
#include "internal.h"
#include "referrers/referrers.h"

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define DIG_A "sha256:" HEX_A
#define DIG_B "sha256:" HEX_B

static struct kiln_artifact sample(void)
{
    struct kiln_artifact a = {
        .artifact_type = "application/spdx+json",
        .media_type = "application/spdx+json",
        .size = 42,
        .title = "app.spdx.json",
        .subject_media_type = "application/vnd.oci.image.manifest.v1+json",
        .subject_digest = DIG_B,
        .subject_size = 400,
        .created = 1700000000,
    };
    memcpy(a.digest, DIG_A, sizeof(DIG_A));
    return a;
}

static void test_manifest_exact_bytes(void **state)
{
    (void)state;
    struct kiln_artifact a = sample();
    const char *ann[] = { "org.example.build=42" };
    a.annotations = ann;
    a.nannotations = 1;
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), 0);
    assert_string_equal(
        b.data,
        "{\"annotations\":{\"org.example.build\":\"42\",\"org.opencontainers.image.created\":"
        "\"2023-11-14T22:13:20Z\"},\"artifactType\":\"application/spdx+json\",\"config\":{"
        "\"digest\":\"" KILN_EMPTY_DIGEST "\",\"mediaType\":\"application/vnd.oci.empty.v1+json\","
        "\"size\":2},\"layers\":[{\"annotations\":{\"org.opencontainers.image.title\":"
        "\"app.spdx.json\"},\"digest\":\"" DIG_A "\",\"mediaType\":\"application/spdx+json\","
        "\"size\":42}],\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"schemaVersion\":2,\"subject\":{\"digest\":\"" DIG_B "\",\"mediaType\":"
        "\"application/vnd.oci.image.manifest.v1+json\",\"size\":400}}");
    /* the empty descriptor's digest is the hash of {} */
    char d[KILN_DIGEST_MAX];
    assert_int_equal(kiln_sha256_buf("{}", 2, d, &err), 0);
    assert_string_equal(d, KILN_EMPTY_DIGEST);
    /* the same inputs, the same bytes */
    struct kiln_buf b2 = { 0 };
    assert_int_equal(kiln_artifact_manifest_build(&a, &b2, &err), 0);
    assert_string_equal(b.data, b2.data);
    kiln_buf_free(&b);
    kiln_buf_free(&b2);
}

static void test_manifest_no_created_no_title(void **state)
{
    (void)state;
    struct kiln_artifact a = sample();
    a.created = -1;
    a.title = NULL;
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), 0);
    assert_null(strstr(b.data, "annotations"));
    kiln_buf_free(&b);
}

static void test_manifest_refuses(void **state)
{
    (void)state;
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    struct kiln_artifact a = sample();
    a.artifact_type = "spdx json";
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "spdx json"));
    a = sample();
    const char *bad[] = { "novalue" };
    a.annotations = bad;
    a.nannotations = 1;
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), -1);
    assert_non_null(strstr(err.message, "KEY=VALUE"));
    const char *empty_key[] = { "=v" };
    a.annotations = empty_key;
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), -1);
    a = sample();
    a.subject_digest = "sha256:short";
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), -1);
    a = sample();
    a.media_type = "/x";
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), -1);
    assert_null(b.data);
}

static void test_types(void **state)
{
    (void)state;
    assert_string_equal(kiln_artifact_type_resolve("spdx"), "application/spdx+json");
    assert_string_equal(kiln_artifact_type_resolve("spdx3"), "application/spdx3+json");
    assert_string_equal(kiln_artifact_type_resolve("cyclonedx"), "application/vnd.cyclonedx+json");
    assert_string_equal(kiln_artifact_type_resolve("in-toto"), "application/vnd.in-toto+json");
    assert_string_equal(kiln_artifact_type_resolve("application/vnd.example+json"),
                        "application/vnd.example+json");
    assert_null(kiln_artifact_type_resolve("SPDX"));
    assert_null(kiln_artifact_type_resolve("text/plain; charset=utf-8"));
    assert_null(kiln_artifact_type_resolve("a/b/c"));
    assert_null(kiln_artifact_type_resolve(""));
    assert_null(kiln_artifact_type_resolve(NULL));
    assert_true(kiln_media_type_valid("application/vnd.oci.empty.v1+json"));
    assert_false(kiln_media_type_valid("application/"));
    assert_false(kiln_media_type_valid("-x/y"));
}

static void test_descriptor(void **state)
{
    (void)state;
    struct kiln_artifact a = sample();
    const char *ann[] = { "k=v" };
    a.annotations = ann;
    a.nannotations = 1;
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_artifact_manifest_build(&a, &b, &err), 0);
    json_t *d = NULL;
    char sub[KILN_DIGEST_MAX], dg[KILN_DIGEST_MAX];
    assert_int_equal(kiln_referrer_descriptor(b.data, b.len, &d, sub, &err), 0);
    assert_int_equal(kiln_sha256_buf(b.data, b.len, dg, &err), 0);
    assert_string_equal(sub, DIG_B);
    assert_string_equal(json_string_value(json_object_get(d, "digest")), dg);
    assert_int_equal(json_integer_value(json_object_get(d, "size")), (json_int_t)b.len);
    assert_string_equal(json_string_value(json_object_get(d, "artifactType")),
                        "application/spdx+json");
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "annotations"), "k")),
                        "v");
    json_decref(d);
    kiln_buf_free(&b);
    /* no artifactType: the config's media type, as the distribution spec says */
    const char *old =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.example.sig\",\"digest\":\"" DIG_A
        "\",\"size\":1},\"layers\":[],\"subject\":{\"mediaType\":\"x/y\",\"digest\":\"" DIG_B
        "\",\"size\":1}}";
    assert_int_equal(kiln_referrer_descriptor(old, strlen(old), &d, NULL, &err), 0);
    assert_string_equal(json_string_value(json_object_get(d, "artifactType")),
                        "application/vnd.example.sig");
    assert_null(json_object_get(d, "annotations"));
    json_decref(d);
    /* an image (no subject) is no referrer */
    const char *img =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A "\",\"size\":1},\"layers\":[]}";
    assert_int_equal(kiln_referrer_descriptor(img, strlen(img), &d, NULL, &err), -1);
    assert_null(d);
    assert_int_equal(kiln_referrer_descriptor("{", 1, &d, NULL, &err), -1);
}

static void test_index_add_filter(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    json_t *idx = kiln_referrers_index_new();
    json_t *d1 =
        json_pack("{s:s,s:s,s:i,s:s}", "mediaType", "application/vnd.oci.image.manifest.v1+json",
                  "digest", DIG_A, "size", 10, "artifactType", "application/spdx+json");
    json_t *d2 =
        json_pack("{s:s,s:s,s:i,s:s}", "mediaType", "application/vnd.oci.image.manifest.v1+json",
                  "digest", DIG_B, "size", 11, "artifactType", "application/vnd.in-toto+json");
    assert_int_equal(kiln_referrers_index_add(idx, d1, &err), 0);
    assert_int_equal(kiln_referrers_index_add(idx, d1, &err), 1); /* once */
    assert_int_equal(kiln_referrers_index_add(idx, d2, &err), 0);
    struct kiln_buf b = { 0 };
    assert_int_equal(kiln_json_bytes(idx, &b, &err), 0);
    assert_string_equal(
        b.data, "{\"manifests\":[{\"artifactType\":\"application/spdx+json\",\"digest\":\"" DIG_A
                "\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":10},"
                "{\"artifactType\":\"application/vnd.in-toto+json\",\"digest\":\"" DIG_B
                "\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":11}],"
                "\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}");
    json_t *back = NULL;
    assert_int_equal(kiln_referrers_index_parse(b.data, b.len, DIG_A, "test", &back, &err), 0);
    kiln_referrers_index_filter(back, "application/vnd.in-toto+json");
    assert_int_equal(json_array_size(json_object_get(back, "manifests")), 1);
    kiln_referrers_index_filter(back, NULL);
    assert_int_equal(json_array_size(json_object_get(back, "manifests")), 1);
    json_decref(back);
    json_decref(d1);
    json_decref(d2);
    json_decref(idx);
    kiln_buf_free(&b);
}

static void test_index_parse_refuses(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    json_t *j = NULL;
    /* the subject itself, as GitLab resolves sha256-<hex> (oras-go#1396) */
    const char *m =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}";
    char d[KILN_DIGEST_MAX];
    assert_int_equal(kiln_sha256_buf(m, strlen(m), d, &err), 0);
    assert_int_equal(kiln_referrers_index_parse(m, strlen(m), d, "the tag", &j, &err), -1);
    assert_non_null(strstr(err.message, "itself"));
    /* a manifest is no index, even under another digest */
    assert_int_equal(kiln_referrers_index_parse(m, strlen(m), DIG_A, "the tag", &j, &err), -1);
    assert_non_null(strstr(err.message, "not a referrers list"));
    const char *bad[] = {
        "[]",
        "{\"schemaVersion\":1,\"mediaType\":\"application/"
        "vnd.oci.image.index.v1+json\",\"manifests\":[]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":[]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"a/"
        "b\",\"digest\":\"sha256:x\",\"size\":1}]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
        "\",\"size\":-1}]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
        "\",\"size\":1,\"annotations\":[]}]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
        "\",\"size\":1,\"artifactType\":3}]}",
        "{\"schemaVersion\":2,\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.oci.image.index.v1+json\",\"manifests\":[]}",
        "{",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = NULL;
        assert_int_equal(kiln_referrers_index_parse(bad[i], strlen(bad[i]), DIG_B, "x", &j, &err),
                         -1);
        assert_null(j);
        assert_int_equal(err.code, KILN_ERR_FORMAT);
    }
    /* too many descriptors */
    struct kiln_buf b = { 0 };
    assert_int_equal(kiln_buf_printf(&b, &err,
                                     "{\"schemaVersion\":2,\"mediaType\":"
                                     "\"application/vnd.oci.image.index.v1+json\","
                                     "\"manifests\":["),
                     0);
    for (int i = 0; i <= KILN_REFERRERS_MAX; i++)
        assert_int_equal(kiln_buf_printf(&b, &err,
                                         "%s{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
                                         "\",\"size\":1}",
                                         i ? "," : ""),
                         0);
    assert_int_equal(kiln_buf_printf(&b, &err, "]}"), 0);
    assert_int_equal(kiln_referrers_index_parse(b.data, b.len, DIG_B, "x", &j, &err), -1);
    assert_non_null(strstr(err.message, "at most"));
    kiln_buf_free(&b);
}

static void test_tag(void **state)
{
    (void)state;
    char t[80];
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_referrers_tag(DIG_A, t, &err), 0);
    assert_string_equal(t, "sha256-" HEX_A);
    assert_int_equal(kiln_referrers_tag("sha256:ABC", t, &err), -1);
    assert_int_equal(kiln_referrers_tag(NULL, t, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_exact_bytes),
        cmocka_unit_test(test_manifest_no_created_no_title),
        cmocka_unit_test(test_manifest_refuses),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_index_add_filter),
        cmocka_unit_test(test_index_parse_refuses),
        cmocka_unit_test(test_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
