/*
 * A tarball as one layer. libarchive reads any tar flavour under any
 * compression it knows. The members are re-normalised: paths lose "./" and
 * "/" prefixes, a ".." component is refused (it would land outside the
 * layer), duplicates keep the last member (tar semantics), and the result is
 * sorted like a tree walk.
 *
 * Two ways, same bytes: an archive already in that order (GNU tar
 * --sort=name, kiln's own layers, most build systems' rootfs tarballs) is
 * streamed member by member; any other is read once into an unlinked
 * temporary spool file, then copied out in sorted order. Memory holds
 * metadata only either way.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tar.h"

#define COPY_CHUNK (1024 * 1024)

struct member {
    char *path;
    char *link; /* symlink target, or hardlink target (normalised) */
    enum kiln_tar_type type;
    uint32_t mode;
    uint64_t uid, gid;
    int64_t mtime;
    uint64_t size;
    uint64_t offset; /* in the spool */
    uint32_t devmajor, devminor;
    struct kiln_xattr *xattrs;
    size_t nxattrs;
    size_t seq;    /* position in the input, to keep the last duplicate */
    size_t root;   /* index of the member holding the data of a hardlink group */
    size_t leader; /* for a root: the first member of its group in output order */
    bool dropped;
};

int kiln_normalise_member_path(const char *in, struct kiln_buf *out, struct kiln_error *err)
{
    kiln_buf_free(out);
    if (kiln_buf_append(out, "", 0, err) < 0)
        return -1;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return kiln_fail(err, KILN_ERR_INPUT,
                             "member '%s' has a '..' component and would land outside the "
                             "layer: refusing it (repack the tarball with relative paths)",
                             in);
        if ((out->len && kiln_buf_append(out, "/", 1, err) < 0) ||
            kiln_buf_append(out, s, n, err) < 0)
            return -1;
    }
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = kiln_tar_path_cmp(x->path, y->path);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The header of a member that carries its own data (not a hardlink). */
static struct kiln_tar_entry entry_of(const char *path, const struct member *r)
{
    return (struct kiln_tar_entry){.path = path,
                                   .type = r->type,
                                   .linkname = r->type == KILN_TAR_SYMLINK ? r->link : NULL,
                                   .mode = r->mode,
                                   .uid = r->uid,
                                   .gid = r->gid,
                                   .mtime = r->mtime,
                                   .size = r->size,
                                   .devmajor = r->devmajor,
                                   .devminor = r->devminor,
                                   .xattrs = r->xattrs,
                                   .nxattrs = r->nxattrs};
}

static void members_free(struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].path);
        free(m[i].link);
        kiln_xattrs_free(m[i].xattrs, m[i].nxattrs);
    }
    free(m);
}

