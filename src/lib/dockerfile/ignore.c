/*
 * .dockerignore, as docker 20.10's CLI and builder read and apply it
 * (moby's dockerignore.ReadAll and fileutils.PatternMatcher): one pattern a
 * line, '#' comments, '!' exceptions, the last matching pattern deciding,
 * '*' and '?' not crossing '/', '**' crossing any number of directories, and
 * a pattern that matches a parent directory matching everything below it.
 */
#include <string.h>

#include "dockerfile.h"

static bool match_class(const char **pp, char c, bool *ok)
{
    const char *p = *pp + 1; /* after '[' */
    bool neg = false, hit = false;
    if (*p == '^') {
        neg = true;
        p++;
    }
    bool first = true;
    while (*p && (first || *p != ']')) {
        first = false;
        char lo = *p++;
        if (lo == '\\' && *p)
            lo = *p++;
        char hi = lo;
        if (*p == '-' && p[1] && p[1] != ']') {
            p++;
            hi = *p++;
            if (hi == '\\' && *p)
                hi = *p++;
        }
        if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
            hit = true;
    }
    if (*p != ']') {
        *ok = false; /* malformed: no match */
        return false;
    }
    *pp = p + 1;
    *ok = true;
    return hit != neg;
}

/* A pattern as tokens of an NFA, simulated over the path in one pass (no
 * backtracking: a hostile .dockerignore cannot make it exponential). */
enum tok_kind { T_LIT, T_ANY, T_CLASS, T_STAR, T_DSTAR_END, T_DSS_ENTRY, T_DSS_INNER };
struct tok {
    enum tok_kind k;
    char c;        /* T_LIT */
    const char *p; /* T_CLASS: at its '[' */
};

static size_t tokenize(const char *p, bool doublestar, struct tok *t, bool *bad)
{
    size_t n = 0;
    *bad = false;
    while (*p) {
        if (p[0] == '*' && p[1] == '*' && doublestar) {
            p += 2;
            if (*p == '/')
                p++;
            if (!*p) {
                t[n++].k = T_DSTAR_END;
            } else {
                t[n++].k = T_DSS_ENTRY;
                t[n++].k = T_DSS_INNER;
            }
            continue;
        }
        if (*p == '*') {
            t[n++].k = T_STAR;
            p++;
            continue;
        }
        if (*p == '?') {
            t[n++].k = T_ANY;
            p++;
            continue;
        }
        if (*p == '[') {
            const char *q = p;
            bool ok;
            (void)match_class(&q, 'a', &ok);
            if (!ok) {
                *bad = true; /* as Go's filepath.Match: a bad pattern matches nothing */
                return 0;
            }
            t[n].k = T_CLASS;
            t[n++].p = p;
            p = q;
            continue;
        }
        if (*p == '\\' && p[1])
            p++;
        t[n].k = T_LIT;
        t[n++].c = *p++;
    }
    return n;
}

/* Adds state i and what it reaches without input. */
static void add_state(const struct tok *t, size_t n, unsigned char *set, size_t i)
{
    while (i <= n && !set[i]) {
        set[i] = 1;
        if (i == n)
            return;
        if (t[i].k == T_STAR || t[i].k == T_DSTAR_END)
            i++;
        else if (t[i].k == T_DSS_ENTRY)
            i += 2;
        else
            return;
    }
}

static bool match(const char *p, const char *s, bool doublestar)
{
    size_t plen = strlen(p);
    struct tok *t = calloc(plen + 1, sizeof(*t));
    unsigned char *cur = calloc(plen + 2, 1), *next = calloc(plen + 2, 1);
    bool bad = false, m = false;
    size_t n = t ? tokenize(p, doublestar, t, &bad) : 0;
    if (!t || !cur || !next || bad)
        goto out;
    add_state(t, n, cur, 0);
    for (; *s; s++) {
        memset(next, 0, n + 1);
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (!cur[i])
                continue;
            bool ok;
            const char *q;
            switch (t[i].k) {
            case T_LIT:
                if (*s == t[i].c)
                    add_state(t, n, next, i + 1);
                break;
            case T_ANY:
                if (*s != '/')
                    add_state(t, n, next, i + 1);
                break;
            case T_CLASS:
                q = t[i].p;
                if (*s != '/' && match_class(&q, *s, &ok) && ok)
                    add_state(t, n, next, i + 1);
                break;
            case T_STAR:
                if (*s != '/')
                    add_state(t, n, next, i);
                break;
            case T_DSTAR_END:
                add_state(t, n, next, i);
                break;
            case T_DSS_ENTRY:
            case T_DSS_INNER: {
                size_t inner = t[i].k == T_DSS_ENTRY ? i + 1 : i;
                add_state(t, n, next, inner);
                if (*s == '/')
                    add_state(t, n, next, inner + 1);
                break;
            }
            }
        }
        for (size_t i = 0; i <= n; i++)
            any |= next[i] != 0;
        unsigned char *x = cur;
        cur = next;
        next = x;
        if (!any)
            goto out;
    }
    m = cur[n] != 0;
