/*
 * Layer maps. A path belongs to the first layer, in file order, that claims
 * it or one of its ancestors; what nothing claims goes to the last layer.
 * Directories appear in every layer that holds something beneath them, so
 * each layer is a valid tree on its own; hardlink groups stay in the layer of
 * their first member. The same tree and map always give the same layers.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "layermap.h"

struct strset { /* open addressing, strings owned */
    char **v;
    uint64_t *val;
    size_t n, cap;
};

struct named_layer {
    char *name;
    struct kiln_strlist patterns;
    struct strset exact;
};

struct link_slot {
    dev_t dev;
    ino_t ino;
    unsigned layer;
    bool used;
};

struct kiln_layer_map {
    struct named_layer *layers;
    size_t n;
    struct strset dirs;
    struct link_slot *links;
    size_t nlinks, caplinks;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int set_put(struct strset *s, const char *k, uint64_t val, struct kiln_error *err)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        char **nv = calloc(ncap, sizeof(*nv));
        uint64_t *nval = calloc(ncap, sizeof(*nval));
        if (!nv || !nval) {
            free(nv);
            free(nval);
            return kiln_oom(err);
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i])
                continue;
            size_t j = str_hash(s->v[i]) & (ncap - 1);
            while (nv[j])
                j = (j + 1) & (ncap - 1);
            nv[j] = s->v[i];
            nval[j] = s->val[i];
        }
        free(s->v);
        free(s->val);
        s->v = nv;
        s->val = nval;
        s->cap = ncap;
    }
    size_t j = str_hash(k) & (s->cap - 1);
    while (s->v[j]) {
        if (!strcmp(s->v[j], k)) {
            s->val[j] = val;
            return 0;
        }
        j = (j + 1) & (s->cap - 1);
    }
    if (!(s->v[j] = kiln_strdup(k, err)))
        return -1;
    s->val[j] = val;
    s->n++;
    return 0;
}

static bool set_get(const struct strset *s, const char *k, uint64_t *val)
{
    if (!s->cap)
        return false;
    size_t j = str_hash(k) & (s->cap - 1);
    while (s->v[j]) {
        if (!strcmp(s->v[j], k)) {
            if (val)
                *val = s->val[j];
            return true;
        }
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

static void set_free(struct strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i]);
    free(s->v);
    free(s->val);
    memset(s, 0, sizeof(*s));
}

void kiln_layer_map_free(struct kiln_layer_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->layers[i].name);
        kiln_strlist_free(&m->layers[i].patterns);
        set_free(&m->layers[i].exact);
    }
    free(m->layers);
    set_free(&m->dirs);
    free(m->links);
    free(m);
}

size_t kiln_layer_map_count(const struct kiln_layer_map *m)
{
    return m->n + 1;
}

const char *kiln_layer_map_name(const struct kiln_layer_map *m, size_t i)
{
    return i < m->n ? m->layers[i].name : "rest";
}

static bool class_match(const char **pp, char c)
{
    const char *p = *pp + 1; /* after '[' */
    bool neg = *p == '!' || *p == '^';
    if (neg)
        p++;
    bool hit = false;
    bool first = true;
    while (*p && (*p != ']' || first)) {
        char lo = *p, hi = lo;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            p += 3;
        } else
            p++;
        if (c >= lo && c <= hi)
            hit = true;
        first = false;
    }
    if (*p == ']')
        p++;
    *pp = p;
    return hit != neg;
}

