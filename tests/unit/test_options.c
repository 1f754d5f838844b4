/* Unit tests: option values through the public API (kiln_build_set and
 * friends), output specs, SOURCE_DATE_EPOCH, tar member paths. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "copy.h"
#include "internal.h"
#include "unit.h"

static void set_ok(kiln_build *b, enum kiln_setting s, const char *v)
{
    struct kiln_error err = { 0 };
    if (kiln_build_set(b, s, v, &err) != 0)
        fail_msg("setting %d to '%s' failed: %s", (int)s, v, err.message);
}

/* Expects a usage error whose message names the value (and contains what). */
static void set_bad(kiln_build *b, enum kiln_setting s, const char *v, const char *what)
{
    struct kiln_error err = { 0 };
    if (kiln_build_set(b, s, v, &err) == 0)
        fail_msg("setting %d to '%s' was accepted", (int)s, v);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    char quoted[300];
    snprintf(quoted, sizeof(quoted), "'%s'", v);
    if (!strstr(err.message, quoted))
        fail_msg("the error for '%s' does not name it: %s", v, err.message);
    if (what && !strstr(err.message, what))
        fail_msg("the error for '%s' does not mention '%s': %s", v, what, err.message);
}

static void test_env(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    assert_non_null(b);
    set_bad(b, KILN_SET_ENV, "NOEQ", "--env");
    set_bad(b, KILN_SET_ENV, "=v", "--env");
    set_bad(b, KILN_SET_ENV, "", "--env");
    set_ok(b, KILN_SET_ENV, "K=");
    set_ok(b, KILN_SET_ENV, "K=v=w");
    set_ok(b, KILN_SET_ENV, "PATH=/usr/bin");
    kiln_build_free(b);
}

static void test_port(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    /* the forms a Dockerfile's EXPOSE takes, as Docker reads them */
    static const char *const good[] = { "80",      "80/tcp", "80/udp", "1",         "65535",
                                        "53/sctp", "80/TCP", "8000-8002", "8000-8002/udp" };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++)
        set_ok(b, KILN_SET_PORT, good[i]);
    static const char *const bad[] = { "0",    "65536",    "80/xyz", "abc",     "8002-8000",
                                       "80/",  "",         "-1",     "80x",     "80-",
                                       "/tcp", "80/tcp/x", "8-9-10", "99999999999999999999999",
                                       "8 0",  "1-65536" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        set_bad(b, KILN_SET_PORT, bad[i], "--port");
    kiln_build_free(b);
}

static void test_paths(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    set_bad(b, KILN_SET_VOLUME, "data", "absolute");
    set_bad(b, KILN_SET_VOLUME, "./data", "absolute");
    set_bad(b, KILN_SET_VOLUME, "", "--volume");
    set_ok(b, KILN_SET_VOLUME, "/data");
    set_bad(b, KILN_SET_WORKDIR, "srv", "absolute");
    set_bad(b, KILN_SET_WORKDIR, "", "--workdir");
    set_ok(b, KILN_SET_WORKDIR, "/srv");
    set_bad(b, KILN_SET_USER, "", "--user");
    set_bad(b, KILN_SET_USER, "a b", "--user");
    set_ok(b, KILN_SET_USER, "1000:1000");
    set_ok(b, KILN_SET_USER, "nobody");
    kiln_build_free(b);
}

static void test_stop_signal(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    static const char *const good[] = { "SIGTERM", "TERM",    "9",   "SIGKILL",    "KILL",   "1",
                                        "64",      "SIGUSR1", "HUP", "SIGRTMIN+3", "RTMAX-1",
                                        "sigterm", "SigInt",  "RTMIN" };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++)
        set_ok(b, KILN_SET_STOP_SIGNAL, good[i]);
    static const char *const bad[] = { "SIGFOO", "0",   "65", "",    "RTMIN+x",
                                       "-9",     "SIG", "9x", "FOO", "SIGTERMX", "RTMAX-" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        set_bad(b, KILN_SET_STOP_SIGNAL, bad[i], "--stop-signal");
    kiln_build_free(b);
}

