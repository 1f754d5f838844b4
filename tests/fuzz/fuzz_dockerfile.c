/*
 * The Dockerfile front end's parsers: Dockerfile text (directives, comments,
 * continuations, flags, JSON forms), docker's word splitting and variable
 * substitution, .dockerignore patterns and path cleaning — all text from the
 * build context, which kiln does not control.
 *
 * Input: parts separated by NUL bytes: 0 a Dockerfile, 1 a .dockerignore,
 * then paths matched against it (and against each pattern as a glob).
 *
 * Checked beyond memory safety: failures say why; every instruction has a
 * lower-case word and a line within the text; cleaning a path twice changes
 * nothing.
 */
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "fuzz_common.h"

static void check_clean(const char *p)
{
    char *c = df_clean_path(p, NULL);
    if (!c)
        abort();
    char *c2 = df_clean_path(c, NULL);
    if (!c2 || strcmp(c, c2)) {
        fprintf(stderr, "clean('%s') = '%s' but clean of that = '%s'\n", p, c, c2 ? c2 : "NULL");
        abort();
    }
    free(c);
    free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    char *parts[16];
    size_t lens[16];
    size_t n = fz_split(data, size, "\0", 1, parts, lens, 16);
    struct kiln_error err = { 0 };

    struct df_file f;
    unsigned lines = 1;
    for (size_t i = 0; i < lens[0]; i++)
        lines += parts[0][i] == '\n';
    int rc = df_parse(parts[0], lens[0], "Dockerfile", &f, &err);
    fz_debug("df_parse", rc, &err);
    if (rc < 0 && (!err.code || !err.message[0]))
        abort();
    struct kiln_strlist env = { 0 }, args = { 0 };
    kiln_strlist_push(&env, "A=a", NULL);
    kiln_strlist_push(&env, "EMPTY=", NULL);
    kiln_strlist_push(&args, "B=b b", NULL);
    struct df_vars vars = { .lists = { &env, &args } };
    for (size_t i = 0; rc == 0 && i < f.n; i++) {
        const struct df_instr *in = &f.v[i];
        if (!in->cmd[0] || in->line < 1 || in->line > lines)
            abort();
        for (const char *c = in->cmd; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                abort();
        struct kiln_strlist w = { 0 };
        memset(&err, 0, sizeof(err));
        if (df_words(in->args, f.escape, &w, &err) < 0 && !err.message[0])
            abort();
        for (size_t k = 0; k < w.n; k++) {
            char *out = NULL;
            memset(&err, 0, sizeof(err));
            if (df_subst(w.v[k], f.escape, &vars, &out, &err) < 0) {
                if (!err.code || !err.message[0])
                    abort();
            } else {
                free(out);
            }
        }
        kiln_strlist_free(&w);
        char *out = NULL;
        if (df_subst(in->args, f.escape, &vars, &out, &err) == 0)
            free(out);
        check_clean(in->args);
    }
    df_file_free(&f); /* also after a failure: what was parsed so far */
    kiln_strlist_free(&env);
    kiln_strlist_free(&args);

    if (n > 1) {
        struct df_ignore ig;
        memset(&err, 0, sizeof(err));
        rc = df_ignore_parse(parts[1], lens[1], &ig, &err);
        fz_debug("df_ignore_parse", rc, &err);
        if (rc < 0 && (!err.code || !err.message[0]))
            abort();
        for (size_t k = 2; rc == 0 && k < n; k++) {
            (void)df_ignore_match(&ig, parts[k]);
            (void)df_ignore_may_include_below(&ig, parts[k]);
            for (size_t p = 0; p < ig.patterns.n; p++)
                (void)df_glob_match(ig.patterns.v[p], parts[k]);
            check_clean(parts[k]);
        }
        if (rc == 0)
            df_ignore_free(&ig);
    }
    fz_parts_free(parts, n);
    return 0;
}
