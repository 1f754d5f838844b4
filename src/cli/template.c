/*
 * --format '{{…}}' (inspect, list): the subset of Go's text/template that
 * scripts use with docker, podman and skopeo, over the JSON that kiln prints
 * with --format json.
 *
 *   {{.Field}} {{.A.B}} {{.}}       a value; field names match JSON keys in any case
 *   {{json .X}}                     the value as compact JSON
 *   {{index .Labels "key"}}         a key of an object (exact case), or an array element
 *   {{join .Platforms ","}}         an array's items joined
 *   {{len .Layers}}                 the length of an array, object or string
 *   {{"\n"}}                        a string (\n and \t are a newline and a tab)
 *   {{range .X}}…{{end}}            once per array item (or object value), with . set to it
 *   {{if .X}}…{{else}}…{{end}}      false: null, false, 0, "" and empty arrays and objects
 *   {{- and -}}                     trim the white space before or after
 *
 * A missing field prints nothing. Values print as Go prints them: strings as
 * they are, arrays as [a b], objects as map[k:v] (keys sorted).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

enum node_kind { N_TEXT, N_VALUE, N_RANGE, N_IF };
enum fn { F_NONE, F_JSON, F_INDEX, F_JOIN, F_LEN, F_LIT };

struct expr {
    enum fn fn;
    char **path; /* field names from dot; none: dot itself */
    size_t npath;
    char *arg; /* index/join: the string argument */
    long argn; /* index: a number, when arg is NULL and has_n */
    int has_n;
};

struct node {
    enum node_kind kind;
    char *text; /* N_TEXT */
    struct expr e;
    struct node *body, *alt; /* N_RANGE/N_IF: lists (next-linked) */
    struct node *next;
};

struct cli_template {
    struct node *root;
};

struct parser {
    const char *src, *p;
    struct kiln_error *err;
};

static int bad(struct parser *ps, const char *what)
{
    ps->err->code = KILN_ERR_USAGE;
    snprintf(ps->err->message, sizeof(ps->err->message),
             "--format '%.200s': %s at character %zu", ps->src, what,
             (size_t)(ps->p - ps->src) + 1);
    return -1;
}

static void free_nodes(struct node *n)
{
    while (n) {
        struct node *next = n->next;
        free(n->text);
        for (size_t i = 0; i < n->e.npath; i++)
            free(n->e.path[i]);
        free(n->e.path);
        free(n->e.arg);
        free_nodes(n->body);
        free_nodes(n->alt);
        free(n);
        n = next;
    }
}

void cli_template_free(struct cli_template *t)
{
    if (t) {
        free_nodes(t->root);
        free(t);
    }
}

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static int is_word(const char *p, const char *w)
{
    size_t l = strlen(w);
    return !strncmp(p, w, l) && !(isalnum((unsigned char)p[l]) || p[l] == '_');
}

/* ".", ".A", ".A.B" */
static int parse_path(struct parser *ps, struct expr *e)
{
    if (*ps->p != '.')
        return bad(ps, "expected a field such as .Digest");
    ps->p++;
    if (!(isalpha((unsigned char)*ps->p) || *ps->p == '_'))
        return 0; /* dot itself */
    for (;;) {
        const char *s = ps->p;
        while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
            ps->p++;
        char **v = realloc(e->path, (e->npath + 1) * sizeof(*v));
        if (!v)
            return bad(ps, "out of memory");
        e->path = v;
        if (!(v[e->npath] = strndup(s, (size_t)(ps->p - s))))
            return bad(ps, "out of memory");
        e->npath++;
        if (*ps->p != '.')
            return 0;
        ps->p++;
        if (!(isalpha((unsigned char)*ps->p) || *ps->p == '_'))
            return bad(ps, "expected a field name after '.'");
    }
}

static int parse_string(struct parser *ps, char **out)
{
    if (*ps->p != '"')
        return bad(ps, "expected a quoted string");
    ps->p++;
    size_t cap = strlen(ps->p) + 1, n = 0;
    char *s = malloc(cap);
    if (!s)
        return bad(ps, "out of memory");
    while (*ps->p && *ps->p != '"') {
        if (*ps->p == '\\' && ps->p[1]) {
            ps->p++;
            s[n++] = *ps->p == 'n' ? '\n' : *ps->p == 't' ? '\t' : *ps->p;
        } else
            s[n++] = *ps->p;
        ps->p++;
    }
    if (*ps->p != '"') {
        free(s);
        return bad(ps, "unterminated string");
    }
    ps->p++;
    s[n] = '\0';
    *out = s;
    return 0;
}

