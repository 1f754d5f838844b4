/* Small file-system and string helpers. All file metadata goes through libc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sink.h" /* kiln_copy_or_link_checked */

void *kiln_xmalloc(size_t n, struct kiln_error *err)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        kiln_oom(err);
    return p;
}

char *kiln_strdup(const char *s, struct kiln_error *err)
{
    char *p = strdup(s);
    if (!p)
        kiln_oom(err);
    return p;
}

int kiln_write_all(int fd, const void *p, size_t n, const char *what, struct kiln_error *err)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: write failed", what);
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

const char *kiln_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

char *kiln_path_join(const char *a, const char *b, struct kiln_error *err)
{
    size_t la = strlen(a);
    bool slash = la && a[la - 1] == '/';
    size_t n = la + strlen(b) + 2;
    char *p = kiln_xmalloc(n, err);
    if (p)
        snprintf(p, n, "%s%s%s", a, slash ? "" : "/", b);
    return p;
}

char *kiln_dirname(const char *path, struct kiln_error *err)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return kiln_strdup(".", err);
    while (s > path && s[-1] == '/')
        s--;
    if (s == path)
        return kiln_strdup("/", err);
    char *p = kiln_xmalloc((size_t)(s - path) + 1, err);
    if (p) {
        memcpy(p, path, (size_t)(s - path));
        p[s - path] = '\0';
    }
    return p;
}

int kiln_write_file_atomic(const char *path, const void *p, size_t n, struct kiln_error *err)
{
    size_t l = strlen(path) + 16;
    _cleanup_free_ char *tmp = kiln_xmalloc(l, err);
    if (!tmp)
        return -1;
    snprintf(tmp, l, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", path);
    if (kiln_write_all(fd, p, n, path, err) < 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "%s: cannot write", path);
    }
    if (close(fd) < 0) {
        unlink(tmp);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", path);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "%s: cannot rename into place", path);
    }
    return 0;
}

int kiln_read_file(const char *path, size_t max, struct kiln_buf *out, struct kiln_error *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", path);
    out->max = max;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: read failed", path);
        }
        if (r == 0)
            break;
        if (kiln_buf_append(out, chunk, (size_t)r, err) < 0)
            return kiln_error_prefix(err, "%s", path);
    }
    if (!out->data && kiln_buf_append(out, "", 0, err) < 0)
        return -1;
    return 0;
}

bool kiln_under_pseudo(void)
{
    const char *p = getenv("LD_PRELOAD");
    const char *off = getenv("PSEUDO_DISABLED");
    return p && strstr(p, "libpseudo") && !(off && !strcmp(off, "1"));
}

int kiln_copy_or_link_checked(const char *src, const char *dst, struct kiln_blob_check *c,
                              struct kiln_error *err)
{
    struct stat st;
    if (stat(src, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
    if (kiln_blob_check_size(c, (uint64_t)st.st_size, err) < 0)
        return -1;
    /* linked: the one read only checks; else it also copies. Not under
     * pseudo: a hardlink to a file from outside its database (a base image
     * another recipe deployed) makes pseudo abort the build with a "path
     * mismatch" the next time either name is used. */
    int lerr = kiln_under_pseudo() ? EXDEV : link(src, dst) == 0 ? 0 : errno;
    bool linked = lerr == 0;
    if (lerr == EEXIST)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, lerr, "%s", dst);
    _cleanup_close_ int in = open(linked ? dst : src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int e = errno;
        if (linked)
            unlink(dst);
        return kiln_fail_errno(err, KILN_ERR_INPUT, e, "%s", src);
    }
    int out = linked ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (!linked && out < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", dst);
    static __thread unsigned char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
            break;
        }
        if (n == 0) {
            rc = kiln_blob_check_end(c, err);
            break;
        }
        /* checked before written: the last bytes of a damaged blob are not */
        if ((rc = kiln_blob_check_at(c, c->hashed, buf, (size_t)n, err)) < 0)
            break;
        if (out >= 0 && (rc = kiln_write_all(out, buf, (size_t)n, dst, err)) < 0)
            break;
    }
    if (rc == 0 && out >= 0 && fsync(out) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", dst);
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", dst);
    if (rc < 0)
        unlink(dst);
    return rc;
}

int kiln_copy_or_link(const char *src, const char *dst, struct kiln_error *err)
{
    if (link(src, dst) == 0)
        return 0;
    if (errno == EEXIST)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kiln_fail_errno(err, KILN_ERR_INTERNAL, errno, "%s", src);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", dst);
    struct stat st;
    if (fstat(in, &st) < 0)
        goto fail;
    off_t left = st.st_size;
    bool use_cfr = true;
    char buf[1 << 16];
    while (left > 0) {
        ssize_t n;
        if (use_cfr) {
            n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                          errno == EOPNOTSUPP)) {
                use_cfr = false;
                continue;
            }
        } else {
            n = read(in, buf, sizeof(buf));
            if (n > 0 && kiln_write_all(out, buf, (size_t)n, dst, err) < 0) {
                close(out);
                unlink(dst);
                return -1;
            }
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        left -= n;
    }
    if (fsync(out) < 0 || close(out) < 0) {
        out = -1;
        goto fail;
    }
    return 0;
fail:;
    int e = errno ? errno : EIO;
    if (out >= 0)
        close(out);
    unlink(dst);
    return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "%s: cannot copy", dst);
}

/* Allocation-free (no path joins, no opendir), so that a cleanup still runs
 * when memory is short: directories are read with getdents64 into a small
 * stack buffer, and every entry is removed relative to its directory. */
struct dirent64_ {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int rm_at(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = 0;
    bool removed;
    do { /* passes until a pass finds nothing to remove */
        removed = false;
        if (lseek(fd, 0, SEEK_SET) < 0)
            break;
        _Alignas(8) char buf[512];
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
            for (long off = 0; off < n;) {
                struct dirent64_ *d = (struct dirent64_ *)(void *)(buf + off);
                off += d->d_reclen;
                if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
                    continue;
                if (rm_at(fd, d->d_name) < 0)
                    rc = -1;
                else
                    removed = true;
            }
        }
        if (n < 0)
            rc = -1;
    } while (removed && rc == 0);
    close(fd);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

int kiln_rm_rf(const char *path)
{
    return rm_at(AT_FDCWD, path);
}

void kiln_format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void kiln_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
