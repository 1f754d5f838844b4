/*
 * Changesets: the layer that turns the tree OLD into the tree NEW (OCI
 * image-spec, layer.md), for `kiln diff` and `kiln build --diff`.
 *
 * Both trees are walked together, depth-first with each directory's names
 * sorted bytewise, as kiln_layer_from_tree walks one (whose building blocks
 * write the entries: same metadata, xattrs, clamping, hardlinks, errors):
 *
 *  - in OLD only: a whiteout DIR/.wh.NAME for the top removed path alone;
 *  - in NEW only: the entry, and a directory's whole subtree;
 *  - in both, same type: the entry if its metadata (mode, owner, mtime as it
 *    would be written, xattrs when kept, symlink target, device numbers,
 *    size) or, for files of equal size, its content differs, byte by byte;
 *    a directory is also written, with NEW's metadata, before anything that
 *    changed below it (as docker does), and is always descended into;
 *  - in both, another type: the new entry (and subtree), no whiteout: the
 *    spec removes the lower path for any entry but a directory over a
 *    directory, and overlayfs hides a lower path under a non-directory, or a
 *    lower non-directory under a directory;
 *  - a directory in both whose OLD children all went while NEW has children
 *    gets one opaque marker DIR/.wh..wh..opq instead of a whiteout each.
 *
 * Whiteouts and the opaque marker come first in their directory, whatever
 * their names sort like ("-x" sorts before ".wh.x"), then the other
 * children. They are written as docker and containerd write them: empty
 * regular files, mode 0, owner 0:0; their mtime is that of the NEW directory
 * holding them (clamped like every mtime), so that equal trees give equal
 * bytes. Sockets cannot be in a layer: one in OLD counts as absent, one that
 * NEW adds is skipped with a warning.
 *
 * Hardlinks: an inode linked at several NEW paths is written whole or not at
 * all, so that the group survives in the upper layer: first at its first
 * path, then as links to it. A group is written when any member changed or
 * was added, or when the paths sharing the inode are not the same as in OLD
 * (files linked or unlinked). Two scans list the hardlinked paths of each
 * tree beforehand; memory follows the number of hardlinked files, and
 * otherwise the depth and width of the trees; no file content is held.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tar.h"

#define CMP_CHUNK (256 * 1024)
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* ---- hardlinked paths of a tree ---------------------------------------- */

struct lgroup {
    size_t first, n; /* members: links.v[first .. first+n) */
    int state;       /* 0 unknown; NEW: 1 unchanged, 2 written; OLD: 1 kept, 2 split */
};
struct lent {
    dev_t dev;
    ino_t ino;
    char *path;
    struct lgroup *g; /* NULL: the only path of its inode in the tree */
};
struct links {
    struct lent *v;
    size_t n, cap;
    struct lgroup *groups;
    size_t ngroups;
    struct lent **bypath; /* members of groups, by strcmp of path */
    size_t nbypath;
};

static void links_free(struct links *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    free(l->groups);
    free(l->bypath);
}

static int lent_inode_cmp(const void *a, const void *b)
{
    const struct lent *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return kiln_tar_path_cmp(x->path, y->path); /* walk order */
}

static int lent_path_cmp(const void *a, const void *b)
{
    return strcmp((*(struct lent *const *)a)->path, (*(struct lent *const *)b)->path);
}

static int path_key_cmp(const void *key, const void *b)
{
    return strcmp(key, (*(struct lent *const *)b)->path);
}

static struct lent *links_find(const struct links *l, const char *path)
{
    if (!l->nbypath)
        return NULL;
    struct lent **e = bsearch(path, l->bypath, l->nbypath, sizeof(*l->bypath), path_key_cmp);
    return e ? *e : NULL;
}

/* Opens the directory abs, for fstatat of its entries: relative to an open
 * directory, pseudo resolves only the last component of each path. */