static int parse_expr(struct parser *ps, struct expr *e)
{
    skip_ws(ps);
    if (*ps->p == '"') { /* a string, printed as it is ({{"\n"}}) */
        e->fn = F_LIT;
        return parse_string(ps, &e->arg);
    }
    static const struct {
        const char *name;
        enum fn fn;
    } fns[] = {{"json", F_JSON}, {"index", F_INDEX}, {"join", F_JOIN}, {"len", F_LEN}};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        if (is_word(ps->p, fns[i].name)) {
            e->fn = fns[i].fn;
            ps->p += strlen(fns[i].name);
            skip_ws(ps);
            break;
        }
    if (e->fn == F_NONE && isalpha((unsigned char)*ps->p))
        return bad(ps, "unknown function (kiln knows json, index, join, len, range, if)");
    if (parse_path(ps, e) < 0)
        return -1;
    if (e->fn == F_INDEX || e->fn == F_JOIN) {
        skip_ws(ps);
        if (e->fn == F_INDEX && (isdigit((unsigned char)*ps->p) || *ps->p == '-')) {
            char *end;
            e->argn = strtol(ps->p, &end, 10);
            e->has_n = 1;
            ps->p = end;
        } else if (parse_string(ps, &e->arg) < 0)
            return -1;
    }
    return 0;
}

/* After "{{" (and an optional '-'): the keyword or expression, then "}}". */
static int close_action(struct parser *ps, bool *trim_after)
{
    skip_ws(ps);
    *trim_after = false;
    if (ps->p[0] == '-' && ps->p[1] == '}' && ps->p[2] == '}') {
        *trim_after = true;
        ps->p++;
    }
    if (ps->p[0] != '}' || ps->p[1] != '}')
        return bad(ps, "expected '}}'");
    ps->p += 2;
    return 0;
}

enum stop { STOP_EOF, STOP_END, STOP_ELSE };

static int parse_list(struct parser *ps, struct node **out, enum stop *stop, bool trim_first);

static struct node *new_node(struct parser *ps, enum node_kind k)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        bad(ps, "out of memory");
    else
        n->kind = k;
    return n;
}

static int parse_list(struct parser *ps, struct node **out, enum stop *stop, bool trim_first)
{
    struct node **tail = out;
    bool trim = trim_first;
    for (;;) {
        const char *open = strstr(ps->p, "{{");
        const char *end = open ? open : ps->p + strlen(ps->p);
        const char *s = ps->p;
        bool trim_before = open && open[2] == '-' && (open[3] == ' ' || open[3] == '\t' ||
                                                      open[3] == '\n');
        if (trim)
            while (s < end && isspace((unsigned char)*s))
                s++;
        const char *e = end;
        if (trim_before)
            while (e > s && isspace((unsigned char)e[-1]))
                e--;
        if (e > s) {
            struct node *n = new_node(ps, N_TEXT);
            if (!n || !(n->text = strndup(s, (size_t)(e - s)))) {
                free(n);
                return bad(ps, "out of memory");
            }
            *tail = n;
            tail = &n->next;
        }
        if (!open) {
            ps->p = end;
            *stop = STOP_EOF;
            return 0;
        }
        ps->p = open + 2 + (trim_before ? 1 : 0);
        skip_ws(ps);
        if (is_word(ps->p, "end") || is_word(ps->p, "else")) {
            *stop = is_word(ps->p, "end") ? STOP_END : STOP_ELSE;
            ps->p += *stop == STOP_END ? 3 : 4;
            bool ta;
            if (close_action(ps, &ta) < 0)
                return -1;
            if (ta)
                while (isspace((unsigned char)*ps->p))
                    ps->p++;
            return 0;
        }
        bool is_range = is_word(ps->p, "range"), is_if = is_word(ps->p, "if");
        struct node *n = new_node(ps, is_range ? N_RANGE : is_if ? N_IF : N_VALUE);
        if (!n)
            return -1;
        *tail = n;
        tail = &n->next;
        if (is_range || is_if)
            ps->p += is_range ? 5 : 2;
        if (parse_expr(ps, &n->e) < 0 || close_action(ps, &trim) < 0)
            return -1;
        if (is_range || is_if) {
            enum stop st;
            if (parse_list(ps, &n->body, &st, trim) < 0)
                return -1;
            if (st == STOP_ELSE && is_if && parse_list(ps, &n->alt, &st, false) < 0)
                return -1;
            if (st != STOP_END)
                return bad(ps, st == STOP_ELSE ? "{{else}} outside {{if}}"
                                               : "missing {{end}}");
            trim = false;
        }
    }
}

