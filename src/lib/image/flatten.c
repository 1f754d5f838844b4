/*
 * The merged filesystem of an image as one tar stream (kiln export, and the
 * single layer of kiln flatten), written without unpacking anything to disk:
 * owners, modes, devices and extended attributes stay what the layers say,
 * whoever runs it.
 *
 * Two passes over the layers. The first reads only headers and builds a
 * model of the final tree, layer by layer as a runtime applies them: a
 * layer's whiteouts first (".wh.NAME" removes NAME, ".wh..wh..opq" empties
 * its directory; both act on the layers below only), then its entries (a
 * later entry at a path replaces the earlier one; a directory over a
 * directory keeps the children; parents through symlinks are followed inside
 * the tree). Every non-directory is an "inode" that hardlinks share, so a
 * link whose target a later layer removed or replaced keeps the content it
 * was made with. The second pass streams each layer that holds the data of a
 * surviving regular file and writes, in the order the data comes: at each
 * inode, its first surviving name (in path order) with the data and its other
 * names as hardlinks to it; directories, symlinks and devices come from the
 * model, parents before their children. The same layers give the same bytes.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../copy.h"
#include "../tar/layerread.h"
#include "../tar/tar.h"
#include "flatten.h"
#include "layout.h"

#define MAX_SYMLINKS 40

struct fhdr {
    enum kiln_tar_type type;
    uint32_t mode;
    uint64_t uid, gid;
    int64_t mtime;
    uint64_t size;
    uint32_t devmajor, devminor;
    char *linkname; /* symlinks */
    struct kiln_xattr *xattrs;
    size_t nxattrs;
};

/* What hardlinks share: the entry that made it, where its data is read. */
struct finode {
    size_t layer;
    uint64_t ordinal;
    struct fhdr h;
    size_t refs;          /* names in the tree */
    struct fnode **names; /* filled after the first pass, in path order */
    size_t nnames, capnames;
};

struct fnode {
    char *name; /* one component */
    struct fnode *parent, *child, *next, *prev, *hnext;
    bool is_dir, implicit, emitted;
    struct fhdr h; /* directories */
    size_t layer;  /* directories: the entry that set h */
    uint64_t ordinal;
    struct finode *ino; /* everything else */
};

struct flat {
    struct fnode root;
    struct fnode **buckets;
    size_t nbuckets, count;
    struct finode **inodes;
    size_t ninodes, capinodes;
    const char *layer; /* digest, for messages */
    size_t li;
};

static void hdr_free(struct fhdr *h)
{
    free(h->linkname);
    kiln_xattrs_free(h->xattrs, h->nxattrs);
    memset(h, 0, sizeof(*h));
}

