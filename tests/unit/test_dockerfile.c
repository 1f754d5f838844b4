/* Unit tests: the Dockerfile front end — parsing (directives, comments,
 * continuations, exec/shell forms, flags), docker's variable substitution,
 * .dockerignore matching, and the evaluator's errors and ARG scoping. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "dockerfile/dockerfile.h"
#include "unit.h"

static void parse_ok(const char *text, struct df_file *f)
{
    struct kiln_error err = { 0 };
    if (df_parse(text, strlen(text), "Dockerfile", f, &err) != 0)
        fail_msg("parse failed: %s\n%s", err.message, text);
}

static void parse_bad(const char *text, const char *expect)
{
    struct kiln_error err = { 0 };
    struct df_file f;
    if (df_parse(text, strlen(text), "Dockerfile", &f, &err) == 0)
        fail_msg("parse accepted:\n%s", text);
    df_file_free(&f);
    if (!strstr(err.message, expect))
        fail_msg("error '%s' does not contain '%s'", err.message, expect);
}

static void test_parse_basic(void **state)
{
    (void)state;
    struct df_file f;
    parse_ok("\xef\xbb\xbf# a comment\n"
             "FROM scratch AS base\r\n"
             "\n"
             "  copy --chown=1:2 --chmod=0755 a b /dst/\n"
             "ENV A=1 \\\n"
             "# comment inside a continuation\n"
             "\n"
             "    B=2\n"
             "CMD [\"/bin/app\", \"-v\"]\n"
             "ENTRYPOINT [not json\n"
             "LABEL k=v   \n",
             &f);
    assert_int_equal(f.n, 6);
    assert_string_equal(f.v[0].cmd, "from");
    assert_int_equal(f.v[0].line, 2);
    assert_string_equal(f.v[0].args, "scratch AS base");
    assert_string_equal(f.v[1].cmd, "copy");
    assert_int_equal(f.v[1].line, 4);
    assert_int_equal(f.v[1].flags.n, 2);
    assert_string_equal(f.v[1].flags.v[0], "--chown=1:2");
    assert_string_equal(f.v[1].flags.v[1], "--chmod=0755");
    assert_string_equal(f.v[1].args, "a b /dst/");
    assert_false(f.v[1].json);
    assert_string_equal(f.v[2].cmd, "env");
    assert_int_equal(f.v[2].line, 5);
    assert_string_equal(f.v[2].args, "A=1     B=2");
    assert_true(f.v[3].json);
    assert_int_equal(f.v[3].jargs.n, 2);
    assert_string_equal(f.v[3].jargs.v[1], "-v");
    assert_false(f.v[4].json); /* not JSON: the shell form */
    assert_string_equal(f.v[4].args, "[not json");
    assert_string_equal(f.v[5].args, "k=v");
    assert_string_equal(f.v[5].original, "LABEL k=v");
    assert_int_equal(f.escape, '\\');
    df_file_free(&f);
}

static void test_parse_directives(void **state)
{
    (void)state;
    struct df_file f;
    parse_ok("# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nCOPY a `\n  b\n", &f);
    assert_int_equal(f.escape, '`');
    assert_string_equal(f.syntax, "docker/dockerfile:1");
    assert_int_equal(f.n, 2);
    assert_string_equal(f.v[1].args, "a   b");
    df_file_free(&f);
    /* a directive after the first instruction (or comment) is a comment */
    parse_ok("FROM scratch\n# escape=`\nCOPY a \\\n b\n", &f);
    assert_int_equal(f.escape, '\\');
    assert_string_equal(f.v[1].args, "a  b");
    df_file_free(&f);
    parse_bad("# escape=x\nFROM scratch\n", "invalid escape token");
    parse_bad("# escape=`\n# escape=\\\nFROM scratch\n", "only one escape");
    parse_bad("FROM scratch\nCOPY <<EOF /x\nhello\nEOF\n", "Dockerfile:2: COPY: heredocs");
    parse_bad("FROM scratch\nRUN <<-'EOT' sh\nx\nEOT\n", "heredocs");
    parse_bad("FROM scratch\nCMD [\"a\", 1]\n", "Dockerfile:2: CMD");
}