bool kiln_glob_match(const char *p, const char *s)
{
    while (*p) {
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            if (!*p)
                return true;
            if (*p == '/') {
                /* "**" + "/": zero or more whole path components */
                p++;
                for (const char *t = s;;) {
                    if (kiln_glob_match(p, t))
                        return true;
                    if (!(t = strchr(t, '/')))
                        return false;
                    t++;
                }
            }
            for (const char *t = s;; t++) {
                if (kiln_glob_match(p, t))
                    return true;
                if (!*t)
                    return false;
            }
        }
        if (*p == '*') {
            p++;
            for (const char *t = s;; t++) {
                if (kiln_glob_match(p, t))
                    return true;
                if (!*t || *t == '/')
                    return false;
            }
        }
        if (!*s)
            return false;
        if (*p == '?') {
            if (*s == '/')
                return false;
        } else if (*p == '[') {
            if (*s == '/' || !class_match(&p, *s))
                return false;
            s++;
            continue;
        } else if (*p != *s)
            return false;
        p++;
        s++;
    }
    return !*s;
}

static char *trim(char *l)
{
    while (isspace((unsigned char)*l))
        l++;
    size_t n = strlen(l);
    while (n && isspace((unsigned char)l[n - 1]))
        l[--n] = '\0';
    return l;
}

/* "/a/b/" and "a/b" both become "/a/b". */
static int normalise(const char *in, struct kiln_buf *out, struct kiln_error *err)
{
    kiln_buf_free(out);
    if (kiln_buf_append(out, "/", 1, err) < 0)
        return -1;
    const char *p = in;
    while (*p == '/' || (p[0] == '.' && p[1] == '/'))
        p += *p == '/' ? 1 : 2;
    if (kiln_buf_append(out, p, strlen(p), err) < 0)
        return -1;
    while (out->len > 1 && out->data[out->len - 1] == '/')
        out->data[--out->len] = '\0';
    return 0;
}

static int load_list(const char *mapfile, int line, const char *list, struct strset *set,
                     struct kiln_error *err)
{
    FILE *f = fopen(list, "re");
    if (!f)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--layer-map %s:%d: @%s", mapfile,
                               line, list);
    char *l = NULL;
    size_t cap = 0;
    struct kiln_buf norm = {0};
    int rc = 0;
    while (rc == 0 && getline(&l, &cap, f) > 0) {
        char *t = trim(l);
        if (!*t || *t == '#')
            continue;
        rc = normalise(t, &norm, err);
        if (rc == 0)
            rc = set_put(set, norm.data, 1, err);
    }
    free(l);
    kiln_buf_free(&norm);
    fclose(f);
    return rc;
}