static size_t hash_of(const struct fnode *parent, const char *name)
{
    size_t h = (size_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

static struct fnode *lookup(struct flat *f, struct fnode *parent, const char *name)
{
    if (!f->nbuckets)
        return NULL;
    for (struct fnode *n = f->buckets[hash_of(parent, name) & (f->nbuckets - 1)]; n; n = n->hnext)
        if (n->parent == parent && !strcmp(n->name, name))
            return n;
    return NULL;
}

static int grow(struct flat *f, struct kiln_error *err)
{
    size_t nb = f->nbuckets ? f->nbuckets * 2 : 1024;
    struct fnode **b = calloc(nb, sizeof(*b));
    if (!b)
        return kiln_oom(err);
    for (size_t i = 0; i < f->nbuckets; i++)
        for (struct fnode *n = f->buckets[i], *nx; n; n = nx) {
            nx = n->hnext;
            size_t k = hash_of(n->parent, n->name) & (nb - 1);
            n->hnext = b[k];
            b[k] = n;
        }
    free(f->buckets);
    f->buckets = b;
    f->nbuckets = nb;
    return 0;
}

static struct fnode *add_node(struct flat *f, struct fnode *parent, const char *name, size_t len,
                              struct kiln_error *err)
{
    if (f->count + 1 > f->nbuckets / 2 && grow(f, err) < 0)
        return NULL;
    struct fnode *n = calloc(1, sizeof(*n));
    if (!n || !(n->name = strndup(name, len))) {
        free(n);
        kiln_oom(err);
        return NULL;
    }
    n->parent = parent;
    n->next = parent->child;
    if (parent->child)
        parent->child->prev = n;
    parent->child = n;
    size_t k = hash_of(parent, n->name) & (f->nbuckets - 1);
    n->hnext = f->buckets[k];
    f->buckets[k] = n;
    f->count++;
    return n;
}

static void unhash(struct flat *f, struct fnode *n)
{
    struct fnode **pp = &f->buckets[hash_of(n->parent, n->name) & (f->nbuckets - 1)];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    f->count--;
}

static void free_subtree(struct flat *f, struct fnode *n, bool hashed)
{
    for (struct fnode *c = n->child, *nx; c; c = nx) {
        nx = c->next;
        free_subtree(f, c, hashed);
    }
    if (hashed)
        unhash(f, n);
    if (n->ino)
        n->ino->refs--;
    hdr_free(&n->h);
    free(n->name);
    free(n);
}

static void remove_node(struct flat *f, struct fnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        n->parent->child = n->next;
    if (n->next)
        n->next->prev = n->prev;
    free_subtree(f, n, true);
}

static void remove_children(struct flat *f, struct fnode *d)
{
    while (d->child)
        remove_node(f, d->child);
}

/* The path of n from the root (no leading or trailing '/'). */
static char *path_of(const struct fnode *n, struct kiln_error *err)
{
    size_t len = 0;
    for (const struct fnode *p = n; p->parent; p = p->parent)
        len += strlen(p->name) + 1;
    char *s = kiln_xmalloc(len ? len : 1, err);
    if (!s)
        return NULL;
    size_t at = len ? len - 1 : 0;
    s[at] = '\0';
    for (const struct fnode *p = n; p->parent; p = p->parent) {
        size_t l = strlen(p->name);
        at -= l;
        memcpy(s + at, p->name, l);
        if (at)
            s[--at] = '/';
    }
    return s;
}

/* Pushes the components of path onto stack, last first (so the next to
 * walk is on top). */
static int push_components(struct kiln_strlist *stack, const char *path, struct kiln_error *err)
{
    size_t n = strlen(path);
    while (n) {
        while (n && path[n - 1] == '/')
            n--;
        size_t e = n;
        while (n && path[n - 1] != '/')
            n--;
        if (e > n) {
            char *c = strndup(path + n, e - n);
            int rc = c ? kiln_strlist_push(stack, c, err) : kiln_oom(err);
            free(c);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/*
 * Walks the directories of `path` (a normalised member path) from the root,
 * following symlinks inside the tree as a runtime's extraction does (an
 * absolute target from the root, ".." no higher than it). Missing
 * directories are made (implicit: mode 0755, root's) when `create`; else a
 * missing one returns 1. On success *dir is the directory that holds the
 * last component, which *leaf gets (caller frees).
 */
static int resolve(struct flat *f, const char *entry, const char *path, bool create,
                   struct fnode **dir, char **leaf, struct kiln_error *err)
{
    struct kiln_strlist stack = { 0 };
    struct fnode *cur = &f->root;
    int links = 0, rc = push_components(&stack, path, err);
    *leaf = NULL;
    while (rc == 0 && stack.n) {
        char *c = stack.v[--stack.n];
        if (!stack.n) {
            *leaf = c;
            break;
        }
        if (!strcmp(c, ".") || !strcmp(c, "..")) {
            if (c[1] && cur->parent)
                cur = cur->parent;
            free(c);
            continue;
        }
        struct fnode *n = lookup(f, cur, c);
        if (n && !n->is_dir && n->ino->h.type == KILN_TAR_SYMLINK) {
            if (++links > MAX_SYMLINKS)
                rc = kiln_fail(err, KILN_ERR_INPUT, "layer %s: entry '%s': too many symlinks",
                               f->layer, entry);
            else {
                const char *t = n->ino->h.linkname ? n->ino->h.linkname : "";
                if (t[0] == '/')
                    cur = &f->root;
                rc = push_components(&stack, t, err);
            }
        } else if (n && !n->is_dir)
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "layer %s: entry '%s': '%s' on its path is not a directory in the "
                           "layers below",
                           f->layer, entry, c);
        else if (!n && !create)
            rc = 1;
        else if (!n && !(n = add_node(f, cur, c, strlen(c), err)))
            rc = -1;
        if (n && !n->is_dir && !n->ino) { /* made just now */
            n->is_dir = n->implicit = true;
            n->h.type = KILN_TAR_DIR;
            n->h.mode = 0755;
            n->layer = f->li;
        }
        if (rc == 0 && n && n->is_dir)
            cur = n;
        free(c);
    }
    kiln_strlist_free(&stack);
    if (rc != 0) {
        free(*leaf);
        *leaf = NULL;
        return rc;
    }
    *dir = cur;
    return 0;
}

/* ---- reading a layer ------------------------------------------------- */

/* A layer read from its blob (tar/layerread.c), its bytes checked against
 * the descriptor when the source is not trusted on read (oci:, oci-archive:). */
struct lreader {
    struct kiln_layer_reader r;
    struct kiln_blob_check check;
    bool checking;
    const char *layer;
};

static int lr_fail(struct lreader *lr, struct archive *a, struct kiln_error *err)
{
    return kiln_layer_reader_fail(&lr->r, a, err);
}

static void lr_free(struct lreader *lr)
{
    kiln_layer_reader_free(&lr->r);
    if (lr->checking)
        kiln_blob_check_free(&lr->check);
    lr->checking = false;
}

static int lr_open(struct lreader *lr, struct kiln_layer *ly, struct kiln_error *err)
{
    lr->checking = false;
    lr->layer = ly->digest;
    if (ly->origin) {
        if (kiln_blob_check_init(&lr->check, ly->digest, ly->size, ly->origin, err) < 0)
            return -1;
        lr->checking = true;
    }
    if (kiln_layer_reader_open(&lr->r, ly->path, ly->digest, lr->checking ? &lr->check : NULL,
                               err) < 0) {
        lr_free(lr);
        return -1;
    }
    return 0;
}

/* 1 and *e: the next entry; 0: the end (the stream checked); -1: an error. */
static int lr_next(struct lreader *lr, struct archive_entry **e, struct kiln_error *err)
{
    return kiln_layer_reader_next(&lr->r, e, err);
}

static bool is_whiteout(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return !strncmp(b, ".wh.", 4);
}

static int xattr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kiln_xattr *)a)->name, ((const struct kiln_xattr *)b)->name);
}

