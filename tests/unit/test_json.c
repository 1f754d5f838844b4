/* Unit tests: image/config.c — config and manifest JSON, argument parsing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"

#define D_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define D_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define D_1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D_2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void push_all(struct kiln_strlist *l, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kiln_strlist_push(l, v[i], NULL), 0);
}

static void config_free(struct kiln_image_config *c)
{
    kiln_strlist_free(&c->env);
    kiln_strlist_free(&c->entrypoint);
    kiln_strlist_free(&c->cmd);
    kiln_strlist_free(&c->ports);
    kiln_strlist_free(&c->volumes);
    kiln_strlist_free(&c->labels);
    kiln_strlist_free(&c->annotations);
}

/* Checks that every object's keys in the document are in ascending order. */
static void assert_keys_sorted(const json_t *j)
{
    if (json_is_object(j)) {
        const char *prev = NULL, *k;
        json_t *v;
        /* jansson iterates in insertion order for a parsed document, i.e. the
         * order of the text */
        json_object_foreach((json_t *)j, k, v)
        {
            if (prev && strcmp(prev, k) >= 0)
                fail_msg("keys out of order: '%s' then '%s'", prev, k);
            prev = k;
            assert_keys_sorted(v);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)j, i, v) assert_keys_sorted(v);
    }
}

static json_t *load(const struct kiln_buf *b)
{
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("not JSON: %s: %s", je.text, b->data);
    return j;
}

static void assert_compact(const struct kiln_buf *b)
{
    /* no whitespace outside strings */
    bool in_str = false, esc = false;
    for (size_t i = 0; i < b->len; i++) {
        char c = b->data[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
            fail_msg("whitespace at %zu in %s", i, b->data);
    }
}

/* ---- config ----------------------------------------------------------- */

static void test_config_minimal_exact(void **state)
{
    (void)state;
    struct kiln_image_config c = { 0 };
    snprintf(c.platform.os, sizeof(c.platform.os), "linux");
    snprintf(c.platform.arch, sizeof(c.platform.arch), "amd64");
    c.created = 0;
    struct kiln_layer l = { .diff_id = D_A, .digest = D_B, .size = 10 };
    struct kiln_buf out = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_config_json(&c, NULL, 0, &l, 1, &out, &err), 0);
    assert_string_equal(out.data,
                        "{\"architecture\":\"amd64\",\"config\":{},"
                        "\"created\":\"1970-01-01T00:00:00Z\","
                        "\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":"
                        "\"kiln\"}],\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"" D_A
                        "\"],\"type\":\"layers\"}}");
    assert_int_equal(out.len, strlen(out.data));

    /* no layers: empty arrays, still a valid config */
    assert_int_equal(kiln_config_json(&c, NULL, 0, NULL, 0, &out, &err), 0);
    assert_string_equal(out.data, "{\"architecture\":\"amd64\",\"config\":{},"
                                  "\"created\":\"1970-01-01T00:00:00Z\",\"history\":[],"
                                  "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[],"
                                  "\"type\":\"layers\"}}");
    kiln_buf_free(&out);
}