static int open_dir(const char *abs, struct kiln_error *err)
{
    int fd = open(abs, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot open directory", abs);
    return fd;
}

static int stat_at(int dfd, const char *name, const char *abs, struct stat *st,
                   struct kiln_error *err)
{
    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    return kiln_fail_errno(err, KILN_ERR_INPUT, errno,
                           errno == ENOENT ? "%s: vanished while the tree was read" : "%s", abs);
}

/* Records every non-directory with more than one link below abs. */
static int links_scan(struct links *l, const char *abs, const char *rel, struct kiln_error *err)
{
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    _cleanup_close_ int dfd = open_dir(abs, err);
    int rc = dfd < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *cabs = kiln_path_join(abs, names[i], err);
        _cleanup_free_ char *crel = *rel ? kiln_path_join(rel, names[i], err)
                                         : kiln_strdup(names[i], err);
        struct stat st;
        if (!cabs || !crel || stat_at(dfd, names[i], cabs, &st, err) < 0)
            rc = -1;
        else if (S_ISDIR(st.st_mode))
            rc = links_scan(l, cabs, crel, err);
        else if (st.st_nlink > 1 && !S_ISSOCK(st.st_mode)) {
            if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 64;
                struct lent *nv = realloc(l->v, ncap * sizeof(*nv));
                if (!nv) {
                    rc = kiln_oom(err);
                    break;
                }
                l->v = nv;
                l->cap = ncap;
            }
            l->v[l->n++] = (struct lent){st.st_dev, st.st_ino, TAKE_PTR(crel), NULL};
        }
        if (rc == 0)
            rc = kiln_check_interrupt(err);
    }
    kiln_walk_names_free(names, n);
    return rc;
}

/* Groups the paths found by inode; an inode met once is no group. */
static int links_index(struct links *l, struct kiln_error *err)
{
    if (l->n < 2)
        return 0;
    qsort(l->v, l->n, sizeof(*l->v), lent_inode_cmp);
    size_t ng = 0, nm = 0;
    for (size_t i = 0, j; i < l->n; i = j) {
        for (j = i + 1; j < l->n && l->v[j].dev == l->v[i].dev && l->v[j].ino == l->v[i].ino; j++)
            ;
        if (j - i > 1) {
            ng++;
            nm += j - i;
        }
    }
    if (!ng)
        return 0;
    l->groups = calloc(ng, sizeof(*l->groups));
    l->bypath = calloc(nm, sizeof(*l->bypath));
    if (!l->groups || !l->bypath)
        return kiln_oom(err);
    for (size_t i = 0, j; i < l->n; i = j) {
        for (j = i + 1; j < l->n && l->v[j].dev == l->v[i].dev && l->v[j].ino == l->v[i].ino; j++)
            ;
        if (j - i < 2)
            continue;
        struct lgroup *g = &l->groups[l->ngroups++];
        *g = (struct lgroup){.first = i, .n = j - i};
        for (size_t k = i; k < j; k++) {
            l->v[k].g = g;
            l->bypath[l->nbypath++] = &l->v[k];
        }
    }
    qsort(l->bypath, l->nbypath, sizeof(*l->bypath), lent_path_cmp);
    return 0;
}

/* ---- the walk ----------------------------------------------------------- */

struct diff {
    const struct kiln_layer_opts *o;
    struct kiln_tar_writer *w;
    struct kiln_walk *wk;
    const char *old_root, *new_root;
    unsigned char *buf_old, *buf_new; /* CMP_CHUNK each */
    struct links old_links, new_links;
};

/* A directory of NEW on the way down; written when something below is. */
struct level {
    const char *abs, *rel;
    struct stat st;
    bool written;
    struct level *up;
};

struct child {
    char *name;
    struct stat st;
};

static int64_t out_mtime(const struct kiln_layer_opts *o, const struct stat *st)
{
    int64_t t = st->st_mtime;
    return o->clamp_mtime && t > o->clamp_to ? o->clamp_to : t;
}

/* Writes the directories above that are not written yet, outermost first. */
static int flush(struct diff *d, struct level *lv, struct kiln_error *err)
{
    if (!lv || lv->written)
        return 0;
    if (flush(d, lv->up, err) < 0)
        return -1;
    lv->written = true;
    return kiln_walk_emit(d->wk, lv->abs, lv->rel, &lv->st, err);
}

/* An empty regular file named DIR/LEAF, mode 0, owner 0:0 (a whiteout). */
static int write_marker(struct diff *d, const struct level *lv, const char *name, bool opaque,
                        struct kiln_error *err)
{
    struct kiln_buf p = {0};
    int rc = kiln_buf_printf(&p, err, "%s%s%s%s", lv->rel, *lv->rel ? "/" : "",
                             opaque ? WH_OPAQUE : WH_PREFIX, opaque ? "" : name);
    if (rc == 0) {
        struct kiln_tar_entry e = {.path = p.data, .type = KILN_TAR_REG, .mode = 0,
                                   .mtime = out_mtime(d->o, &lv->st)};
        rc = kiln_tar_write_header(d->w, &e, err);
        if (rc == 0)
            rc = kiln_tar_end_entry(d->w, err);
    }
    kiln_buf_free(&p);
    return rc;
}

