/*
 * kiln unpack: apply an image's layers to a directory, whiteouts included.
 *
 * Every path is resolved component by component from the root with openat
 * and O_NOFOLLOW; a symlink met on the way is followed only inside the root
 * (its target re-resolved from the root, absolute targets taken as relative
 * to it), so no entry can write outside the directory: entries with ".."
 * components or absolute names, and links or symlinks that would lead out,
 * are refused with the entry's name. Owners are kept when running as root,
 * and become the caller's otherwise. The result is built in a temporary
 * directory and renamed into place.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../copy.h"
#include "../tar/layerread.h"
#include "../tar/tar.h"

#define MAX_SYMLINKS 40

struct unpack {
    int root; /* fd of the directory being filled */
    const char *layer;
    bool as_root;
    kiln_log_fn log;
    void *log_ud;
    bool warned_dev, warned_xattr, warned_owner, warned_mode;
    struct dirtime {
        char *path;
        struct timespec t;
        mode_t mode;
        size_t seq;
    } *dirs;
    size_t ndirs, capdirs;
};

static void uwarn(struct unpack *u, const char *fmt, ...) KILN_PRINTF(2, 3);
static void uwarn(struct unpack *u, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(u->log, u->log_ud, KILN_LOG_WARNING, fmt, ap);
    va_end(ap);
}

/* Splits "a/b/c" into components, pushing them onto a stack (reversed). */
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
            if (!c)
                return kiln_oom(err);
            int rc = kiln_strlist_push(stack, c, err);
            free(c);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/*
 * Opens the directory that holds the last component of `path` (a normalised
 * member path), following symlinks only within the root. On success *dirfd
 * is an fd (caller closes) and *leaf the last component (caller frees).
 */
static int resolve_parent_ex(struct unpack *u, const char *entry, const char *path, int *dirfd,
                             char **leaf, bool create, struct kiln_error *err)
{
    const char *slash = strrchr(path, '/');
    *leaf = strdup(slash ? slash + 1 : path);
    if (!*leaf)
        return kiln_oom(err);
    struct kiln_strlist stack = {0}; /* components still to walk, last = next */
    struct kiln_strlist walked = {0};
    int rc = 0, links = 0;
    if (slash) {
        char *dir = strndup(path, (size_t)(slash - path));
        rc = dir ? push_components(&stack, dir, err) : kiln_oom(err);
        free(dir);
    }
    int fd = dup(u->root);
    if (fd < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "dup");
    while (rc == 0 && stack.n) {
        char *c = stack.v[--stack.n];
        if (!strcmp(c, ".")) {
            free(c);
            continue;
        }
        if (!strcmp(c, "..")) {
            free(c);
            if (!walked.n) {
                rc = kiln_fail(err, KILN_ERR_INPUT,
                               "layer %s: entry '%s' leads outside the directory through a "
                               "symlink: refusing it",
                               u->layer, entry);
                break;
            }
            free(walked.v[--walked.n]);
            /* re-walk from the root along `walked` */
            close(fd);
            fd = dup(u->root);
            for (size_t i = 0; fd >= 0 && i < walked.n; i++) {
                int nfd = openat(fd, walked.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                fd = nfd;
            }
            if (fd < 0)
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: entry '%s'",
                                     u->layer, entry);
            continue;
        }
        int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd >= 0) {
            close(fd);
            fd = nfd;
            rc = kiln_strlist_push(&walked, c, err);
            free(c);
            continue;
        }
        int e = errno;
        struct stat st;
        if ((e == ELOOP || e == ENOTDIR) && fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
            if (++links > MAX_SYMLINKS) {
                free(c);
                rc = kiln_fail(err, KILN_ERR_INPUT, "layer %s: entry '%s': too many symlinks",
                               u->layer, entry);
                break;
            }
            char target[4096];
            ssize_t tl = readlinkat(fd, c, target, sizeof(target) - 1);
            free(c);
            if (tl < 0) {
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: entry '%s'",
                                     u->layer, entry);
                break;
            }
            target[tl] = '\0';
            if (target[0] == '/') { /* absolute: from the root */
                for (size_t i = 0; i < walked.n; i++)
                    free(walked.v[i]);
                walked.n = 0;
                close(fd);
                fd = dup(u->root);
            }
            rc = push_components(&stack, target, err);
            continue;
        }
        if (e == ENOENT && create) {
            /* implicit parent: create it */
            if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: entry '%s': %s",
                                     u->layer, entry, c);
                free(c);
                break;
            }
            stack.v[stack.n++] = c; /* try again */
            continue;
        }
        rc = kiln_fail_errno(err, KILN_ERR_INPUT, e, "layer %s: entry '%s': parent '%s'",
                             u->layer, entry, c);
        free(c);
    }
    kiln_strlist_free(&stack);
    kiln_strlist_free(&walked);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        free(*leaf);
        *leaf = NULL;
        return -1;
    }
    *dirfd = fd;
    return 0;
}