static void test_labels_tags_misc(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    set_bad(b, KILN_SET_LABEL, "noeq", "--label");
    set_bad(b, KILN_SET_LABEL, "=v", "--label");
    set_ok(b, KILN_SET_LABEL, "k=");
    set_bad(b, KILN_SET_ANNOTATION, "noeq", "--annotation");
    set_bad(b, KILN_SET_ANNOTATION, "=v", "--annotation");
    set_ok(b, KILN_SET_ANNOTATION, "org.opencontainers.image.version=1");

    set_ok(b, KILN_SET_TAG, "app:1.0");
    set_ok(b, KILN_SET_TAG, "registry.example.com:5000/team/app");
    set_bad(b, KILN_SET_TAG, "UPPER/app", "--tag");
    set_bad(b, KILN_SET_TAG, "app:bad tag", "--tag");
    set_bad(b, KILN_SET_TAG, "app:", "--tag");
    set_bad(b, KILN_SET_TAG,
            "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "digest");
    set_bad(b, KILN_SET_TAG,
            "app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "digest");

    set_ok(b, KILN_SET_PLATFORM, "linux/arm64");
    set_bad(b, KILN_SET_PLATFORM, "linux/sparc", "--platform");
    set_ok(b, KILN_SET_ENTRYPOINT, "[\"/bin/sh\"]");
    set_bad(b, KILN_SET_ENTRYPOINT, "'unterminated", "--entrypoint");
    set_bad(b, KILN_SET_CMD, "[1]", "--cmd");
    set_ok(b, KILN_SET_AUTHOR, "someone");

    struct kiln_error err = { 0 };
    assert_int_equal(kiln_build_set(b, KILN_SET_ENV, NULL, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_set(b, (enum kiln_setting)999, "x", &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    /* NULL err is allowed */
    assert_int_equal(kiln_build_set(b, KILN_SET_PORT, "0", NULL), -1);
    kiln_build_free(b);
    kiln_build_free(NULL);
}

/* Decimal text as `date +%s` prints it; anything strtol merely tolerates
 * (leading blanks, a sign) is malformed. */
static void test_numbers_strict(void **state)
{
    (void)state;
    static const struct {
        enum kiln_setting s;
        const char *v;
    } bad[] = { { KILN_SET_PORT, " 80" },
                { KILN_SET_PORT, "+80" },
                { KILN_SET_STOP_SIGNAL, " 9" },
                { KILN_SET_STOP_SIGNAL, "+9" } };
    size_t accepted = 0;
    kiln_build *b = kiln_build_new();
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct kiln_error err = { 0 };
        if (kiln_build_set(b, bad[i].s, bad[i].v, &err) == 0) {
            print_message("setting %d: '%s' accepted\n", (int)bad[i].s, bad[i].v);
            accepted++;
        } else {
            assert_int_equal(err.code, KILN_ERR_USAGE);
        }
    }
    kiln_build_free(b);
    static const char *const sde[] = { " 12", "+12", "\t12" };
    for (size_t i = 0; i < ARRAY_SIZE(sde); i++) {
        int64_t e = -7;
        struct kiln_error err = { 0 };
        if (kiln_parse_source_date_epoch(sde[i], &e, &err) == 0) {
            print_message("SOURCE_DATE_EPOCH '%s' accepted as %lld\n", sde[i], (long long)e);
            accepted++;
        } else {
            assert_int_equal(err.code, KILN_ERR_USAGE);
        }
    }
    if (accepted)
        fail_msg("%zu malformed number(s) accepted (listed above)", accepted);
}

/* ---- outputs ---------------------------------------------------------- */

static void output_bad(const char *spec, const char *what)
{
    kiln_build *b = kiln_build_new();
    struct kiln_error err = { 0 };
    if (kiln_build_add_output(b, spec, &err) == 0)
        fail_msg("-o %s accepted", spec);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    if (!strstr(err.message, spec))
        fail_msg("the error for -o %s does not name it: %s", spec, err.message);
    if (what && !strstr(err.message, what))
        fail_msg("the error for -o %s does not say '%s': %s", spec, what, err.message);
    /* and the internal parser agrees */
    struct kiln_output o;
    assert_int_equal(kiln_output_parse(spec, &o, NULL), -1);
    assert_null(o.spec);
    assert_null(o.path);
    kiln_build_free(b);
}

static void output_ok(const char *spec, int kind, const char *path, const char *tag)
{
    kiln_build *b = kiln_build_new();
    struct kiln_error err = { 0 };
    if (kiln_build_add_output(b, spec, &err) != 0)
        fail_msg("-o %s refused: %s", spec, err.message);
    kiln_build_free(b);
    struct kiln_output o;
    assert_int_equal(kiln_output_parse(spec, &o, &err), 0);
    assert_int_equal(o.kind, kind);
    assert_string_equal(o.spec, spec);
    assert_string_equal(o.path, path);
    if (tag) {
        assert_non_null(o.tag);
        assert_string_equal(o.tag, tag);
    } else {
        assert_null(o.tag);
    }
    assert_null(o.tmp.path);
    kiln_output_free(&o);
}

static void test_outputs(void **state)
{
    (void)state;
    output_bad("foo:/x", "unknown transport");
    output_bad("/just/a/path", "unknown transport");
    output_bad("OCI:dir", "unknown transport");
    output_bad("docker:app", "unknown transport");
    output_bad("oci:", "no path");
    output_bad("oci-archive:", "no path");
    output_bad("docker-archive:", "no path");
    output_bad("oci::tag", "no path");
    output_bad("oci:dir:bad tag", "not a valid tag");
    output_bad("oci:dir:", "not a valid tag");
    output_bad("oci:dir:-x", "not a valid tag");
    output_bad("oci-archive:f.tar:.x", "not a valid tag");

    output_ok("oci:/tmp/x", KILN_OUT_OCI, "/tmp/x", NULL);
    output_ok("oci:/tmp/x:v1.0", KILN_OUT_OCI, "/tmp/x", "v1.0");
    output_ok("oci:dir/", KILN_OUT_OCI, "dir", NULL);
    output_ok("oci:/", KILN_OUT_OCI, "/", NULL);
    /* the path ends at the first ':', as skopeo reads it: the name may hold
     * ':' and '/' (podman's "localhost/app:1"); a ':' in the path is "\:" */
    output_ok("oci:/a:b/c", KILN_OUT_OCI, "/a", "b/c");
    output_ok("oci:/l:localhost/app:1", KILN_OUT_OCI, "/l", "localhost/app:1");
    output_ok("oci:/a\\:b/c", KILN_OUT_OCI, "/a:b/c", NULL);
    output_ok("oci:/a\\:b/c:v1", KILN_OUT_OCI, "/a:b/c", "v1");
    output_ok("oci:/a\\\\b", KILN_OUT_OCI, "/a\\b", NULL);
    output_ok("oci-archive:f.tar:latest", KILN_OUT_OCI_ARCHIVE, "f.tar", "latest");
    output_ok("docker-archive:img.tar", KILN_OUT_DOCKER_ARCHIVE, "img.tar", NULL);
    output_ok("docker-archive:/x/y\\:z", KILN_OUT_DOCKER_ARCHIVE, "/x/y:z", NULL);
    output_bad("dokcer-archive:x", "docker://");
    output_bad("oci:dir:@0", "@INDEX");
    output_bad("docker-archive:f.tar:@1", "@INDEX");
    output_bad("docker-archive:f.tar:App:1", "invalid");
    output_bad("docker-archive:f.tar:app@sha256:"
               "0000000000000000000000000000000000000000000000000000000000000000",
               "digest");
    output_bad("oci:dir:a//b", "not a valid tag");
    /* docker-archive:FILE:REF names the image (its RepoTags), normalised */
    struct kiln_output o;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_output_parse("docker-archive:f.tar:app:1", &o, &err), 0);
    assert_string_equal(o.path, "f.tar");
    assert_true(o.have_repo_tag);
    assert_string_equal(o.repo_tag.domain, "docker.io");
    assert_string_equal(o.repo_tag.path, "library/app");
    assert_string_equal(o.repo_tag.tag, "1");
    kiln_output_free(&o);
}

static void test_outputs_same_path(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_build_add_output(b, "docker-archive:/x/a.tar", &err), 0);
    assert_int_equal(kiln_build_add_output(b, "oci-archive:/x/a.tar", &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "same path"));
    /* several tags into one layout are fine */
    assert_int_equal(kiln_build_add_output(b, "oci:/x/layout:a", &err), 0);
    assert_int_equal(kiln_build_add_output(b, "oci:/x/layout:b", &err), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_add_output(b, "oci-archive:/x/layout", &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    kiln_build_free(b);
}

/* ---- SOURCE_DATE_EPOCH ------------------------------------------------ */

static void test_source_date_epoch(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t v;
    } good[] = {
        { "0", 0 }, { "1", 1 }, { "1700000000", 1700000000 }, { "253402300799", 253402300799LL }
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        int64_t e = -1;
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_parse_source_date_epoch(good[i].in, &e, &err), 0);
        assert_int_equal(e, good[i].v);
    }
    static const char *const bad[] = { "",     "12a",          "-1",
                                       "1.5",  "253402300800", "99999999999999999999999",
                                       "0x10", "12 ",          "abc" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int64_t e = 42;
        struct kiln_error err = { 0 };
        if (kiln_parse_source_date_epoch(bad[i], &e, &err) == 0)
            fail_msg("SOURCE_DATE_EPOCH '%s' accepted as %lld", bad[i], (long long)e);
        assert_int_equal(err.code, KILN_ERR_USAGE);
        assert_int_equal(e, 42);
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
        assert_non_null(strstr(err.message, quoted));
        assert_non_null(strstr(err.message, "SOURCE_DATE_EPOCH"));
    }
}

/* ---- kiln_build_run preconditions ------------------------------------- */

static void test_run_needs_inputs_and_outputs(void **state)
{
    (void)state;
    char digest[KILN_DIGEST_MAX] = "untouched";
    struct kiln_error err = { 0 };

    kiln_build *b = kiln_build_new();
    assert_int_equal(kiln_build_run(b, digest, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "no input"));
    kiln_build_free(b);

    b = kiln_build_new();
    assert_int_equal(kiln_build_add_output(b, "oci:/nonexistent-kiln-dir/x", &err), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_run(b, digest, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "no input"));
    kiln_build_free(b);

    b = kiln_build_new();
    assert_int_equal(kiln_build_add_rootfs(b, "/nonexistent-kiln-dir", &err), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_run(b, digest, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_non_null(strstr(err.message, "no output"));
    kiln_build_free(b);
    assert_string_equal(digest, "untouched");

    b = kiln_build_new();
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_add_rootfs(b, "", &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_add_tar(b, "", &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_int_equal(kiln_build_add_tar(b, NULL, &err), -1);
    kiln_build_free(b);
}

/* ---- settings reach the image ----------------------------------------- */

static char *read_all(const char *path, size_t *len)
{
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    if (kiln_read_file(path, 0, &b, &err) < 0)
        fail_msg("%s", err.message);
    if (len)
        *len = b.len;
    return b.data;
}

static json_t *read_json(const char *path)
{
    char *s = read_all(path, NULL);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    free(s);
    return j;
}

static json_t *read_blob(const char *layout, const char *digest)
{
    char p[4096];
    assert_true(kiln_digest_valid(digest));
    snprintf(p, sizeof(p), "%s/blobs/sha256/%s", layout, digest + 7);
    return read_json(p);
}

static void test_settings_reach_config(void **state)
{
    (void)state;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/kiln-test-options-XXXXXX", test_tmpdir());
    assert_non_null(mkdtemp(tmp));
    char root[4200], layout[4200];
    snprintf(root, sizeof(root), "%s/root", tmp);
    snprintf(layout, sizeof(layout), "%s/layout", tmp);
    assert_int_equal(mkdir(root, 0755), 0);
    char f[4300];
    snprintf(f, sizeof(f), "%s/hello", root);
    int fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hi\n", 3), 3);
    close(fd);

    kiln_build *b = kiln_build_new();
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_build_add_rootfs(b, root, &err), 0);
    char spec[4300];
    snprintf(spec, sizeof(spec), "oci:%s", layout);
    assert_int_equal(kiln_build_add_output(b, spec, &err), 0);
    set_ok(b, KILN_SET_ENV, "A=1");
    set_ok(b, KILN_SET_ENV, "B=2");
    set_ok(b, KILN_SET_ENV, "AB=x");
    set_ok(b, KILN_SET_ENV, "A=3"); /* replaces A=1 in place */
    set_ok(b, KILN_SET_ENV, "K=");
    set_ok(b, KILN_SET_PORT, "80");
    set_ok(b, KILN_SET_PORT, "80/tcp"); /* the same port */
    set_ok(b, KILN_SET_PORT, "53/udp");
    set_ok(b, KILN_SET_VOLUME, "/data");
    set_ok(b, KILN_SET_WORKDIR, "/srv");
    set_ok(b, KILN_SET_WORKDIR, "/app");
    set_ok(b, KILN_SET_STOP_SIGNAL, "SIGINT");
    set_ok(b, KILN_SET_USER, "1000:1000");
    set_ok(b, KILN_SET_LABEL, "l1=a");
    set_ok(b, KILN_SET_LABEL, "l1=b");
    set_ok(b, KILN_SET_ANNOTATION, "org.example.x=y");
    set_ok(b, KILN_SET_ENTRYPOINT, "sh -c 'echo hi'");
    set_ok(b, KILN_SET_CMD, "[\"--flag\"]");
    set_ok(b, KILN_SET_AUTHOR, "Tester");
    set_ok(b, KILN_SET_PLATFORM, "linux/armhf");
    set_ok(b, KILN_SET_TAG, "registry.example.com/team/app:1.2");
    kiln_build_set_source_date_epoch(b, 1700000000);
    kiln_build_set_jobs(b, 1);
    char digest[KILN_DIGEST_MAX];
    if (kiln_build_run(b, digest, &err) != 0)
        fail_msg("build: %s", err.message);
    kiln_build_free(b);

    snprintf(f, sizeof(f), "%s/index.json", layout);
    json_t *idx = read_json(f);
    json_t *m0 = json_array_get(json_object_get(idx, "manifests"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "digest")), digest);
    json_t *ann = json_object_get(m0, "annotations");
    assert_string_equal(json_string_value(json_object_get(ann, KILN_ANNOT_REF_NAME)), "1.2");
    assert_string_equal(json_string_value(json_object_get(ann, KILN_ANNOT_CONTAINERD_NAME)),
                        "registry.example.com/team/app:1.2");
    json_t *plat = json_object_get(m0, "platform");
    assert_string_equal(json_string_value(json_object_get(plat, "architecture")), "arm");
    assert_string_equal(json_string_value(json_object_get(plat, "variant")), "v7");

    json_t *man = read_blob(layout, digest);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(man, "annotations"), "org.example.x")),
        "y");
    json_t *cfgd = json_object_get(man, "config");
    json_t *cfg = read_blob(layout, json_string_value(json_object_get(cfgd, "digest")));
    assert_string_equal(json_string_value(json_object_get(cfg, "architecture")), "arm");
    assert_string_equal(json_string_value(json_object_get(cfg, "variant")), "v7");
    assert_string_equal(json_string_value(json_object_get(cfg, "author")), "Tester");
    assert_string_equal(json_string_value(json_object_get(cfg, "created")), "2023-11-14T22:13:20Z");
    json_t *c = json_object_get(cfg, "config");
    char *env = json_dumps(json_object_get(c, "Env"), JSON_COMPACT);
    assert_string_equal(env, "[\"A=3\",\"B=2\",\"AB=x\",\"K=\"]");
    free(env);
    char *ports = json_dumps(json_object_get(c, "ExposedPorts"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(ports, "{\"53/udp\":{},\"80/tcp\":{}}");
    free(ports);
    char *ep = json_dumps(json_object_get(c, "Entrypoint"), JSON_COMPACT);
    assert_string_equal(ep, "[\"sh\",\"-c\",\"echo hi\"]");
    free(ep);
    char *cmd = json_dumps(json_object_get(c, "Cmd"), JSON_COMPACT);
    assert_string_equal(cmd, "[\"--flag\"]");
    free(cmd);
    assert_string_equal(json_string_value(json_object_get(c, "WorkingDir")), "/app");
    assert_string_equal(json_string_value(json_object_get(c, "StopSignal")), "SIGINT");
    assert_string_equal(json_string_value(json_object_get(c, "User")), "1000:1000");
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "l1")),
                        "b");
    assert_non_null(json_object_get(json_object_get(c, "Volumes"), "/data"));
    json_decref(cfg);
    json_decref(man);
    json_decref(idx);
    assert_int_equal(kiln_rm_rf(tmp), 0);
}