/* The header of e as the model keeps it; *skip for what a tree cannot hold
 * (sockets: runtimes skip them too). */
static int read_hdr(struct archive_entry *e, struct fhdr *h, bool *skip, struct kiln_error *err)
{
    memset(h, 0, sizeof(*h));
    *skip = false;
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        h->type = KILN_TAR_REG;
        break;
    case AE_IFDIR:
        h->type = KILN_TAR_DIR;
        break;
    case AE_IFLNK:
        h->type = KILN_TAR_SYMLINK;
        break;
    case AE_IFCHR:
        h->type = KILN_TAR_CHR;
        break;
    case AE_IFBLK:
        h->type = KILN_TAR_BLK;
        break;
    case AE_IFIFO:
        h->type = KILN_TAR_FIFO;
        break;
    default:
        if (archive_entry_hardlink(e)) {
            h->type = KILN_TAR_REG;
            break;
        }
        *skip = true;
        return 0;
    }
    h->mode = (uint32_t)archive_entry_mode(e) & 07777;
    h->uid = (uint64_t)archive_entry_uid(e);
    h->gid = (uint64_t)archive_entry_gid(e);
    h->mtime = (int64_t)archive_entry_mtime(e);
    h->size =
        h->type == KILN_TAR_REG && archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
    h->devmajor = (uint32_t)archive_entry_rdevmajor(e);
    h->devminor = (uint32_t)archive_entry_rdevminor(e);
    if (h->type == KILN_TAR_SYMLINK) {
        const char *t = archive_entry_symlink(e);
        if (!(h->linkname = kiln_strdup(t ? t : "", err)))
            return -1;
    }
    size_t n = (size_t)archive_entry_xattr_reset(e);
    if (n) {
        if (!(h->xattrs = calloc(n, sizeof(*h->xattrs))))
            return kiln_oom(err);
        const char *name;
        const void *value;
        size_t len;
        while (h->nxattrs < n && archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
            struct kiln_xattr *x = &h->xattrs[h->nxattrs++];
            x->name = strdup(name);
            x->value = malloc(len ? len : 1);
            x->len = len;
            if (!x->name || !x->value)
                return kiln_oom(err);
            memcpy(x->value, value, len);
        }
        qsort(h->xattrs, h->nxattrs, sizeof(*h->xattrs), xattr_cmp);
    }
    return 0;
}

/* ---- the first pass: the model -------------------------------------- */

struct fent {
    char *path, *hardlink;
    struct fhdr h;
    uint64_t ordinal;
};