static int resolve_parent(struct unpack *u, const char *entry, const char *path, int *dirfd,
                          char **leaf, struct kiln_error *err)
{
    return resolve_parent_ex(u, entry, path, dirfd, leaf, true, err);
}

static int remove_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && remove_at(fd, de->d_name) < 0)
            rc = -1;
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
        rc = -1;
    return rc;
}

static int clear_dir(int dirfd)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            remove_at(dirfd, de->d_name) < 0)
            rc = -1;
    closedir(d);
    return rc;
}

/* Checks a member name; returns the normalised path in out. */
static int member_path(struct unpack *u, const char *name, struct kiln_buf *out,
                       struct kiln_error *err)
{
    if (kiln_normalise_member_path(name, out, err) < 0)
        return kiln_error_prefix(err, "layer %s", u->layer);
    /* "/" (umoci insert DIR / writes it) is the root, as "./" is: it
     * normalises to nothing. Any other absolute name is refused. */
    if (name[0] == '/' && out->len)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "layer %s: entry '%s' has an absolute name: refusing it", u->layer, name);
    return 0;
}

static int whiteout(struct unpack *u, const char *path, struct kiln_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *victim = base + 4; /* after ".wh." */
    if (strcmp(base, ".wh..wh..opq") && !strncmp(victim, ".wh.", 4))
        return 0; /* aufs metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply */
    if (strcmp(base, ".wh..wh..opq") &&
        (!*victim || !strcmp(victim, ".") || !strcmp(victim, "..")))
        return kiln_fail(err, KILN_ERR_INPUT,
                         "layer %s: whiteout '%s' names no removable entry: refusing it",
                         u->layer, path);
    int dirfd;
    char *leaf;
    if (resolve_parent(u, path, path, &dirfd, &leaf, err) < 0)
        return -1;
    int rc = 0;
    if (!strcmp(leaf, ".wh..wh..opq")) {
        if (clear_dir(dirfd) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: opaque '%s'", u->layer,
                                 path);
    } else if (remove_at(dirfd, leaf + 4) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: whiteout '%s'", u->layer,
                             path);
    close(dirfd);
    free(leaf);
    return rc;
}

