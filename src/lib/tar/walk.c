/*
 * A directory tree as one layer. The walk is depth-first with the names of
 * each directory sorted bytewise, so parents precede children and the order
 * never depends on readdir. Only one directory's names are held per level, so
 * memory follows the depth and width of the tree, not its size.
 *
 * Metadata comes from libc (lstat, readlink, llistxattr, lgetxattr, open,
 * read) so that pseudo and fakeroot, which work by LD_PRELOAD, are seen.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layermap.h"

#define READ_CHUNK (1024 * 1024)

struct inode_key {
    dev_t dev;
    ino_t ino;
    char *path; /* archive path of the first occurrence */
};

struct walk {
    const struct kiln_layer_opts *o;
    struct kiln_tar_writer *w;
    const char *root;
    unsigned char *buf;
    /* open-addressing hash of hardlinked inodes (st_nlink > 1) */
    struct inode_key *links;
    size_t nlinks, caplinks;
    struct kiln_layer_map *map; /* NULL: one layer of everything */
    unsigned layer;             /* the map's layer being written */
    bool scan;                  /* only learn the map's assignments */
};

static void warn(const struct kiln_layer_opts *o, const char *fmt, ...) KILN_PRINTF(2, 3);
static void warn(const struct kiln_layer_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(o->log, o->log_userdata, KILN_LOG_WARNING, fmt, ap);
    va_end(ap);
}

static size_t inode_hash(dev_t d, ino_t i)
{
    uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL ^ (uint64_t)d * 0xc2b2ae3d27d4eb4fULL;
    return (size_t)(h ^ (h >> 29));
}

/* Returns the first path of this inode, or records path and returns NULL. */
static int link_lookup(struct walk *wk, const struct stat *st, const char *path,
                       const char **first, struct kiln_error *err)
{
    *first = NULL;
    if (wk->nlinks * 2 >= wk->caplinks) {
        size_t ncap = wk->caplinks ? wk->caplinks * 2 : 256;
        struct inode_key *n = calloc(ncap, sizeof(*n));
        if (!n)
            return kiln_oom(err);
        for (size_t i = 0; i < wk->caplinks; i++) {
            if (!wk->links[i].path)
                continue;
            size_t j = inode_hash(wk->links[i].dev, wk->links[i].ino) & (ncap - 1);
            while (n[j].path)
                j = (j + 1) & (ncap - 1);
            n[j] = wk->links[i];
        }
        free(wk->links);
        wk->links = n;
        wk->caplinks = ncap;
    }
    size_t j = inode_hash(st->st_dev, st->st_ino) & (wk->caplinks - 1);
    while (wk->links[j].path) {
        if (wk->links[j].dev == st->st_dev && wk->links[j].ino == st->st_ino) {
            *first = wk->links[j].path;
            return 0;
        }
        j = (j + 1) & (wk->caplinks - 1);
    }
    char *p = kiln_strdup(path, err);
    if (!p)
        return -1;
    wk->links[j] = (struct inode_key){st->st_dev, st->st_ino, p};
    wk->nlinks++;
    return 0;
}

static int xattr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kiln_xattr *)a)->name, ((const struct kiln_xattr *)b)->name);
}

/* Reads the extended attributes of path, sorted by name. security.selinux is
 * host policy, not image content, and is left out. */
int kiln_walk_read_xattrs(const char *path, struct kiln_xattr **out, size_t *nout,
                          struct kiln_error *err)
{
    *out = NULL;
    *nout = 0;
    ssize_t len = llistxattr(path, NULL, 0);
    if (len < 0) {
        if (errno == ENOTSUP || errno == ENOSYS)
            return 0;
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot list xattrs", path);
    }
    if (len == 0)
        return 0;
    _cleanup_free_ char *names = kiln_xmalloc((size_t)len, err);
    if (!names)
        return -1;
    len = llistxattr(path, names, (size_t)len);
    if (len < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot list xattrs", path);
    size_t count = 0;
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1)
        count++;
    struct kiln_xattr *x = calloc(count ? count : 1, sizeof(*x));
    if (!x)
        return kiln_oom(err);
    size_t n = 0;
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1) {
        const char *name = names + i;
        if (!*name || !strcmp(name, "security.selinux"))
            continue;
        ssize_t vlen = lgetxattr(path, name, NULL, 0);
        if (vlen < 0) {
            if (errno == ENODATA)
                continue;
            kiln_xattrs_free(x, n);
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot read xattr %s", path,
                                   name);
        }
        x[n].name = kiln_strdup(name, err);
        x[n].value = kiln_xmalloc((size_t)vlen, err);
        if (!x[n].name || !x[n].value) {
            kiln_xattrs_free(x, n + 1);
            return -1;
        }
        vlen = lgetxattr(path, name, x[n].value, (size_t)vlen);
        if (vlen < 0) {
            kiln_xattrs_free(x, n + 1);
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot read xattr %s", path,
                                   name);
        }
        x[n].len = (size_t)vlen;
        n++;
    }
    if (n > 1)
        qsort(x, n, sizeof(*x), xattr_cmp);
    *out = x;
    *nout = n;
    return 0;
}

