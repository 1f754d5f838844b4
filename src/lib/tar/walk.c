/*
 * A directory tree as one layer. The walk is depth-first with the names of
 * each directory sorted bytewise, so parents precede children and the order
 * never depends on readdir. Only one directory's names are held per level, so
 * memory follows the depth and width of the tree, not its size.
 *
 * Metadata comes from libc calls that pseudo and fakeroot, which work by
 * LD_PRELOAD, intercept (openat, fstat, fstatat, readlinkat, flistxattr,
 * fgetxattr, llistxattr, lgetxattr); never from raw system calls. Content is
 * read with pread, and holes found with lseek, which carry no metadata.
 *
 * The walk works by descriptor, because under pseudo every call that names a
 * path has the whole path resolved again, component by component (a real
 * lstat each), and every stat or xattr call is a message to the pseudo server.
 * Each directory is open while its entries are visited, and they are reached
 * relative to it. readdir's d_type says how to look at an entry, never what it
 * is: a regular file or a directory is opened (a regular file without
 * blocking, in case it just became a FIFO) and fstat'd on that descriptor,
 * which also serves its xattrs and data; anything else gets one fstatat. So an
 * entry costs one stat message and one xattr list message (plus one per
 * attribute it has), and no path is resolved twice. d_type cannot lie about
 * what pseudo shows: a device node that pseudo records is a plain file on
 * disk, opened as one, and fstat tells its recorded type and numbers. One
 * descriptor is held per directory level, so the depth of a tree is bounded
 * by the limit on open files (1024 by default), as its path length is by
 * PATH_MAX.
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
/* Linux's limits for one xattr value and for a file's list of names
 * (XATTR_SIZE_MAX, XATTR_LIST_MAX): buffers this large need no size probe. */
#define XATTR_MAX 65536

struct inode_key {
    dev_t dev;
    ino_t ino;
    char *path; /* archive path of the first occurrence */
};

struct walk {
    const struct kiln_layer_opts *o;
    struct kiln_tar_writer *w;
    const char *root;
    unsigned char *buf; /* READ_CHUNK: file data, and 2 * XATTR_MAX for xattrs */
    unsigned char *zeros; /* READ_CHUNK zero bytes for holes, made on first use */
    /* open-addressing hash of hardlinked inodes (st_nlink > 1) */
    struct inode_key *links;
    size_t nlinks, caplinks;
    struct kiln_layer_map *map; /* NULL: one layer of everything */
    unsigned layer;             /* the map's layer being written */
    bool scan;                  /* only learn the map's assignments */
};

