/*
 * The Dockerfile front end, inside the library: a parser (parse.c), docker's
 * variable substitution (subst.c), .dockerignore patterns (ignore.c) and an
 * evaluator (eval.c) that drives a kiln_build. Not installed.
 */
#ifndef KILN_DOCKERFILE_H
#define KILN_DOCKERFILE_H

#include "../base/base.h"

/* One instruction, continuation lines joined. */
struct df_instr {
    unsigned line;  /* first line, from 1 */
    char *cmd;      /* instruction word, lower case */
    char *original; /* the whole instruction as joined (ONBUILD keeps it) */
    struct kiln_strlist
        flags;  /* leading "--name=value" words (FROM, COPY, ADD, HEALTHCHECK, RUN) */
    char *args; /* the rest, flags removed, trimmed */
    bool json;  /* args is a JSON array of strings ... */
    struct kiln_strlist jargs; /* ... with these elements */
};

struct df_file {
    char *name;   /* for messages: "Dockerfile" */
    char escape;  /* '\\' or '`' (# escape= directive) */
    char *syntax; /* # syntax= directive, or NULL */
    struct df_instr *v;
    size_t n;
};

/* Parses Dockerfile text: parser directives, comments, continuation lines,
 * flags, JSON (exec) forms. Errors name name:line. Heredocs are refused. */
int df_parse(const char *text, size_t len, const char *name, struct df_file *out,
             struct kiln_error *err);
void df_file_free(struct df_file *f);

/* Words as docker splits ENV/LABEL arguments: on blanks outside quotes,
 * quotes and escapes kept for df_subst to process. */
int df_words(const char *s, char escape, struct kiln_strlist *out, struct kiln_error *err);

/* Variables for substitution: "K=V" entries, looked up from the end. */
struct df_vars {
    const struct kiln_strlist *lists[2]; /* searched in order: first found wins */
};
/* Docker's word processing: quotes removed, escapes applied, $V ${V}
 * ${V:-w} ${V:+w} ${V-w} ${V+w} ${V:?msg} ${V?msg} substituted. *out is
 * malloc'ed. Errors are KILN_ERR_USAGE without a location. */
int df_subst(const char *word, char escape, const struct df_vars *vars, char **out,
             struct kiln_error *err);
/* The value of NAME in vars, or NULL. */
const char *df_var_get(const struct df_vars *vars, const char *name, size_t len);

/* .dockerignore */
struct df_ignore {
    struct kiln_strlist patterns; /* cleaned; a leading '!' is an exception */
    bool has_exceptions;
};
/* Reads patterns as docker does (comments, blanks, '!', Clean, leading '/'). */
int df_ignore_parse(const char *text, size_t len, struct df_ignore *ig, struct kiln_error *err);
void df_ignore_free(struct df_ignore *ig);
/* Whether the context-relative path (no leading "/", "/"-separated) is excluded. */
bool df_ignore_match(const struct df_ignore *ig, const char *path);
/* Whether a walk must still enter an excluded directory (an exception may
 * match below it). */
bool df_ignore_may_include_below(const struct df_ignore *ig, const char *dir);
/* Docker's pattern match (filepath.Match: '*', '?', '[...]', '\\'); '*' never
 * matches '/'. */
bool df_glob_match(const char *pattern, const char *name);
/* Whether a COPY source has glob characters. */
bool df_has_glob(const char *s);

/* Cleans a "/"-separated path as Go's path.Clean does. *out malloc'ed. */
char *df_clean_path(const char *p, struct kiln_error *err);

#endif