static void set_meta(struct unpack *u, int dirfd, const char *leaf, struct archive_entry *e,
                     mode_t ft)
{
    bool is_link = ft == AE_IFLNK;
    /* xattrs go through an open fd: only files and directories are opened
     * (opening a device node could have effects). */
    bool can_open = ft == AE_IFREG || ft == AE_IFDIR;
    /* A file system that keeps no owners (some network ones), ids a user
     * namespace does not map: the tree is still usable, so kiln says so once
     * and goes on, as it does for extended attributes. */
    if (u->as_root &&
        fchownat(dirfd, leaf, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                 AT_SYMLINK_NOFOLLOW) < 0 &&
        !u->warned_owner) {
        u->warned_owner = true;
        uwarn(u, "layer %s: cannot give '%s' the owner %lld:%lld (%s); other owners may be lost "
                 "too",
              u->layer, archive_entry_pathname(e), (long long)archive_entry_uid(e),
              (long long)archive_entry_gid(e), strerror(errno));
    }
    /* A directory keeps 0700 until the end, so that its entries can be
     * written even when its own mode would forbid it (non-root). */
    if (!is_link && ft != AE_IFDIR && fchmodat(dirfd, leaf, archive_entry_perm(e) & 07777, 0) < 0 &&
        !u->warned_mode) {
        u->warned_mode = true;
        uwarn(u, "layer %s: cannot set the mode %04o of '%s' (%s); other modes may be lost too",
              u->layer, (unsigned)(archive_entry_perm(e) & 07777), archive_entry_pathname(e),
              strerror(errno));
    }
    if (archive_entry_xattr_reset(e) > 0 && can_open) {
        int fd = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        const char *n;
        const void *v;
        size_t l;
        while (fd >= 0 && archive_entry_xattr_next(e, &n, &v, &l) == ARCHIVE_OK) {
            if (fsetxattr(fd, n, v, l, 0) < 0 && !u->warned_xattr) {
                u->warned_xattr = true;
                uwarn(u, "layer %s: cannot set extended attribute %s on '%s' (%s); others may "
                         "be lost too",
                      u->layer, n, archive_entry_pathname(e), strerror(errno));
            }
        }
        if (fd >= 0)
            close(fd);
    }
    struct timespec t[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
    utimensat(dirfd, leaf, t, AT_SYMLINK_NOFOLLOW);
}

static int apply_entry(struct unpack *u, struct archive *a, struct archive_entry *e,
                       const char *path, struct kiln_error *err)
{
    int dirfd;
    char *leaf;
    if (resolve_parent(u, path, path, &dirfd, &leaf, err) < 0)
        return -1;
    int rc = 0;
    const char *hl = archive_entry_hardlink(e);
    mode_t ft = archive_entry_filetype(e);
    struct stat st;
    bool exists = fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
    /* An existing path is replaced, except a directory by a directory. */
    if (exists && !(ft == AE_IFDIR && !hl && S_ISDIR(st.st_mode)) && remove_at(dirfd, leaf) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: cannot replace '%s'",
                             u->layer, path);
    if (rc == 0 && hl) {
        struct kiln_buf tp = {0};
        int tdir = -1;
        char *tleaf = NULL;
        rc = member_path(u, hl, &tp, err);
        if (rc == 0)
            rc = resolve_parent(u, path, tp.data, &tdir, &tleaf, err);
        if (rc == 0 && linkat(tdir, tleaf, dirfd, leaf, 0) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "layer %s: hardlink '%s' -> '%s'",
                                 u->layer, path, hl);
        if (tdir >= 0)
            close(tdir);
        free(tleaf);
        kiln_buf_free(&tp);
    } else if (rc == 0) {
        switch (ft) {
        case AE_IFDIR:
            if (mkdirat(dirfd, leaf, 0700) < 0 && errno != EEXIST)
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: '%s'", u->layer,
                                     path);
            break;
        case AE_IFREG: {
            int fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            0600);
            if (fd < 0) {
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: '%s'", u->layer,
                                     path);
                break;
            }
            const void *buf;
            size_t len;
            la_int64_t off;
            int r;
            while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
                if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
                    rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: '%s'", u->layer,
                                         path);
                    break;
                }
            if (rc == 0 && r != ARCHIVE_EOF)
                rc = kiln_fail(err, KILN_ERR_INPUT, "layer %s: '%s': %s", u->layer, path,
                               archive_error_string(a));
            if (rc == 0 && ftruncate(fd, archive_entry_size(e)) < 0)
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: '%s'", u->layer,
                                     path);
            close(fd);
            break;
        }
        case AE_IFLNK: {
            const char *t = archive_entry_symlink(e);
            if (symlinkat(t ? t : "", dirfd, leaf) < 0)
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: '%s'", u->layer,
                                     path);
            break;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
            mode_t m = (ft == AE_IFCHR ? S_IFCHR : ft == AE_IFBLK ? S_IFBLK : S_IFIFO) | 0600;
            dev_t d = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
            if (mknodat(dirfd, leaf, m, ft == AE_IFIFO ? 0 : d) < 0) {
                if (errno == EPERM && !u->warned_dev) {
                    u->warned_dev = true;
                    uwarn(u, "layer %s: cannot create device '%s' without root; devices are "
                             "skipped",
                          u->layer, path);
                } else if (errno != EPERM)
                    rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "layer %s: '%s'",
                                         u->layer, path);
                goto out;
            }
            break;
        }
        default:
            uwarn(u, "layer %s: skipping '%s' of unknown type", u->layer, path);
            goto out;
        }
        if (rc == 0) {
            set_meta(u, dirfd, leaf, e, ft);
            if (ft == AE_IFDIR) { /* directory mtimes are set again at the end */
                if (u->ndirs == u->capdirs) {
                    size_t nc = u->capdirs ? u->capdirs * 2 : 64;
                    struct dirtime *nd = realloc(u->dirs, nc * sizeof(*nd));
                    if (!nd) {
                        rc = kiln_oom(err);
                        goto out;
                    }
                    u->dirs = nd;
                    u->capdirs = nc;
                }
                u->dirs[u->ndirs].path = strdup(path);
                u->dirs[u->ndirs].t.tv_sec = archive_entry_mtime(e);
                u->dirs[u->ndirs].t.tv_nsec = 0;
                u->dirs[u->ndirs].mode = archive_entry_perm(e) & 07777;
                u->dirs[u->ndirs].seq = u->ndirs;
                if (u->dirs[u->ndirs].path)
                    u->ndirs++;
            }
        }
    }