static int find_member(struct member *m, size_t n, const char *path)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = kiln_tar_path_cmp(m[mid].path, path);
        if (c == 0) {
            /* the kept duplicate is the last one */
            while (mid + 1 < n && !kiln_tar_path_cmp(m[mid + 1].path, path))
                mid++;
            return (int)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static struct archive *open_archive(const char *file, struct kiln_error *err)
{
    struct archive *a = archive_read_new();
    if (!a) {
        kiln_oom(err);
        return NULL;
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_filename(a, file, 1 << 20) != ARCHIVE_OK) {
        /* libarchive says "Failed to open 'FILE'" and keeps the cause in
         * its errno (permission denied, no such file, a directory) */
        int e = archive_errno(a);
        const char *m = archive_error_string(a);
        if (e > 0 && m && !strncmp(m, "Failed to open", 14))
            kiln_fail_errno(err, KILN_ERR_INPUT, e, "--tar %s", file);
        else
            kiln_fail(err, KILN_ERR_INPUT, "--tar %s: %s", file, m ? m : "cannot read it");
        archive_read_free(a);
        return NULL;
    }
    return a;
}

enum { MEMBER_OK, MEMBER_END, MEMBER_SKIP };

/* Reads the next header into *e (metadata only; e->size is the size the
 * header declares). kept = members kept so far, for --max-entries. */
static int next_member(struct archive *a, const char *file, const struct kiln_layer_opts *o,
                       size_t kept, struct kiln_buf *norm, struct member *e,
                       struct kiln_error *err)
{
    struct archive_entry *ae;
    memset(e, 0, sizeof(*e));
    if (kiln_check_interrupt(err) < 0)
        return -1;
    int r = archive_read_next_header(a, &ae);
    if (r == ARCHIVE_EOF)
        return MEMBER_END;
    if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY)
        return kiln_fail(err, KILN_ERR_INPUT, "--tar %s: corrupt or truncated archive: %s", file,
                         archive_error_string(a));
    const char *path = archive_entry_pathname(ae);
    if (!path)
        return kiln_fail(err, KILN_ERR_INPUT, "--tar %s: member %zu has no name", file, kept + 1);
    if (kiln_normalise_member_path(path, norm, err) < 0)
        return kiln_error_prefix(err, "--tar %s", file);
    const char *hl = archive_entry_hardlink(ae);
    mode_t ft = archive_entry_filetype(ae);
    if (!hl && ft == AE_IFSOCK) {
        if (o->log) {
            char msg[512];
            snprintf(msg, sizeof(msg), "--tar %s: skipping socket '%s'", file, path);
            o->log(o->log_userdata, KILN_LOG_WARNING, msg);
        }
        return MEMBER_SKIP;
    }
    if (norm->len == 0) /* the root directory itself carries nothing */
        return MEMBER_SKIP;
    if (o->max_entries && kept >= o->max_entries)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "--tar %s: more than %llu members (--max-entries): refusing a "
                         "possible tar bomb",
                         file, (unsigned long long)o->max_entries);
    if (!(e->path = kiln_strdup(norm->data, err)))
        return -1;
    e->seq = kept;
    e->mode = archive_entry_perm(ae) & 07777;
    e->uid = (uint64_t)archive_entry_uid(ae);
    e->gid = (uint64_t)archive_entry_gid(ae);
    e->mtime = archive_entry_mtime(ae);
    if (o->clamp_mtime && e->mtime > o->clamp_to)
        e->mtime = o->clamp_to;
    if (hl) {
        e->type = KILN_TAR_HARDLINK;
        if (kiln_normalise_member_path(hl, norm, err) < 0)
            return kiln_error_prefix(err, "--tar %s: hardlink '%s'", file, path);
        if (!(e->link = kiln_strdup(norm->data, err)))
            return -1;
    } else {
        switch (ft) {
        case AE_IFREG: e->type = KILN_TAR_REG; break;
        case AE_IFDIR: e->type = KILN_TAR_DIR; break;
        case AE_IFLNK: e->type = KILN_TAR_SYMLINK; break;
        case AE_IFCHR: e->type = KILN_TAR_CHR; break;
        case AE_IFBLK: e->type = KILN_TAR_BLK; break;
        case AE_IFIFO: e->type = KILN_TAR_FIFO; break;
        default:
            return kiln_fail(err, KILN_ERR_INPUT, "--tar %s: member '%s' has unknown type 0%o",
                             file, path, (unsigned)ft);
        }
        if (e->type == KILN_TAR_SYMLINK) {
            const char *t = archive_entry_symlink(ae);
            if (!(e->link = kiln_strdup(t ? t : "", err)))
                return -1;
        }
        e->devmajor = (uint32_t)archive_entry_rdevmajor(ae);
        e->devminor = (uint32_t)archive_entry_rdevminor(ae);
        if (e->type == KILN_TAR_REG)
            e->size = archive_entry_size(ae) > 0 ? (uint64_t)archive_entry_size(ae) : 0;
    }
    if (o->xattrs && archive_entry_xattr_reset(ae) > 0) {
        size_t cnt = (size_t)archive_entry_xattr_count(ae);
        if (!(e->xattrs = calloc(cnt, sizeof(*e->xattrs))))
            return kiln_oom(err);
        const char *xn;
        const void *xv;
        size_t xl;
        while (e->nxattrs < cnt && archive_entry_xattr_next(ae, &xn, &xv, &xl) == ARCHIVE_OK) {
            if (!strcmp(xn, "security.selinux"))
                continue;
            struct kiln_xattr *x = &e->xattrs[e->nxattrs];
            x->name = kiln_strdup(xn, err);
            x->value = kiln_xmalloc(xl, err);
            e->nxattrs++;
            if (!x->name || !x->value)
                return -1;
            memcpy(x->value, xv, xl);
            x->len = xl;
        }
        for (size_t i = 1; i < e->nxattrs; i++) /* insertion sort: few xattrs */
            for (size_t j = i; j > 0 && strcmp(e->xattrs[j - 1].name, e->xattrs[j].name) > 0; j--) {
                struct kiln_xattr t = e->xattrs[j];
                e->xattrs[j] = e->xattrs[j - 1];
                e->xattrs[j - 1] = t;
            }
    }
    return MEMBER_OK;
}