static void test_words(void **state)
{
    (void)state;
    struct kiln_strlist w = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(df_words("A=1 B=\"x y\"  C='p q' D=a\\ b", '\\', &w, &err), 0);
    assert_int_equal(w.n, 4);
    assert_string_equal(w.v[1], "B=\"x y\"");
    assert_string_equal(w.v[2], "C='p q'");
    assert_string_equal(w.v[3], "D=a\\ b");
    kiln_strlist_free(&w);
}

static char *sub(const char *word, const struct df_vars *v)
{
    struct kiln_error err = { 0 };
    char *out = NULL;
    if (df_subst(word, '\\', v, &out, &err) != 0)
        fail_msg("df_subst('%s') failed: %s", word, err.message);
    return out;
}

#define SUB_EQ(word, expect)             \
    do {                                 \
        char *s_ = sub(word, &v);        \
        assert_string_equal(s_, expect); \
        free(s_);                        \
    } while (0)

static void test_subst(void **state)
{
    (void)state;
    struct kiln_strlist env = { 0 }, args = { 0 };
    struct kiln_error err = { 0 };
    kiln_strlist_push(&env, "A=env-a", &err);
    kiln_strlist_push(&env, "EMPTY=", &err);
    kiln_strlist_push(&args, "A=arg-a", &err);
    kiln_strlist_push(&args, "B=arg-b", &err);
    struct df_vars v = { .lists = { &env, &args } };
    SUB_EQ("$A", "env-a"); /* ENV wins over ARG */
    SUB_EQ("${B}", "arg-b");
    SUB_EQ("x$Ay", "x"); /* $Ay is unset */
    SUB_EQ("x${A}y", "xenv-ay");
    SUB_EQ("${NOPE:-def}", "def");
    SUB_EQ("${EMPTY:-def}", "def");
    SUB_EQ("${EMPTY-def}", "");
    SUB_EQ("${NOPE-def}", "def");
    SUB_EQ("${A:+alt}", "alt");
    SUB_EQ("${NOPE:+alt}", "");
    SUB_EQ("${EMPTY+alt}", "alt");
    SUB_EQ("${NOPE:-${B}}", "arg-b");
    SUB_EQ("'$A'", "$A");
    SUB_EQ("\"$A b\"", "env-a b");
    SUB_EQ("\\$A", "$A");
    SUB_EQ("\"\\$A\"", "$A");
    SUB_EQ("a\\ b", "a b");
    SUB_EQ("\"a\\b\"", "a\\b");
    SUB_EQ("$", "$");
    SUB_EQ("$1x", "x");
    SUB_EQ("a  b", "a  b");
    char *out = NULL;
    assert_int_not_equal(df_subst("${A", '\\', &v, &out, &err), 0);
    assert_int_not_equal(df_subst("${:x}", '\\', &v, &out, &err), 0);
    assert_int_not_equal(df_subst("'abc", '\\', &v, &out, &err), 0);
    assert_int_not_equal(df_subst("${NOPE:?must be set}", '\\', &v, &out, &err), 0);
    assert_non_null(strstr(err.message, "must be set"));
    assert_int_not_equal(df_subst("${A/x/y}", '\\', &v, &out, &err), 0);
    assert_non_null(strstr(err.message, "unsupported modifier"));
    char deep[1200] = "";
    for (int k = 0; k < 100; k++)
        strcat(deep, "${X:-");
    for (int k = 0; k < 100; k++)
        strcat(deep, "}");
    assert_int_not_equal(df_subst(deep, '\\', &v, &out, &err), 0);
    assert_non_null(strstr(err.message, "nested"));
    /* the backquote escape */
    assert_int_equal(df_subst("`$A", '`', &v, &out, &err), 0);
    assert_string_equal(out, "$A");
    free(out);
    kiln_strlist_free(&env);
    kiln_strlist_free(&args);
}