out:
    close(dirfd);
    free(leaf);
    return rc;
}

static int dirtime_cmp(const void *a, const void *b)
{
    const struct dirtime *x = a, *y = b;
    int c = kiln_tar_path_cmp(x->path, y->path);
    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

static bool is_whiteout(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return !strncmp(b, ".wh.", 4);
}

/* One pass over a layer: whiteouts only, or everything else. With check,
 * the pass also checks the file's bytes (all of them, past what libarchive
 * reads), and a mismatch is the error reported. The whiteout pass (the
 * first) warns about a layer whose last member ends short. */
static int layer_pass(struct unpack *u, const char *file, bool whiteouts,
                      struct kiln_blob_check *check, struct kiln_error *err)
{
    struct kiln_layer_reader lr;
    if (kiln_layer_reader_open(&lr, file, u->layer, check, err) < 0)
        return -1;
    int rc = 0, r;
    struct kiln_buf p = {0};
    struct archive_entry *e;
    while (rc == 0 && (r = kiln_layer_reader_next(&lr, &e, err)) != 0) {
        if (r < 0 || (rc = kiln_check_interrupt(err)) < 0 ||
            (rc = member_path(u, archive_entry_pathname(e), &p, err)) < 0) {
            rc = -1;
            break;
        }
        if (!p.len)
            continue; /* the root itself */
        bool wh = is_whiteout(p.data);
        if (wh != whiteouts)
            continue;
        rc = wh ? whiteout(u, p.data, err) : apply_entry(u, lr.a, e, p.data, err);
    }
    /* a damaged blob explains any other failure: it is the error to report */
    if (rc < 0)
        kiln_layer_reader_damaged(&lr, err);
    /* Only now is the digest known to match (when it was still to check):
     * the bytes are the image's, and their last member is read as it is. */
    if (rc == 0 && lr.pad && whiteouts)
        uwarn(u, "layer %s: its last entry '%s' ends short (no tar padding, no end-of-archive "
                 "blocks); the layer's digest matches, so it is read as written. umoci 0.4.7 "
                 "writes such layers (umoci#436); docker, podman and umoci read them too",
              u->layer, lr.last_name ? lr.last_name : "(none)");
    kiln_buf_free(&p);
    kiln_layer_reader_free(&lr);
    return rc;
}

int kiln_unpack(const char *ref, const char *dir, const char *platform,
                const struct kiln_remote_opts *o, struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    struct stat st;
    if (lstat(dir, &st) == 0)
        return kiln_fail(err, KILN_ERR_OUTPUT, "unpack: %s exists; name a new directory", dir);
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    struct kiln_src *s;
    if (kiln_src_open_ex(ref, platform, KILN_SRC_HOST_DEFAULT, &ro, &s, err) < 0)
        return -1;
    int rc = kiln_unpack_src(s, dir, o->log, o->log_userdata, err);
    kiln_src_free(s);
    return rc;
}

int kiln_unpack_src(struct kiln_src *s, const char *dir, kiln_log_fn log, void *log_userdata,
                    struct kiln_error *err)
{
    struct stat st;
    if (lstat(dir, &st) == 0)
        return kiln_fail(err, KILN_ERR_OUTPUT, "unpack: %s exists; name a new directory", dir);
    struct unpack u = {.as_root = geteuid() == 0, .log = log, .log_ud = log_userdata};
    size_t l = strlen(dir) + 24;
    char *tmp = kiln_xmalloc(l, err);
    int rc = tmp ? 0 : -1;
    if (rc == 0) {
        snprintf(tmp, l, "%s.kiln-tmp-XXXXXX", dir);
        if (!mkdtemp(tmp))
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "unpack: cannot create %s", tmp);
    }
    if (rc == 0 && (u.root = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", tmp);
    struct kiln_image *im = rc == 0 ? &s->images[0] : NULL;
    for (size_t i = 0; rc == 0 && i < im->nlayers; i++) {
        struct kiln_layer *ly = &im->layers[i];
        u.layer = ly->digest;
        rc = kiln_layer_fetch(ly, err);
        /* a local source's layer is checked in the first pass, before the
         * second writes its files (all of it stays in the temporary tree) */
        struct kiln_blob_check check;
        bool checked = rc == 0 && ly->origin;
        if (checked && (rc = kiln_blob_check_init(&check, ly->digest, ly->size, ly->origin,
                                                  err)) < 0)
            checked = false;
        if (rc == 0)
            rc = layer_pass(&u, ly->path, true, checked ? &check : NULL, err);
        if (checked)
            kiln_blob_check_free(&check);
        if (rc == 0)
            rc = layer_pass(&u, ly->path, false, NULL, err);
    }
    /* Directory modes and mtimes last, children before parents (walk order
     * reversed), once nothing is written below. A directory that several
     * layers wrote gets its last layer's. */
    if (u.ndirs > 1)
        qsort(u.dirs, u.ndirs, sizeof(*u.dirs), dirtime_cmp);
    for (size_t i = u.ndirs; rc == 0 && i-- > 0;) {
        if (i + 1 < u.ndirs && !strcmp(u.dirs[i + 1].path, u.dirs[i].path))
            continue;
        /* resolved as safely as any entry: a later layer may have put a
         * symlink on the way */
        int pfd;
        char *leaf;
        struct kiln_error e2 = {0};
        if (resolve_parent_ex(&u, u.dirs[i].path, u.dirs[i].path, &pfd, &leaf, false, &e2) < 0)
            continue; /* gone, or no longer reachable inside the root */
        struct stat dst;
        if (fstatat(pfd, leaf, &dst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(dst.st_mode)) {
            if (fchmodat(pfd, leaf, u.dirs[i].mode, 0) < 0 && !u.warned_mode) {
                u.warned_mode = true;
                uwarn(&u, "cannot set the mode %04o of the directory '%s' (%s)",
                      (unsigned)u.dirs[i].mode, u.dirs[i].path, strerror(errno));
            }
            struct timespec t[2] = {u.dirs[i].t, u.dirs[i].t};
            utimensat(pfd, leaf, t, AT_SYMLINK_NOFOLLOW);
        } /* else a later layer replaced it */
        close(pfd);
        free(leaf);
    }
    for (size_t i = 0; i < u.ndirs; i++)
        free(u.dirs[i].path);
    free(u.dirs);
    if (rc == 0) {
        fchmod(u.root, 0755);
        if (rename(tmp, dir) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "unpack: cannot rename to %s", dir);
    }
    if (u.root > 0)
        close(u.root);
    if (rc < 0 && tmp)
        kiln_rm_rf(tmp);
    free(tmp);
    return rc;
}