static void test_config_all_fields(void **state)
{
    (void)state;
    struct kiln_image_config c = { 0 };
    snprintf(c.platform.os, sizeof(c.platform.os), "linux");
    snprintf(c.platform.arch, sizeof(c.platform.arch), "arm");
    snprintf(c.platform.variant, sizeof(c.platform.variant), "v7");
    c.created = 1700000000;
    c.author = (char *)"Jos\xc3\xa9 \"J\" <j@example.com>";
    c.user = (char *)"1000:1000";
    c.workdir = (char *)"/srv/app";
    c.stop_signal = (char *)"SIGTERM";
    static const char *const env[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8" };
    static const char *const ep[] = { "/bin/sh", "-c" };
    static const char *const cmd[] = { "echo hi" };
    static const char *const ports[] = { "80/tcp", "53/udp" };
    static const char *const vols[] = { "/data", "/cache" };
    static const char *const labels[] = { "b=2", "a=1", "a=3", "c=x=y", "d=" };
    push_all(&c.env, env, 2);
    push_all(&c.entrypoint, ep, 2);
    push_all(&c.cmd, cmd, 1);
    push_all(&c.ports, ports, 2);
    push_all(&c.volumes, vols, 2);
    push_all(&c.labels, labels, 5);
    c.has_entrypoint = c.has_cmd = true;
    struct kiln_layer l[2] = {
        { .diff_id = D_A, .digest = D_B, .size = 1, .created_by = "kiln build --rootfs" },
        { .diff_id = D_C, .digest = D_1, .size = 2, .created_by = "kiln build --tar" },
    };
    struct kiln_buf out = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_config_json(&c, NULL, 0, l, 2, &out, &err), 0);

#define AUTHOR "\"Jos\\u00E9 \\\"J\\\" <j@example.com>\""
#define WHEN   "\"2023-11-14T22:13:20Z\""
    assert_string_equal(
        out.data,
        "{\"architecture\":\"arm\",\"author\":" AUTHOR ",\"config\":{"
        "\"Cmd\":[\"echo hi\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
        "\"Env\":[\"PATH=/usr/bin:/bin\",\"LANG=C.UTF-8\"],"
        "\"ExposedPorts\":{\"53/udp\":{},\"80/tcp\":{}},"
        "\"Labels\":{\"a\":\"3\",\"b\":\"2\",\"c\":\"x=y\",\"d\":\"\"},"
        "\"StopSignal\":\"SIGTERM\",\"User\":\"1000:1000\","
        "\"Volumes\":{\"/cache\":{},\"/data\":{}},\"WorkingDir\":\"/srv/app\"},"
        "\"created\":" WHEN ",\"history\":["
        "{\"author\":" AUTHOR ",\"created\":" WHEN ",\"created_by\":\"kiln build --rootfs\"},"
        "{\"author\":" AUTHOR ",\"created\":" WHEN ",\"created_by\":\"kiln build --tar\"}],"
        "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"" D_A "\",\"" D_C "\"],"
        "\"type\":\"layers\"},\"variant\":\"v7\"}");
#undef AUTHOR
#undef WHEN
    assert_compact(&out);
    json_t *j = load(&out);
    assert_keys_sorted(j);
    /* history has one entry per layer, diff_ids in layer order */
    assert_int_equal(json_array_size(json_object_get(j, "history")), 2);
    json_t *ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 1)), D_C);
    /* ENSURE_ASCII: the bytes are 7-bit */
    for (size_t i = 0; i < out.len; i++)
        assert_true((unsigned char)out.data[i] < 0x80);
    assert_string_equal(json_string_value(json_object_get(j, "author")),
                        "Jos\xc3\xa9 \"J\" <j@example.com>");
    json_decref(j);
    kiln_buf_free(&out);
    config_free(&c);
}

static void test_config_empty_entrypoint(void **state)
{
    (void)state;
    /* an entrypoint or cmd set to nothing is written as [], which resets a
     * base image's; one never set is absent */
    struct kiln_image_config c = { 0 };
    snprintf(c.platform.os, sizeof(c.platform.os), "linux");
    snprintf(c.platform.arch, sizeof(c.platform.arch), "arm64");
    c.created = 86400 * 365;
    c.has_entrypoint = true;
    struct kiln_buf out = { 0 };
    assert_int_equal(kiln_config_json(&c, NULL, 0, NULL, 0, &out, NULL), 0);
    json_t *j = load(&out);
    json_t *cfg = json_object_get(j, "config");
    assert_true(json_is_array(json_object_get(cfg, "Entrypoint")));
    assert_int_equal(json_array_size(json_object_get(cfg, "Entrypoint")), 0);
    assert_null(json_object_get(cfg, "Cmd"));
    assert_int_equal(json_object_size(cfg), 1);
    assert_null(json_object_get(j, "variant"));
    assert_null(json_object_get(j, "author"));
    assert_string_equal(json_string_value(json_object_get(j, "created")), "1971-01-01T00:00:00Z");
    json_decref(j);
    kiln_buf_free(&out);
}