out:
    free(t);
    free(cur);
    free(next);
    return m;
}

bool df_glob_match(const char *pattern, const char *name)
{
    return match(pattern, name, false);
}

bool df_has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

void df_ignore_free(struct df_ignore *ig)
{
    if (!ig)
        return;
    kiln_strlist_free(&ig->patterns);
    ig->has_exceptions = false;
}

int df_ignore_parse(const char *text, size_t len, struct df_ignore *ig, struct kiln_error *err)
{
    memset(ig, 0, sizeof(*ig));
    size_t i = 0;
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
        i = 3;
    for (unsigned lineno = 1; i < len; lineno++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        char line[4096];
        size_t ll = e - i;
        if (ll >= sizeof(line)) {
            df_ignore_free(ig);
            return kiln_fail(err, KILN_ERR_USAGE, ".dockerignore:%u: line too long", lineno);
        }
        memcpy(line, text + i, ll);
        line[ll] = '\0';
        i = e + 1;
        if (line[0] == '#')
            continue;
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        size_t sl = strlen(s);
        while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t' || s[sl - 1] == '\r'))
            s[--sl] = '\0';
        if (!*s)
            continue;
        bool invert = *s == '!';
        if (invert) {
            s++;
            while (*s == ' ' || *s == '\t')
                s++;
            if (!*s) {
                df_ignore_free(ig);
                return kiln_fail(err, KILN_ERR_USAGE,
                                 ".dockerignore:%u: illegal exclusion pattern: \"!\"", lineno);
            }
        }
        char *c = df_clean_path(s, err);
        if (!c) {
            df_ignore_free(ig);
            return -1;
        }
        const char *p = c;
        if (p[0] == '/' && p[1])
            p++;
        char pat[4100];
        snprintf(pat, sizeof(pat), "%s%s", invert ? "!" : "", p);
        free(c);
        if (kiln_strlist_push(&ig->patterns, pat, err) < 0) {
            df_ignore_free(ig);
            return -1;
        }
        ig->has_exceptions |= invert;
    }
    return 0;
}

static size_t count_dirs(const char *p)
{
    size_t n = 1;
    for (; *p; p++)
        n += *p == '/';
    return n;
}

bool df_ignore_match(const struct df_ignore *ig, const char *path)
{
    bool matched = false;
    const char *slash = strrchr(path, '/');
    size_t parent_dirs = slash ? count_dirs(path) - 1 : 0;
    for (size_t i = 0; i < ig->patterns.n; i++) {
        const char *pat = ig->patterns.v[i];
        bool neg = *pat == '!';
        if (neg)
            pat++;
        bool m = match(pat, path, true);
        size_t pd = count_dirs(pat);
        if (!m && slash && pd <= parent_dirs) {
            /* the pattern against the parent directory of as many components */
            const char *q = path;
            for (size_t k = 0; k < pd; k++) {
                q = strchr(q, '/');
                if (k + 1 < pd)
                    q++;
            }
            char prefix[4096];
            size_t l = (size_t)(q - path);
            if (l < sizeof(prefix)) {
                memcpy(prefix, path, l);
                prefix[l] = '\0';
                m = match(pat, prefix, true);
            }
        }
        if (m)
            matched = !neg;
    }
    return matched;
}

bool df_ignore_may_include_below(const struct df_ignore *ig, const char *dir)
{
    size_t dl = strlen(dir);
    for (size_t i = 0; i < ig->patterns.n; i++) {
        const char *pat = ig->patterns.v[i];
        if (*pat != '!')
            continue;
        pat++;
        size_t pl = strlen(pat);
        /* HasPrefix(pattern + "/", dir + "/") */
        if (pl >= dl && !strncmp(pat, dir, dl) && (pat[dl] == '/' || !pat[dl]))
            return true;
    }
    return false;
}