static void test_clean_path(void **state)
{
    (void)state;
    static const char *const cases[][2] = { { "/a/b/../c", "/a/c" },
                                            { "a/./b//c/", "a/b/c" },
                                            { "/../x", "/x" },
                                            { "../x", "../x" },
                                            { "a/..", "." },
                                            { "/", "/" },
                                            { "", "." },
                                            { "./a/../../b", "../b" } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *c = df_clean_path(cases[i][0], NULL);
        if (strcmp(c, cases[i][1]))
            fail_msg("clean('%s') = '%s', expected '%s'", cases[i][0], c, cases[i][1]);
        free(c);
    }
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(df_glob_match("*.txt", "a.txt"));
    assert_false(df_glob_match("*.txt", "d/a.txt"));
    assert_true(df_glob_match("d/*.txt", "d/a.txt"));
    assert_true(df_glob_match("?.t[xy]t", "a.tyt"));
    assert_false(df_glob_match("[^a]*", "abc"));
    assert_true(df_glob_match("[a-c]x", "bx"));
    assert_true(df_glob_match("a\\*", "a*"));
    assert_false(df_glob_match("a\\*", "ab"));
    assert_true(df_has_glob("a*"));
    assert_false(df_has_glob("plain/name"));
}

static bool ig(const char *patterns, const char *path)
{
    struct df_ignore i;
    struct kiln_error err = { 0 };
    if (df_ignore_parse(patterns, strlen(patterns), &i, &err) != 0)
        fail_msg("ignore parse: %s", err.message);
    bool m = df_ignore_match(&i, path);
    df_ignore_free(&i);
    return m;
}