static int apply_whiteout(struct flat *f, const char *path, struct kiln_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    bool opaque = !strcmp(base, ".wh..wh..opq");
    if (!opaque && !strncmp(base + 4, ".wh.", 4))
        return 0; /* aufs metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply */
    if (!opaque && !base[4])
        return kiln_fail(err, KILN_ERR_INPUT,
                         "layer %s: whiteout '%s' names no removable entry: refusing it", f->layer,
                         path);
    struct fnode *dir;
    char *leaf;
    int rc = resolve(f, path, path, false, &dir, &leaf, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* its directory is not there: nothing to remove */
    if (opaque)
        remove_children(f, dir);
    else {
        struct fnode *n = lookup(f, dir, leaf + 4);
        if (n)
            remove_node(f, n);
    }
    free(leaf);
    return 0;
}

static int apply_entry(struct flat *f, struct fent *en, struct kiln_error *err)
{
    struct fnode *dir, *tdir;
    char *leaf = NULL, *tleaf = NULL;
    int rc = resolve(f, en->path, en->path, true, &dir, &leaf, err);
    if (rc < 0)
        return -1;
    struct fnode *old = lookup(f, dir, leaf), *n = NULL;
    if (en->hardlink) {
        rc = resolve(f, en->path, en->hardlink, false, &tdir, &tleaf, err);
        struct fnode *t = rc == 0 ? lookup(f, tdir, tleaf) : NULL;
        free(tleaf);
        if (rc < 0) {
            free(leaf);
            return -1;
        }
        if (!t || t->is_dir) {
            free(leaf);
            return kiln_fail(err, KILN_ERR_INPUT, "layer %s: hardlink '%s' to '%s', %s", f->layer,
                             en->path, en->hardlink,
                             t ? "a directory: refusing it"
                               : "which neither this layer (before it) nor a layer below holds");
        }
        if (t == old) {
            free(leaf);
            return 0;
        }
        struct finode *ino = t->ino;
        if (old)
            remove_node(f, old);
        if (!(n = add_node(f, dir, leaf, strlen(leaf), err))) {
            free(leaf);
            return -1;
        }
        n->ino = ino;
        ino->refs++;
        free(leaf);
        return 0;
    }
    if (en->h.type == KILN_TAR_DIR && old && old->is_dir) {
        hdr_free(&old->h);
        old->h = en->h;
        memset(&en->h, 0, sizeof(en->h));
        old->implicit = false;
        old->layer = f->li;
        old->ordinal = en->ordinal;
        free(leaf);
        return 0;
    }
    if (old)
        remove_node(f, old);
    n = add_node(f, dir, leaf, strlen(leaf), err);
    free(leaf);
    if (!n)
        return -1;
    if (en->h.type == KILN_TAR_DIR) {
        n->is_dir = true;
        n->h = en->h;
        n->layer = f->li;
        n->ordinal = en->ordinal;
    } else {
        if (f->ninodes == f->capinodes) {
            size_t cap = f->capinodes ? f->capinodes * 2 : 256;
            struct finode **v = realloc(f->inodes, cap * sizeof(*v));
            if (!v)
                return kiln_oom(err);
            f->inodes = v;
            f->capinodes = cap;
        }
        struct finode *ino = calloc(1, sizeof(*ino));
        if (!ino)
            return kiln_oom(err);
        f->inodes[f->ninodes++] = ino;
        ino->layer = f->li;
        ino->ordinal = en->ordinal;
        ino->h = en->h;
        ino->refs = 1;
        n->ino = ino;
    }
    memset(&en->h, 0, sizeof(en->h));
    return 0;
}

static void fents_free(struct fent *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].hardlink);
        hdr_free(&v[i].h);
    }
    free(v);
}