/* Reads the next header into a new last member of *m (growing it). Returns
 * next_member()'s answer; on MEMBER_OK and on failure the member counts in
 * *n (it owns what it holds), on MEMBER_END and MEMBER_SKIP it does not. */
static int append_member(struct archive *a, const char *file, const struct kiln_layer_opts *o,
                         struct member **m, size_t *n, size_t *cap, struct kiln_buf *norm,
                         struct kiln_error *err)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        struct member *nm = realloc(*m, nc * sizeof(*nm));
        if (!nm)
            return kiln_oom(err);
        *m = nm;
        *cap = nc;
    }
    int r = next_member(a, file, o, *n, norm, &(*m)[*n], err);
    if (r == MEMBER_OK || r < 0)
        (*n)++;
    return r;
}

static int data_error(struct archive *a, const char *file, const char *path,
                      struct kiln_error *err)
{
    return kiln_fail(err, KILN_ERR_INPUT, "--tar %s: member '%s': corrupt or truncated data: %s",
                     file, path, archive_error_string(a));
}

static int too_big(const char *file, const struct kiln_layer_opts *o, struct kiln_error *err)
{
    return kiln_fail(err, KILN_ERR_INPUT,
                     "--tar %s: expands beyond %llu bytes (--max-bytes): refusing a possible "
                     "tar bomb",
                     file, (unsigned long long)o->max_bytes);
}

/* Where the spool file goes. */
static const char *spool_dir(void)
{
    return kiln_tmpdir();
}