/* ---- tar member paths ------------------------------------------------- */

static void norm_ok(const char *in, const char *want)
{
    struct kiln_buf out = { 0 };
    struct kiln_error err = { 0 };
    if (kiln_normalise_member_path(in, &out, &err) != 0)
        fail_msg("'%s' refused: %s", in, err.message);
    assert_non_null(out.data);
    assert_string_equal(out.data, want);
    assert_int_equal(out.len, strlen(want));
    kiln_buf_free(&out);
}

static void norm_bad(const char *in)
{
    struct kiln_buf out = { 0 };
    struct kiln_error err = { 0 };
    if (kiln_normalise_member_path(in, &out, &err) == 0)
        fail_msg("'%s' accepted as '%s'", in, out.data);
    assert_int_equal(err.code, KILN_ERR_INPUT);
    char quoted[300];
    snprintf(quoted, sizeof(quoted), "'%s'", in);
    if (!strstr(err.message, quoted))
        fail_msg("the error for '%s' does not name it: %s", in, err.message);
    kiln_buf_free(&out);
}

static void test_normalise_member_path(void **state)
{
    (void)state;
    norm_ok("./a/./b", "a/b");
    norm_ok("/etc/x", "etc/x");
    norm_ok("a//b/", "a/b");
    norm_ok("./", "");
    norm_ok(".", "");
    norm_ok("/", "");
    norm_ok("", "");
    norm_ok("a", "a");
    norm_ok("//./a/.//./b/.", "a/b");
    norm_ok("..a/b..", "..a/b..");
    norm_ok("a/...", "a/...");
    norm_ok(".hidden/.x", ".hidden/.x");
    norm_bad("../x");
    norm_bad("a/../b");
    norm_bad("a/..");
    norm_bad("..");
    norm_bad("/../etc/passwd");
    norm_bad("./a/./../../b");

    /* the output buffer is reused: old contents are dropped */
    struct kiln_buf out = { 0 };
    assert_int_equal(kiln_normalise_member_path("long/path/name", &out, NULL), 0);
    assert_int_equal(kiln_normalise_member_path("./x", &out, NULL), 0);
    assert_string_equal(out.data, "x");
    kiln_buf_free(&out);
}