/* One layer into the model: its whiteouts, then its entries. */
static int model_layer(struct flat *f, struct kiln_layer *ly, struct kiln_error *err)
{
    struct lreader lr;
    if (lr_open(&lr, ly, err) < 0)
        return -1;
    struct fent *v = NULL;
    size_t n = 0, cap = 0;
    struct kiln_buf p = { 0 };
    struct kiln_strlist wh = { 0 };
    int rc = 0, r;
    struct archive_entry *e;
    for (uint64_t ord = 0; rc == 0 && (r = lr_next(&lr, &e, err)) != 0; ord++) {
        if (r < 0 || (rc = kiln_check_interrupt(err)) < 0) {
            rc = -1;
            break;
        }
        const char *name = archive_entry_pathname(e);
        if (!name || kiln_normalise_member_path(name, &p, err) < 0) {
            rc = name ? kiln_error_prefix(err, "layer %s", f->layer)
                      : kiln_fail(err, KILN_ERR_INPUT, "layer %s: an entry has no name", f->layer);
            break;
        }
        if (!p.len)
            continue; /* the root itself */
        if (is_whiteout(p.data)) {
            rc = kiln_strlist_push(&wh, p.data, err);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct fent *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                rc = kiln_oom(err);
                break;
            }
            v = nv;
        }
        struct fent *en = &v[n];
        memset(en, 0, sizeof(*en));
        en->ordinal = ord;
        bool skip;
        if (!(en->path = kiln_strdup(p.data, err)) || read_hdr(e, &en->h, &skip, err) < 0) {
            n++;
            rc = -1;
            break;
        }
        n++;
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
            struct kiln_buf t = { 0 };
            if (kiln_normalise_member_path(hl, &t, err) < 0)
                rc = kiln_error_prefix(err, "layer %s: hardlink '%s'", f->layer, p.data);
            else if (!t.len)
                rc = kiln_fail(err, KILN_ERR_INPUT, "layer %s: hardlink '%s' to the root", f->layer,
                               p.data);
            else
                en->hardlink = TAKE_PTR(t.data);
            kiln_buf_free(&t);
        } else if (skip) {
            free(en->path);
            hdr_free(&en->h);
            n--;
        }
    }
    lr_free(&lr);
    for (size_t i = 0; rc == 0 && i < wh.n; i++)
        rc = apply_whiteout(f, wh.v[i], err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = apply_entry(f, &v[i], err);
    fents_free(v, n);
    kiln_strlist_free(&wh);
    kiln_buf_free(&p);
    return rc;
}

/* ---- the second pass: the tar ---------------------------------------- */

struct event {
    size_t layer;
    uint64_t ordinal;
    size_t seq;
    struct fnode *dir;  /* a directory, or */
    struct finode *ino; /* an inode and its names */
};

struct emit {
    struct flat *f;
    struct kiln_tar_writer *w;
    struct event *ev;
    size_t nev, capev;
    size_t nlayers;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp((*(struct fnode *const *)a)->name, (*(struct fnode *const *)b)->name);
}

static int push_event(struct emit *m, struct event ev, struct kiln_error *err)
{
    if (m->nev == m->capev) {
        size_t cap = m->capev ? m->capev * 2 : 1024;
        struct event *v = realloc(m->ev, cap * sizeof(*v));
        if (!v)
            return kiln_oom(err);
        m->ev = v;
        m->capev = cap;
    }
    ev.seq = m->nev;
    m->ev[m->nev++] = ev;
    return 0;
}

/* Depth-first, siblings in byte order: each inode learns its names in path
 * order, and every directory becomes an event. */
static int collect(struct emit *m, struct fnode *d, struct kiln_error *err)
{
    size_t n = 0;
    for (struct fnode *c = d->child; c; c = c->next)
        n++;
    if (!n)
        return 0;
    struct fnode **v = calloc(n, sizeof(*v));
    if (!v)
        return kiln_oom(err);
    n = 0;
    for (struct fnode *c = d->child; c; c = c->next)
        v[n++] = c;
    qsort(v, n, sizeof(*v), name_cmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct fnode *c = v[i];
        if (c->is_dir) {
            struct event ev = { .layer = c->implicit ? m->nlayers : c->layer,
                                .ordinal = c->implicit ? 0 : c->ordinal,
                                .dir = c };
            rc = push_event(m, ev, err);
            if (rc == 0)
                rc = collect(m, c, err);
            continue;
        }
        struct finode *ino = c->ino;
        if (ino->nnames == ino->capnames) {
            size_t cap = ino->capnames ? ino->capnames * 2 : 2;
            struct fnode **nv = realloc(ino->names, cap * sizeof(*nv));
            if (!nv) {
                rc = kiln_oom(err);
                break;
            }
            ino->names = nv;
            ino->capnames = cap;
        }
        ino->names[ino->nnames++] = c;
        if (ino->nnames == 1)
            rc = push_event(
                m, (struct event){ .layer = ino->layer, .ordinal = ino->ordinal, .ino = ino }, err);
    }
    free(v);
    return rc;
}