int cli_template_parse(const char *src, struct cli_template **out, struct kiln_error *err)
{
    struct parser ps = {.src = src, .p = src, .err = err};
    struct cli_template *t = calloc(1, sizeof(*t));
    if (!t)
        return bad(&ps, "out of memory");
    enum stop st;
    int rc = parse_list(&ps, &t->root, &st, false);
    if (rc == 0 && st != STOP_EOF)
        rc = bad(&ps, st == STOP_END ? "{{end}} without {{range}} or {{if}}"
                                     : "{{else}} outside {{if}}");
    if (rc < 0) {
        cli_template_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- rendering ---- */

struct out {
    char *s;
    size_t n, cap;
    bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n + 1 > o->cap) {
        size_t cap = (o->n + n + 1) * 2;
        char *v = realloc(o->s, cap);
        if (!v) {
            o->oom = true;
            return;
        }
        o->s = v;
        o->cap = cap;
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys, sorted (Go prints maps so). */
static const char **sorted_keys(json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **k = malloc((*n ? *n : 1) * sizeof(*k));
    if (!k)
        return NULL;
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        k[i++] = key;
    }
    qsort(k, *n, sizeof(*k), key_cmp);
    return k;
}

static void print_value(struct out *o, json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        put(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        puts_(o, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof(num), "%g", json_real_value(v));
        puts_(o, num);
        break;
    case JSON_TRUE:
        puts_(o, "true");
        break;
    case JSON_FALSE:
        puts_(o, "false");
        break;
    case JSON_NULL:
        break;
    case JSON_ARRAY: {
        puts_(o, "[");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (i)
                puts_(o, " ");
            print_value(o, e);
        }
        puts_(o, "]");
        break;
    }
    case JSON_OBJECT: {
        puts_(o, "map[");
        size_t n;
        const char **k = sorted_keys(v, &n);
        if (!k) {
            o->oom = true;
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(o, " ");
            puts_(o, k[i]);
            puts_(o, ":");
            print_value(o, json_object_get(v, k[i]));
        }
        free(k);
        puts_(o, "]");
        break;
    }
    }
}

/* A key in any case: the exact one first. */
static json_t *field(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (v || !json_is_object(obj))
        return v;
    const char *key;
    json_object_foreach(obj, key, v)
    {
        if (!strcasecmp(key, name))
            return v;
    }
    return NULL;
}

/* The expression's value (borrowed, or new in *owned); NULL: none. */
static json_t *eval(const struct expr *e, json_t *dot, json_t **owned)
{
    *owned = NULL;
    json_t *v = dot;
    for (size_t i = 0; v && i < e->npath; i++)
        v = field(v, e->path[i]);
    switch (e->fn) {
    case F_NONE:
    case F_JSON:
        return v;
    case F_LIT:
        *owned = json_string(e->arg);
        return *owned;
    case F_INDEX:
        if (e->has_n && json_is_array(v))
            return json_array_get(v, e->argn < 0 ? json_array_size(v) + (size_t)e->argn
                                                 : (size_t)e->argn);
        return e->arg && json_is_object(v) ? json_object_get(v, e->arg) : NULL;
    case F_LEN:
        *owned = json_integer(json_is_array(v)    ? (json_int_t)json_array_size(v)
                              : json_is_object(v) ? (json_int_t)json_object_size(v)
                              : json_is_string(v) ? (json_int_t)json_string_length(v)
                                                  : 0);
        return *owned;
    case F_JOIN: {
        struct out o = {0};
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i)
                puts_(&o, e->arg);
            print_value(&o, x);
        }
        *owned = json_string(o.s ? o.s : "");
        free(o.s);
        return *owned;
    }
    }
    return NULL;
}

static bool truthy(json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_TRUE:
        return true;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    default:
        return false;
    }
}

static void render(const struct node *n, json_t *dot, struct out *o)
{
    for (; n && !o->oom; n = n->next) {
        json_t *owned = NULL, *v = n->kind == N_TEXT ? NULL : eval(&n->e, dot, &owned);
        switch (n->kind) {
        case N_TEXT:
            puts_(o, n->text);
            break;
        case N_VALUE:
            if (n->e.fn == F_JSON) {
                char *j = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
                if (!j)
                    o->oom = true;
                else
                    puts_(o, j);
                free(j);
            } else if (v)
                print_value(o, v);
            break;
        case N_RANGE:
            if (json_is_array(v)) {
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) render(n->body, x, o);
            } else if (json_is_object(v)) {
                size_t k;
                const char **keys = sorted_keys(v, &k);
                if (!keys)
                    o->oom = true;
                for (size_t i = 0; keys && i < k; i++)
                    render(n->body, json_object_get(v, keys[i]), o);
                free(keys);
            }
            break;
        case N_IF:
            render(truthy(v) ? n->body : n->alt, dot, o);
            break;
        }
        json_decref(owned);
    }
}

char *cli_template_render(const struct cli_template *t, const char *json_text)
{
    json_t *data = json_loads(json_text, JSON_DECODE_ANY, NULL);
    if (!data)
        return NULL;
    struct out o = {0};
    render(t->root, data, &o);
    json_decref(data);
    if (o.oom) {
        free(o.s);
        return NULL;
    }
    return o.s ? o.s : strdup("");
}