static void test_dockerignore(void **state)
{
    (void)state;
    assert_true(ig("*.md\n", "README.md"));
    assert_false(ig("*.md\n", "docs/x.md")); /* '*' does not cross '/' */
    assert_true(ig("**/*.md\n", "docs/x.md"));
    assert_true(ig("**/*.md\n", "x.md"));
    assert_true(ig("docs\n", "docs/a/b.txt")); /* a parent directory matches */
    assert_true(ig("/docs/\n", "docs"));
    assert_true(ig("./docs\n", "docs/x"));
    assert_true(ig("# comment\n\n  *.log  \n", "a.log"));
    assert_false(ig("#*.log\n", "a.log"));
    assert_false(ig("*.md\n!README.md\n", "README.md"));
    assert_true(ig("*.md\n!README.md\n", "CHANGES.md"));
    assert_true(ig("!README.md\n*.md\n", "README.md")); /* the last match decides */
    assert_true(ig("a/**/z\n", "a/z"));
    assert_true(ig("a/**/z\n", "a/b/c/z"));
    assert_false(ig("a/**/z\n", "a/b/c/zz"));
    assert_true(ig("a/**\n", "a/b"));
    assert_true(ig("**\n", "anything/at/all"));
    assert_true(ig("dir/sub\n", "dir/sub/f"));
    assert_false(ig("dir/sub\n", "dir/subx"));
    assert_true(ig("d?r\n", "dir"));
    assert_true(ig("x/../y\n", "y"));
    /* many stars against a long name: linear, not exponential (fuzzing found it) */
    char pat[200] = "", name[400];
    for (int k = 0; k < 30; k++)
        strcat(pat, "*a**");
    strcat(pat, "b\n");
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_false(ig(pat, name));
    assert_false(df_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
    assert_false(ig("[z\n", "[z")); /* a bad pattern matches nothing, as in Go */
    struct df_ignore i;
    struct kiln_error err = { 0 };
    assert_int_not_equal(df_ignore_parse("!\n", 2, &i, &err), 0);
    const char *p = "build\n!build/keep\n";
    assert_int_equal(df_ignore_parse(p, strlen(p), &i, &err), 0);
    assert_true(i.has_exceptions);
    assert_true(df_ignore_may_include_below(&i, "build"));
    assert_false(df_ignore_may_include_below(&i, "other"));
    assert_true(df_ignore_match(&i, "build/x"));
    assert_false(df_ignore_match(&i, "build/keep"));
    df_ignore_free(&i);
}

/* ---- the evaluator, without running the build --------------------------- */

static char ctx[256];

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", ctx, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char logged[2048];
static void log_cb(void *u, enum kiln_log_level l, const char *m)
{
    (void)u;
    (void)l;
    snprintf(logged + strlen(logged), sizeof(logged) - strlen(logged), "%s\n", m);
}

static int eval(const char *dockerfile, const char *const *args, size_t nargs, const char *target,
                struct kiln_error *err)
{
    write_file("Dockerfile", dockerfile);
    kiln_build *b = kiln_build_new();
    assert_non_null(b);
    struct kiln_dockerfile_opts o = {
        .context = ctx, .build_args = args, .nbuild_args = nargs, .target = target, .log = log_cb
    };
    kiln_dockerfile *d = NULL;
    logged[0] = '\0';
    int rc = kiln_dockerfile_build(b, &o, &d, err);
    kiln_dockerfile_free(d);
    kiln_build_free(b);
    return rc;
}

static void eval_bad(const char *dockerfile, int code, const char *expect)
{
    struct kiln_error err = { 0 };
    if (eval(dockerfile, NULL, 0, NULL, &err) == 0)
        fail_msg("accepted:\n%s", dockerfile);
    assert_int_equal(err.code, code);
    if (!strstr(err.message, expect))
        fail_msg("error '%s' does not contain '%s'", err.message, expect);
}

static int setup_ctx(void **state)
{
    (void)state;
    snprintf(ctx, sizeof(ctx), "%s/kiln-test-dockerfile-XXXXXX", test_tmpdir());
    assert_non_null(mkdtemp(ctx));
    write_file("a.txt", "a\n");
    return 0;
}

static int teardown_ctx(void **state)
{
    (void)state;
    kiln_rm_rf(ctx);
    return 0;
}

static void test_eval_errors(void **state)
{
    (void)state;
    eval_bad("FROM scratch\nCOPY a.txt /\nRUN make\n", KILN_ERR_USAGE,
             "Dockerfile:3: RUN: kiln runs no commands");
    eval_bad("FROM scratch\nFOO bar\n", KILN_ERR_USAGE, "Dockerfile:2: FOO: unknown instruction");
    eval_bad("ENV A=1\nFROM scratch\n", KILN_ERR_USAGE, "Dockerfile:1: ENV: no build stage");
    eval_bad("FROM scratch\nCOPY missing /x\n", KILN_ERR_INPUT,
             "Dockerfile:2: COPY: file not found in build context");
    eval_bad("FROM scratch\nCOPY a.txt a.txt /x\n", KILN_ERR_USAGE, "must be a directory");
    eval_bad("FROM scratch\nCOPY ../a.txt /x\n", KILN_ERR_USAGE, "outside the build context");
    eval_bad("FROM scratch\nCOPY --chown=nobody a.txt /x\n", KILN_ERR_INPUT,
             "Dockerfile:2: COPY: can't find uid for user nobody");
    eval_bad("FROM scratch\nCOPY --chmod=u+x a.txt /x\n", KILN_ERR_USAGE, "--chmod");
    eval_bad("FROM scratch\nCOPY --nope=1 a.txt /x\n", KILN_ERR_USAGE, "unknown flag: --nope");
    eval_bad("FROM scratch\nADD https://example.com/x /x\n", KILN_ERR_USAGE,
             "Dockerfile:2: ADD: https://example.com/x: kiln does not download");
    eval_bad("FROM scratch\nSHELL /bin/bash -c\n", KILN_ERR_USAGE, "JSON form");
    eval_bad("FROM scratch\nHEALTHCHECK --interval=1us CMD true\n", KILN_ERR_USAGE,
             "less than 1ms");
    eval_bad("FROM scratch\nEXPOSE 80/icmp\n", KILN_ERR_USAGE, "invalid proto");
    eval_bad("FROM scratch\nSTOPSIGNAL SIGNOPE\n", KILN_ERR_USAGE, "invalid signal");
    eval_bad("FROM scratch\nONBUILD ONBUILD COPY a b\n", KILN_ERR_USAGE, "Chaining ONBUILD");
    eval_bad("FROM scratch\nCOPY --from=nostage a.txt /x\n", KILN_ERR_INPUT, "--from=nostage");
    eval_bad("FROM scratch AS 1x\n", KILN_ERR_USAGE, "invalid name for build stage");
    eval_bad("FROM scratch AS a\nFROM scratch AS a\n", KILN_ERR_USAGE, "duplicate name");
    eval_bad("FROM scratch\nENV A=${B\n", KILN_ERR_USAGE, "Dockerfile:2: ENV: syntax error");
    eval_bad("", KILN_ERR_USAGE, "empty");
    struct kiln_error err = { 0 };
    assert_int_not_equal(eval("FROM scratch AS a\n", NULL, 0, "b", &err), 0);
    assert_non_null(strstr(err.message, "--target b"));
}

static void test_eval_args(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    /* ARG before FROM is usable in FROM only: in the stage, $NAME is empty
     * unless re-declared; a missing file proves what the COPY saw */
    assert_int_not_equal(eval("ARG F=a.txt\nFROM scratch\nCOPY x${F}x /\n", NULL, 0, NULL, &err),
                         0);
    assert_non_null(strstr(err.message, "xx"));
    assert_int_equal(eval("ARG F=a.txt\nFROM scratch\nARG F\nCOPY ${F} /\n", NULL, 0, NULL, &err),
                     0);
    const char *ba[] = { "F=nope.txt", "UNUSED=1" };
    assert_int_not_equal(eval("ARG F=a.txt\nFROM scratch\nARG F\nCOPY ${F} /\n", ba, 2, NULL, &err),
                         0);
    assert_non_null(strstr(err.message, "nope.txt"));
    /* unused build args are warned about, by name; declared ones are not */
    assert_int_equal(eval("FROM scratch\nARG F\nCOPY a.txt /\n", ba, 2, NULL, &err), 0);
    assert_non_null(strstr(logged, "[UNUSED]"));
    assert_null(strstr(logged, "F "));
    /* --target stops before later stages (whose RUN is not reached) */
    assert_int_equal(
        eval("FROM scratch AS one\nCOPY a.txt /\nFROM scratch\nRUN x\n", NULL, 0, "one", &err), 0);
    /* BuildKit's platform ARGs: global, visible in a stage once declared */
    assert_int_not_equal(
        eval(
            "FROM scratch\nARG TARGETARCH BUILDOS\nCOPY x-${TARGETARCH}-${BUILDOS}-${TARGETOS} /\n",
            NULL, 0, NULL, &err),
        0);
    assert_non_null(strstr(err.message, "x-"));
    size_t ml = strlen(err.message); /* BUILDOS declared; TARGETOS not: empty */
    assert_true(ml > 7 && !strcmp(err.message + ml - 7, "-linux-"));
    assert_null(strstr(err.message, "x--"));
    /* ENV values see the variables from before the instruction */
    assert_int_not_equal(
        eval("FROM scratch\nENV A=a.txt B=$A\nCOPY x${B}x /\n", NULL, 0, NULL, &err), 0);
    assert_non_null(strstr(err.message, "xx"));
}

/* ---- the explicit-layer API under COPY ----------------------------------- */

static json_t *layout_doc(const char *layout, const char *digest)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/blobs/sha256/%s", layout, digest + 7);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    assert_non_null(j);
    return j;
}

