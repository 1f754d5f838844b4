/*
 * Dockerfile parsing, after moby/buildkit's frontend/dockerfile/parser:
 * parser directives at the top, comment lines dropped (also inside
 * continuations), the escape character at the end of a line continuing it,
 * the instruction word case-insensitive, leading --flags split off, and a
 * JSON array of strings recognised as the exec form.
 */
#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "dockerfile.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_blanks(const char *s)
{
    while (is_blank(*s))
        s++;
    return s;
}

static bool is_comment(const char *line)
{
    return *skip_blanks(line) == '#';
}

/* Strips "ESC[ \t]*" at the end; returns true if it was there (continued). */
static bool trim_continuation(char *line, char esc)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n && line[n - 1] == esc) {
        line[n - 1] = '\0';
        return true;
    }
    return false;
}

void df_file_free(struct df_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].cmd);
        free(f->v[i].original);
        free(f->v[i].args);
        kiln_strlist_free(&f->v[i].flags);
        kiln_strlist_free(&f->v[i].jargs);
    }
    free(f->v);
    free(f->name);
    free(f->syntax);
    memset(f, 0, sizeof(*f));
}

/* Leading "--name=value" words (buildkit's extractBuilderFlags); returns the
 * rest of the line. */
static int extract_flags(const char *line, struct kiln_strlist *flags, const char **rest,
                         struct kiln_error *err)
{
    const char *p = line;
    for (;;) {
        p = skip_blanks(p);
        if (p[0] != '-' || p[1] != '-') {
            *rest = p;
            return 0;
        }
        struct kiln_buf w = { 0 };
        char quote = 0;
        int rc = kiln_buf_append(&w, "", 0, err);
        while (rc == 0 && *p && (quote || !is_blank(*p))) {
            char c = *p++;
            if (quote && c == quote) {
                quote = 0;
                continue;
            }
            if (!quote && (c == '\'' || c == '"')) {
                quote = c;
                continue;
            }
            if (c == '\\' && *p)
                c = *p++;
            rc = kiln_buf_append(&w, &c, 1, err);
        }
        if (rc == 0 && !strcmp(w.data, "--")) {
            kiln_buf_free(&w);
            *rest = skip_blanks(p);
            return 0;
        }
        if (rc == 0)
            rc = kiln_strlist_push(flags, w.data, err);
        kiln_buf_free(&w);
        if (rc < 0)
            return -1;
    }
}

/* A JSON array of strings: true (filled). Not JSON: false. A JSON array
 * with a non-string: error. */
static int parse_json_array(const char *s, struct kiln_strlist *out, bool *is_json,
                            struct kiln_error *err)
{
    *is_json = false;
    if (*s != '[')
        return 0;
    json_error_t je;
    json_t *a = json_loads(s, 0, &je);
    if (!json_is_array(a)) {
        json_decref(a);
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v)) {
            json_decref(a);
            return kiln_fail(err, KILN_ERR_USAGE, "the JSON array has a non-string element");
        }
    }
    json_array_foreach(a, i, v)
    {
        if (kiln_strlist_push(out, json_string_value(v), err) < 0) {
            json_decref(a);
            return -1;
        }
    }
    json_decref(a);
    *is_json = true;
    return 0;
}

/* "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"" */
static bool has_heredoc(const char *s)
{
    for (const char *p = strstr(s, "<<"); p; p = strstr(p + 2, "<<")) {
        const char *q = p + 2;
        if (*q == '-')
            q++;
        if (*q == '\'' || *q == '"')
            q++;
        if (isalpha((unsigned char)*q) || *q == '_')
            return true;
    }
    return false;
}

static bool takes_flags(const char *cmd)
{
    return !strcmp(cmd, "from") || !strcmp(cmd, "copy") || !strcmp(cmd, "add") ||
           !strcmp(cmd, "healthcheck") || !strcmp(cmd, "run");
}

static bool takes_json(const char *cmd)
{
    return !strcmp(cmd, "cmd") || !strcmp(cmd, "entrypoint") || !strcmp(cmd, "run") ||
           !strcmp(cmd, "shell") || !strcmp(cmd, "volume") || !strcmp(cmd, "copy") ||
           !strcmp(cmd, "add");
}