static int write_file_data(struct walk *wk, const char *path, const struct stat *st,
                           struct kiln_error *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot open", path);
    struct stat fst;
    if (fstat(fd, &fst) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", path);
    if (fst.st_ino != st->st_ino || fst.st_dev != st->st_dev || !S_ISREG(fst.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "%s: file was replaced while it was read", path);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t left = (uint64_t)st->st_size;
    while (left) {
        size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
        ssize_t r = read(fd, wk->buf, want);
        if (r < 0) {
            if (errno == EINTR && kiln_check_interrupt(err) < 0)
                return -1;
            if (errno == EINTR)
                continue;
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: read failed", path);
        }
        if (r == 0)
            return kiln_fail(err, KILN_ERR_INPUT,
                             "%s: file shrank while it was read (%llu bytes missing); "
                             "stop whatever is writing to the tree and build again",
                             path, (unsigned long long)left);
        if (kiln_tar_write_data(wk->w, wk->buf, (size_t)r, err) < 0 ||
            kiln_check_interrupt(err) < 0)
            return -1;
        left -= (uint64_t)r;
    }
    /* Anything beyond the size announced in the header means the file grew. */
    ssize_t r;
    do
        r = read(fd, wk->buf, 1);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: file grew while it was read; stop whatever is writing to the "
                         "tree and build again",
                         path);
    return kiln_tar_end_entry(wk->w, err);
}

char *kiln_walk_readlink(const char *abs, const struct stat *st, struct kiln_error *err)
{
    size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
    for (;;) {
        char *target = kiln_xmalloc(cap, err);
        if (!target)
            return NULL;
        ssize_t n = readlink(abs, target, cap);
        if (n < 0) {
            int e2 = errno;
            free(target);
            kiln_fail_errno(err, KILN_ERR_INPUT, e2, "%s: cannot read link", abs);
            return NULL;
        }
        if ((size_t)n < cap) {
            target[n] = '\0';
            return target;
        }
        free(target);
        cap *= 2;
    }
}

static int emit_at(struct walk *wk, const char *abs, const char *rel, const struct stat *st,
                   struct kiln_error *err);

static int emit(struct walk *wk, const char *abs, const char *rel, const struct stat *st,
                struct kiln_error *err)
{
    if (kiln_check_interrupt(err) < 0)
        return -1;
    if (!wk->o->prefix)
        return emit_at(wk, abs, rel, st, err);
    _cleanup_free_ char *p = *rel ? kiln_path_join(wk->o->prefix, rel, err)
                                  : kiln_strdup(wk->o->prefix, err);
    return p ? emit_at(wk, abs, p, st, err) : -1;
}

/* Writes one entry; rel is its path in the layer. */
static int emit_at(struct walk *wk, const char *abs, const char *rel, const struct stat *st,
                   struct kiln_error *err)
{
    struct kiln_tar_entry e = {
        .path = rel,
        .mode = st->st_mode & 07777,
        .uid = st->st_uid,
        .gid = st->st_gid,
        .mtime = st->st_mtime,
    };
    if (wk->o->clamp_mtime && e.mtime > wk->o->clamp_to)
        e.mtime = wk->o->clamp_to;
    if (wk->o->force_owner) {
        e.uid = wk->o->uid;
        e.gid = wk->o->gid;
    }
    if (wk->o->force_mode && !S_ISLNK(st->st_mode))
        e.mode = wk->o->mode & 07777;
    char *target = NULL;
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:
        e.type = KILN_TAR_REG;
        e.size = (uint64_t)st->st_size;
        break;
    case S_IFDIR:
        e.type = KILN_TAR_DIR;
        break;
    case S_IFLNK:
        e.type = KILN_TAR_SYMLINK;
        if (!(target = kiln_walk_readlink(abs, st, err)))
            return -1;
        e.linkname = target;
        break;
    case S_IFCHR:
    case S_IFBLK:
        e.type = S_ISCHR(st->st_mode) ? KILN_TAR_CHR : KILN_TAR_BLK;
        e.devmajor = major(st->st_rdev);
        e.devminor = minor(st->st_rdev);
        break;
    case S_IFIFO:
        e.type = KILN_TAR_FIFO;
        break;
    case S_IFSOCK:
        warn(wk->o, "%s: skipping socket (a layer cannot hold sockets)", abs);
        return 0;
    default:
        return kiln_fail(err, KILN_ERR_INPUT, "%s: unknown file type 0%o", abs,
                         (unsigned)(st->st_mode & S_IFMT));
    }

    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        const char *first;
        if (link_lookup(wk, st, rel, &first, err) < 0) {
            free(target);
            return -1;
        }
        if (first) {
            free(target);
            struct kiln_tar_entry l = {.path = rel, .type = KILN_TAR_HARDLINK,
                                       .linkname = first, .mode = e.mode, .uid = e.uid,
                                       .gid = e.gid, .mtime = e.mtime};
            return kiln_tar_write_header(wk->w, &l, err);
        }
    }

    struct kiln_xattr *x = NULL;
    size_t nx = 0;
    if (wk->o->xattrs && kiln_walk_read_xattrs(abs, &x, &nx, err) < 0) {
        free(target);
        return -1;
    }
    e.xattrs = x;
    e.nxattrs = nx;
    int rc = kiln_tar_write_header(wk->w, &e, err);
    kiln_xattrs_free(x, nx);
    free(target);
    if (rc < 0)
        return -1;
    if (e.type == KILN_TAR_REG)
        return write_file_data(wk, abs, st, err);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *wk, const char *abs, const char *rel, unsigned parent_claim,
                    uint64_t *mask, struct kiln_error *err);