static void test_layer_api(void **state)
{
    (void)state;
    char out[512], f1[512], f2[512], spec[600];
    snprintf(out, sizeof(out), "%s/out", ctx);
    snprintf(f1, sizeof(f1), "%s/a.txt", ctx);
    snprintf(f2, sizeof(f2), "%s/b.txt", ctx);
    write_file("b.txt", "bbb\n");
    chmod(f1, 0644);
    chmod(f2, 0640);
    struct kiln_error err = { 0 };
    kiln_build *b = kiln_build_new();
    assert_non_null(b);
    kiln_build_set_source_date_epoch(b, 1700000000);
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_NONE, -1, &err), 0);
    /* an entry before any layer is begun is refused */
    assert_int_not_equal(kiln_build_layer_add(b, f1, "/x", NULL, &err), 0);
    assert_int_equal(kiln_build_begin_layer(b, "COPY test", &err), 0);
    struct kiln_entry_attrs own = { .set_owner = true, .uid = 7, .gid = 8 };
    struct kiln_entry_attrs mode = { .set_mode = true, .mode = 0700 };
    assert_int_equal(kiln_build_layer_add(b, f1, "/d/z", &own, &err), 0);
    assert_int_equal(kiln_build_layer_add(b, f1, "/d/file", NULL, &err), 0);
    assert_int_equal(kiln_build_layer_add(b, f2, "/d/file", &mode, &err), 0); /* later wins */
    assert_int_equal(kiln_build_layer_add_dir(b, "/d", 0751, 1, 2, &err), 0);
    assert_int_not_equal(kiln_build_layer_add(b, f1, "/", NULL, &err), 0);
    assert_int_not_equal(kiln_build_set_config_json(b, "[1]", &err), 0);
    assert_int_equal(kiln_build_set_config_json(b, "{\"Env\":[\"A=1\"],\"Cmd\":[\"x\"]}", &err), 0);
    assert_int_equal(kiln_build_set(b, KILN_SET_LABEL, "k=v", &err), 0); /* on top */
    snprintf(spec, sizeof(spec), "oci:%s", out);
    assert_int_equal(kiln_build_add_output(b, spec, &err), 0);
    char digest[KILN_DIGEST_MAX];
    if (kiln_build_run(b, digest, &err) != 0)
        fail_msg("build: %s", err.message);
    kiln_build_free(b);
    json_t *m = layout_doc(out, digest);
    json_t *cfg =
        layout_doc(out, json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
    json_t *c = json_object_get(cfg, "config");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Env"), 0)), "A=1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Cmd"), 0)), "x");
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "k")), "v");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(cfg, "history"), 0), "created_by")),
                        "COPY test");
    const char *ld = json_string_value(
        json_object_get(json_array_get(json_object_get(m, "layers"), 0), "digest"));
    char lp[1024];
    snprintf(lp, sizeof(lp), "%s/blobs/sha256/%s", out, ld + 7);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, lp, 10240), ARCHIVE_OK);
    struct archive_entry *e;
    char got[512] = "";
    while (archive_read_next_header(a, &e) == ARCHIVE_OK)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s %o %ld:%ld %ld|",
                 archive_entry_pathname(e), (unsigned)archive_entry_perm(e),
                 (long)archive_entry_uid(e), (long)archive_entry_gid(e),
                 (long)archive_entry_size(e));
    archive_read_free(a);
    /* d/file was added without attributes: it keeps the owner of the file
     * this test created (0:0 only when it runs as root) */
    char want[128];
    snprintf(want, sizeof(want), "d/ 751 1:2 0|d/file 700 %ld:%ld 4|d/z 644 7:8 2|",
             (long)getuid(), (long)getgid());
    assert_string_equal(got, want);
    json_decref(m);
    json_decref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_directives),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_subst),
        cmocka_unit_test(test_clean_path),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_dockerignore),
        cmocka_unit_test_setup_teardown(test_eval_errors, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_eval_args, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_layer_api, setup_ctx, teardown_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