static int add_instr(struct df_file *f, const char *line, unsigned lineno, struct kiln_error *err)
{
    const char *s = skip_blanks(line);
    size_t wl = 0;
    while (s[wl] && !is_blank(s[wl]))
        wl++;
    struct df_instr *v = realloc(f->v, (f->n + 1) * sizeof(*v));
    if (!v)
        return kiln_oom(err);
    f->v = v;
    struct df_instr *in = &v[f->n];
    memset(in, 0, sizeof(*in));
    in->line = lineno;
    if (!(in->cmd = kiln_xmalloc(wl + 1, err)))
        return -1;
    f->n++;
    for (size_t i = 0; i < wl; i++)
        in->cmd[i] = (char)tolower((unsigned char)s[i]);
    in->cmd[wl] = '\0';
    if (!(in->original = kiln_strdup(s, err)))
        return -1;
    size_t ol = strlen(in->original);
    while (ol && is_blank(in->original[ol - 1]))
        in->original[--ol] = '\0';
    const char *rest = skip_blanks(s + wl);
    if (takes_flags(in->cmd) && extract_flags(rest, &in->flags, &rest, err) < 0)
        return kiln_error_prefix(err, "%s:%u: %s", f->name, lineno, in->cmd);
    if (!(in->args = kiln_strdup(rest, err)))
        return -1;
    size_t al = strlen(in->args);
    while (al && is_blank(in->args[al - 1]))
        in->args[--al] = '\0';
    if ((!strcmp(in->cmd, "copy") || !strcmp(in->cmd, "add") || !strcmp(in->cmd, "run")) &&
        has_heredoc(in->args)) {
        for (char *c = in->cmd; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        return kiln_fail(err, KILN_ERR_USAGE,
                         "%s:%u: %s: heredocs (<<EOF) are not supported by kiln; put the text "
                         "in a file of the context and COPY it",
                         f->name, lineno, in->cmd);
    }
    if (takes_json(in->cmd) && parse_json_array(in->args, &in->jargs, &in->json, err) < 0) {
        for (char *c = in->cmd; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        return kiln_error_prefix(err, "%s:%u: %s", f->name, lineno, in->cmd);
    }
    return 0;
}

/* "# key=value" at the top of the file. Returns 1 and fills key/value if the
 * line is one. */
static int directive(const char *line, char key[32], char value[256])
{
    const char *p = skip_blanks(line);
    if (*p != '#')
        return 0;
    p = skip_blanks(p + 1);
    size_t kl = 0;
    while (isalnum((unsigned char)p[kl]))
        kl++;
    if (!kl || kl >= 32 || !isalpha((unsigned char)p[0]))
        return 0;
    const char *q = skip_blanks(p + kl);
    if (*q != '=')
        return 0;
    q = skip_blanks(q + 1);
    size_t vl = strlen(q);
    while (vl && is_blank(q[vl - 1]))
        vl--;
    if (vl >= 256)
        return 0;
    for (size_t i = 0; i < kl; i++)
        key[i] = (char)tolower((unsigned char)p[i]);
    key[kl] = '\0';
    memcpy(value, q, vl);
    value[vl] = '\0';
    return 1;
}

int df_parse(const char *text, size_t len, const char *name, struct df_file *f,
             struct kiln_error *err)
{
    memset(f, 0, sizeof(*f));
    f->escape = '\\';
    if (!(f->name = kiln_strdup(name, err)))
        return -1;
    if (memchr(text, '\0', len))
        return kiln_fail(err, KILN_ERR_USAGE, "%s: not a text file (NUL byte)", name);
    /* split into lines, kept in one buffer */
    _cleanup_free_ char *buf = kiln_xmalloc(len + 1, err);
    if (!buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++)
        nlines += buf[i] == '\n';
    _cleanup_free_ char **lines = calloc(nlines, sizeof(*lines));
    if (!lines)
        return kiln_oom(err);
    size_t n = 0;
    for (char *p = buf, *nl;; p = nl + 1) {
        lines[n++] = p;
        if (!(nl = strchr(p, '\n')))
            break;
        *nl = '\0';
        if (nl > p && nl[-1] == '\r')
            nl[-1] = '\0';
    }
    if (n && !strncmp(lines[0], "\xef\xbb\xbf", 3))
        lines[0] += 3;

    bool directives = true, seen_escape = false, seen_syntax = false;
    struct kiln_buf joined = { 0 };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *line = lines[i];
        if (directives) {
            char key[32], value[256];
            if (directive(line, key, value) && (!strcmp(key, "escape") || !strcmp(key, "syntax"))) {
                if (!strcmp(key, "escape")) {
                    if (seen_escape)
                        return kiln_fail(err, KILN_ERR_USAGE,
                                         "%s:%zu: only one escape parser directive can be used",
                                         name, i + 1);
                    if (strcmp(value, "\\") && strcmp(value, "`"))
                        return kiln_fail(err, KILN_ERR_USAGE,
                                         "%s:%zu: invalid escape token '%s': must be ` or \\", name,
                                         i + 1, value);
                    f->escape = value[0];
                    seen_escape = true;
                } else {
                    if (seen_syntax)
                        return kiln_fail(err, KILN_ERR_USAGE,
                                         "%s:%zu: only one syntax parser directive can be used",
                                         name, i + 1);
                    seen_syntax = true;
                    if (!(f->syntax = kiln_strdup(value, err)))
                        return -1;
                }
                continue;
            }
            directives = false;
        }
        if (is_comment(line))
            continue;
        char *start = (char *)skip_blanks(line);
        if (!*start)
            continue;
        unsigned first = (unsigned)(i + 1);
        kiln_buf_free(&joined);
        bool cont = trim_continuation(start, f->escape);
        rc = kiln_buf_append(&joined, start, strlen(start), err);
        while (rc == 0 && cont && i + 1 < n) {
            char *l = lines[++i];
            if (is_comment(l))
                continue;
            if (!*skip_blanks(l))
                continue; /* empty continuation line (docker warns, then ignores it) */
            cont = trim_continuation(l, f->escape);
            rc = kiln_buf_append(&joined, l, strlen(l), err);
        }
        if (rc == 0 && *skip_blanks(joined.data))
            rc = add_instr(f, joined.data, first, err);
    }
    kiln_buf_free(&joined);
    return rc;
}

/* buildkit's parseWords: split on blanks outside quotes; quotes and escapes
 * are kept for the word processing that follows. */
int df_words(const char *s, char esc, struct kiln_strlist *out, struct kiln_error *err)
{
    enum { SPACES, WORD, QUOTE } phase = SPACES;
    struct kiln_buf w = { 0 };
    char quote = 0;
    bool blank_ok = false;
    int rc = kiln_buf_append(&w, "", 0, err);
    size_t len = strlen(s);
    for (size_t pos = 0; rc == 0 && pos <= len; pos++) {
        char ch = pos < len ? s[pos] : 0;
        if (phase == SPACES) {
            if (pos == len)
                break;
            if (is_blank(ch) || ch == '\n')
                continue;
            phase = WORD;
        }
        if (pos == len) {
            if (blank_ok || w.len)
                rc = kiln_strlist_push(out, w.data, err);
            break;
        }
        if (phase == WORD) {
            if (is_blank(ch) || ch == '\n') {
                phase = SPACES;
                if (blank_ok || w.len)
                    rc = kiln_strlist_push(out, w.data, err);
                w.len = 0;
                w.data[0] = '\0';
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
                blank_ok = true;
                phase = QUOTE;
            }
            if (ch == esc) {
                if (pos + 1 == len)
                    continue;
                rc = kiln_buf_append(&w, &ch, 1, err);
                ch = s[++pos];
            }
            if (rc == 0)
                rc = kiln_buf_append(&w, &ch, 1, err);
            continue;
        }
        /* QUOTE */
        if (ch == quote)
            phase = WORD;
        if (ch == esc && quote != '\'') {
            if (pos + 1 == len) {
                phase = WORD;
                continue;
            }
            rc = kiln_buf_append(&w, &ch, 1, err);
            ch = s[++pos];
        }
        if (rc == 0)
            rc = kiln_buf_append(&w, &ch, 1, err);
    }
    kiln_buf_free(&w);
    return rc;
}

char *df_clean_path(const char *p, struct kiln_error *err)
{
    bool abs = p[0] == '/';
    size_t len = strlen(p);
    char *out = kiln_xmalloc(len + 2, err);
    if (!out)
        return NULL;
    size_t o = 0;
    if (abs)
        out[o++] = '/';
    size_t base = o; /* where ".." can no longer back up */
    for (size_t i = 0; i < len;) {
        while (i < len && p[i] == '/')
            i++;
        size_t s = i;
        while (i < len && p[i] != '/')
            i++;
        size_t cl = i - s;
        if (!cl || (cl == 1 && p[s] == '.'))
            continue;
        if (cl == 2 && p[s] == '.' && p[s + 1] == '.') {
            if (o > base) {
                while (o > base && out[o - 1] != '/')
                    o--;
                if (o > base)
                    o--;
                continue;
            }
            if (abs)
                continue;
            if (o)
                out[o++] = '/';
            out[o++] = '.';
            out[o++] = '.';
            base = o;
            continue;
        }
        if (o > (abs ? 1u : 0u))
            out[o++] = '/';
        memcpy(out + o, p + s, cl);
        o += cl;
    }
    if (!o)
        out[o++] = '.';
    out[o] = '\0';
    return out;
}