static void test_config_deterministic(void **state)
{
    (void)state;
    struct kiln_image_config c = { 0 };
    snprintf(c.platform.os, sizeof(c.platform.os), "linux");
    snprintf(c.platform.arch, sizeof(c.platform.arch), "amd64");
    static const char *const labels[] = { "z=1", "m=2", "a=3" };
    push_all(&c.labels, labels, 3);
    struct kiln_buf a = { 0 }, b = { 0 };
    assert_int_equal(kiln_config_json(&c, NULL, 0, NULL, 0, &a, NULL), 0);
    assert_int_equal(kiln_config_json(&c, NULL, 0, NULL, 0, &b, NULL), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_non_null(strstr(a.data, "\"Labels\":{\"a\":\"3\",\"m\":\"2\",\"z\":\"1\"}"));
    kiln_buf_free(&a);
    kiln_buf_free(&b);
    config_free(&c);
}

static void test_format_time(void **state)
{
    (void)state;
    char t[32];
    kiln_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00Z");
    kiln_format_time(1700000000, t);
    assert_string_equal(t, "2023-11-14T22:13:20Z");
    kiln_format_time(951782400, t); /* a leap day */
    assert_string_equal(t, "2000-02-29T00:00:00Z");
    kiln_format_time(253402300799LL, t);
    assert_string_equal(t, "9999-12-31T23:59:59Z");
}

/* ---- manifest --------------------------------------------------------- */

static void test_manifest_oci_exact(void **state)
{
    (void)state;
    struct kiln_layer l[2] = {
        { .diff_id = D_A, .digest = D_1, .size = 1234 },
        { .diff_id = D_B, .digest = D_2, .size = 5678901234ULL },
    };
    struct kiln_strlist ann = { 0 };
    static const char *const a[] = { "org.opencontainers.image.version=1.0", "com.example.b=x",
                                     "com.example.a=y=z" };
    push_all(&ann, a, 3);
    struct kiln_buf out = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_manifest_json(KILN_MANIFEST_OCI, KILN_COMPRESSION_GZIP, D_C, 321, l, 2,
                                        &ann, &out, &err),
                     0);
    assert_string_equal(
        out.data,
        "{\"annotations\":{\"com.example.a\":\"y=z\",\"com.example.b\":\"x\","
        "\"org.opencontainers.image.version\":\"1.0\"},"
        "\"config\":{\"digest\":\"" D_C "\",\"mediaType\":"
        "\"application/vnd.oci.image.config.v1+json\",\"size\":321},"
        "\"layers\":[{\"digest\":\"" D_1 "\",\"mediaType\":"
        "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":1234},"
        "{\"digest\":\"" D_2 "\",\"mediaType\":"
        "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":5678901234}],"
        "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}");

    /* no annotations: the key is absent */
    struct kiln_strlist none = { 0 };
    assert_int_equal(kiln_manifest_json(KILN_MANIFEST_OCI, KILN_COMPRESSION_GZIP, D_C, 321, l, 1,
                                        &none, &out, &err),
                     0);
    assert_null(strstr(out.data, "annotations"));
    assert_int_equal(kiln_manifest_json(KILN_MANIFEST_OCI, KILN_COMPRESSION_GZIP, D_C, 321, l, 1,
                                        NULL, &out, &err),
                     0);
    assert_null(strstr(out.data, "annotations"));
    kiln_buf_free(&out);
    kiln_strlist_free(&ann);
}