static int spool_write(int spool, const void *p, size_t n, const char *file,
                       struct kiln_error *err)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(spool, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno,
                                   "--tar %s: cannot spool its files to a temporary file in "
                                   "%s (set TMPDIR to a directory with room for them)",
                                   file, spool_dir());
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_members(const char *file, const struct kiln_layer_opts *o, int spool,
                        struct member **out, size_t *nout, struct kiln_error *err)
{
    struct member *m = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct kiln_buf norm = {0};
    unsigned char *buf = NULL;
    uint64_t spool_off = 0;
    struct archive *a = open_archive(file, err);
    if (!a)
        return -1;
    if (!(buf = kiln_xmalloc(COPY_CHUNK, err))) {
        rc = -1;
        goto out;
    }
    for (;;) {
        int r = append_member(a, file, o, &m, &n, &cap, &norm, err);
        if (r == MEMBER_END)
            break;
        if (r < 0) {
            rc = -1;
            goto out;
        }
        if (r == MEMBER_SKIP || m[n - 1].type != KILN_TAR_REG)
            continue;
        struct member *e = &m[n - 1];
        e->offset = spool_off;
        /* By blocks, as the streaming path reads them: a sparse member's
         * holes, a trailing one too, are zeros up to the size its header
         * declares (archive_read_data() may stop at a block of length 0) */
        uint64_t declared = e->size, got_total = 0;
        for (bool last = false; !last;) {
            const void *blk;
            size_t len;
            la_int64_t off;
            int dr = archive_read_data_block(a, &blk, &len, &off);
            if (dr == ARCHIVE_EOF) {
                last = true;
                blk = NULL;
                len = 0;
                off = (la_int64_t)declared;
            } else if (dr < ARCHIVE_WARN) {
                rc = data_error(a, file, e->path, err);
                goto out;
            }
            if (off < 0 || (uint64_t)off < got_total || (uint64_t)off > declared ||
                len > declared - (uint64_t)off) {
                rc = kiln_fail(err, KILN_ERR_INPUT,
                               "--tar %s: member '%s': its data blocks do not fit the size "
                               "its header declares (a damaged sparse map)",
                               file, e->path);
                goto out;
            }
            while (rc == 0 && (got_total < (uint64_t)off || len)) {
                size_t z;
                const void *from;
                if (got_total < (uint64_t)off) { /* a hole */
                    uint64_t hole = (uint64_t)off - got_total;
                    z = hole < COPY_CHUNK ? (size_t)hole : COPY_CHUNK;
                    memset(buf, 0, z);
                    from = buf;
                } else {
                    z = len;
                    from = blk;
                    len = 0;
                }
                if (spool_write(spool, from, z, file, err) < 0) {
                    rc = -1;
                    goto out;
                }
                got_total += z;
                spool_off += z;
                if (o->max_bytes && spool_off > o->max_bytes) {
                    rc = too_big(file, o, err);
                    goto out;
                }
            }
        }
        e->size = spool_off - e->offset;
    }
out:
    free(buf);
    kiln_buf_free(&norm);
    archive_read_free(a);
    if (rc < 0) {
        members_free(m, n);
        return -1;
    }
    *out = m;
    *nout = n;
    return 0;
}

/* What the fast path keeps of each member written: its name (to check the
 * order and find hardlink targets) and what a hardlink to it repeats. */
struct written {
    char *path;
    size_t root; /* the member holding the data of its hardlink group */
    uint32_t mode;
    uint64_t uid, gid;
    int64_t mtime;
};

static int find_written(const struct written *v, size_t n, const char *path)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = kiln_tar_path_cmp(v[mid].path, path);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void member_clear(struct member *e)
{
    free(e->path);
    free(e->link);
    kiln_xattrs_free(e->xattrs, e->nxattrs);
    memset(e, 0, sizeof(*e));
}

/* The fast path: members written as they are read, while the archive is in
 * canonical order. Memory holds a compact record per member written (about
 * 50 bytes plus the name); no member data is kept. */