static void children_free(struct child *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        free(c[i].name);
    free(c);
}

/* The entries of a directory with their lstat, sorted by name. */
static int list_children(const char *abs, struct child **out, size_t *nout,
                         struct kiln_error *err)
{
    *out = NULL;
    *nout = 0;
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    struct child *c = calloc(n ? n : 1, sizeof(*c));
    if (!c) {
        kiln_walk_names_free(names, n);
        return kiln_oom(err);
    }
    for (size_t i = 0; i < n; i++)
        c[i].name = names[i];
    free(names);
    _cleanup_close_ int dfd = open_dir(abs, err);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = dfd < 0 ? NULL : kiln_path_join(abs, c[i].name, err);
        if (!p || stat_at(dfd, c[i].name, p, &c[i].st, err) < 0) {
            children_free(c, n);
            return -1;
        }
    }
    if (dfd < 0) {
        children_free(c, n);
        return -1;
    }
    *out = c;
    *nout = n;
    return 0;
}

static int open_same(const char *path, const struct stat *st, struct kiln_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot open", path);
    struct stat fst;
    if (fstat(fd, &fst) < 0) {
        int e = errno;
        close(fd);
        return kiln_fail_errno(err, KILN_ERR_INPUT, e, "%s", path);
    }
    if (fst.st_ino != st->st_ino || fst.st_dev != st->st_dev || !S_ISREG(fst.st_mode)) {
        close(fd);
        return kiln_fail(err, KILN_ERR_INPUT, "%s: file was replaced while it was read", path);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return fd;
}

/* Reads up to n bytes (fewer only at the end of the file). */
static ssize_t read_full(int fd, unsigned char *buf, size_t n, const char *path,
                         struct kiln_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR && kiln_check_interrupt(err) < 0)
                return -1;
            if (errno == EINTR)
                continue;
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: read failed", path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Compares two regular files of the same size (st_size of both), byte by byte. */
static int contents_differ(struct diff *d, const char *oabs, const struct stat *ost,
                           const char *nabs, const struct stat *nst, bool *out,
                           struct kiln_error *err)
{
    *out = false;
    _cleanup_close_ int fo = open_same(oabs, ost, err);
    if (fo < 0)
        return -1;
    _cleanup_close_ int fn = open_same(nabs, nst, err);
    if (fn < 0)
        return -1;
    const char *paths[2] = {oabs, nabs};
    int fds[2] = {fo, fn};
    unsigned char *bufs[2] = {d->buf_old, d->buf_new};
    uint64_t left = (uint64_t)nst->st_size;
    while (left) {
        size_t want = left < CMP_CHUNK ? (size_t)left : CMP_CHUNK;
        for (int k = 0; k < 2; k++) {
            ssize_t r = read_full(fds[k], bufs[k], want, paths[k], err);
            if (r < 0)
                return -1;
            if ((size_t)r < want)
                return kiln_fail(err, KILN_ERR_INPUT,
                                 "%s: file shrank while it was read (%llu bytes missing); stop "
                                 "whatever is writing to the tree and build again",
                                 paths[k], (unsigned long long)(left - (uint64_t)r));
        }
        if (memcmp(bufs[0], bufs[1], want)) {
            *out = true;
            return 0;
        }
        left -= want;
        if (kiln_check_interrupt(err) < 0)
            return -1;
    }
    for (int k = 0; k < 2; k++) {
        ssize_t r = read_full(fds[k], bufs[k], 1, paths[k], err);
        if (r < 0)
            return -1;
        if (r > 0)
            return kiln_fail(err, KILN_ERR_INPUT,
                             "%s: file grew while it was read; stop whatever is writing to "
                             "the tree and build again",
                             paths[k]);
    }
    return 0;
}

static int xattrs_differ(const char *oabs, const char *nabs, bool *out, struct kiln_error *err)
{
    struct kiln_xattr *xo = NULL, *xn = NULL;
    size_t no = 0, nn = 0;
    if (kiln_walk_read_xattrs(oabs, &xo, &no, err) < 0)
        return -1;
    if (kiln_walk_read_xattrs(nabs, &xn, &nn, err) < 0) {
        kiln_xattrs_free(xo, no);
        return -1;
    }
    *out = no != nn;
    for (size_t i = 0; !*out && i < no; i++)
        *out = strcmp(xo[i].name, xn[i].name) || xo[i].len != xn[i].len ||
               (xo[i].len && memcmp(xo[i].value, xn[i].value, xo[i].len));
    kiln_xattrs_free(xo, no);
    kiln_xattrs_free(xn, nn);
    return 0;
}

/* Whether two entries of the same type would be written differently. */
static int entry_differs(struct diff *d, const char *oabs, const struct stat *ost,
                         const char *nabs, const struct stat *nst, bool *out,
                         struct kiln_error *err)
{
    *out = false;
    if (ost->st_dev == nst->st_dev && ost->st_ino == nst->st_ino)
        return 0; /* the same inode (trees sharing files, cp -al) */
    if ((ost->st_mode & 07777) != (nst->st_mode & 07777) || ost->st_uid != nst->st_uid ||
        ost->st_gid != nst->st_gid || out_mtime(d->o, ost) != out_mtime(d->o, nst)) {
        *out = true;
        return 0;
    }
    switch (nst->st_mode & S_IFMT) {
    case S_IFREG:
        *out = ost->st_size != nst->st_size;
        break;
    case S_IFCHR:
    case S_IFBLK:
        *out = ost->st_rdev != nst->st_rdev;
        break;
    case S_IFLNK: {
        char *to = kiln_walk_readlink(oabs, ost, err);
        if (!to)
            return -1;
        char *tn = kiln_walk_readlink(nabs, nst, err);
        if (!tn) {
            free(to);
            return -1;
        }
        *out = strcmp(to, tn) != 0;
        free(to);
        free(tn);
        break;
    }
    default:
        break;
    }
    if (!*out && d->o->xattrs && xattrs_differ(oabs, nabs, out, err) < 0)
        return -1;
    if (!*out && S_ISREG(nst->st_mode))
        return contents_differ(d, oabs, ost, nabs, nst, out, err);
    return 0;
}

/* lstat that tells absence (ENOENT, ENOTDIR) from failure: 1 found, 0 absent. */
static int lstat_opt(const char *path, struct stat *st, struct kiln_error *err)
{
    if (lstat(path, st) == 0)
        return 1;
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", path);
}

/* Whether the walk would write NEW's rel (a non-directory) on its own
 * account: it is under an added or replaced directory, or new, or changed. */
static int member_changed(struct diff *d, const char *rel, bool *out, struct kiln_error *err)
{
    *out = true;
    _cleanup_free_ char *pre = kiln_strdup(rel, err);
    if (!pre)
        return -1;
    struct stat ost, nst;
    for (char *s = strchr(pre, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        _cleanup_free_ char *p = kiln_path_join(d->old_root, pre, err);
        *s = '/';
        if (!p)
            return -1;
        int f = lstat_opt(p, &ost, err);
        if (f < 0)
            return -1;
        if (!f || !S_ISDIR(ost.st_mode))
            return 0;
    }
    _cleanup_free_ char *oabs = kiln_path_join(d->old_root, rel, err);
    _cleanup_free_ char *nabs = kiln_path_join(d->new_root, rel, err);
    if (!oabs || !nabs)
        return -1;
    int f = lstat_opt(oabs, &ost, err);
    if (f < 0)
        return -1;
    if (!f || S_ISSOCK(ost.st_mode))
        return 0;
    if (lstat(nabs, &nst) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno,
                               errno == ENOENT ? "%s: vanished while the tree was read" : "%s",
                               nabs);
    if ((ost.st_mode & S_IFMT) != (nst.st_mode & S_IFMT))
        return 0;
    return entry_differs(d, oabs, &ost, nabs, &nst, out, err);
}

/* Whether the OLD paths of an OLD group that are still non-directories in
 * NEW no longer all share one inode there. */
static int old_group_split(struct diff *d, struct lgroup *og, bool *out, struct kiln_error *err)
{
    if (!og->state) {
        const void *first = NULL;
        bool split = false;
        for (size_t i = 0; !split && i < og->n; i++) {
            struct lent *m = &d->old_links.v[og->first + i];
            _cleanup_free_ char *nabs = kiln_path_join(d->new_root, m->path, err);
            if (!nabs)
                return -1;
            struct stat nst;
            int f = lstat_opt(nabs, &nst, err);
            if (f < 0)
                return -1;
            if (!f || S_ISDIR(nst.st_mode) || S_ISSOCK(nst.st_mode))
                continue;
            struct lent *ne = links_find(&d->new_links, m->path);
            const void *token = ne ? (const void *)ne->g : (const void *)m;
            if (!first)
                first = token;
            else if (token != first)
                split = true;
        }
        og->state = split ? 2 : 1;
    }
    *out = og->state == 2;
    return 0;
}

/* Whether a NEW hardlink group is written (then every member is). */
static int new_group_written(struct diff *d, struct lgroup *g, bool *out, struct kiln_error *err)
{
    if (!g->state) {
        bool changed = false;
        struct lgroup *og = NULL;
        for (size_t i = 0; !changed && i < g->n; i++) {
            const char *path = d->new_links.v[g->first + i].path;
            if (member_changed(d, path, &changed, err) < 0)
                return -1;
            if (changed)
                break;
            struct lent *oe = links_find(&d->old_links, path);
            if (!oe || (og && oe->g != og))
                changed = true; /* linked in NEW, not (so) in OLD */
            og = oe ? oe->g : NULL;
        }
        if (!changed && old_group_split(d, og, &changed, err) < 0)
            return -1;
        g->state = changed ? 2 : 1;
    }
    *out = g->state == 2;
    return 0;
}

/* Whether a non-directory in both trees, of the same type, is written. */
static int file_written(struct diff *d, const char *oabs, const struct stat *ost,
                        const char *nabs, const char *rel, const struct stat *nst, bool *out,
                        struct kiln_error *err)
{
    if (nst->st_nlink > 1) {
        struct lent *ne = links_find(&d->new_links, rel);
        if (ne)
            return new_group_written(d, ne->g, out, err);
    }
    if (entry_differs(d, oabs, ost, nabs, nst, out, err) < 0)
        return -1;
    if (!*out && ost->st_nlink > 1) {
        struct lent *oe = links_find(&d->old_links, rel);
        if (oe)
            return old_group_split(d, oe->g, out, err); /* unlinked in NEW */
    }
    return 0;
}

/* A NEW entry written whole: itself and, for a directory, all below. */
static int add_entry(struct diff *d, const char *abs, const char *rel, const struct stat *st,
                     struct kiln_error *err)
{
    if (kiln_walk_emit(d->wk, abs, rel, st, err) < 0)
        return -1;
    return S_ISDIR(st->st_mode) ? kiln_walk_tree(d->wk, abs, rel, err) : 0;
}

static int diff_dir(struct diff *d, const char *oabs, struct level *lv, struct kiln_error *err);

/* One name of a directory present in both trees (oc NULL: not in OLD). */
static int diff_child(struct diff *d, const char *oabs, struct level *lv, const struct child *oc,
                      const struct child *nc, struct kiln_error *err)
{
    _cleanup_free_ char *cn = kiln_path_join(lv->abs, nc->name, err);
    _cleanup_free_ char *crel = *lv->rel ? kiln_path_join(lv->rel, nc->name, err)
                                         : kiln_strdup(nc->name, err);
    _cleanup_free_ char *co = kiln_path_join(oabs, nc->name, err);
    if (!cn || !crel || !co)
        return -1;
    const struct stat *nst = &nc->st;
    if (S_ISSOCK(nst->st_mode)) /* warns, unless OLD had the socket too */
        return oc && S_ISSOCK(oc->st.st_mode) ? 0 : kiln_walk_emit(d->wk, cn, crel, nst, err);
    if (!oc || S_ISSOCK(oc->st.st_mode) ||
        (oc->st.st_mode & S_IFMT) != (nst->st_mode & S_IFMT)) {
        if (flush(d, lv, err) < 0)
            return -1;
        return add_entry(d, cn, crel, nst, err);
    }
    bool changed;
    if (S_ISDIR(nst->st_mode)) {
        struct level cl = {.abs = cn, .rel = crel, .st = *nst, .up = lv};
        if (entry_differs(d, co, &oc->st, cn, nst, &changed, err) < 0 ||
            (changed && flush(d, &cl, err) < 0))
            return -1;
        return diff_dir(d, co, &cl, err);
    }
    if (file_written(d, co, &oc->st, cn, crel, nst, &changed, err) < 0)
        return -1;
    if (!changed)
        return 0;
    if (flush(d, lv, err) < 0)
        return -1;
    return kiln_walk_emit(d->wk, cn, crel, nst, err);
}

/* A directory in both trees: oabs in OLD, lv in NEW. */
static int diff_dir(struct diff *d, const char *oabs, struct level *lv, struct kiln_error *err)
{
    struct child *oc = NULL, *nc = NULL;
    size_t on = 0, nn = 0;
    ssize_t *match = NULL; /* for each NEW child, its OLD child or -1 */
    int rc = list_children(oabs, &oc, &on, err);
    if (rc == 0)
        rc = list_children(lv->abs, &nc, &nn, err);
    if (rc == 0 && !(match = calloc(nn ? nn : 1, sizeof(*match))))
        rc = kiln_oom(err);
    if (rc < 0)
        goto out;

    /* Which names are in both, and the opaque case: none of OLD's (sockets
     * aside) survive, and NEW has some. */
    size_t old_live = 0, new_live = 0, survivors = 0;
    for (size_t i = 0, j = 0; j < nn; j++) {
        int c = 1;
        while (i < on && (c = strcmp(oc[i].name, nc[j].name)) < 0)
            i++;
        match[j] = i < on && c == 0 ? (ssize_t)i : -1;
        if (!S_ISSOCK(nc[j].st.st_mode)) {
            new_live++;
            if (match[j] >= 0 && !S_ISSOCK(oc[i].st.st_mode))
                survivors++;
        }
    }
    for (size_t i = 0; i < on; i++)
        old_live += !S_ISSOCK(oc[i].st.st_mode);

    if (old_live && new_live && !survivors) {
        rc = flush(d, lv, err);
        if (rc == 0)
            rc = write_marker(d, lv, NULL, true, err);
        for (size_t j = 0; rc == 0 && j < nn; j++) {
            _cleanup_free_ char *cn = kiln_path_join(lv->abs, nc[j].name, err);
            _cleanup_free_ char *crel = *lv->rel ? kiln_path_join(lv->rel, nc[j].name, err)
                                                 : kiln_strdup(nc[j].name, err);
            rc = cn && crel ? add_entry(d, cn, crel, &nc[j].st, err) : -1;
        }
        goto out;
    }

    /* Whiteouts first: for OLD names that NEW lacks (or has as a socket). */
    for (size_t i = 0, j = 0; rc == 0 && i < on; i++) {
        if (S_ISSOCK(oc[i].st.st_mode))
            continue;
        int c = 1;
        while (j < nn && (c = strcmp(nc[j].name, oc[i].name)) < 0)
            j++;
        if (j < nn && c == 0 && !S_ISSOCK(nc[j].st.st_mode))
            continue;
        rc = flush(d, lv, err);
        if (rc == 0)
            rc = write_marker(d, lv, oc[i].name, false, err);
    }
    for (size_t j = 0; rc == 0 && j < nn; j++) {
        rc = diff_child(d, oabs, lv, match[j] >= 0 ? &oc[match[j]] : NULL, &nc[j], err);
        if (rc == 0)
            rc = kiln_check_interrupt(err);
    }
out:
    children_free(oc, on);
    children_free(nc, nn);
    free(match);
    return rc;
}

static int check_root(const char *dir, const char *what, struct stat *st, struct kiln_error *err)
{
    if (stat(dir, st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s tree %s", what, dir);
    if (!S_ISDIR(st->st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "%s tree %s: not a directory", what, dir);
    return 0;
}

int kiln_layer_from_diff(const char *old_dir, const char *new_dir, const struct kiln_layer_opts *o,
                         struct kiln_tar_writer *w, struct kiln_error *err)
{
    if (o->map || o->prefix || o->force_owner || o->force_mode)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "a changeset is written as the trees are: no layer map, destination, "
                         "owner or mode can apply to it");
    struct stat ost, nst;
    if (check_root(old_dir, "old", &ost, err) < 0 || check_root(new_dir, "new", &nst, err) < 0)
        return -1;
    struct diff d = {.o = o, .w = w, .old_root = old_dir, .new_root = new_dir};
    int rc = -1;
    if (!(d.wk = kiln_walk_new(o, w, err)) || !(d.buf_old = kiln_xmalloc(CMP_CHUNK, err)) ||
        !(d.buf_new = kiln_xmalloc(CMP_CHUNK, err)))
        goto out;
    if (links_scan(&d.old_links, old_dir, "", err) < 0 ||
        links_index(&d.old_links, err) < 0 || links_scan(&d.new_links, new_dir, "", err) < 0 ||
        links_index(&d.new_links, err) < 0)
        goto out;
    struct level root = {.abs = new_dir, .rel = "", .st = nst, .written = true};
    rc = diff_dir(&d, old_dir, &root, err);
out:
    kiln_walk_free(d.wk);
    free(d.buf_old);
    free(d.buf_new);
    links_free(&d.old_links);
    links_free(&d.new_links);
    return rc;
}