static int event_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    if (x->ordinal != y->ordinal)
        return x->ordinal < y->ordinal ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int write_node(struct emit *m, struct fnode *n, const struct fhdr *h, const char *hardlink,
                      struct kiln_error *err);

/* A directory, after its parents. */
static int emit_dir(struct emit *m, struct fnode *d, struct kiln_error *err)
{
    if (!d->parent || d->emitted)
        return 0;
    if (emit_dir(m, d->parent, err) < 0)
        return -1;
    d->emitted = true;
    return write_node(m, d, &d->h, NULL, err);
}

static int write_node(struct emit *m, struct fnode *n, const struct fhdr *h, const char *hardlink,
                      struct kiln_error *err)
{
    if (emit_dir(m, n->parent, err) < 0)
        return -1;
    _cleanup_free_ char *path = path_of(n, err);
    if (!path)
        return -1;
    struct kiln_tar_entry e = { .path = path,
                                .type = hardlink ? KILN_TAR_HARDLINK : h->type,
                                .linkname = hardlink ? hardlink : h->linkname,
                                .mode = h->mode,
                                .uid = h->uid,
                                .gid = h->gid,
                                .mtime = h->mtime,
                                .size = hardlink ? 0 : h->size,
                                .devmajor = h->devmajor,
                                .devminor = h->devminor,
                                .xattrs = hardlink ? NULL : h->xattrs,
                                .nxattrs = hardlink ? 0 : h->nxattrs };
    n->emitted = true;
    return kiln_tar_write_header(m->w, &e, err);
}

/* The data of the current entry of a, h->size bytes (holes of a sparse
 * entry as zeros). */
static int copy_data(struct emit *m, struct lreader *lr, const struct fhdr *h, const char *name,
                     struct kiln_error *err)
{
    static const unsigned char zeros[65536];
    uint64_t at = 0;
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(lr->r.a, &buf, &len, &off)) == ARCHIVE_OK) {
        if (off < 0 || (uint64_t)off < at || (uint64_t)off + len > h->size)
            return kiln_fail(err, KILN_ERR_INPUT,
                             "layer %s: entry '%s': its data does not fit its size", lr->layer,
                             name);
        while (at < (uint64_t)off) {
            size_t k =
                (uint64_t)off - at > sizeof(zeros) ? sizeof(zeros) : (size_t)((uint64_t)off - at);
            if (kiln_tar_write_data(m->w, zeros, k, err) < 0)
                return -1;
            at += k;
        }
        if (kiln_tar_write_data(m->w, buf, len, err) < 0)
            return -1;
        at += len;
    }
    if (r != ARCHIVE_EOF)
        return lr_fail(lr, lr->r.a, err);
    while (at < h->size) {
        size_t k = h->size - at > sizeof(zeros) ? sizeof(zeros) : (size_t)(h->size - at);
        if (kiln_tar_write_data(m->w, zeros, k, err) < 0)
            return -1;
        at += k;
    }
    return kiln_tar_end_entry(m->w, err);
}

static int emit_inode(struct emit *m, struct finode *ino, struct lreader *lr,
                      struct kiln_error *err)
{
    struct fnode *first = ino->names[0];
    if (write_node(m, first, &ino->h, NULL, err) < 0)
        return -1;
    if (ino->h.type == KILN_TAR_REG && ino->h.size) {
        if (copy_data(m, lr, &ino->h, first->name, err) < 0)
            return -1;
    } else if (kiln_tar_end_entry(m->w, err) < 0)
        return -1;
    if (ino->nnames < 2)
        return 0;
    _cleanup_free_ char *target = path_of(first, err);
    if (!target)
        return -1;
    for (size_t i = 1; i < ino->nnames; i++)
        if (write_node(m, ino->names[i], &ino->h, target, err) < 0 ||
            kiln_tar_end_entry(m->w, err) < 0)
            return -1;
    return 0;
}

/* Reads what is left of a layer (its digest is checked at the end). */
static int lr_finish(struct lreader *lr, struct kiln_error *err)
{
    struct archive_entry *e;
    int r;
    while ((r = lr_next(lr, &e, err)) == 1)
        ;
    lr_free(lr);
    return r;
}

static void flat_free(struct flat *f)
{
    for (struct fnode *c = f->root.child, *nx; c; c = nx) {
        nx = c->next;
        free_subtree(f, c, false);
    }
    for (size_t i = 0; i < f->ninodes; i++) {
        hdr_free(&f->inodes[i]->h);
        free(f->inodes[i]->names);
        free(f->inodes[i]);
    }
    free(f->inodes);
    free(f->buckets);
}