/* A directory entry: its name, and readdir's d_type as a hint. */
struct dent {
    char *name;
    unsigned char type;
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

static ssize_t xattr_list(int fd, const char *path, char *buf, size_t size)
{
    return fd >= 0 ? flistxattr(fd, buf, size) : llistxattr(path, buf, size);
}

static ssize_t xattr_get(int fd, const char *path, const char *name, void *buf, size_t size)
{
    return fd >= 0 ? fgetxattr(fd, name, buf, size) : lgetxattr(path, name, buf, size);
}

/* The extended attributes of the file open at fd (or, with fd -1, of path
 * itself, not followed), sorted by name; scratch holds 2 * XATTR_MAX bytes.
 * One call lists the names and one reads each value, with buffers as large
 * as Linux allows instead of a call to learn each size first: under pseudo
 * every call is a message to its server. (pseudo answers a short buffer with
 * the full length rather than ERANGE, hence the length checks.)
 * security.selinux is host policy, not image content, and is left out. */
static int read_xattrs(int fd, const char *path, unsigned char *scratch, struct kiln_xattr **out,
                       size_t *nout, struct kiln_error *err)
{
    *out = NULL;
    *nout = 0;
    char *names = (char *)scratch;
    unsigned char *val = scratch + XATTR_MAX;
    ssize_t len = xattr_list(fd, path, names, XATTR_MAX);
    if (len < 0) {
        if (errno == ENOTSUP || errno == ENOSYS || errno == ENODATA)
            return 0;
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot list xattrs", path);
    }
    if (len > XATTR_MAX)
        return kiln_fail(err, KILN_ERR_INPUT, "%s: xattr names longer than %d bytes", path,
                         XATTR_MAX);
    if (len == 0)
        return 0;
    size_t count = 0;
    for (ssize_t i = 0; i < len; i += (ssize_t)strnlen(names + i, (size_t)(len - i)) + 1)
        count++;
    struct kiln_xattr *x = calloc(count, sizeof(*x));
    if (!x)
        return kiln_oom(err);
    size_t n = 0;
    for (ssize_t i = 0; i < len; i += (ssize_t)strnlen(names + i, (size_t)(len - i)) + 1) {
        const char *name = names + i;
        if (strnlen(name, (size_t)(len - i)) == (size_t)(len - i)) {
            kiln_xattrs_free(x, n);
            return kiln_fail(err, KILN_ERR_INPUT, "%s: xattr list not terminated", path);
        }
        if (!*name || !strcmp(name, "security.selinux"))
            continue;
        ssize_t vlen = xattr_get(fd, path, name, val, XATTR_MAX);
        if (vlen < 0 && errno == ENODATA)
            continue; /* removed since it was listed */
        if (vlen < 0 || vlen > XATTR_MAX) {
            kiln_xattrs_free(x, n);
            return vlen < 0 ? kiln_fail_errno(err, KILN_ERR_INPUT, errno,
                                              "%s: cannot read xattr %s", path, name)
                            : kiln_fail(err, KILN_ERR_INPUT, "%s: xattr %s longer than %d bytes",
                                        path, name, XATTR_MAX);
        }
        x[n].name = kiln_strdup(name, err);
        x[n].value = kiln_xmalloc(vlen ? (size_t)vlen : 1, err);
        if (!x[n].name || !x[n].value) {
            kiln_xattrs_free(x, n + 1);
            return -1;
        }
        memcpy(x[n].value, val, (size_t)vlen);
        x[n].len = (size_t)vlen;
        n++;
    }
    if (n > 1)
        qsort(x, n, sizeof(*x), xattr_cmp);
    if (!n) {
        free(x);
        x = NULL;
    }
    *out = x;
    *nout = n;
    return 0;
}

int kiln_walk_read_xattrs(const char *path, struct kiln_xattr **out, size_t *nout,
                          struct kiln_error *err)
{
    _cleanup_free_ unsigned char *scratch = kiln_xmalloc(2 * XATTR_MAX, err);
    if (!scratch)
        return -1;
    return read_xattrs(-1, path, scratch, out, nout, err);
}

/* Opens the regular file name (relative to dfd) for reading, checking that it
 * is still the inode st describes. */
static int open_same_file(int dfd, const char *name, const char *abs, const struct stat *st,
                          struct kiln_error *err)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot open", abs);
    struct stat fst;
    if (fstat(fd, &fst) < 0) {
        int e = errno;
        close(fd);
        return kiln_fail_errno(err, KILN_ERR_INPUT, e, "%s", abs);
    }
    if (fst.st_ino != st->st_ino || fst.st_dev != st->st_dev || !S_ISREG(fst.st_mode)) {
        close(fd);
        return kiln_fail(err, KILN_ERR_INPUT, "%s: file was replaced while it was read", abs);
    }
    return fd;
}

/* Writes n zero bytes of a hole (wk->zeros, READ_CHUNK bytes, made on first use). */
static int write_zeros(struct walk *wk, uint64_t n, struct kiln_error *err)
{
    if (!wk->zeros && !(wk->zeros = calloc(1, READ_CHUNK)))
        return kiln_oom(err);
    while (n) {
        size_t k = n < READ_CHUNK ? (size_t)n : READ_CHUNK;
        if (kiln_tar_write_data(wk->w, wk->zeros, k, err) < 0 || kiln_check_interrupt(err) < 0)
            return -1;
        n -= k;
    }
    return 0;
}

/* Where the data at or after off ends, for a file that may have holes: sets
 * *data to the first data byte at or after off and *end to the end of that
 * data (both at most size). Returns 0 when the file system cannot tell (then
 * everything counts as data), 1 when it told. */
static int find_data(int fd, uint64_t off, uint64_t size, uint64_t *data, uint64_t *end)
{
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    if (d < 0) {
        if (errno != ENXIO)
            return 0;
        *data = *end = size; /* a hole up to the end of the file */
        return 1;
    }
    *data = (uint64_t)d < size ? (uint64_t)d : size;
    off_t h = lseek(fd, d, SEEK_HOLE);
    if (h < 0)
        return 0;
    *end = (uint64_t)h < size ? (uint64_t)h : size;
    return 1;
}

/* The content of the regular file open at fd, st_size bytes (st from fstat
 * of fd itself, so metadata and data are of one inode). A file with fewer
 * blocks than its size needs may have holes: they are found with SEEK_DATA
 * and SEEK_HOLE and written as zeros without being read, the same bytes as
 * reading them would give. */