static void check_manifest(enum kiln_manifest_kind kind, enum kiln_compression comp,
                           const char *want_mt, const char *want_cfg_mt, const char *want_layer_mt,
                           bool want_annotations)
{
    struct kiln_layer l[3] = {
        { .diff_id = D_A, .digest = D_1, .size = 1 },
        { .diff_id = D_B, .digest = D_2, .size = 2 },
        { .diff_id = D_C, .digest = D_A, .size = 3 },
    };
    struct kiln_strlist ann = { 0 };
    assert_int_equal(kiln_strlist_push(&ann, "k=v", NULL), 0);
    struct kiln_buf out = { 0 };
    assert_int_equal(kiln_manifest_json(kind, comp, D_B, 99, l, 3, &ann, &out, NULL), 0);
    assert_compact(&out);
    json_t *j = load(&out);
    assert_keys_sorted(j);
    assert_int_equal(json_integer_value(json_object_get(j, "schemaVersion")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "mediaType")), want_mt);
    json_t *cfg = json_object_get(j, "config");
    assert_string_equal(json_string_value(json_object_get(cfg, "mediaType")), want_cfg_mt);
    assert_string_equal(json_string_value(json_object_get(cfg, "digest")), D_B);
    assert_int_equal(json_integer_value(json_object_get(cfg, "size")), 99);
    json_t *ls = json_object_get(j, "layers");
    assert_int_equal(json_array_size(ls), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *d = json_array_get(ls, i);
        assert_int_equal(json_object_size(d), 3);
        assert_string_equal(json_string_value(json_object_get(d, "mediaType")), want_layer_mt);
        assert_string_equal(json_string_value(json_object_get(d, "digest")), l[i].digest);
        assert_int_equal(json_integer_value(json_object_get(d, "size")), (json_int_t)i + 1);
    }
    json_t *a = json_object_get(j, "annotations");
    if (want_annotations) {
        assert_int_equal(json_object_size(a), 1);
        assert_string_equal(json_string_value(json_object_get(a, "k")), "v");
    } else {
        assert_null(a);
    }
    assert_int_equal(json_object_size(j), want_annotations ? 5 : 4);
    assert_string_equal(kiln_layer_media_type(kind, comp), want_layer_mt);
    json_decref(j);
    kiln_buf_free(&out);
    kiln_strlist_free(&ann);
}