static int stream_members(const char *file, const struct kiln_layer_opts *o,
                          struct kiln_tar_writer *w, struct kiln_error *err)
{
    struct written *v = NULL;
    size_t n = 0, cap = 0;
    struct member cur = {0};
    int rc = 0;
    struct kiln_buf norm = {0};
    unsigned char *buf = NULL;
    uint64_t total = 0;
    struct archive *a = open_archive(file, err);
    if (!a)
        return -1;
    if (!(buf = calloc(1, COPY_CHUNK))) { /* zeros, for the holes of sparse members */
        rc = kiln_oom(err);
        goto out;
    }
    for (;;) {
        member_clear(&cur);
        int r = next_member(a, file, o, n, &norm, &cur, err);
        if (r == MEMBER_END)
            break;
        if (r < 0) {
            rc = -1;
            goto out;
        }
        if (r == MEMBER_SKIP)
            continue;
        struct member *e = &cur;
        if (n && kiln_tar_path_cmp(v[n - 1].path, e->path) >= 0) {
            rc = KILN_TAR_UNSORTED; /* out of order, or a duplicate */
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            struct written *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = kiln_oom(err);
                goto out;
            }
            v = nv;
            cap = nc;
        }
        struct written *rec = &v[n];
        *rec = (struct written){.path = e->path, .root = n, .mode = e->mode, .uid = e->uid,
                                .gid = e->gid, .mtime = e->mtime};
        e->path = NULL; /* the record owns the name now */
        n++;
        if (e->type == KILN_TAR_HARDLINK) {
            int t = find_written(v, n - 1, e->link);
            if (t < 0) {
                rc = KILN_TAR_UNSORTED; /* its target comes later, or nowhere */
                goto out;
            }
            rec->root = v[t].root;
            const struct written *root = &v[rec->root];
            struct kiln_tar_entry te = {.path = rec->path,
                                        .type = KILN_TAR_HARDLINK,
                                        .linkname = root->path,
                                        .mode = root->mode,
                                        .uid = root->uid,
                                        .gid = root->gid,
                                        .mtime = root->mtime};
            if ((rc = kiln_tar_write_header(w, &te, err)) < 0)
                goto out;
            continue;
        }
        struct kiln_tar_entry te = entry_of(rec->path, e);
        if ((rc = kiln_tar_write_header(w, &te, err)) < 0)
            goto out;
        if (e->type != KILN_TAR_REG)
            continue;
        /* libarchive's own buffers, no copy; holes of sparse members are
         * written as zeros, as archive_read_data() does on the spool path */
        uint64_t got_total = 0;
        for (;;) {
            const void *blk;
            size_t len;
            la_int64_t off;
            int dr = archive_read_data_block(a, &blk, &len, &off);
            if (dr == ARCHIVE_EOF) { /* a trailing hole */
                blk = NULL;
                len = 0;
                off = (la_int64_t)e->size;
            }
            if (dr < ARCHIVE_WARN) {
                rc = data_error(a, file, rec->path, err);
                goto out;
            }
            if (off < 0 || (uint64_t)off < got_total || (uint64_t)off > e->size ||
                len > e->size - (uint64_t)off) {
                rc = KILN_TAR_UNSORTED; /* not what the header declares: let the spool decide */
                goto out;
            }
            /* holes count against --max-bytes as on the spool path */
            while (got_total < (uint64_t)off) {
                uint64_t hole = (uint64_t)off - got_total;
                size_t z = hole < COPY_CHUNK ? (size_t)hole : COPY_CHUNK;
                if ((rc = kiln_tar_write_data(w, buf, z, err)) < 0)
                    goto out;
                got_total += z;
                total += z;
                if (o->max_bytes && total > o->max_bytes) {
                    rc = too_big(file, o, err);
                    goto out;
                }
            }
            if (dr == ARCHIVE_EOF)
                break;
            if (len && (rc = kiln_tar_write_data(w, blk, len, err)) < 0)
                goto out;
            got_total += len;
            total += (uint64_t)len;
            if (o->max_bytes && total > o->max_bytes) {
                rc = too_big(file, o, err);
                goto out;
            }
        }
        if (got_total != e->size) {
            rc = KILN_TAR_UNSORTED;
            goto out;
        }
        if ((rc = kiln_tar_end_entry(w, err)) < 0)
            goto out;
    }
out:
    free(buf);
    kiln_buf_free(&norm);
    archive_read_free(a);
    member_clear(&cur);
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
    return rc;
}