static int write_file_data(struct walk *wk, int fd, const char *path, const struct stat *st,
                           struct kiln_error *err)
{
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t size = (uint64_t)st->st_size, off = 0;
    bool sparse = (uint64_t)st->st_blocks * 512 < size;
    uint64_t data = 0, end = sparse ? 0 : size; /* the data region being read: [data, end) */
    while (off < size) {
        if (sparse && off >= end) {
            if (!find_data(fd, off, size, &data, &end)) {
                sparse = false;
                data = off;
                end = size;
            } else if (data > off) {
                if (write_zeros(wk, data - off, err) < 0)
                    return -1;
                off = data;
                continue;
            }
        }
        uint64_t left = end - off;
        size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
        ssize_t r = pread(fd, wk->buf, want, (off_t)off);
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
                             path, (unsigned long long)(size - off));
        if (kiln_tar_write_data(wk->w, wk->buf, (size_t)r, err) < 0 ||
            kiln_check_interrupt(err) < 0)
            return -1;
        off += (uint64_t)r;
    }
    /* Anything beyond the size announced in the header means the file grew;
     * a hole written as zeros was not read, so a file that shrank meanwhile
     * shows only in its size (lseek: no metadata call, pseudo needs none). */
    ssize_t r;
    do
        r = pread(fd, wk->buf, 1, (off_t)size);
    while (r < 0 && errno == EINTR);
    off_t now = sparse ? lseek(fd, 0, SEEK_END) : (off_t)size;
    if (r > 0 || now > (off_t)size)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: file grew while it was read; stop whatever is writing to the "
                         "tree and build again",
                         path);
    if (now >= 0 && now < (off_t)size)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: file shrank while it was read (%llu bytes missing); "
                         "stop whatever is writing to the tree and build again",
                         path, (unsigned long long)(size - (uint64_t)now));
    return kiln_tar_end_entry(wk->w, err);
}

/* The target of the symlink name (relative to dfd; abs for messages). */
static char *readlink_at(int dfd, const char *name, const char *abs, const struct stat *st,
                         struct kiln_error *err)
{
    size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
    for (;;) {
        char *target = kiln_xmalloc(cap, err);
        if (!target)
            return NULL;
        ssize_t n = readlinkat(dfd, name, target, cap);
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

char *kiln_walk_readlink(const char *abs, const struct stat *st, struct kiln_error *err)
{
    return readlink_at(AT_FDCWD, abs, abs, st, err);
}

/* An entry as the walk finds it: name relative to the open directory dfd
 * (or an absolute path with AT_FDCWD), abs for messages and path-only calls,
 * fd the entry itself when it was opened (-1 otherwise), st its metadata
 * (from fstat of fd when there is one). */
struct node {
    int dfd;
    const char *name;
    const char *abs;
    int fd;
    struct stat st;
};

static int emit_at(struct walk *wk, const struct node *nd, const char *rel,
                   struct kiln_error *err);

static int emit(struct walk *wk, const struct node *nd, const char *rel, struct kiln_error *err)
{
    if (kiln_check_interrupt(err) < 0)
        return -1;
    if (!wk->o->prefix)
        return emit_at(wk, nd, rel, err);
    _cleanup_free_ char *p = *rel ? kiln_path_join(wk->o->prefix, rel, err)
                                  : kiln_strdup(wk->o->prefix, err);
    return p ? emit_at(wk, nd, p, err) : -1;
}

/* Writes one entry; rel is its path in the layer. */
static int emit_at(struct walk *wk, const struct node *nd, const char *rel,
                   struct kiln_error *err)
{
    const struct stat *st = &nd->st;
    const char *abs = nd->abs;
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
        if (!(target = readlink_at(nd->dfd, nd->name, abs, st, err)))
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
    if (wk->o->xattrs && read_xattrs(nd->fd, abs, wk->buf, &x, &nx, err) < 0) {
        free(target);
        return -1;
    }
    e.xattrs = x;
    e.nxattrs = nx;
    int rc = kiln_tar_write_header(wk->w, &e, err);
    kiln_xattrs_free(x, nx);
    free(target);
    if (rc < 0 || e.type != KILN_TAR_REG)
        return rc;
    if (nd->fd >= 0)
        return write_file_data(wk, nd->fd, abs, st, err);
    _cleanup_close_ int fd = open_same_file(nd->dfd, nd->name, abs, st, err);
    return fd < 0 ? -1 : write_file_data(wk, fd, abs, st, err);
}

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static void dents_free(struct dent *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

/* The entries of an open directory but "." and "..", sorted bytewise. */
static int read_dents(DIR *d, const char *abs, struct dent **out, size_t *nout,
                      struct kiln_error *err)
{
    *out = NULL;
    *nout = 0;
    struct dent *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            struct dent *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                rc = kiln_oom(err);
                break;
            }
            v = nv;
        }
        if (!(v[n].name = kiln_strdup(de->d_name, err))) {
            rc = -1;
            break;
        }
        v[n++].type = de->d_type;
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot read directory", abs);
    if (rc < 0) {
        dents_free(v, n);
        return -1;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), dent_cmp);
    *out = v;
    *nout = n;
    return 0;
}