/* One entry of a tree split by a layer map: in scan mode, learn its layer
 * (and which layers its directory must appear in); otherwise emit it only in
 * its own layer, and a directory only in the layers that need it. */
static int visit_mapped(struct walk *wk, const char *abs, const char *rel, const struct stat *st,
                        unsigned parent_claim, uint64_t *mask, struct kiln_error *err)
{
    unsigned claim = kiln_layer_map_claim(wk->map, rel, parent_claim);
    if (S_ISSOCK(st->st_mode))
        return !wk->scan && wk->layer == 0 ? emit(wk, abs, rel, st, err) : 0; /* warns once */
    if (S_ISDIR(st->st_mode)) {
        if (wk->scan) {
            uint64_t sub = 1ULL << claim;
            if (walk_dir(wk, abs, rel, claim, &sub, err) < 0 ||
                kiln_layer_map_set_dir(wk->map, rel, sub, err) < 0)
                return -1;
            *mask |= sub;
            return 0;
        }
        if (!(kiln_layer_map_dir(wk->map, rel) & (1ULL << wk->layer)))
            return 0; /* nothing of this layer below: prune */
        if (emit(wk, abs, rel, st, err) < 0)
            return -1;
        return walk_dir(wk, abs, rel, claim, NULL, err);
    }
    unsigned layer = claim;
    if (st->st_nlink > 1) {
        if (wk->scan) {
            if (kiln_layer_map_link(wk->map, st->st_dev, st->st_ino, claim, &layer, err) < 0)
                return -1;
        } else
            layer = kiln_layer_map_link_get(wk->map, st->st_dev, st->st_ino, claim);
    }
    if (wk->scan) {
        *mask |= 1ULL << layer;
        return 0;
    }
    return layer == wk->layer ? emit(wk, abs, rel, st, err) : 0;
}

void kiln_walk_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int kiln_walk_list_dir(const char *abs, char ***out, size_t *nout, struct kiln_error *err)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(abs);
    if (!d)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot open directory", abs);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                rc = kiln_oom(err);
                break;
            }
            names = nn;
        }
        if (!(names[n] = kiln_strdup(de->d_name, err))) {
            rc = -1;
            break;
        }
        n++;
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot read directory", abs);
    closedir(d);
    if (rc < 0) {
        kiln_walk_names_free(names, n);
        return -1;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), name_cmp);
    *out = names;
    *nout = n;
    return 0;
}

