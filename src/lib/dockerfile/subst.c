/*
 * Docker's word processing (buildkit's shell lexer, ProcessWord): single
 * quotes are literal, double quotes allow substitution, the escape character
 * escapes the next one, and $NAME, ${NAME} and ${NAME<op>word} expand.
 */
#include <ctype.h>
#include <string.h>

#include "dockerfile.h"

const char *df_var_get(const struct df_vars *vars, const char *name, size_t len)
{
    for (size_t k = 0; k < ARRAY_SIZE(vars->lists); k++) {
        const struct kiln_strlist *l = vars->lists[k];
        if (!l)
            continue;
        for (size_t i = l->n; i-- > 0;)
            if (!strncmp(l->v[i], name, len) && l->v[i][len] == '=')
                return l->v[i] + len + 1;
    }
    return NULL;
}

struct lex {
    const char *p;
    char esc;
    const struct df_vars *vars;
    struct kiln_error *err;
    unsigned depth; /* ${V:-${W:-...}} nesting, bounded: the stack is */
};

static int process(struct lex *x, char stop, struct kiln_buf *out);

static int put(struct lex *x, struct kiln_buf *out, const char *s, size_t n)
{
    return kiln_buf_append(out, s, n, x->err);
}

static int dollar(struct lex *x, struct kiln_buf *out)
{
    x->p++; /* '$' */
    if (*x->p != '{') {
        const char *n = x->p;
        if (isdigit((unsigned char)*x->p)) {
            while (isdigit((unsigned char)*x->p))
                x->p++;
        } else {
            while (isalnum((unsigned char)*x->p) || *x->p == '_')
                x->p++;
        }
        if (x->p == n)
            return put(x, out, "$", 1);
        const char *v = df_var_get(x->vars, n, (size_t)(x->p - n));
        return v ? put(x, out, v, strlen(v)) : 0;
    }
    x->p++; /* '{' */
    if (!*x->p)
        return kiln_fail(x->err, KILN_ERR_USAGE, "syntax error: missing '}'");
    if (*x->p == '{' || *x->p == '}' || *x->p == ':')
        return kiln_fail(x->err, KILN_ERR_USAGE, "syntax error: bad substitution");
    const char *n = x->p;
    while (isalnum((unsigned char)*x->p) || *x->p == '_')
        x->p++;
    size_t nl = (size_t)(x->p - n);
    const char *v = df_var_get(x->vars, n, nl);
    if (*x->p == '}') {
        x->p++;
        return v ? put(x, out, v, strlen(v)) : 0;
    }
    if (!*x->p)
        return kiln_fail(x->err, KILN_ERR_USAGE, "syntax error: missing '}'");
    if (!nl)
        return kiln_fail(x->err, KILN_ERR_USAGE, "syntax error: bad substitution");
    bool colon = *x->p == ':';
    if (colon)
        x->p++;
    char op = *x->p;
    if (op != '-' && op != '+' && op != '?')
        return kiln_fail(x->err, KILN_ERR_USAGE, "unsupported modifier (%c) in substitution",
                         op ? op : '}');
    x->p++;
    if (++x->depth > 64)
        return kiln_fail(x->err, KILN_ERR_USAGE, "substitutions nested more than 64 deep");
    struct kiln_buf word = { 0 };
    if (kiln_buf_append(&word, "", 0, x->err) < 0 || process(x, '}', &word) < 0) {
        kiln_buf_free(&word);
        return -1;
    }
    x->depth--;
    /* with ':' an empty value counts as unset */
    bool set = v && (!colon || *v);
    int rc = 0;
    if (op == '-')
        rc = set ? put(x, out, v, strlen(v)) : put(x, out, word.data, word.len);
    else if (op == '+')
        rc = set ? put(x, out, word.data, word.len) : 0;
    else if (!set)
        rc = kiln_fail(x->err, KILN_ERR_USAGE, "%.*s: %s", (int)nl, n,
                       word.len ? word.data : "is not set");
    else
        rc = put(x, out, v, strlen(v));
    kiln_buf_free(&word);
    return rc;
}

static int single_quote(struct lex *x, struct kiln_buf *out)
{
    x->p++;
    const char *e = strchr(x->p, '\'');
    if (!e)
        return kiln_fail(x->err, KILN_ERR_USAGE,
                         "unexpected end of statement while looking for matching single-quote");
    int rc = put(x, out, x->p, (size_t)(e - x->p));
    x->p = e + 1;
    return rc;
}

static int double_quote(struct lex *x, struct kiln_buf *out)
{
    x->p++;
    for (;;) {
        if (!*x->p)
            return kiln_fail(x->err, KILN_ERR_USAGE,
                             "unexpected end of statement while looking for matching "
                             "double-quote");
        if (*x->p == '"') {
            x->p++;
            return 0;
        }
        int rc;
        if (*x->p == '$') {
            rc = dollar(x, out);
        } else {
            char c = *x->p++;
            if (c == x->esc) {
                if (!*x->p)
                    continue;
                if (*x->p == '"' || *x->p == '$' || *x->p == x->esc)
                    c = *x->p++;
                else if ((rc = put(x, out, &c, 1)) < 0)
                    return -1;
                else
                    c = *x->p++;
            }
            rc = put(x, out, &c, 1);
        }
        if (rc < 0)
            return -1;
    }
}

static int process(struct lex *x, char stop, struct kiln_buf *out)
{
    while (*x->p) {
        char c = *x->p;
        if (stop && c == stop) {
            x->p++;
            return 0;
        }
        int rc;
        if (c == '\'')
            rc = single_quote(x, out);
        else if (c == '"')
            rc = double_quote(x, out);
        else if (c == '$')
            rc = dollar(x, out);
        else {
            x->p++;
            if (c == x->esc) {
                if (!*x->p)
                    break;
                c = *x->p++;
            }
            rc = put(x, out, &c, 1);
        }
        if (rc < 0)
            return -1;
    }
    if (stop)
        return kiln_fail(x->err, KILN_ERR_USAGE, "syntax error: missing '%c'", stop);
    return 0;
}

int df_subst(const char *word, char esc, const struct df_vars *vars, char **out,
             struct kiln_error *err)
{
    struct lex x = { .p = word, .esc = esc, .vars = vars, .err = err };
    struct kiln_buf b = { 0 };
    int rc = kiln_buf_append(&b, "", 0, err);
    if (rc == 0)
        rc = process(&x, 0, &b);
    if (rc < 0) {
        kiln_buf_free(&b);
        return -1;
    }
    *out = b.data;
    return 0;
}