int kiln_layer_map_load(const char *file, struct kiln_layer_map **out, struct kiln_error *err)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--layer-map %s", file);
    struct kiln_layer_map *m = calloc(1, sizeof(*m));
    if (!m) {
        fclose(f);
        return kiln_oom(err);
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    struct kiln_buf norm = {0};
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#')
            continue;
        if (*t == '[') {
            char *e = strchr(t, ']');
            if (!e || e[1] || e == t + 1) {
                rc = kiln_fail(err, KILN_ERR_USAGE, "--layer-map %s:%d: expected [NAME]", file,
                               lineno);
                break;
            }
            if (m->n == KILN_LAYER_MAP_MAX) {
                rc = kiln_fail(err, KILN_ERR_USAGE, "--layer-map %s:%d: more than %d layers",
                               file, lineno, KILN_LAYER_MAP_MAX);
                break;
            }
            *e = '\0';
            if (!strcmp(t + 1, "rest"))
                rc = kiln_fail(err, KILN_ERR_USAGE,
                               "--layer-map %s:%d: [rest] is the layer of everything left "
                               "unclaimed; name the layer otherwise",
                               file, lineno);
            for (size_t i = 0; rc == 0 && i < m->n; i++)
                if (!strcmp(m->layers[i].name, t + 1))
                    rc = kiln_fail(err, KILN_ERR_USAGE, "--layer-map %s:%d: layer [%s] twice",
                                   file, lineno, t + 1);
            struct named_layer *v = rc ? NULL : realloc(m->layers, (m->n + 1) * sizeof(*v));
            if (!v) {
                rc = rc ? rc : kiln_oom(err);
                break;
            }
            m->layers = v;
            memset(&v[m->n], 0, sizeof(v[m->n]));
            if (!(v[m->n].name = kiln_strdup(t + 1, err)))
                rc = -1;
            m->n++;
            continue;
        }
        if (!m->n) {
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "--layer-map %s:%d: a pattern before the first [NAME]", file, lineno);
            break;
        }
        struct named_layer *L = &m->layers[m->n - 1];
        if (*t == '@')
            rc = load_list(file, lineno, trim(t + 1), &L->exact, err);
        else if ((rc = normalise(t, &norm, err)) == 0)
            rc = kiln_strlist_push(&L->patterns, norm.data, err);
    }
    free(line);
    kiln_buf_free(&norm);
    fclose(f);
    if (rc == 0 && !m->n)
        rc = kiln_fail(err, KILN_ERR_USAGE, "--layer-map %s: no [NAME] layer", file);
    if (rc < 0) {
        kiln_layer_map_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

unsigned kiln_layer_map_claim(const struct kiln_layer_map *m, const char *rel, unsigned parent)
{
    char path[8192];
    snprintf(path, sizeof(path), "/%s", rel);
    for (unsigned i = 0; i < m->n && i < parent; i++) {
        if (set_get(&m->layers[i].exact, path, NULL))
            return i;
        for (size_t k = 0; k < m->layers[i].patterns.n; k++)
            if (kiln_glob_match(m->layers[i].patterns.v[k], path))
                return i;
    }
    return parent;
}

int kiln_layer_map_set_dir(struct kiln_layer_map *m, const char *rel, uint64_t mask,
                           struct kiln_error *err)
{
    return set_put(&m->dirs, rel, mask, err);
}

uint64_t kiln_layer_map_dir(const struct kiln_layer_map *m, const char *rel)
{
    uint64_t v = 0;
    return set_get(&m->dirs, rel, &v) ? v : 0;
}

static size_t link_hash(dev_t d, ino_t i)
{
    uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL ^ (uint64_t)d * 0xc2b2ae3d27d4eb4fULL;
    return (size_t)(h ^ (h >> 29));
}

int kiln_layer_map_link(struct kiln_layer_map *m, dev_t dev, ino_t ino, unsigned layer,
                        unsigned *out, struct kiln_error *err)
{
    if ((m->nlinks + 1) * 2 > m->caplinks) {
        size_t ncap = m->caplinks ? m->caplinks * 2 : 256;
        struct link_slot *n = calloc(ncap, sizeof(*n));
        if (!n)
            return kiln_oom(err);
        for (size_t i = 0; i < m->caplinks; i++) {
            if (!m->links[i].used)
                continue;
            size_t j = link_hash(m->links[i].dev, m->links[i].ino) & (ncap - 1);
            while (n[j].used)
                j = (j + 1) & (ncap - 1);
            n[j] = m->links[i];
        }
        free(m->links);
        m->links = n;
        m->caplinks = ncap;
    }
    size_t j = link_hash(dev, ino) & (m->caplinks - 1);
    while (m->links[j].used) {
        if (m->links[j].dev == dev && m->links[j].ino == ino) {
            *out = m->links[j].layer;
            return 0;
        }
        j = (j + 1) & (m->caplinks - 1);
    }
    m->links[j] = (struct link_slot){dev, ino, layer, true};
    m->nlinks++;
    *out = layer;
    return 0;
}

unsigned kiln_layer_map_link_get(const struct kiln_layer_map *m, dev_t dev, ino_t ino,
                                 unsigned fallback)
{
    if (!m->caplinks)
        return fallback;
    size_t j = link_hash(dev, ino) & (m->caplinks - 1);
    while (m->links[j].used) {
        if (m->links[j].dev == dev && m->links[j].ino == ino)
            return m->links[j].layer;
        j = (j + 1) & (m->caplinks - 1);
    }
    return fallback;
}