/* A program built against an older header has a smaller kiln_remote_opts
 * (here: without stall_seconds, the last field). The library must write no
 * byte past it, and take the defaults for what it lacks. */
struct old_remote_opts {
    struct {
        char bytes[offsetof(struct kiln_remote_opts, stall_seconds)];
    } opts;
    unsigned char canary[16];
};

static void test_remote_opts_abi(void **state)
{
    (void)state;
    struct old_remote_opts old;
    memset(&old, 0xA5, sizeof(old));
    struct kiln_remote_opts *o = (struct kiln_remote_opts *)&old.opts;
    kiln_remote_opts_init_size(o, sizeof(old.opts));
    for (size_t i = 0; i < sizeof(old.canary); i++)
        assert_int_equal(old.canary[i], 0xA5);
    assert_int_equal(o->size, sizeof(old.opts));
    assert_true(o->tls_verify);
    assert_int_equal(o->retries, 5);
    o->retries = 2;
    struct kiln_remote_opts local;
    const struct kiln_remote_opts *g = kiln_remote_opts_get(o, &local);
    assert_ptr_equal(g, &local);
    assert_int_equal(local.size, sizeof(local));
    assert_int_equal(local.retries, 2);        /* the caller's */
    assert_int_equal(local.stall_seconds, 60); /* not in its struct: the default */
    /* the macro, with this header's struct */
    struct kiln_remote_opts cur;
    memset(&cur, 0xA5, sizeof(cur));
    kiln_remote_opts_init(&cur);
    assert_int_equal(cur.size, sizeof(cur));
    assert_int_equal(cur.stall_seconds, 60);
    assert_null(cur.creds);
    /* NULL: the defaults */
    g = kiln_remote_opts_get(NULL, &local);
    assert_int_equal(g->jobs, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_stop_signal),
        cmocka_unit_test(test_labels_tags_misc),
        cmocka_unit_test(test_numbers_strict),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_outputs_same_path),
        cmocka_unit_test(test_source_date_epoch),
        cmocka_unit_test(test_run_needs_inputs_and_outputs),
        cmocka_unit_test(test_settings_reach_config),
        cmocka_unit_test(test_normalise_member_path),
        cmocka_unit_test(test_remote_opts_abi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