int kiln_flatten_write(struct kiln_src *s, struct kiln_tar_writer *w, struct kiln_error *err)
{
    struct kiln_image *im = &s->images[0];
    struct flat f = { 0 };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < im->nlayers; i++) {
        f.li = i;
        f.layer = im->layers[i].digest;
        rc = kiln_layer_fetch(&im->layers[i], err);
        if (rc == 0)
            rc = model_layer(&f, &im->layers[i], err);
    }
    struct emit m = { .f = &f, .w = w, .nlayers = im->nlayers };
    if (rc == 0)
        rc = collect(&m, &f.root, err);
    if (rc == 0 && m.nev > 1)
        qsort(m.ev, m.nev, sizeof(*m.ev), event_cmp);
    struct lreader lr = { .r.fd = -1 };
    size_t open_layer = SIZE_MAX;
    uint64_t at = 0; /* the ordinal of the next entry of open_layer */
    for (size_t i = 0; rc == 0 && i < m.nev; i++) {
        struct event *ev = &m.ev[i];
        if (ev->dir) {
            rc = emit_dir(&m, ev->dir, err);
            continue;
        }
        struct finode *ino = ev->ino;
        if (!(ino->h.type == KILN_TAR_REG && ino->h.size)) {
            rc = emit_inode(&m, ino, NULL, err);
            continue;
        }
        if (open_layer != ino->layer) {
            if (open_layer != SIZE_MAX && (rc = lr_finish(&lr, err)) < 0)
                break;
            f.layer = im->layers[ino->layer].digest;
            if ((rc = lr_open(&lr, &im->layers[ino->layer], err)) < 0)
                break;
            open_layer = ino->layer;
            at = 0;
        }
        struct archive_entry *e = NULL;
        while (rc == 0 && at <= ino->ordinal) {
            int r = lr_next(&lr, &e, err);
            if (r <= 0)
                rc = r < 0 ? -1
                           : kiln_fail(err, KILN_ERR_INPUT,
                                       "layer %s changed while it was read: entry %llu is gone",
                                       f.layer, (unsigned long long)ino->ordinal);
            at++;
        }
        if (rc == 0 && (rc = kiln_check_interrupt(err)) == 0)
            rc = emit_inode(&m, ino, &lr, err);
    }
    if (open_layer != SIZE_MAX) {
        if (rc == 0)
            rc = lr_finish(&lr, err);
        else
            lr_free(&lr);
    }
    free(m.ev);
    flat_free(&f);
    return rc;
}

int kiln_flatten_src_to_fd(struct kiln_src *s, int fd, const char *what, struct kiln_error *err)
{
    struct kiln_fd_sink out;
    kiln_fd_sink_init(&out, fd, what);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &out.sink);
    int rc = kiln_flatten_write(s, &w, err);
    if (rc == 0)
        rc = kiln_tar_finish(&w, err);
    if (rc == 0)
        rc = kiln_sink_finish(&out.sink, err);
    return rc;
}

int kiln_export(const char *ref, const char *dest, const char *platform,
                const struct kiln_remote_opts *o, struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    bool to_stdout = !dest || !strcmp(dest, "-");
    struct kiln_held held = KILN_HELD_INIT;
    if (!to_stdout) {
        struct stat st;
        if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "export: -o %s is a directory; name the tar file to write", dest);
        if (kiln_held_beside(dest, false, &held, err) < 0)
            return kiln_error_prefix(err, "export: -o %s", dest);
    }
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    struct kiln_src *s = NULL;
    int rc = kiln_src_open_ex(ref, platform, KILN_SRC_HOST_DEFAULT, &ro, &s, err);
    if (rc == 0) {
        rc = kiln_flatten_src_to_fd(s, to_stdout ? STDOUT_FILENO : held.fd,
                                    to_stdout ? "standard output" : dest, err);
        if (rc < 0 && !to_stdout)
            kiln_error_prefix(err, "export %s", ref);
    }
    kiln_src_free(s);
    if (!to_stdout) {
        if (rc == 0 && (fchmod(held.fd, 0644) < 0 || fsync(held.fd) < 0))
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "export: -o %s", dest);
        if (rc == 0 && rename(held.path, dest) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "export: cannot rename to %s", dest);
        kiln_held_release(&held, rc < 0);
    }
    return rc;
}