static int copy_spool(int spool, uint64_t off, uint64_t size, struct kiln_tar_writer *w,
                      unsigned char *buf, struct kiln_error *err)
{
    while (size) {
        size_t want = size < COPY_CHUNK ? (size_t)size : COPY_CHUNK;
        ssize_t r = pread(spool, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return kiln_fail_errno(err, KILN_ERR_INTERNAL, r < 0 ? errno : EIO,
                                   "temporary spool file in %s (TMPDIR): read failed",
                                   spool_dir());
        if (kiln_tar_write_data(w, buf, (size_t)r, err) < 0)
            return -1;
        off += (uint64_t)r;
        size -= (uint64_t)r;
    }
    return 0;
}

static int open_spool(struct kiln_error *err)
{
    const char *dir = spool_dir();
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[4096];
    snprintf(path, sizeof(path), "%s/kiln-spool-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno,
                               "%s: cannot create a temporary file (set TMPDIR)", dir);
    unlink(path);
    return fd;
}

int kiln_layer_from_tarball(const char *file, const struct kiln_layer_opts *o,
                            struct kiln_tar_writer *w, struct kiln_error *err)
{
    struct stat st;
    if (stat(file, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "--tar %s", file);
    if (S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "--tar %s: is a directory (use --rootfs)", file);
    if (o->tar_stream)
        return stream_members(file, o, w, err);
    _cleanup_close_ int spool = open_spool(err);
    if (spool < 0)
        return -1;
    struct member *m = NULL;
    size_t n = 0;
    if (read_members(file, o, spool, &m, &n, err) < 0)
        return -1;
    if (n > 1)
        qsort(m, n, sizeof(*m), member_cmp);
    for (size_t i = 0; i + 1 < n; i++)
        if (!kiln_tar_path_cmp(m[i].path, m[i + 1].path))
            m[i].dropped = true;

    int rc = 0;
    /* Hardlink groups: the data lives at the root member; the first member of
     * the group in output order carries it, the others link to that one. */
    for (size_t i = 0; i < n; i++) {
        m[i].root = i;
        m[i].leader = SIZE_MAX;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (m[i].dropped || m[i].type != KILN_TAR_HARDLINK)
            continue;
        size_t r = i;
        for (int hops = 0; m[r].type == KILN_TAR_HARDLINK; hops++) {
            int t = find_member(m, n, m[r].link);
            if (t < 0 || hops > 64 || (size_t)t == r) {
                rc = kiln_fail(err, KILN_ERR_INPUT,
                               "--tar %s: hardlink '%s' points to '%s', which is not in the "
                               "archive",
                               file, m[i].path, m[r].link);
                break;
            }
            r = (size_t)t;
        }
        m[i].root = r;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!m[i].dropped && m[m[i].root].leader == SIZE_MAX)
            m[m[i].root].leader = i;

    unsigned char *buf = rc == 0 ? kiln_xmalloc(COPY_CHUNK, err) : NULL;
    if (!buf)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (m[i].dropped)
            continue;
        if ((rc = kiln_check_interrupt(err)) < 0)
            break;
        const struct member *r = &m[m[i].root];
        size_t lead = r->leader;
        if (lead != i) {
            struct kiln_tar_entry h = {.path = m[i].path,
                                       .type = KILN_TAR_HARDLINK,
                                       .linkname = m[lead].path,
                                       .mode = r->mode,
                                       .uid = r->uid,
                                       .gid = r->gid,
                                       .mtime = r->mtime};
            rc = kiln_tar_write_header(w, &h, err);
            continue;
        }
        struct kiln_tar_entry e = entry_of(m[i].path, r);
        rc = kiln_tar_write_header(w, &e, err);
        if (rc == 0 && e.type == KILN_TAR_REG) {
            rc = copy_spool(spool, r->offset, r->size, w, buf, err);
            if (rc == 0)
                rc = kiln_tar_end_entry(w, err);
        }
    }
    free(buf);
    members_free(m, n);
    return rc;
}

ssize_t kiln_hash_reader_read(struct archive *a, void *ud, const void **out)
{
    struct kiln_hash_reader *hr = ud;
    ssize_t r;
    do
        r = read(hr->fd, hr->buf, 1 << 16);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        archive_set_error(a, errno, "read error");
        return -1;
    }
    kiln_sha256_update(&hr->sha, hr->buf, (size_t)r);
    hr->n += (uint64_t)r;
    *out = hr->buf;
    return r;
}