static int walk_dir(struct walk *wk, int fd, const char *abs, const char *rel,
                    unsigned parent_claim, uint64_t *mask, struct kiln_error *err);

/* Walks below the directory nd, taking over its descriptor (or opening it). */
static int descend(struct walk *wk, struct node *nd, const char *rel, unsigned claim,
                   uint64_t *mask, struct kiln_error *err)
{
    int fd = nd->fd;
    nd->fd = -1;
    if (fd < 0 &&
        (fd = openat(nd->dfd, nd->name, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW)) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: cannot open directory",
                               nd->abs);
    return walk_dir(wk, fd, nd->abs, rel, claim, mask, err);
}

/* One entry of a tree split by a layer map: in scan mode, learn its layer
 * (and which layers its directory must appear in); otherwise emit it only in
 * its own layer, and a directory only in the layers that need it. */
static int visit_mapped(struct walk *wk, struct node *nd, const char *rel, unsigned parent_claim,
                        uint64_t *mask, struct kiln_error *err)
{
    const struct stat *st = &nd->st;
    unsigned claim = kiln_layer_map_claim(wk->map, rel, parent_claim);
    if (S_ISSOCK(st->st_mode))
        return !wk->scan && wk->layer == 0 ? emit(wk, nd, rel, err) : 0; /* warns once */
    if (S_ISDIR(st->st_mode)) {
        if (wk->scan) {
            uint64_t sub = 1ULL << claim;
            if (descend(wk, nd, rel, claim, &sub, err) < 0 ||
                kiln_layer_map_set_dir(wk->map, rel, sub, err) < 0)
                return -1;
            *mask |= sub;
            return 0;
        }
        if (!(kiln_layer_map_dir(wk->map, rel) & (1ULL << wk->layer)))
            return 0; /* nothing of this layer below: prune */
        if (emit(wk, nd, rel, err) < 0)
            return -1;
        return descend(wk, nd, rel, claim, NULL, err);
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
    return layer == wk->layer ? emit(wk, nd, rel, err) : 0;
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
    struct dent *v;
    size_t n;
    int rc = read_dents(d, abs, &v, &n, err);
    closedir(d);
    if (rc < 0)
        return -1;
    char **names = calloc(n ? n : 1, sizeof(*names));
    if (!names) {
        dents_free(v, n);
        return kiln_oom(err);
    }
    for (size_t i = 0; i < n; i++)
        names[i] = v[i].name;
    free(v);
    *out = names;
    *nout = n;
    return 0;
}

/* Finds out what the entry de of the directory dfd is (nd->st), opening it
 * when it is a regular file or a directory whose descriptor the walk will use
 * (nd->fd; -1 otherwise). */
static int look(struct walk *wk, int dfd, const struct dent *de, struct node *nd,
                struct kiln_error *err)
{
    unsigned char t = de->type;
    bool known = false;
    if (t == DT_UNKNOWN) {
        if (fstatat(dfd, de->name, &nd->st, AT_SYMLINK_NOFOLLOW) < 0)
            goto fail;
        known = true;
        t = S_ISDIR(nd->st.st_mode) ? DT_DIR : S_ISREG(nd->st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    /* A layer map's scan reads no content: regular files need no descriptor. */
    if (t == DT_DIR || (t == DT_REG && !wk->scan)) {
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
        flags |= t == DT_DIR ? O_DIRECTORY : O_NONBLOCK;
        int fd = openat(dfd, de->name, flags);
        if (fd >= 0) {
            if (fstat(fd, &nd->st) < 0) {
                int e = errno;
                close(fd);
                return kiln_fail_errno(err, KILN_ERR_INPUT, e, "%s", nd->abs);
            }
            nd->fd = fd;
            return 0;
        }
        if (errno == ENOENT)
            goto fail;
        /* Changed type since readdir (ELOOP, ENOTDIR), not readable, or
         * under a lease (EWOULDBLOCK): look without opening; a file whose
         * content is needed is opened again (blocking) when it is written. */
    }
    if (known || fstatat(dfd, de->name, &nd->st, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
fail:
    return kiln_fail_errno(err, KILN_ERR_INPUT, errno,
                           errno == ENOENT ? "%s: vanished while the tree was read" : "%s",
                           nd->abs);
}

/* Everything below the directory open at fd (taken over and closed). */
static int walk_dir(struct walk *wk, int fd, const char *abs, const char *rel,
                    unsigned parent_claim, uint64_t *mask, struct kiln_error *err)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return kiln_fail_errno(err, KILN_ERR_INPUT, e, "%s: cannot open directory", abs);
    }
    struct dent *v;
    size_t n;
    int rc = read_dents(d, abs, &v, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *cabs = kiln_path_join(abs, v[i].name, err);
        _cleanup_free_ char *crel = *rel ? kiln_path_join(rel, v[i].name, err)
                                         : kiln_strdup(v[i].name, err);
        struct node nd = {.dfd = dirfd(d), .name = v[i].name, .abs = cabs, .fd = -1};
        if (!cabs || !crel || look(wk, nd.dfd, &v[i], &nd, err) < 0)
            rc = -1;
        else if (wk->map)
            rc = visit_mapped(wk, &nd, crel, parent_claim, mask, err);
        else if ((rc = emit(wk, &nd, crel, err)) == 0 && S_ISDIR(nd.st.st_mode))
            rc = descend(wk, &nd, crel, 0, NULL, err);
        if (nd.fd >= 0)
            close(nd.fd);
    }
    dents_free(v, n);
    closedir(d);
    return rc;
}

/* Opens the root of a walk (following a symlink: only the root may be one). */
static int open_root(const char *dir, const char *what, struct kiln_error *err)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s %s", what, dir);
    if (!S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "%s %s: not a directory", what, dir);
    int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s %s: cannot open directory",
                               what, dir);
    return fd;
}

int kiln_layer_from_tree(const char *dir, const struct kiln_layer_opts *o, struct kiln_tar_writer *w,
                         struct kiln_error *err)
{
    int fd = open_root(dir, "--rootfs", err);
    if (fd < 0)
        return -1;
    struct walk wk = {.o = o, .w = w, .root = dir, .map = o->map, .layer = o->map_layer};
    wk.buf = kiln_xmalloc(READ_CHUNK, err);
    if (!wk.buf) {
        close(fd);
        return -1;
    }
    unsigned rest = o->map ? (unsigned)kiln_layer_map_count(o->map) - 1 : 0;
    int rc = walk_dir(&wk, fd, dir, "", rest, NULL, err);
    free(wk.buf);
    free(wk.zeros);
    for (size_t i = 0; i < wk.caplinks; i++)
        free(wk.links[i].path);
    free(wk.links);
    return rc;
}

int kiln_layer_map_scan(const char *dir, struct kiln_layer_map *map, struct kiln_error *err)
{
    int fd = open_root(dir, "--rootfs", err);
    if (fd < 0)
        return -1;
    struct kiln_layer_opts o = {0};
    struct walk wk = {.o = &o, .root = dir, .map = map, .scan = true};
    uint64_t mask = 0;
    return walk_dir(&wk, fd, dir, "", (unsigned)kiln_layer_map_count(map) - 1, &mask, err);
}

int kiln_layer_from_path(const char *src, const struct kiln_layer_opts *o,
                         struct kiln_tar_writer *w, struct kiln_error *err)
{
    struct node nd = {.dfd = AT_FDCWD, .name = src, .abs = src, .fd = -1};
    if (lstat(src, &nd.st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--add %s", src);
    if (!o->prefix || !*o->prefix)
        return kiln_fail(err, KILN_ERR_USAGE, "--add %s: no destination path", src);
    struct walk wk = {.o = o, .w = w, .root = src};
    wk.buf = kiln_xmalloc(READ_CHUNK, err);
    if (!wk.buf)
        return -1;
    int rc = emit(&wk, &nd, "", err);
    if (rc == 0 && S_ISDIR(nd.st.st_mode))
        rc = descend(&wk, &nd, "", 0, NULL, err);
    free(wk.buf);
    free(wk.zeros);
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
    free(k->wk.zeros);
    for (size_t i = 0; i < k->wk.caplinks; i++)
        free(k->wk.links[i].path);
    free(k->wk.links);
    free(k);
}

int kiln_walk_emit(struct kiln_walk *k, const char *abs, const char *rel, const struct stat *st,
                   struct kiln_error *err)
{
    struct node nd = {.dfd = AT_FDCWD, .name = abs, .abs = abs, .fd = -1, .st = *st};
    return emit(&k->wk, &nd, rel, err);
}

int kiln_walk_tree(struct kiln_walk *k, const char *abs, const char *rel, struct kiln_error *err)
{
    struct node nd = {.dfd = AT_FDCWD, .name = abs, .abs = abs, .fd = -1};
    return descend(&k->wk, &nd, rel, 0, NULL, err);
}