static void test_manifest_kinds(void **state)
{
    (void)state;
    check_manifest(KILN_MANIFEST_OCI, KILN_COMPRESSION_GZIP, KILN_MT_OCI_MANIFEST,
                   KILN_MT_OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+gzip", true);
    check_manifest(KILN_MANIFEST_OCI, KILN_COMPRESSION_ZSTD, KILN_MT_OCI_MANIFEST,
                   KILN_MT_OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+zstd", true);
    check_manifest(KILN_MANIFEST_OCI, KILN_COMPRESSION_NONE, KILN_MT_OCI_MANIFEST,
                   KILN_MT_OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar", true);
    /* Docker schema 2 has no annotations */
    check_manifest(KILN_MANIFEST_DOCKER, KILN_COMPRESSION_GZIP, KILN_MT_DOCKER_MANIFEST,
                   KILN_MT_DOCKER_CONFIG, "application/vnd.docker.image.rootfs.diff.tar.gzip",
                   false);
    check_manifest(KILN_MANIFEST_DOCKER, KILN_COMPRESSION_ZSTD, KILN_MT_DOCKER_MANIFEST,
                   KILN_MT_DOCKER_CONFIG, "application/vnd.oci.image.layer.v1.tar+zstd", false);
    check_manifest(KILN_MANIFEST_DOCKER, KILN_COMPRESSION_NONE, KILN_MT_DOCKER_MANIFEST,
                   KILN_MT_DOCKER_CONFIG, "application/vnd.docker.image.rootfs.diff.tar", false);
    assert_string_equal(KILN_MT_OCI_MANIFEST, "application/vnd.oci.image.manifest.v1+json");
    assert_string_equal(KILN_MT_DOCKER_MANIFEST,
                        "application/vnd.docker.distribution.manifest.v2+json");
    assert_string_equal(KILN_MT_DOCKER_CONFIG, "application/vnd.docker.container.image.v1+json");
}

/* ---- argument parsing ------------------------------------------------- */

static void expect_args(const char *text, const char *const *want, size_t n)
{
    struct kiln_strlist l = { 0 };
    struct kiln_error err = { 0 };
    int rc = kiln_parse_args(text, &l, &err);
    if (rc != 0)
        fail_msg("kiln_parse_args(%s) failed: %s", text, err.message);
    if (l.n != n) {
        for (size_t i = 0; i < l.n; i++)
            print_message("  got[%zu] = '%s'\n", i, l.v[i]);
        fail_msg("kiln_parse_args(%s): %zu words, expected %zu", text, l.n, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l.v[i], want[i]);
    if (n)
        assert_null(l.v[n]); /* NULL-terminated, execv-style */
    kiln_strlist_free(&l);
}

#define EXPECT(text, ...)                                \
    do {                                                 \
        static const char *const w_[] = { __VA_ARGS__ }; \
        expect_args(text, w_, ARRAY_SIZE(w_));           \
    } while (0)

static void expect_args_error(const char *text, const char *what)
{
    struct kiln_strlist l = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_parse_args(text, &l, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    if (!strstr(err.message, text))
        fail_msg("error for %s does not name it: %s", text, err.message);
    if (what && !strstr(err.message, what))
        fail_msg("error for %s does not say '%s': %s", text, what, err.message);
    kiln_strlist_free(&l);
}

static void test_args_json(void **state)
{
    (void)state;
    EXPECT("[\"/bin/sh\",\"-c\",\"echo \\\"hi\\\" $HOME\"]", "/bin/sh", "-c", "echo \"hi\" $HOME");
    EXPECT(" \n\t[ \"a b\" , \"\" ]", "a b", "");
    EXPECT("[\"caf\\u00e9\", \"x'y\"]", "caf\xc3\xa9", "x'y");
    expect_args("[]", NULL, 0);

    expect_args_error("[\"a\",1]", "element 1");
    expect_args_error("[\"a\",null]", "element 1");
    expect_args_error("[[\"a\"]]", "element 0");
    expect_args_error("[\"a\",{}]", "element 1");
    expect_args_error("[\"a\"", NULL);
    expect_args_error("[\"a\"] x", NULL);
    expect_args_error("[", NULL);
}

static void test_args_shell(void **state)
{
    (void)state;
    /* the shell's test command is not a JSON array */
    EXPECT("[ -f /x ] && run", "[", "-f", "/x", "]", "&&", "run");
    EXPECT("echo hello  world", "echo", "hello", "world");
    EXPECT("  a\tb\nc  ", "a", "b", "c");
    EXPECT("'a b'", "a b");
    EXPECT("\"a b\"", "a b");
    EXPECT("a'b c'd\"e f\"g", "ab cde fg");
    /* double quotes: backslash escapes only " \\ $ ` */
    EXPECT("\"x\\\"y\"", "x\"y");
    EXPECT("\"a\\\\b\"", "a\\b");
    EXPECT("\"a\\nb\"", "a\\nb");
    EXPECT("\"\\$HOME \\`x\\`\"", "$HOME `x`");
    /* single quotes: nothing is special */
    EXPECT("'a\\b' '\"'", "a\\b", "\"");
    /* bare backslash escapes the next character */
    EXPECT("a\\ b c\\\\d \\'", "a b", "c\\d", "'");
    EXPECT("\\\"q\\\"", "\"q\"");
    /* a backslash-newline joins lines */
    EXPECT("ab\\\ncd", "abcd");
    EXPECT("\"ab\\\ncd\"", "abcd");
    /* empty arguments */
    EXPECT("''", "");
    EXPECT("\"\"", "");
    EXPECT("a '' b", "a", "", "b");
    EXPECT("'' \"\"", "", "");
    EXPECT("x=''", "x=");
    /* no words */
    expect_args("", NULL, 0);
    expect_args("   \t\n ", NULL, 0);
    /* no expansion of any kind */
    EXPECT("echo $HOME * ~ ;", "echo", "$HOME", "*", "~", ";");
}

static void test_args_shell_errors(void **state)
{
    (void)state;
    expect_args_error("'abc", "single quote");
    expect_args_error("a 'b", "single quote");
    expect_args_error("\"abc", "double quote");
    expect_args_error("a \"b\\\"", "double quote");
    expect_args_error("abc\\", "backslash");
}

static void test_args_replaces(void **state)
{
    (void)state;
    struct kiln_strlist l = { 0 };
    assert_int_equal(kiln_parse_args("a b c", &l, NULL), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(kiln_parse_args("[\"x\"]", &l, NULL), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "x");
    /* a failed parse reports the error (and leaks nothing under ASan) */
    assert_int_equal(kiln_parse_args("ok 'broken", &l, NULL), -1);
    kiln_strlist_free(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
}

/* Runs kiln_parse_args in a child, so that a crash is a test failure rather
 * than the end of this program. The words come back joined by '|'. */
static void parse_in_child(const char *text, char *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers would go on running the suite in the child */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        close(fds[0]);
        struct kiln_strlist l = { 0 };
        char buf[512] = "";
        if (kiln_parse_args(text, &l, NULL) < 0)
            snprintf(buf, sizeof(buf), "ERROR");
        for (size_t i = 0; i < l.n; i++) {
            size_t k = strlen(buf);
            snprintf(buf + k, sizeof(buf) - k, "%s[%s]", i ? "|" : "", l.v[i]);
        }
        ssize_t w = write(fds[1], buf, strlen(buf));
        _exit(w < 0 ? 3 : 0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("kiln_parse_args(\"%s\") crashed with signal %d", text, WTERMSIG(st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("kiln_parse_args(\"%s\") crashed (exit status %d)", text, WEXITSTATUS(st));
}

/* POSIX removes a backslash-newline before splitting into words, so it can
 * neither start a word nor make an empty one. */
static void test_args_line_continuation_between_words(void **state)
{
    (void)state;
    char got[512];
    parse_in_child("a \\\nb", got, sizeof(got));
    assert_string_equal(got, "[a]|[b]");
    parse_in_child("a \\\n b", got, sizeof(got));
    assert_string_equal(got, "[a]|[b]");
    parse_in_child("a \\\n", got, sizeof(got));
    assert_string_equal(got, "[a]");
    parse_in_child("\\\n", got, sizeof(got));
    assert_string_equal(got, "");
}

static void test_strlist(void **state)
{
    (void)state;
    struct kiln_strlist l = { 0 };
    char s[8] = "abc";
    assert_int_equal(kiln_strlist_push(&l, s, NULL), 0);
    s[0] = 'X'; /* the list holds a copy */
    assert_int_equal(kiln_strlist_push(&l, "", NULL), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "abc");
    assert_string_equal(l.v[1], "");
    assert_null(l.v[2]);
    kiln_strlist_free(&l);
    assert_int_equal(l.n, 0);
    kiln_strlist_free(&l);
    kiln_strlist_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_minimal_exact),
        cmocka_unit_test(test_config_all_fields),
        cmocka_unit_test(test_config_empty_entrypoint),
        cmocka_unit_test(test_config_deterministic),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_manifest_oci_exact),
        cmocka_unit_test(test_manifest_kinds),
        cmocka_unit_test(test_args_json),
        cmocka_unit_test(test_args_shell),
        cmocka_unit_test(test_args_shell_errors),
        cmocka_unit_test(test_args_replaces),
        cmocka_unit_test(test_args_line_continuation_between_words),
        cmocka_unit_test(test_strlist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