static int walk_dir(struct walk *wk, const char *abs, const char *rel, unsigned parent_claim,
                    uint64_t *mask, struct kiln_error *err)
{
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *cabs = kiln_path_join(abs, names[i], err);
        char *crel = *rel ? kiln_path_join(rel, names[i], err) : kiln_strdup(names[i], err);
        struct stat st;
        if (!cabs || !crel)
            rc = -1;
        else if (lstat(cabs, &st) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno,
                                 errno == ENOENT ? "%s: vanished while the tree was read" : "%s",
                                 cabs);
        else if (wk->map)
            rc = visit_mapped(wk, cabs, crel, &st, parent_claim, mask, err);
        else if ((rc = emit(wk, cabs, crel, &st, err)) == 0 && S_ISDIR(st.st_mode))
            rc = walk_dir(wk, cabs, crel, 0, NULL, err);
        free(cabs);
        free(crel);
    }
    kiln_walk_names_free(names, n);
    return rc;
}

int kiln_layer_from_tree(const char *dir, const struct kiln_layer_opts *o, struct kiln_tar_writer *w,
                         struct kiln_error *err)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--rootfs %s", dir);
    if (!S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "--rootfs %s: not a directory", dir);
    struct walk wk = {.o = o, .w = w, .root = dir, .map = o->map, .layer = o->map_layer};
    wk.buf = kiln_xmalloc(READ_CHUNK, err);
    if (!wk.buf)
        return -1;
    unsigned rest = o->map ? (unsigned)kiln_layer_map_count(o->map) - 1 : 0;
    int rc = walk_dir(&wk, dir, "", rest, NULL, err);
    free(wk.buf);
    for (size_t i = 0; i < wk.caplinks; i++)
        free(wk.links[i].path);
    free(wk.links);
    return rc;
}

int kiln_layer_map_scan(const char *dir, struct kiln_layer_map *map, struct kiln_error *err)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--rootfs %s", dir);
    if (!S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "--rootfs %s: not a directory", dir);
    struct kiln_layer_opts o = {0};
    struct walk wk = {.o = &o, .root = dir, .map = map, .scan = true};
    uint64_t mask = 0;
    return walk_dir(&wk, dir, "", (unsigned)kiln_layer_map_count(map) - 1, &mask, err);
}

int kiln_layer_from_path(const char *src, const struct kiln_layer_opts *o,
                         struct kiln_tar_writer *w, struct kiln_error *err)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--add %s", src);
    if (!o->prefix || !*o->prefix)
        return kiln_fail(err, KILN_ERR_USAGE, "--add %s: no destination path", src);
    struct walk wk = {.o = o, .w = w, .root = src};
    wk.buf = kiln_xmalloc(READ_CHUNK, err);
    if (!wk.buf)
        return -1;
    int rc = emit(&wk, src, "", &st, err);
    if (rc == 0 && S_ISDIR(st.st_mode))
        rc = walk_dir(&wk, src, "", 0, NULL, err);
    free(wk.buf);
    for (size_t i = 0; i < wk.caplinks; i++)
        free(wk.links[i].path);
    free(wk.links);
    return rc;
}

/* ---- building blocks for changesets (tar/diff.c) ---------------------- */

struct kiln_walk {
    struct walk wk;
};

struct kiln_walk *kiln_walk_new(const struct kiln_layer_opts *o, struct kiln_tar_writer *w,
                                struct kiln_error *err)
{
    struct kiln_walk *k = calloc(1, sizeof(*k));
    if (!k) {
        kiln_oom(err);
        return NULL;
    }
    k->wk = (struct walk){.o = o, .w = w};
    if (!(k->wk.buf = kiln_xmalloc(READ_CHUNK, err))) {
        free(k);
        return NULL;
    }
    return k;
}

void kiln_walk_free(struct kiln_walk *k)
{
    if (!k)
        return;
    free(k->wk.buf);
    for (size_t i = 0; i < k->wk.caplinks; i++)
        free(k->wk.links[i].path);
    free(k->wk.links);
    free(k);
}

int kiln_walk_emit(struct kiln_walk *k, const char *abs, const char *rel, const struct stat *st,
                   struct kiln_error *err)
{
    return emit(&k->wk, abs, rel, st, err);
}

int kiln_walk_tree(struct kiln_walk *k, const char *abs, const char *rel, struct kiln_error *err)
{
    return walk_dir(&k->wk, abs, rel, 0, NULL, err);
}
